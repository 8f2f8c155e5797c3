"""Pooling: MaxPool2d, AvgPool2d, global and adaptive pooling."""
from __future__ import annotations

import torch.nn as nn
import torch.nn.functional as F

from engine.catalog.arith import need_rank, resolve_padding, window_out
from engine.catalog.helpers import call, keywords, numel, pair
from engine.catalog.registry import EmitCtx, OpSpec, Param, from_function, from_module, register_op
from engine.errors import ShapeError


def pool_geometry(p: dict, ins: list, what: str = "window") -> tuple[tuple, tuple, tuple, tuple]:
    """(kernel, stride, ((top, bottom), (left, right)), output (C, H, W)) of a pooling window op."""
    need_rank(ins[0], 3, "Pooling needs C×H×W input.")
    C, H, W = ins[0]
    k = p["kernel_size"]
    s = p["stride"] if p["stride"] is not None else k
    d = p.get("dilation", (1, 1))
    pads = resolve_padding(p["padding"], (H, W), k, s, d)
    for i, (axis, pad) in enumerate(zip(("height", "width"), pads)):
        if max(pad) > k[i] // 2 and p["padding"] != "same":
            raise ShapeError(f"padding {max(pad)} on the {axis} must be at most half the window {k[i]} "
                             f"(PyTorch's rule for pooling). Received: kernel_size={k[i]}, padding={max(pad)}.",
                             field="padding")
    ceil = p.get("ceil_mode", False)
    oh = window_out("height", H, k[0], s[0], pads[0], d[0], ceil, what=what)
    ow = window_out("width", W, k[1], s[1], pads[1], d[1], ceil, what=what)
    return k, s, pads, (C, oh, ow)


def native_padding(k: tuple, pads: tuple) -> tuple[int, int] | None:
    """The pool layer's own (h, w) padding when torch can do it: symmetric and at most half the window.
    Otherwise (asymmetric 'same', or a dilated 'same' wider than k/2) the forward pads explicitly with F.pad."""
    (t, b), (lft, rgt) = pads
    if t == b and lft == rgt and t <= k[0] // 2 and lft <= k[1] // 2:
        return (t, lft)
    return None


def _window_args(ctx: EmitCtx) -> list[str]:
    """kernel_size, stride and (when torch can pad natively and there is any) padding of a pool constructor."""
    k, s, pads, _ = pool_geometry(ctx.p, ctx.in_shapes)
    native = native_padding(k, pads)
    return [f"kernel_size={k}", f"stride={s}"] + keywords({"padding": native or (0, 0)}, padding=(0, 0))


def _maxpool_init(ctx: EmitCtx) -> str:
    args = _window_args(ctx) + keywords(ctx.p, dilation=(1, 1), ceil_mode=False)
    if ctx.extras.get("return_indices"):  # a MaxUnpool2d uses this pool's indices
        args.append("return_indices=True")
    return f"nn.MaxPool2d({', '.join(args)})"


def _maxpool_forward(ctx: EmitCtx) -> str:
    k, _, pads, _ = pool_geometry(ctx.p, ctx.in_shapes)
    x = ctx.args[0]
    if native_padding(k, pads):
        return f"self.{ctx.attr}({x})"
    (t, b), (lft, rgt) = pads
    # max pooling pads with −inf so padding never wins
    pooled = f"self.{ctx.attr}(F.pad({x}, {(lft, rgt, t, b)}, value=float('-inf')))"
    if not ctx.extras.get("return_indices"):
        return pooled
    # the indices count positions in the padded grid; map them back to the input's grid for MaxUnpool2d
    W, Wp = ctx.in_shapes[0][2], ctx.in_shapes[0][2] + lft + rgt
    return f"(lambda y, i: (y, (i // {Wp} - {t}) * {W} + i % {Wp} - {lft}))(*{pooled})"


def _stride(kernel, stride):
    """torch stores an unset stride as None, [] or the kernel itself; the catalog's unset stride is None."""
    if stride is None or stride == [] or stride == ():
        return None
    return None if pair(stride) == pair(kernel) else pair(stride)


def _maxpool_emit(c, x, kernel, stride, padding, dilation, ceil_mode, return_indices):
    params = {"kernel_size": pair(kernel), "stride": _stride(kernel, stride), "padding": pair(padding),
              "dilation": pair(dilation), "ceil_mode": bool(ceil_mode)}
    # with indices the call returns (pooled, indices of this pool), which a MaxUnpool2d may name
    results = (lambda gid: (gid, c.indices(gid))) if return_indices else None
    return c.emit("MaxPool2d", params, [c.tensor(x)], keep=("kernel_size",), results=results)


def _maxpool_function(c):
    a = c.bind("input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False")
    k, s, pad, d, ceil, idx = (c.const(a[n]) for n in ("kernel_size", "stride", "padding", "dilation", "ceil_mode",
                                                        "return_indices"))
    return _maxpool_emit(c, a["input"], k, s, pad, d, ceil, idx or c.node.target is F.max_pool2d_with_indices)


POOL_PARAMS = [
    Param("kernel_size", "pair", 2, "Pooling window: one number or [height, width].", min=1, max=1024),
    Param("stride", "pair", None, "Step between windows; empty means equal to kernel_size.", min=1, max=1024,
          optional=True),
    Param("padding", "padding", 0, "A number, [h, w], 'valid' (none) or 'same' (output = ceil(input / stride)).",
          min=0, max=1024, choices=("valid", "same")),
    Param("ceil_mode", "bool", False, "Round the output size up instead of down (a partial last window counts)."),
]


def _window_macs(p: dict, ins: list, out: tuple) -> int:
    return numel(out) * p["kernel_size"][0] * p["kernel_size"][1]


register_op(OpSpec(
    name="MaxPool2d", category="Pooling",
    doc="Maximum over each window. out = ⌊(in + pads − k)/stride⌋ + 1 (⌈…⌉ with ceil_mode).",
    params=POOL_PARAMS[:3] + [Param("dilation", "pair", 1, "Spacing between window taps.", min=1, max=1024)]
    + POOL_PARAMS[3:],
    infer=lambda p, ins: pool_geometry(p, ins)[3], init=_maxpool_init, forward=_maxpool_forward,
    count_macs=_window_macs, id_prefix="pool",
    fx=(from_module(nn.MaxPool2d, convert=lambda c: _maxpool_emit(
            c, c.only_input(), c.module.kernel_size, c.module.stride, c.module.padding, c.module.dilation,
            c.module.ceil_mode, c.module.return_indices)),
        from_function(F.max_pool2d, F.max_pool2d_with_indices, convert=_maxpool_function)),
))


def _include_pad(p: dict) -> bool:
    return p["count_include_pad"] and p["padding"] != "same"


def avgpool_init(ctx: EmitCtx) -> str:
    p = ctx.p
    args = _window_args(ctx)
    padded = any(a.startswith("padding=") for a in args)
    if padded and not _include_pad(p):  # TensorFlow's 'same' averages only the real pixels of each window
        args.append("count_include_pad=False")
    return f"nn.AvgPool2d({', '.join(args + keywords(p, ceil_mode=False))})"


def avgpool_forward(ctx: EmitCtx) -> str:
    k, _, pads, _ = pool_geometry(ctx.p, ctx.in_shapes)
    x = ctx.args[0]
    if native_padding(k, pads):
        return f"self.{ctx.attr}({x})"
    # asymmetric 'same': pool the zero-padded input, then divide by how many real pixels each window saw
    (t, b), (lft, rgt) = pads
    pad = (lft, rgt, t, b)
    return f"self.{ctx.attr}(F.pad({x}, {pad})) / self.{ctx.attr}(F.pad(torch.ones_like({x}[:, :1]), {pad}))"


def _avgpool_emit(c, x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override):
    if divisor_override is not None:
        raise c.unsupported(f"{c.label}(divisor_override=…)")
    return c.emit("AvgPool2d", {"kernel_size": pair(kernel), "stride": _stride(kernel, stride),
                                "padding": pair(padding), "ceil_mode": bool(ceil_mode),
                                "count_include_pad": bool(count_include_pad)}, [c.tensor(x)], keep=("kernel_size",))


def _avgpool_function(c):
    a = c.bind("input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, "
               "divisor_override=None")
    return _avgpool_emit(c, a["input"], *(c.const(a[n]) for n in ("kernel_size", "stride", "padding", "ceil_mode",
                                                                   "count_include_pad", "divisor_override")))


register_op(OpSpec(
    name="AvgPool2d", category="Pooling",
    doc="Average over each window. out = ⌊(in + pads − k)/stride⌋ + 1 (⌈…⌉ with ceil_mode). With padding 'same' "
        "the average counts only real pixels (TensorFlow's rule).",
    params=POOL_PARAMS + [Param("count_include_pad", "bool", True, "Count zero padding in the average's divisor "
                                "(ignored for 'same', which never counts padding).")],
    infer=lambda p, ins: pool_geometry(p, ins)[3], init=avgpool_init, forward=avgpool_forward,
    count_macs=_window_macs, id_prefix="avgpool",
    fx=(from_module(nn.AvgPool2d, convert=lambda c: _avgpool_emit(
            c, c.only_input(), c.module.kernel_size, c.module.stride, c.module.padding, c.module.ceil_mode,
            c.module.count_include_pad, c.module.divisor_override)),
        from_function(F.avg_pool2d, convert=_avgpool_function)),
))


def global_infer(p: dict, ins: list) -> tuple:
    need_rank(ins[0], 3, "Global pooling needs C×H×W input.")
    return (ins[0][0], 1, 1)


for _name, _ctor, _what, _prefix in (("GlobalAvgPool2d", "AdaptiveAvgPool2d", "Mean", "gap"),
                                     ("GlobalMaxPool2d", "AdaptiveMaxPool2d", "Maximum", "gmp")):
    # imported models spell these as adaptive pooling to 1×1 (or torch.mean): the importer makes Adaptive*Pool2d
    register_op(OpSpec(
        name=_name, category="Pooling",
        doc=f"{_what} over each whole channel: C×H×W → C×1×1 (replaces Flatten + big Linear layers).",
        params=[], infer=global_infer, init=lambda c, ctor=_ctor: f"nn.{ctor}(1)", forward=call,
        count_macs=lambda p, ins, out: numel(ins[0]), id_prefix=_prefix,
    ))


def adaptive_infer(p: dict, ins: list) -> tuple:
    need_rank(ins[0], 3, "Adaptive pooling needs C×H×W input.")
    return (ins[0][0],) + tuple(p["output_size"])


def _adaptive_init(ctor: str):
    def init(ctx: EmitCtx) -> str:
        oh, ow = ctx.p["output_size"]
        return f"nn.{ctor}({oh if oh == ow else (oh, ow)})"
    return init


def _adaptive_fx(op: str, fn):
    def emit(c, x):
        # torch allows None for "keep this size"; the traced output shape says what it resolved to
        return c.emit(op, {"output_size": pair(c.full_out[-2:])}, [c.tensor(x)], keep=("output_size",))

    def from_mod(c):
        if getattr(c.module, "return_indices", False):
            raise c.unsupported(f"{c.label}(return_indices=True)")
        return emit(c, c.only_input())

    def from_fn(c):
        a = c.bind("input, output_size, return_indices=False" if "Max" in op else "input, output_size")
        if c.const(a.get("return_indices")):
            raise c.unsupported(f"{c.label}(return_indices=True)")
        return emit(c, a["input"])

    return (from_module(getattr(nn, op), convert=from_mod), from_function(fn, convert=from_fn))


for _name, _what, _prefix, _fn in (("AdaptiveAvgPool2d", "Averages", "avgpool", F.adaptive_avg_pool2d),
                                   ("AdaptiveMaxPool2d", "Takes the maximum of", "maxpool", F.adaptive_max_pool2d)):
    register_op(OpSpec(
        name=_name, category="Pooling",
        doc=f"{_what} windows chosen so the output is exactly output_size, whatever the input size: "
            "C×H×W → C×oh×ow.",
        params=[Param("output_size", "pair", 1, "Output height and width: one number or [h, w].", min=1, max=4096)],
        infer=adaptive_infer, init=_adaptive_init(_name), forward=call,
        count_macs=lambda p, ins, out: numel(ins[0]), id_prefix=_prefix, fx=_adaptive_fx(_name, _fn),
    ))
