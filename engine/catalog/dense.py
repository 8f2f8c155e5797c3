"""Fully connected: Linear."""
from __future__ import annotations

import torch.nn as nn

from engine.catalog.arith import fmt_shape
from engine.catalog.helpers import call, keywords, numel
from engine.catalog.registry import EmitCtx, OpSpec, Param, from_module, register_op
from engine.errors import ShapeError


def linear_infer(p: dict, ins: list) -> tuple:
    s = ins[0]
    if len(s) == 3:
        raise ShapeError(f"Linear expects a vector (or a sequence) but receives the image tensor {fmt_shape(s)}. "
                         f"Insert a Flatten before it ({fmt_shape(s)} → {numel(s)}) or a global pooling layer.",
                         fix={"kind": "insert_before", "op": "Flatten", "params": {}})
    return s[:-1] + (p["out_features"],)


def linear_init(ctx: EmitCtx) -> str:
    args = [str(ctx.in_shapes[0][-1]), str(ctx.p["out_features"])] + keywords(ctx.p, bias=True)
    return f"nn.Linear({', '.join(args)})"


register_op(OpSpec(
    name="Linear", category="Dense",
    doc="Fully connected layer: y = xWᵀ + b over the last dimension.",
    params=[Param("out_features", "int", 10, "Number of output units.", min=1, max=1_000_000),
            Param("bias", "bool", True, "Add a learnable bias.")],
    infer=linear_infer,
    init=linear_init,
    forward=call,
    count_params=lambda p, ins, out: ins[0][-1] * p["out_features"] + (p["out_features"] if p["bias"] else 0),
    count_macs=lambda p, ins, out: numel(ins[0]) * p["out_features"],
    id_prefix="fc", width_param="out_features",
    fx=(from_module(nn.Linear, convert=lambda c: c.emit(
        "Linear", {"out_features": c.module.out_features, "bias": c.module.bias is not None}, [c.only_input()],
        keep=("out_features",))),),
))
