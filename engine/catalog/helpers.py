"""Small pieces most op families share: element counts, the one-input forward, and emitter/importer helpers."""
from __future__ import annotations

import math
from typing import Any

from engine.catalog.registry import EmitCtx


def numel(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def call(ctx: EmitCtx) -> str:
    """The forward of a one-input module op: self.<attr>(x)."""
    return f"self.{ctx.attr}({ctx.args[0]})"


def same_shape(p: dict, ins: list) -> tuple:
    return ins[0]


def keywords(values: dict[str, Any], **torch_defaults: Any) -> list[str]:
    """`name=value` (repr'd) for each named value that differs from torch's default, in the order given: the
    constructor arguments an emitter writes, so exported code states only what the design changed.

        keywords(p, stride=(1, 1), groups=1, bias=True)  ->  ["stride=(2, 2)", "bias=False"]

    The defaults are torch's, which are not always the catalog's (ConvTranspose2d's catalog stride is 2).
    """
    return [f"{name}={values[name]!r}" for name, default in torch_defaults.items() if values[name] != default]


def pair(v: Any) -> int | list[int]:
    """torch's int-or-tuple as the graph file writes it: one number when both sides agree (for fx converters)."""
    if isinstance(v, (list, tuple)):
        if len(v) == 1:
            return int(v[0])
        a, b = (int(x) for x in v)
        return a if a == b else [a, b]
    return int(v)
