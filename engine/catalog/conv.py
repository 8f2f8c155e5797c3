"""Convolutions: Conv2d and ConvTranspose2d."""
from __future__ import annotations

import torch.nn as nn

from engine.catalog.arith import conv_transpose_out, need_rank, resolve_padding, window_out
from engine.catalog.helpers import keywords, pair
from engine.catalog.registry import EmitCtx, OpSpec, Param, from_module, register_op
from engine.errors import ParamError, ShapeError

IMAGE_NEEDED = "Convolutions need C×H×W input; feed it an image tensor, or Reshape first."


def _pad_args(ctx: EmitCtx) -> tuple[tuple[int, int] | None, tuple[int, int, int, int] | None]:
    """(symmetric padding for the layer, or None) and (explicit F.pad for an asymmetric 'same', or None)."""
    p = ctx.p
    C, H, W = ctx.in_shapes[0]
    (t, b), (lft, rgt) = resolve_padding(p["padding"], (H, W), p["kernel_size"], p["stride"], p["dilation"])
    if t == b and lft == rgt:
        return (t, lft), None
    return (0, 0), (lft, rgt, t, b)


def _image_input(p: dict, ins: list) -> tuple[int, int, int]:
    """The (C, H, W) input of a convolution, checked: an image tensor whose channels split into `groups`."""
    need_rank(ins[0], 3, IMAGE_NEEDED)
    C, H, W = ins[0]
    g = p["groups"]
    if C % g:
        raise ShapeError(f"the number of input channels must be divisible by groups. "
                         f"Received: groups={g}, input channels={C} (input shape {C}×{H}×{W}).", field="groups")
    return C, H, W


def conv2d_infer(p: dict, ins: list) -> tuple:
    C, H, W = _image_input(p, ins)
    k, s, d = p["kernel_size"], p["stride"], p["dilation"]
    pads = resolve_padding(p["padding"], (H, W), k, s, d)
    try:
        oh = window_out("height", H, k[0], s[0], pads[0], d[0])
        ow = window_out("width", W, k[1], s[1], pads[1], d[1])
    except ShapeError as e:
        if e.field == "kernel_size" and e.fix:
            e.fix = [e.fix, _largest_kernel_fix(k, d, (H + sum(pads[0]), W + sum(pads[1])))]
        raise
    return (p["out_channels"], oh, ow)


def _largest_kernel_fix(k: tuple[int, int], d: tuple[int, int], padded: tuple[int, int]) -> dict:
    """The fix the kernel-too-large message suggests: the largest kernel that fits the padded input on each axis
    (d·(k−1)+1 ≤ padded), keeping the padding. 'padding same' keeps a 40×40 kernel on 28×28 (25,616 weights for 16
    filters); this keeps the layer small."""
    kh, kw = (min(k[i], (padded[i] - 1) // d[i] + 1) for i in range(2))
    return {"kind": "set_param", "param": "kernel_size", "value": kh if kh == kw else [kh, kw],
            "note": "the largest that fits"}


def _check_conv(p: dict) -> None:
    if p["out_channels"] % p["groups"]:
        raise ParamError("groups", f"out_channels must be divisible by groups. "
                         f"Received: groups={p['groups']}, out_channels={p['out_channels']}.")


def conv2d_params(p, ins, out) -> int:
    C = ins[0][0]
    kh, kw = p["kernel_size"]
    return p["out_channels"] * (C // p["groups"]) * kh * kw + (p["out_channels"] if p["bias"] else 0)


def conv2d_macs(p, ins, out) -> int:
    C = ins[0][0]
    kh, kw = p["kernel_size"]
    return out[0] * out[1] * out[2] * (C // p["groups"]) * kh * kw


def conv2d_init(ctx: EmitCtx) -> str:
    p = ctx.p
    sym, _ = _pad_args(ctx)
    args = [str(ctx.in_shapes[0][0]), str(p["out_channels"]), f"kernel_size={p['kernel_size']}"]
    args += keywords({**p, "padding": sym}, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1, bias=True)
    return f"nn.Conv2d({', '.join(args)})"


def conv2d_forward(ctx: EmitCtx) -> str:
    _, asym = _pad_args(ctx)
    x = ctx.args[0]
    if asym:
        x = f"F.pad({x}, {asym})"  # TensorFlow-style 'same': the odd pixel goes bottom/right
    return f"self.{ctx.attr}({x})"


def _zeros_padding(c) -> None:
    if c.module.padding_mode != "zeros":
        raise c.unsupported(f"{c.label}(padding_mode={c.module.padding_mode!r})")


def _conv2d_fx(c):
    m = c.module
    _zeros_padding(c)
    padding = m.padding if isinstance(m.padding, str) else pair(m.padding)
    return c.emit("Conv2d", {"out_channels": m.out_channels, "kernel_size": pair(m.kernel_size),
                             "stride": pair(m.stride), "padding": padding, "dilation": pair(m.dilation),
                             "groups": m.groups, "bias": m.bias is not None},
                  [c.only_input()], keep=("out_channels", "kernel_size"))


def _describe_conv(p: dict) -> str:
    kh, kw = p["kernel_size"]
    return f"a {kh}×{kw} Conv2d with {p['out_channels']} filters"


COMMON = [
    Param("kernel_size", "pair", 3, "Size of the sliding window: one number or [height, width].", min=1, max=1024),
    Param("stride", "pair", 1, "Step between windows: one number or [height, width].", min=1, max=1024),
    Param("padding", "padding", 0, "Zeros added around the input: a number, [h, w], 'valid' (none), "
          "'same' (output = ceil(input / stride), padding the odd pixel bottom/right), or 'full' (dilation·(kernel−1)).",
          min=0, max=1024, choices=("valid", "same", "full")),
    Param("dilation", "pair", 1, "Spacing between kernel taps (atrous convolution).", min=1, max=1024),
    Param("groups", "int", 1, "Split channels into independent groups (groups = channels is depthwise).",
          min=1, max=65536),
    Param("bias", "bool", True, "Add a learnable bias per output channel."),
]

register_op(OpSpec(
    name="Conv2d", category="Convolution",
    doc="2-D convolution: out_channels filters slide over the input. out = ⌊(in + pads − dilation·(k−1) − 1)/stride⌋ + 1.",
    params=[Param("out_channels", "int", 16, "Number of filters (output channels).", min=1, max=65536)] + COMMON,
    infer=conv2d_infer, init=conv2d_init, forward=conv2d_forward,
    count_params=conv2d_params, count_macs=conv2d_macs, check_params=_check_conv,
    id_prefix="conv", width_param="out_channels", describe=_describe_conv,
    fx=(from_module(nn.Conv2d, convert=_conv2d_fx),),
))


def convT_infer(p: dict, ins: list) -> tuple:
    C, H, W = _image_input(p, ins)
    k, s, pad, op, d = p["kernel_size"], p["stride"], p["padding"], p["output_padding"], p["dilation"]
    for i, axis in enumerate(("height", "width")):
        if op[i] >= max(s[i], d[i]):
            raise ShapeError(f"output_padding {op[i]} must be smaller than stride or dilation "
                             f"(stride {s[i]}, dilation {d[i]}) on the {axis}.", field="output_padding")
    oh = conv_transpose_out("height", H, k[0], s[0], pad[0], op[0], d[0])
    ow = conv_transpose_out("width", W, k[1], s[1], pad[1], op[1], d[1])
    return (p["out_channels"], oh, ow)


def convT_params(p, ins, out) -> int:
    C = ins[0][0]
    kh, kw = p["kernel_size"]
    return C * (p["out_channels"] // p["groups"]) * kh * kw + (p["out_channels"] if p["bias"] else 0)


def convT_macs(p, ins, out) -> int:
    C, H, W = ins[0]
    kh, kw = p["kernel_size"]
    return H * W * C * (p["out_channels"] // p["groups"]) * kh * kw


def convT_init(ctx: EmitCtx) -> str:
    p = ctx.p
    args = [str(ctx.in_shapes[0][0]), str(p["out_channels"]), f"kernel_size={p['kernel_size']}"]
    # torch's defaults, not the catalog's (whose stride and kernel default to 2, the usual upsampling)
    args += keywords(p, stride=(1, 1), padding=(0, 0), output_padding=(0, 0), groups=1, dilation=(1, 1), bias=True)
    return f"nn.ConvTranspose2d({', '.join(args)})"


def _conv_transpose2d_fx(c):
    m = c.module
    _zeros_padding(c)
    return c.emit("ConvTranspose2d", {"out_channels": m.out_channels, "kernel_size": pair(m.kernel_size),
                                      "stride": pair(m.stride), "padding": pair(m.padding),
                                      "output_padding": pair(m.output_padding), "dilation": pair(m.dilation),
                                      "groups": m.groups, "bias": m.bias is not None},
                  [c.only_input()], keep=("out_channels", "kernel_size", "stride"))


register_op(OpSpec(
    name="ConvTranspose2d", category="Convolution",
    doc="Transposed convolution (learned upsampling). out = (in−1)·stride − 2·padding + dilation·(k−1) + output_padding + 1.",
    params=[
        Param("out_channels", "int", 16, "Number of output channels.", min=1, max=65536),
        Param("kernel_size", "pair", 2, "Kernel size: one number or [height, width].", min=1, max=1024),
        Param("stride", "pair", 2, "Upsampling factor: one number or [height, width].", min=1, max=1024),
        Param("padding", "pair", 0, "Removes dilation·(k−1)−padding zero rows from each side of the output.",
              min=0, max=1024),
        Param("output_padding", "pair", 0, "Extra rows/columns added on one side to pick among the output sizes "
              "a strided conv could have come from; must be smaller than stride or dilation.", min=0, max=1024),
        Param("dilation", "pair", 1, "Spacing between kernel taps.", min=1, max=1024),
        Param("groups", "int", 1, "Independent channel groups.", min=1, max=65536),
        Param("bias", "bool", True, "Add a learnable bias per output channel."),
    ],
    infer=convT_infer, init=convT_init, forward=lambda c: f"self.{c.attr}({c.args[0]})",
    count_params=convT_params, count_macs=convT_macs, check_params=_check_conv,
    id_prefix="deconv", width_param="out_channels",
    fx=(from_module(nn.ConvTranspose2d, convert=_conv_transpose2d_fx),),
))
