"""The ops every network needs: Input, Linear, Flatten, ReLU, MaxPool2d, Add, Multiply, Concat, Dropout(2d)."""
from __future__ import annotations

import math

from engine.catalog.arith import fmt_shape, need_rank, resolve_padding, window_out
from engine.catalog.registry import EmitCtx, OpSpec, Param, register_op
from engine.errors import ShapeError


def numel(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def call(ctx: EmitCtx) -> str:
    """The forward of a one-input module op: self.<attr>(x)."""
    return f"self.{ctx.attr}({ctx.args[0]})"


def same_shape(p: dict, ins: list) -> tuple:
    return ins[0]


def elementwise(name: str, category: str, doc: str, ctor: str, params: list[Param] | None = None,
                ctor_args=lambda p: "") -> OpSpec:
    """A shape-preserving module op such as an activation (nn.<ctor>(args))."""
    return register_op(OpSpec(
        name=name, category=category, doc=doc, params=params or [], infer=same_shape,
        init=lambda c: f"nn.{ctor}({ctor_args(c.p)})", forward=call,
        count_macs=lambda p, ins, out: numel(out),
    ))


register_op(OpSpec(
    name="Input", category="Input/Output",
    doc="The network's input. Shape excludes the batch: [C, H, W] for images, [T, F] for sequences, [T] for token ids.",
    params=[Param("shape", "shape", [1, 28, 28], "Input size without the batch dimension, e.g. [3, 32, 32].",
                  min=1, max=100000),
            Param("dtype", "choice", "float32", "float32 for images and features; int64 for token ids (Embedding).",
                  choices=("float32", "int64"))],
    infer=lambda p, ins: tuple(p["shape"]), init=lambda c: None, forward=lambda c: c.attr,
    min_inputs=0, max_inputs=0,
))

elementwise("ReLU", "Activation", "max(0, x).", "ReLU")


def flatten_infer(p: dict, ins: list) -> tuple:
    return (numel(ins[0]),)


register_op(OpSpec(
    name="Flatten", category="Reshape",
    doc="Flattens everything but the batch: C×H×W → C·H·W.",
    params=[], infer=flatten_infer, init=lambda c: None,
    forward=lambda c: f"torch.flatten({c.args[0]}, 1)",
))


def linear_infer(p: dict, ins: list) -> tuple:
    s = ins[0]
    if len(s) == 3:
        raise ShapeError(f"Linear expects a vector (or a sequence) but receives the image tensor {fmt_shape(s)}. "
                         f"Insert a Flatten before it ({fmt_shape(s)} → {numel(s)}) or a global pooling layer.",
                         fix={"kind": "insert_before", "op": "Flatten", "params": {}})
    return s[:-1] + (p["out_features"],)


register_op(OpSpec(
    name="Linear", category="Dense",
    doc="Fully connected layer: y = xWᵀ + b over the last dimension.",
    params=[Param("out_features", "int", 10, "Number of output units.", min=1, max=1_000_000),
            Param("bias", "bool", True, "Add a learnable bias.")],
    infer=linear_infer,
    init=lambda c: f"nn.Linear({c.in_shapes[0][-1]}, {c.p['out_features']}"
                   + (", bias=False)" if not c.p["bias"] else ")"),
    forward=call,
    count_params=lambda p, ins, out: ins[0][-1] * p["out_features"] + (p["out_features"] if p["bias"] else 0),
    count_macs=lambda p, ins, out: numel(ins[0]) * p["out_features"],
))


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


def pool_emit(ctor: str, extra=lambda c: []):
    def init(ctx: EmitCtx) -> str:
        k, s, pads, _ = pool_geometry(ctx.p, ctx.in_shapes)
        native = native_padding(k, pads)
        args = [f"kernel_size={k}", f"stride={s}"]
        if native and native != (0, 0):
            args.append(f"padding={native}")
        return f"nn.{ctor}({', '.join(args + extra(ctx))})"

    def forward(ctx: EmitCtx) -> str:
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

    return init, forward


def _maxpool_extra(ctx: EmitCtx) -> list[str]:
    out = []
    if ctx.p["dilation"] != (1, 1):
        out.append(f"dilation={ctx.p['dilation']}")
    if ctx.p["ceil_mode"]:
        out.append("ceil_mode=True")
    if ctx.extras.get("return_indices"):
        out.append("return_indices=True")
    return out


POOL_PARAMS = [
    Param("kernel_size", "pair", 2, "Pooling window: one number or [height, width].", min=1, max=1024),
    Param("stride", "pair", None, "Step between windows; empty means equal to kernel_size.", min=1, max=1024,
          optional=True),
    Param("padding", "padding", 0, "A number, [h, w], 'valid' (none) or 'same' (output = ceil(input / stride)).",
          min=0, max=1024, choices=("valid", "same")),
    Param("ceil_mode", "bool", False, "Round the output size up instead of down (a partial last window counts)."),
]

_mp_init, _mp_forward = pool_emit("MaxPool2d", _maxpool_extra)
register_op(OpSpec(
    name="MaxPool2d", category="Pooling",
    doc="Maximum over each window. out = ⌊(in + pads − k)/stride⌋ + 1 (⌈…⌉ with ceil_mode).",
    params=POOL_PARAMS[:3] + [Param("dilation", "pair", 1, "Spacing between window taps.", min=1, max=1024)]
    + POOL_PARAMS[3:],
    infer=lambda p, ins: pool_geometry(p, ins)[3], init=_mp_init, forward=_mp_forward,
    count_macs=lambda p, ins, out: numel(out) * p["kernel_size"][0] * p["kernel_size"][1],
))


def add_infer(p: dict, ins: list) -> tuple:
    first = ins[0]
    for i, s in enumerate(ins[1:], start=2):
        if s != first:
            fix = None
            if len(s) == 3 and len(first) == 3 and s[1:] == first[1:]:
                fix = {"kind": "insert_before", "op": "Conv2d", "input": i - 1,
                       "params": {"out_channels": first[0], "kernel_size": 1, "bias": False}}
            raise ShapeError(f"inputs must have the same shape to be added, but input 1 is {fmt_shape(first)} and "
                             f"input {i} is {fmt_shape(s)}."
                             + (f" Insert a 1×1 Conv2d with {first[0]} filters on input {i}." if fix else ""), fix=fix)
    return first


register_op(OpSpec(
    name="Add", category="Merge",
    doc="Element-wise sum of its inputs (residual connections). All inputs must have the same shape.",
    params=[], infer=add_infer, init=lambda c: None, forward=lambda c: " + ".join(c.args),
    count_macs=lambda p, ins, out: numel(out) * (len(ins) - 1), min_inputs=2, max_inputs=None,
))


def multiply_infer(p: dict, ins: list) -> tuple:
    """Equal shapes, or C×1×1 gates (squeeze-and-excitation) scaling every pixel of a C×H×W input."""
    full = max(ins, key=numel)
    for i, s in enumerate(ins, start=1):
        gate = len(s) == 3 and len(full) == 3 and s == (full[0], 1, 1)
        if s != full and not gate:
            raise ShapeError(f"inputs must have the same shape to be multiplied (or be a C×1×1 gate for a C×H×W "
                             f"input), but input {i} is {fmt_shape(s)} and the largest input is {fmt_shape(full)}.")
    return full


register_op(OpSpec(
    name="Multiply", category="Merge",
    doc="Element-wise product of its inputs. Shapes must match, except that a C×1×1 input scales each channel of "
        "a C×H×W one (squeeze-and-excitation gates).",
    params=[], infer=multiply_infer, init=lambda c: None, forward=lambda c: " * ".join(c.args),
    count_macs=lambda p, ins, out: numel(out) * (len(ins) - 1), min_inputs=2, max_inputs=None,
))


def concat_infer(p: dict, ins: list) -> tuple:
    dim = p["dim"]
    first = ins[0]
    if dim >= len(first):
        raise ShapeError(f"dim {dim} does not exist in a {len(first)}-dimensional input {fmt_shape(first)}.",
                         field="dim")
    total = 0
    for i, s in enumerate(ins, start=1):
        rest = s[:dim] + s[dim + 1:] if len(s) == len(first) else None
        if rest != first[:dim] + first[dim + 1:]:
            raise ShapeError(f"to concatenate along dim {dim}, every other size must match, but input 1 is "
                             f"{fmt_shape(first)} and input {i} is {fmt_shape(s)}.")
        total += s[dim]
    return first[:dim] + (total,) + first[dim + 1:]


register_op(OpSpec(
    name="Concat", category="Merge",
    doc="Joins its inputs along a dimension (0 = channels for images), in input order.",
    params=[Param("dim", "int", 0, "Dimension to join along, batch excluded: 0 is channels for C×H×W.", min=0, max=3)],
    infer=concat_infer, init=lambda c: None,
    forward=lambda c: f"torch.cat([{', '.join(c.args)}], dim={c.p['dim'] + 1})",
    min_inputs=2, max_inputs=None,
))


register_op(OpSpec(
    name="Dropout", category="Regularisation",
    doc="During training, zeroes each element with probability p and scales the rest by 1/(1−p); identity at eval.",
    params=[Param("p", "float", 0.5, "Probability of zeroing an element.", min=0.0, max=1.0)],
    infer=same_shape, init=lambda c: f"nn.Dropout(p={c.p['p']!r})", forward=call,
))


def dropout2d_infer(p: dict, ins: list) -> tuple:
    need_rank(ins[0], 3, "Dropout2d drops whole channels of C×H×W; use Dropout for vectors.")
    return ins[0]


register_op(OpSpec(
    name="Dropout2d", category="Regularisation",
    doc="During training, zeroes whole channels with probability p (neighbouring pixels are correlated, so single "
        "pixels would not regularise); identity at eval.",
    params=[Param("p", "float", 0.5, "Probability of zeroing a channel.", min=0.0, max=1.0)],
    infer=dropout2d_infer, init=lambda c: f"nn.Dropout2d(p={c.p['p']!r})", forward=call,
))
