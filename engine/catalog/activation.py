"""Activations (element-wise) and Softmax/LogSoftmax (normalise along one dimension)."""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from engine.catalog.arith import fmt_shape
from engine.catalog.helpers import call, keywords, numel, same_shape
from engine.catalog.registry import FxFrom, OpSpec, Param, from_function, from_method, from_module, register_op
from engine.errors import ShapeError


def _fx(name: str, module: type, functions: tuple = (), methods: tuple[str, ...] = (),
        signature: str = "input, inplace=False") -> tuple[FxFrom, ...]:
    """nn.<name>(settings), F.<fn>(x, settings) and x.<method>() all become this op with the same settings.

    Settings come from the module's attributes, or the function's arguments bound by `signature` (its params are
    the op's params, spelled as torch spells them)."""
    params = [prm.name for prm in _PARAMS.get(name, [])]

    def from_mod(c):
        return c.emit(name, {k: getattr(c.module, k) for k in params}, [c.only_input()])

    def from_fn(c):
        a = c.bind(signature)
        return c.emit(name, {k: c.const(a[k]) for k in params}, [c.tensor(a["input"])])

    def from_meth(c):
        return c.emit(name, {}, [c.tensor(c.bind("input")["input"])])

    out = [from_module(module, convert=from_mod)]
    if functions:
        out.append(from_function(*functions, convert=from_fn))
    if methods:
        out.append(from_method(*methods, convert=from_meth))
    return tuple(out)


_PARAMS = {
    "LeakyReLU": [Param("negative_slope", "float", 0.01, "Slope for negative inputs.", min=0.0, max=1.0)],
    "ELU": [Param("alpha", "float", 1.0, "Value the output tends to for very negative inputs is −α.",
                  min=0.0, max=100.0)],
    "GELU": [Param("approximate", "choice", "none", "'tanh' uses the tanh approximation of Φ.",
                   choices=("none", "tanh"))],
}


def elementwise(name: str, doc: str, fx: tuple[FxFrom, ...], torch_defaults: dict | None = None) -> OpSpec:
    """A shape-preserving activation, nn.<name>(settings that differ from torch's defaults)."""
    defaults = torch_defaults or {}
    return register_op(OpSpec(
        name=name, category="Activation", doc=doc, params=_PARAMS.get(name, []), infer=same_shape,
        init=lambda c: f"nn.{name}({', '.join(keywords(c.p, **defaults))})", forward=call,
        count_macs=lambda p, ins, out: numel(out), fx=fx,
    ))


elementwise("ReLU", "max(0, x).", _fx("ReLU", nn.ReLU, (F.relu, torch.relu, torch.relu_, F.relu_), ("relu", "relu_")))
elementwise("LeakyReLU", "x for x > 0, negative_slope·x otherwise (never quite dead).",
            _fx("LeakyReLU", nn.LeakyReLU, (F.leaky_relu,), signature="input, negative_slope=0.01, inplace=False"),
            {"negative_slope": 0.01})
elementwise("ELU", "x for x > 0, α·(eˣ − 1) otherwise (smooth, negative outputs).",
            _fx("ELU", nn.ELU, (F.elu,), signature="input, alpha=1.0, inplace=False"), {"alpha": 1.0})
elementwise("GELU", "x·Φ(x), Φ the standard normal CDF (the transformer activation).",
            _fx("GELU", nn.GELU, (F.gelu,), signature="input, approximate='none'"), {"approximate": "none"})
elementwise("Sigmoid", "1 / (1 + e⁻ˣ): squashes to (0, 1).",
            _fx("Sigmoid", nn.Sigmoid, (torch.sigmoid, F.sigmoid), ("sigmoid", "sigmoid_")))
elementwise("Tanh", "tanh(x): squashes to (−1, 1), zero-centred.",
            _fx("Tanh", nn.Tanh, (torch.tanh, F.tanh), ("tanh", "tanh_")))
elementwise("ReLU6", "min(max(0, x), 6) (MobileNet).", _fx("ReLU6", nn.ReLU6, (F.relu6,)))
elementwise("SiLU", "x·sigmoid(x), also called swish (EfficientNet).", _fx("SiLU", nn.SiLU, (F.silu,)))
elementwise("Hardswish", "x·ReLU6(x + 3)/6, a cheap swish (MobileNetV3).",
            _fx("Hardswish", nn.Hardswish, (F.hardswish,)))
elementwise("Hardsigmoid", "ReLU6(x + 3)/6, a cheap sigmoid (MobileNetV3 gates).",
            _fx("Hardsigmoid", nn.Hardsigmoid, (F.hardsigmoid,)))


def _axis(p: dict, ins: list) -> int:
    """The dimension (batch excluded, non-negative) the op normalises along."""
    rank, d = len(ins[0]), p["dim"]
    if not -rank <= d < rank:
        raise ShapeError(f"dim {d} does not exist in the {rank}-dimensional input {fmt_shape(ins[0])}: use 0 to "
                         f"{rank - 1} (or −1 for the last). Received: dim={d}.", field="dim")
    return d % rank


def _softmax_infer(p: dict, ins: list) -> tuple:
    _axis(p, ins)
    return ins[0]


def _softmax_emit(c, op: str, x, dim):
    dim = c.const(dim)
    if dim is None:
        raise c.unsupported(f"{c.label} without dim")
    return c.emit(op, {"dim": c.feature_dim(dim, len(c.full_shape(x)))}, [c.tensor(x)])


def _softmax_fx(name: str, functions: tuple, method: str) -> tuple[FxFrom, ...]:
    def from_fn(c):
        a = c.bind("input, dim=None, _stacklevel=3, dtype=None")
        if c.const(a["dtype"]) is not None:
            raise c.unsupported(f"{c.label}(dtype=…)")
        return _softmax_emit(c, name, a["input"], a["dim"])

    def from_meth(c):
        a = c.bind("input, dim=None")
        return _softmax_emit(c, name, a["input"], a["dim"])

    return (from_module(getattr(nn, name), convert=lambda c: _softmax_emit(c, name, c.only_input(), c.module.dim)),
            from_function(*functions, convert=from_fn), from_method(method, convert=from_meth))


def _softmax(name: str, doc: str, fx: tuple[FxFrom, ...]) -> None:
    register_op(OpSpec(
        name=name, category="Activation", doc=doc,
        params=[Param("dim", "int", 0, "Dimension to normalise along, batch excluded: 0 is the channels of "
                      "C×H×W or the features of a vector; −1 is the last (the features of T×F).", min=-3, max=2)],
        infer=_softmax_infer, init=lambda c: f"nn.{name}(dim={_axis(c.p, c.in_shapes) + 1})", forward=call,
        count_macs=lambda p, ins, out: numel(out), fx=fx,
    ))


_softmax("Softmax", "eˣ / Σ eˣ along dim: turns scores into probabilities that sum to 1.",
         _softmax_fx("Softmax", (F.softmax, torch.softmax), "softmax"))
_softmax("LogSoftmax", "log(softmax(x)) along dim, computed stably (pair with NLLLoss).",
         _softmax_fx("LogSoftmax", (F.log_softmax, torch.log_softmax), "log_softmax"))
