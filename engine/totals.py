"""Totals of a design that does not check out yet: the parameters, MACs and memory of what is known.

engine.check leaves a node in error, and every node below it, without a shape, so their parameters and MACs are 0
and a design with one red node near its Input totals 0. Here a node in error still counts its parameters when its
error is a window that does not fit its input (kernel, stride, padding, dilation: the input is right, and a Conv2d's
weights do not depend on its output size);
MACs and activations are counted only where the output shape is known. The totals say whether they are partial
and which nodes they leave out, so a page can mark them ("at least").
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from engine.catalog import get_op
from engine.shapes import NodeReport, Report


@dataclass
class Totals:
    params: int  # trainable parameters of every node whose count is known
    macs: int  # multiply-accumulates per sample of every node whose output shape is known
    activations: int  # output elements per sample of those nodes (what backward keeps)
    unknown: list[str] = field(default_factory=list)  # nodes without an output shape: their MACs are left out
    params_unknown: list[str] = field(default_factory=list)  # the ones whose parameters are left out too

    @property
    def partial(self) -> bool:
        return bool(self.unknown)

    def memory(self, batch_size: int, bytes_per_value: int = 4, optimizer_slots: int = 2) -> dict[str, int]:
        """Bytes to train at this batch size, as Report.memory_estimate counts them, over what is known."""
        w = self.params * bytes_per_value
        act = self.activations * batch_size * bytes_per_value * 2
        d = {"weights": w, "gradients": w, "optimizer": w * optimizer_slots, "activations": act}
        d["total"] = sum(d.values())
        return d


# A node whose error is in one of these settings takes its input as it is (the input is right, the window does not
# fit it): its weights are what its settings and its input make them, so they count. Any other error (a Linear fed
# an image, channels that do not match) leaves the weights in doubt: not counted.
WINDOW_FIELDS = {f"params.{n}" for n in ("kernel_size", "stride", "padding", "dilation")}


def _params_in_error(r: NodeReport, p: dict[str, Any] | None, field: str | None) -> int | None:
    """A node in error's parameter count from its inputs' shapes and its params, or None when that is in doubt or
    needs more (its output shape, an unknown input)."""
    if p is None or r.blocked or not r.in_shapes or field not in WINDOW_FIELDS:
        return None
    spec = get_op(r.op)
    try:
        return int(spec.count_params(p, list(r.in_shapes), None))
    except Exception:  # noqa: BLE001 - any rule that needs the output shape (None) cannot count it: unknown
        return None


def known_totals(report: Report) -> Totals:
    """The totals of what is known; equal to the report's own totals when the design checks out."""
    params = macs = acts = 0
    unknown: list[str] = []
    params_unknown: list[str] = []
    field = {}  # node -> the field of its own (first) error, the one NodeReport.error states
    for e in report.errors:
        if e.node and e.node not in field:
            field[e.node] = e.field
    for nid, r in report.nodes.items():
        if r.shape is not None:
            params += r.params
            macs += r.macs
            if r.op != "Input":
                acts += math.prod(r.shape)
            continue
        unknown.append(nid)
        n = _params_in_error(r, report.normalised.get(nid), field.get(nid)) if r.error else None
        if n is None:
            params_unknown.append(nid)
        else:
            params += n
    if report.flat is not None:  # module instances: what backward keeps is every inner layer's output, as
        acts = sum(math.prod(r.shape) for r in report.flat.nodes.values()  # Report.activation_count counts it
                   if r.shape is not None and r.op != "Input")
    return Totals(params, macs, acts, unknown, params_unknown)
