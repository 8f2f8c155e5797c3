"""Energy-based: RBM, the restricted Boltzmann machine of the recommendation task (trained by contrastive
divergence in engine.train.tasks.recommendation, not by backpropagation)."""
from __future__ import annotations

import inspect

from engine.catalog import rbm_module
from engine.catalog.arith import fmt_shape
from engine.catalog.helpers import call
from engine.catalog.registry import EmitCtx, OpSpec, Param, register_op
from engine.errors import ShapeError

LEVELS = 5  # softmax visible units: one per star level (half stars round up: 3.5 -> 4)


def rbm_infer(p: dict, ins: list) -> tuple:
    s = ins[0]
    if len(s) != 1:
        raise ShapeError(f"RBM reads one vector per user (a value per movie) but receives {fmt_shape(s)}. Set the "
                         f"Input shape to [number of movies], or insert a Flatten before it.",
                         fix={"kind": "insert_before", "op": "Flatten", "params": {}})
    return (p["hidden"],)


def rbm_units(p: dict, ins: list) -> int:
    return ins[0][0] * (LEVELS if p["visible_units"] == "softmax" else 1)


def rbm_init(ctx: EmitCtx) -> str:
    soft = ", softmax=True" if ctx.p["visible_units"] == "softmax" else ""
    return f"RBM({ctx.in_shapes[0][0]}, {ctx.p['hidden']}{soft})"


register_op(OpSpec(
    name="RBM", category="Energy-based",
    doc="Restricted Boltzmann machine: M visible units (a user's ratings / 5) ↔ `hidden` Bernoulli features, "
        "M → hidden. The forward pass returns p(h = 1 | v); it learns by contrastive divergence (task "
        "recommendation). Softmax visible units model each rated movie's star level (Salakhutdinov et al. 2007).",
    params=[Param("hidden", "int", 20, "Number of hidden features (Bernoulli units).", min=1, max=100_000),
            Param("visible_units", "choice", "binary",
                  "binary: one unit per movie with value rating/5, unrated = 0 (the seed tutorial); softmax: "
                  "a 1-of-5 star-level unit per rated movie, unrated movies left out.",
                  choices=("binary", "softmax"))],
    infer=rbm_infer,
    init=rbm_init,
    forward=call,
    count_params=lambda p, ins, out: rbm_units(p, ins) * p["hidden"] + rbm_units(p, ins) + p["hidden"],
    count_macs=lambda p, ins, out: rbm_units(p, ins) * p["hidden"],
    id_prefix="rbm", width_param="hidden",
    module_source=inspect.getsource(rbm_module.RBM),
))
