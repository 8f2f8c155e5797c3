"""Pooling beyond MaxPool2d: AvgPool2d, global and adaptive pooling."""
from __future__ import annotations

from engine.catalog.arith import need_rank
from engine.catalog.core import POOL_PARAMS, call, native_padding, numel, pool_geometry
from engine.catalog.registry import EmitCtx, OpSpec, Param, register_op


def avgpool_init(ctx: EmitCtx) -> str:
    p = ctx.p
    k, s, pads, _ = pool_geometry(p, ctx.in_shapes)
    native = native_padding(k, pads)
    args = [f"kernel_size={k}", f"stride={s}"]
    if native and native != (0, 0):
        args.append(f"padding={native}")
        if not _include_pad(p):  # TensorFlow's 'same' averages only the real pixels of each window
            args.append("count_include_pad=False")
    if p["ceil_mode"]:
        args.append("ceil_mode=True")
    return f"nn.AvgPool2d({', '.join(args)})"


def _include_pad(p: dict) -> bool:
    return p["count_include_pad"] and p["padding"] != "same"


def avgpool_forward(ctx: EmitCtx) -> str:
    k, _, pads, _ = pool_geometry(ctx.p, ctx.in_shapes)
    x = ctx.args[0]
    if native_padding(k, pads):
        return f"self.{ctx.attr}({x})"
    # asymmetric 'same': pool the zero-padded input, then divide by how many real pixels each window saw
    (t, b), (lft, rgt) = pads
    pad = (lft, rgt, t, b)
    return f"self.{ctx.attr}(F.pad({x}, {pad})) / self.{ctx.attr}(F.pad(torch.ones_like({x}[:, :1]), {pad}))"


register_op(OpSpec(
    name="AvgPool2d", category="Pooling",
    doc="Average over each window. out = ⌊(in + pads − k)/stride⌋ + 1 (⌈…⌉ with ceil_mode). With padding 'same' "
        "the average counts only real pixels (TensorFlow's rule).",
    params=POOL_PARAMS + [Param("count_include_pad", "bool", True, "Count zero padding in the average's divisor "
                                "(ignored for 'same', which never counts padding).")],
    infer=lambda p, ins: pool_geometry(p, ins)[3], init=avgpool_init, forward=avgpool_forward,
    count_macs=lambda p, ins, out: numel(out) * p["kernel_size"][0] * p["kernel_size"][1],
))


def global_infer(p: dict, ins: list) -> tuple:
    need_rank(ins[0], 3, "Global pooling needs C×H×W input.")
    return (ins[0][0], 1, 1)


for _name, _ctor, _what in (("GlobalAvgPool2d", "AdaptiveAvgPool2d", "Mean"), ("GlobalMaxPool2d",
                                                                             "AdaptiveMaxPool2d", "Maximum")):
    register_op(OpSpec(
        name=_name, category="Pooling",
        doc=f"{_what} over each whole channel: C×H×W → C×1×1 (replaces Flatten + big Linear layers).",
        params=[], infer=global_infer, init=lambda c, ctor=_ctor: f"nn.{ctor}(1)", forward=call,
        count_macs=lambda p, ins, out: numel(ins[0]),
    ))


def adaptive_infer(p: dict, ins: list) -> tuple:
    need_rank(ins[0], 3, "Adaptive pooling needs C×H×W input.")
    return (ins[0][0],) + tuple(p["output_size"])


def _adaptive_init(ctor: str):
    def init(ctx: EmitCtx) -> str:
        oh, ow = ctx.p["output_size"]
        return f"nn.{ctor}({oh if oh == ow else (oh, ow)})"
    return init


for _name, _what in (("AdaptiveAvgPool2d", "Averages"), ("AdaptiveMaxPool2d", "Takes the maximum of")):
    register_op(OpSpec(
        name=_name, category="Pooling",
        doc=f"{_what} windows chosen so the output is exactly output_size, whatever the input size: "
            "C×H×W → C×oh×ow.",
        params=[Param("output_size", "pair", 1, "Output height and width: one number or [h, w].", min=1, max=4096)],
        infer=adaptive_infer, init=_adaptive_init(_name), forward=call,
        count_macs=lambda p, ins, out: numel(ins[0]),
    ))
