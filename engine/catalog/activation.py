"""Activations (element-wise) and Softmax/LogSoftmax (normalise along one dimension)."""
from __future__ import annotations

from engine.catalog.arith import fmt_shape
from engine.catalog.core import call, elementwise, numel
from engine.catalog.registry import OpSpec, Param, register_op
from engine.errors import ShapeError

elementwise("LeakyReLU", "Activation", "x for x > 0, negative_slope·x otherwise (never quite dead).", "LeakyReLU",
            [Param("negative_slope", "float", 0.01, "Slope for negative inputs.", min=0.0, max=1.0)],
            lambda p: "" if p["negative_slope"] == 0.01 else f"negative_slope={p['negative_slope']!r}")
elementwise("ELU", "Activation", "x for x > 0, α·(eˣ − 1) otherwise (smooth, negative outputs).", "ELU",
            [Param("alpha", "float", 1.0, "Value the output tends to for very negative inputs is −α.",
                   min=0.0, max=100.0)],
            lambda p: "" if p["alpha"] == 1.0 else f"alpha={p['alpha']!r}")
elementwise("GELU", "Activation", "x·Φ(x), Φ the standard normal CDF (the transformer activation).", "GELU",
            [Param("approximate", "choice", "none", "'tanh' uses the tanh approximation of Φ.",
                   choices=("none", "tanh"))],
            lambda p: "" if p["approximate"] == "none" else f"approximate={p['approximate']!r}")
elementwise("Sigmoid", "Activation", "1 / (1 + e⁻ˣ): squashes to (0, 1).", "Sigmoid")
elementwise("Tanh", "Activation", "tanh(x): squashes to (−1, 1), zero-centred.", "Tanh")
elementwise("ReLU6", "Activation", "min(max(0, x), 6) (MobileNet).", "ReLU6")
elementwise("SiLU", "Activation", "x·sigmoid(x), also called swish (EfficientNet).", "SiLU")
elementwise("Hardswish", "Activation", "x·ReLU6(x + 3)/6, a cheap swish (MobileNetV3).", "Hardswish")
elementwise("Hardsigmoid", "Activation", "ReLU6(x + 3)/6, a cheap sigmoid (MobileNetV3 gates).", "Hardsigmoid")


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


def _softmax(name: str, doc: str) -> None:
    register_op(OpSpec(
        name=name, category="Activation", doc=doc,
        params=[Param("dim", "int", 0, "Dimension to normalise along, batch excluded: 0 is the channels of "
                      "C×H×W or the features of a vector; −1 is the last (the features of T×F).", min=-3, max=2)],
        infer=_softmax_infer, init=lambda c: f"nn.{name}(dim={_axis(c.p, c.in_shapes) + 1})", forward=call,
        count_macs=lambda p, ins, out: numel(out),
    ))


_softmax("Softmax", "eˣ / Σ eˣ along dim: turns scores into probabilities that sum to 1.")
_softmax("LogSoftmax", "log(softmax(x)) along dim, computed stably (pair with NLLLoss).")
