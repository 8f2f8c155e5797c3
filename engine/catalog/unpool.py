"""Making images bigger: MaxUnpool2d (a named pool's indices), bed-of-nails and nearest unpooling, Upsample, and
sub-pixel shuffling (PixelShuffle, with its inverse PixelUnshuffle beside it)."""
from __future__ import annotations

import math

import torch.nn as nn
import torch.nn.functional as F

from engine.catalog.arith import fmt_shape, need_rank
from engine.catalog.helpers import call, numel, pair
from engine.catalog.registry import EmitCtx, OpSpec, Param, from_function, from_module, register_op
from engine.errors import ParamError, ShapeError


def max_unpool_infer(p: dict, ins: list) -> tuple:
    """ins = [x, the pool's input shape, the pool's output shape] (the pool comes in through ref_params)."""
    x, pool_in, pool_out = ins
    need_rank(x, 3, "MaxUnpool2d undoes a MaxPool2d on C×H×W.")
    if x != pool_out:
        raise ShapeError(f"MaxUnpool2d's input must have the shape of {p['pool']}'s output so its indices line up, "
                         f"but the input is {fmt_shape(x)} and {p['pool']} outputs {fmt_shape(pool_out)}.",
                         field="pool")
    return pool_in


def max_unpool_forward(ctx: EmitCtx) -> str:
    # scatter every value back to where the pool found it (torch's max_unpool2d, without restating the window)
    x, idx = ctx.args[0], ctx.extras["indices"]
    C, H, W = ctx.out_shape
    return f"{x}.new_zeros({x}.shape[0], {C}, {H * W}).scatter(2, {idx}.flatten(2), {x}.flatten(2)).view(-1, {C}, {H}, {W})"


def _unpool_emit(c, x, indices):
    pool = c.pool_of(indices)
    if pool is None:
        raise c.unsupported(f"{c.label} whose indices do not come straight from a MaxPool2d")
    return c.emit("MaxUnpool2d", {"pool": pool}, [c.tensor(x)], keep=("pool",))


def _unpool_module(c):
    a = c.bind("input, indices, output_size=None")
    return _unpool_emit(c, a["input"], a["indices"])


def _unpool_function(c):
    a = c.bind("input, indices, kernel_size, stride=None, padding=0, output_size=None")
    return _unpool_emit(c, a["input"], a["indices"])


register_op(OpSpec(
    name="MaxUnpool2d", category="Unpooling",
    doc="Puts each value back where the named MaxPool2d found its maximum and zeros elsewhere; the output has the "
        "pool's input size (the decoder half of SegNet / Zeiler–Fergus deconvnets).",
    params=[Param("pool", "node", "", "Id of the MaxPool2d whose switch positions (indices) to use.",
                  choices=("MaxPool2d",))],
    infer=max_unpool_infer, init=lambda c: None, forward=max_unpool_forward, ref_params=("pool",), id_prefix="unpool",
    fx=(from_module(nn.MaxUnpool2d, convert=_unpool_module), from_function(F.max_unpool2d, convert=_unpool_function)),
))


def scaled_infer(p: dict, ins: list) -> tuple:
    need_rank(ins[0], 3, "Unpooling enlarges the height and width of C×H×W.")
    C, H, W = ins[0]
    sh, sw = p["scale_factor"]
    return (C, H * sh, W * sw)


def bed_of_nails_forward(ctx: EmitCtx) -> str:
    # (B, C, H, 1, W, 1) padded to (B, C, H, sh, W, sw): each value in the top-left of its sh×sw block
    sh, sw = ctx.p["scale_factor"]
    x = ctx.args[0]
    return f"F.pad({x}[:, :, :, None, :, None], (0, {sw - 1}, 0, 0, 0, {sh - 1})).flatten(4, 5).flatten(2, 3)"


SCALE = Param("scale_factor", "pair", 2, "How many times larger: one number or [height, width].", min=1, max=64)

register_op(OpSpec(
    name="BedOfNailsUnpool2d", category="Unpooling",
    doc="Zero insertion: each value goes to the top-left corner of its scale×scale block, zeros elsewhere: "
        "C×H×W → C×(H·s)×(W·s).",
    params=[SCALE], infer=scaled_infer, init=lambda c: None, forward=bed_of_nails_forward, id_prefix="unpool",
))

register_op(OpSpec(
    name="NearestUnpool2d", category="Unpooling",
    doc="Nearest-neighbour unpooling: each value is copied into its whole scale×scale block: "
        "C×H×W → C×(H·s)×(W·s).",
    params=[SCALE], infer=scaled_infer, init=lambda c: None, id_prefix="unpool",
    forward=lambda c: f"{c.args[0]}.repeat_interleave({c.p['scale_factor'][0]}, dim=2)"
                      f".repeat_interleave({c.p['scale_factor'][1]}, dim=3)",
))


def _check_upsample(p: dict) -> None:
    if p["scale_factor"] is None and p["size"] is None:
        raise ParamError("scale_factor", "set scale_factor or size. Received: scale_factor=None, size=None.")


def upsample_infer(p: dict, ins: list) -> tuple:
    need_rank(ins[0], 3, "Upsample enlarges the height and width of C×H×W.")
    C, H, W = ins[0]
    if p["size"] is not None:
        return (C,) + tuple(p["size"])
    s = p["scale_factor"]
    oh, ow = math.floor(H * s), math.floor(W * s)  # torch: floor(in · scale) in double precision
    if oh < 1 or ow < 1:
        raise ShapeError(f"the output would be empty: ⌊{H}·{s}⌋ = {oh}, ⌊{W}·{s}⌋ = {ow}. "
                         f"Received: scale_factor={s}.", field="scale_factor")
    return (C, oh, ow)


def upsample_init(ctx: EmitCtx) -> str:
    p = ctx.p
    what = f"size={p['size']}" if p["size"] is not None else f"scale_factor={p['scale_factor']!r}"
    extra = ", align_corners=False" if p["mode"] == "bilinear" else ""
    return f"nn.Upsample({what}, mode={p['mode']!r}{extra})"


def _upsample_emit(c, x, size, scale_factor, mode, align_corners, recompute=None, antialias=False):
    if antialias or recompute:
        raise c.unsupported(f"{c.label}({'antialias' if antialias else 'recompute_scale_factor'}=True)")
    if mode not in ("nearest", "bilinear"):
        raise c.unsupported(f"{c.label}(mode={mode!r})")
    if mode == "bilinear" and align_corners:
        raise c.unsupported(f"{c.label}(align_corners=True)")
    if size is not None:
        return c.emit("Upsample", {"size": pair(c.full_out[-2:]), "scale_factor": None, "mode": mode}, [c.tensor(x)],
                      keep=("size", "scale_factor"))
    scale = scale_factor
    if isinstance(scale, (list, tuple)):
        if len(set(scale)) != 1:
            raise c.unsupported(f"{c.label} with different height and width scales")
        scale = scale[0]
    return c.emit("Upsample", {"scale_factor": float(scale), "mode": mode}, [c.tensor(x)], keep=("scale_factor",))


def _upsample_module(c):
    m = c.module
    return _upsample_emit(c, c.only_input(), m.size, m.scale_factor, m.mode, m.align_corners,
                          getattr(m, "recompute_scale_factor", None))


def _interpolate(c):
    a = c.bind("input, size=None, scale_factor=None, mode='nearest', align_corners=None, "
               "recompute_scale_factor=None, antialias=False")
    return _upsample_emit(c, a["input"], *(c.const(a[n]) for n in ("size", "scale_factor", "mode", "align_corners",
                                                                    "recompute_scale_factor", "antialias")))


register_op(OpSpec(
    name="Upsample", category="Unpooling",
    doc="Resizes the image by scale_factor (out = ⌊in·scale⌋) or to a fixed size, by nearest or bilinear "
        "interpolation.",
    params=[Param("scale_factor", "float", 2.0, "Multiplier for height and width (ignored when size is set).",
                  min=0.01, max=64.0, optional=True),
            Param("size", "pair", None, "Fixed output [height, width]; overrides scale_factor.", min=1, max=8192,
                  optional=True),
            Param("mode", "choice", "nearest", "How new pixels are filled.", choices=("nearest", "bilinear"))],
    infer=upsample_infer, init=upsample_init, forward=call, check_params=_check_upsample,
    count_macs=lambda p, ins, out: numel(out) * (4 if p["mode"] == "bilinear" else 0), id_prefix="up",
    fx=(from_module(nn.Upsample, convert=_upsample_module), from_function(F.interpolate, convert=_interpolate)),
))


# ---- sub-pixel shuffling: channels <-> r×r blocks of pixels (ESPCN, Shi et al. 2016) -----------------------------

def pixel_shuffle_infer(p: dict, ins: list) -> tuple:
    need_rank(ins[0], 3, "PixelShuffle turns channels of C×H×W into blocks of pixels.")
    C, H, W = ins[0]
    r = p["upscale_factor"]
    if C % (r * r):
        want = r * r * -(-C // (r * r))  # the next channel count that splits into r×r blocks
        raise ShapeError(f"the input channels must be divisible by upscale_factor² = {r * r}, since every {r * r} "
                         f"channels become one {r}×{r} block of pixels. Received: upscale_factor={r}, input channels="
                         f"{C} (input shape {fmt_shape(ins[0])}). Insert a 1×1 Conv2d with {want} filters before it.",
                         field="upscale_factor", fix={"kind": "insert_before", "op": "Conv2d",
                                                      "params": {"out_channels": want, "kernel_size": 1}})
    return (C // (r * r), H * r, W * r)


def pixel_unshuffle_infer(p: dict, ins: list) -> tuple:
    need_rank(ins[0], 3, "PixelUnshuffle turns blocks of pixels of C×H×W into channels.")
    C, H, W = ins[0]
    r = p["downscale_factor"]
    for axis, size in (("height", H), ("width", W)):
        if size % r:
            raise ShapeError(f"the input {axis} must be divisible by downscale_factor {r}, since the image is cut "
                             f"into {r}×{r} blocks: {size} = {size // r}·{r} + {size % r}. Received: "
                             f"downscale_factor={r} (input shape {fmt_shape(ins[0])}).", field="downscale_factor")
    return (C * r * r, H // r, W // r)


def _shuffle_fx(op: str, param: str, module: type, fn) -> tuple:
    def from_fn(c):
        a = c.bind(f"input, {param}")
        return c.emit(op, {param: c.const(a[param])}, [c.tensor(a["input"])], keep=(param,))

    return (from_module(module, convert=lambda c: c.emit(op, {param: getattr(c.module, param)}, [c.only_input()],
                                                         keep=(param,))),
            from_function(fn, convert=from_fn))


# Both only move values (a reshape and a permute), so they have no parameters and count 0 MACs, as Flatten does.
register_op(OpSpec(
    name="PixelShuffle", category="Unpooling",
    doc="Sub-pixel upsampling: every r² channels become one r×r block of pixels, C×H×W → (C/r²)×(H·r)×(W·r). "
        "A Conv2d with C·r² filters before it learns the upsampling (ESPCN).",
    params=[Param("upscale_factor", "int", 2, "r: how many times larger the height and width get; the input "
                  "channels must be divisible by r².", min=1, max=64)],
    infer=pixel_shuffle_infer, init=lambda c: f"nn.PixelShuffle({c.p['upscale_factor']})", forward=call,
    id_prefix="shuffle", fx=_shuffle_fx("PixelShuffle", "upscale_factor", nn.PixelShuffle, F.pixel_shuffle),
))

register_op(OpSpec(
    name="PixelUnshuffle", category="Reshape",
    doc="Space-to-depth, the inverse of PixelShuffle: each r×r block of pixels becomes r² channels, "
        "C×H×W → (C·r²)×(H/r)×(W/r). Downsamples without dropping a value.",
    params=[Param("downscale_factor", "int", 2, "r: how many times smaller the height and width get; both must be "
                  "divisible by r.", min=1, max=64)],
    infer=pixel_unshuffle_infer, init=lambda c: f"nn.PixelUnshuffle({c.p['downscale_factor']})", forward=call,
    id_prefix="unshuffle", fx=_shuffle_fx("PixelUnshuffle", "downscale_factor", nn.PixelUnshuffle, F.pixel_unshuffle),
))
