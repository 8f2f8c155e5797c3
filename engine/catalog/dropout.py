"""Regularisation: Dropout, Dropout2d and StochasticDepth (identity at eval, so they never change a shape)."""
from __future__ import annotations

import torch.nn as nn
import torch.nn.functional as F
import torchvision.ops

from engine.catalog.arith import need_rank
from engine.catalog.helpers import call, same_shape
from engine.catalog.registry import FxFrom, OpSpec, Param, from_function, from_module, register_op


def _fx(op: str, module: type, fn) -> tuple[FxFrom, ...]:
    def from_fn(c):
        # `training=self.training` was frozen to a constant by tracing; the graph's dropout follows the module's mode
        a = c.bind("input, p=0.5, training=True, inplace=False")
        return c.emit(op, {"p": c.const(a["p"])}, [c.tensor(a["input"])], keep=("p",))

    return (from_module(module, convert=lambda c: c.emit(op, {"p": c.module.p}, [c.only_input()], keep=("p",))),
            from_function(fn, convert=from_fn))


register_op(OpSpec(
    name="Dropout", category="Regularisation",
    doc="During training, zeroes each element with probability p and scales the rest by 1/(1−p); identity at eval.",
    params=[Param("p", "float", 0.5, "Probability of zeroing an element.", min=0.0, max=1.0)],
    infer=same_shape, init=lambda c: f"nn.Dropout(p={c.p['p']!r})", forward=call,
    id_prefix="drop", fx=_fx("Dropout", nn.Dropout, F.dropout),
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
    id_prefix="drop", fx=_fx("Dropout2d", nn.Dropout2d, F.dropout2d),
))


def _stochastic_depth_fx(c):
    # torchvision's StochasticDepth module is traced through to this function (torch.fx.wrap'ed), `training` frozen
    # to the mode of the trace; the graph's node follows the module's mode like Dropout
    a = c.bind("input, p, mode, training=True")
    return c.emit("StochasticDepth", {"p": c.const(a["p"]), "mode": c.const(a["mode"])}, [c.tensor(a["input"])],
                  keep=("p", "mode"))


register_op(OpSpec(
    name="StochasticDepth", category="Regularisation",
    doc="During training, drops a whole residual branch for each sample (mode 'row') or for the whole batch "
        "('batch') with probability p and scales what survives by 1/(1−p); identity at eval. "
        "torchvision.ops.StochasticDepth (EfficientNet, ConvNeXt).",
    params=[Param("p", "float", 0.1, "Probability of dropping the branch.", min=0.0, max=1.0),
            Param("mode", "choice", "row", "'row': one draw per sample; 'batch': one draw for the whole batch.",
                  choices=("row", "batch"))],
    infer=same_shape, init=lambda c: f"torchvision.ops.StochasticDepth({c.p['p']!r}, {c.p['mode']!r})",
    forward=call, id_prefix="droppath", imports=("torchvision",),
    fx=(from_function(torchvision.ops.stochastic_depth, convert=_stochastic_depth_fx),),
))
