"""Regularisation: Dropout and Dropout2d (identity at eval, so they never change a shape)."""
from __future__ import annotations

import torch.nn as nn
import torch.nn.functional as F

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
