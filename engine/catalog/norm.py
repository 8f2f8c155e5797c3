"""Normalisation: BatchNorm1d, BatchNorm2d, LayerNorm, LayerNorm2d, LocalResponseNorm; and LayerScale.

LayerNorm2d and LayerScale come from patterns rather than one call (engine/fx/rewrites.py): a channel-last
permute … F.layer_norm / nn.LayerNorm … permute back (ConvNeXt's LayerNorm2d and block), and a learned C×1×1
tensor attribute times an image (ConvNeXt's layer scale).
"""
from __future__ import annotations

import torch.nn as nn

from engine.catalog.arith import fmt_shape, need_rank
from engine.catalog.helpers import call, keywords, numel
from engine.catalog.registry import EmitCtx, OpSpec, Param, from_module, register_op
from engine.errors import ShapeError

BN_PARAMS = [
    Param("eps", "float", 1e-5, "Added to the variance so the division is never by zero.", min=0.0, max=1.0),
    Param("momentum", "float", 0.1, "Weight of the newest batch in the running mean and variance.", min=0.0, max=1.0),
    Param("affine", "bool", True, "Learn a scale (γ) and shift (β) per channel."),
]


def _bn_init(ctor: str):
    def init(ctx: EmitCtx) -> str:
        p = ctx.p
        args = [str(ctx.in_shapes[0][0])] + keywords(p, eps=1e-5, momentum=0.1, affine=True)
        return f"nn.{ctor}({', '.join(args)})"
    return init


def _bn_fx(c):
    m = c.module
    if not m.track_running_stats:
        raise c.unsupported(f"{c.label}(track_running_stats=False)")
    if m.momentum is None:
        raise c.unsupported(f"{c.label}(momentum=None)")
    return c.emit(type(m).__name__, {"eps": m.eps, "momentum": m.momentum, "affine": m.affine}, [c.only_input()])


def bn_params(p: dict, ins: list, out: tuple) -> int:
    # γ and β per channel; the running mean/variance are buffers, not parameters
    return 2 * ins[0][0] if p["affine"] else 0


def bn1d_infer(p: dict, ins: list) -> tuple:
    s = ins[0]
    if len(s) not in (1, 2):
        raise ShapeError(f"BatchNorm1d expects features (C) or channels × length (C×L) but receives {fmt_shape(s)}. "
                         f"Use BatchNorm2d for images.")
    return s


register_op(OpSpec(
    name="BatchNorm1d", category="Normalisation",
    doc="Normalises each channel over the batch (and length), as torch: input C or C×L, where C is the first "
        "dimension (for a T×F sequence that is T; put it in channels-first order if you mean the features).",
    params=BN_PARAMS, infer=bn1d_infer, init=_bn_init("BatchNorm1d"), forward=call,
    count_params=bn_params, count_macs=lambda p, ins, out: numel(out),
    id_prefix="bn", fx=(from_module(nn.BatchNorm1d, convert=_bn_fx),),
))


def bn2d_infer(p: dict, ins: list) -> tuple:
    need_rank(ins[0], 3, "BatchNorm2d normalises each channel of an image; use BatchNorm1d for vectors.")
    return ins[0]


register_op(OpSpec(
    name="BatchNorm2d", category="Normalisation",
    doc="Normalises each channel over the batch and the image, then scales and shifts it: C×H×W → C×H×W.",
    params=BN_PARAMS, infer=bn2d_infer, init=_bn_init("BatchNorm2d"), forward=call,
    count_params=bn_params, count_macs=lambda p, ins, out: numel(out),
    id_prefix="bn", fx=(from_module(nn.BatchNorm2d, convert=_bn_fx),),
))


def ln_infer(p: dict, ins: list) -> tuple:
    s, k = ins[0], p["normalized_dims"]
    if k > len(s):
        raise ShapeError(f"cannot normalise over the last {k} dimensions of the {len(s)}-dimensional input "
                         f"{fmt_shape(s)}. Received: normalized_dims={k}.", field="normalized_dims")
    return s


def ln_init(ctx: EmitCtx) -> str:
    p = ctx.p
    dims = list(ctx.in_shapes[0][-p["normalized_dims"]:])
    args = [str(dims)] + keywords(p, eps=1e-5, elementwise_affine=True)
    return f"nn.LayerNorm({', '.join(args)})"


def _ln_fx(c):
    m = c.module
    if m.elementwise_affine and getattr(m, "bias", True) is None:
        raise c.unsupported(f"{c.label}(bias=False)")
    return c.emit("LayerNorm", {"normalized_dims": len(m.normalized_shape), "eps": m.eps,
                                "elementwise_affine": m.elementwise_affine}, [c.only_input()])


register_op(OpSpec(
    name="LayerNorm", category="Normalisation",
    doc="Normalises each sample over its last normalized_dims dimensions (1: the features; 3: C×H×W), "
        "then scales and shifts each element.",
    params=[Param("normalized_dims", "int", 1, "How many trailing dimensions to normalise over.", min=1, max=3),
            Param("eps", "float", 1e-5, "Added to the variance so the division is never by zero.", min=0.0, max=1.0),
            Param("elementwise_affine", "bool", True, "Learn a scale and shift per normalised element.")],
    infer=ln_infer, init=ln_init, forward=call,
    count_params=lambda p, ins, out: 2 * numel(ins[0][-p["normalized_dims"]:]) if p["elementwise_affine"] else 0,
    count_macs=lambda p, ins, out: numel(out), id_prefix="ln", fx=(from_module(nn.LayerNorm, convert=_ln_fx),),
))


def lrn_infer(p: dict, ins: list) -> tuple:
    if len(ins[0]) < 2:
        raise ShapeError(f"LocalResponseNorm needs channels (C×H×W or C×L) but receives {fmt_shape(ins[0])}.")
    return ins[0]


register_op(OpSpec(
    name="LocalResponseNorm", category="Normalisation",
    doc="AlexNet's normalisation across neighbouring channels: b = a / (k + α/n · Σ a²)^β over size channels.",
    params=[Param("size", "int", 5, "Number of neighbouring channels summed over.", min=1, max=1024),
            Param("alpha", "float", 1e-4, "Multiplicative factor α.", min=0.0, max=10.0),
            Param("beta", "float", 0.75, "Exponent β.", min=0.0, max=10.0),
            Param("k", "float", 1.0, "Additive constant k.", min=0.0, max=100.0)],
    infer=lrn_infer,
    init=lambda c: f"nn.LocalResponseNorm({c.p['size']}, alpha={c.p['alpha']!r}, beta={c.p['beta']!r}, "
                   f"k={c.p['k']!r})",
    forward=call, count_macs=lambda p, ins, out: numel(out) * p["size"], id_prefix="lrn",
    fx=(from_module(nn.LocalResponseNorm, convert=lambda c: c.emit(
        "LocalResponseNorm", {"size": c.module.size, "alpha": c.module.alpha, "beta": c.module.beta, "k": c.module.k},
        [c.only_input()], keep=("size",))),),
))


register_op(OpSpec(
    name="LayerNorm2d", category="Normalisation",
    doc="Normalises each pixel over its C channels, then scales and shifts each channel: C×H×W → C×H×W "
        "(ConvNeXt's LayerNorm2d: a LayerNorm on the channel-last tensor).",
    params=[Param("eps", "float", 1e-6, "Added to the variance so the division is never by zero.", min=0.0, max=1.0),
            Param("elementwise_affine", "bool", True, "Learn a scale and shift per channel.")],
    infer=bn2d_infer,
    init=lambda c: f"nn.LayerNorm({', '.join([str(c.in_shapes[0][0])] + keywords(c.p, eps=1e-5, elementwise_affine=True))})",
    forward=lambda c: f"self.{c.attr}({c.args[0]}.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)",
    count_params=lambda p, ins, out: 2 * ins[0][0] if p["elementwise_affine"] else 0,
    count_macs=lambda p, ins, out: numel(out), id_prefix="ln",
))


def layer_scale_infer(p: dict, ins: list) -> tuple:
    need_rank(ins[0], 3, "LayerScale multiplies each channel of C×H×W by a learned factor.")
    return ins[0]


register_op(OpSpec(
    name="LayerScale", category="Normalisation",
    doc="Multiplies each channel by a learned factor that starts at init_value (ConvNeXt, CaiT: a residual branch "
        "starts nearly switched off and learns how much to contribute): C×H×W → C×H×W.",
    params=[Param("init_value", "float", 1e-6, "Starting value of every channel's factor.", min=-1e6, max=1e6)],
    infer=layer_scale_infer,
    init=lambda c: f"nn.Parameter(torch.full(({c.in_shapes[0][0]}, 1, 1), {c.p['init_value']!r}))",
    forward=lambda c: f"self.{c.attr} * {c.args[0]}",
    count_params=lambda p, ins, out: ins[0][0], count_macs=lambda p, ins, out: numel(out), id_prefix="scale",
))
