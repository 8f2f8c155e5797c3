"""Warnings read from a run's per-layer diagnostics (engine.train.diagnostics), each with one-click remedies.

    dead ReLUs        ReLU nodes with more than DEAD_SHARE of their units zero for the whole batch: one warning
                      naming them all (worst first) -> LeakyReLU instead, a BatchNorm before each, or a lower
                      learning rate (each remedy covers every such layer at once)
    exploding         a node's gradient norm above EXPLODE_NORM (before clipping), no clipping set
                      -> clip the gradient norm at 1.0
    vanishing         the gradient norm of the first parametrised layer(s) below VANISH_RATIO times the last's
                      -> a BatchNorm after each of those layers (residual connections would also help; that needs
                         a change of structure the user should draw, so it is named in the message only)
    update ratio      ‖Δw‖/‖w‖ above UPDATE_HIGH (healthy is about 1e-3) -> a learning rate ten times lower

The warnings read the latest recorded row: they describe the network as it is now, not a spike long past.
A remedy is a dict: {"kind": "design", "edits": [...]} is applied to the design with `apply_design_remedy` (the
engine's edit functions: a new graph dict, so the Design page's undo takes it back), {"kind": "settings",
"settings": {...}} with `apply_settings_remedy` to the next run's settings.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from engine import edit
from engine.fixes import apply_fix
from engine.graph import Graph
from engine.shapes import check

__all__ = ["DEAD_SHARE", "EXPLODE_NORM", "UPDATE_HIGH", "VANISH_RATIO", "Advice", "advise", "apply_design_remedy",
           "apply_settings_remedy"]

DEAD_SHARE = 0.5
EXPLODE_NORM = 100.0
VANISH_RATIO = 1e-3
UPDATE_HIGH = 0.1  # ten times the top of the healthy range (1e-3 .. 1e-2)
CLIP_TO = 1.0
LR_FACTOR = 0.1


@dataclass
class Advice:
    kind: str  # dead_relu | exploding | vanishing | update_ratio
    nodes: list[str]  # the nodes it is about (the canvas marks them)
    message: str
    remedies: list[dict[str, Any]] = field(default_factory=list)  # {"label", "kind", "edits" | "settings"}


def _bn_for(shape: tuple[int, ...] | None) -> str | None:
    return {1: "BatchNorm1d", 2: "BatchNorm1d", 3: "BatchNorm2d"}.get(len(shape)) if shape else None


def _param_order(g: Graph, latest: dict) -> list[str]:
    """Node ids with a gradient norm in this row, in the design's dependency order (input first)."""
    order = check(g).order
    return [nid for nid in order if (latest.get(nid) or {}).get("grad_norm") is not None]


def _lower_lr(cfg: dict) -> dict[str, Any]:
    lr = float(cfg.get("lr", 0) or 0)
    new = float(f"{lr * LR_FACTOR:.3g}")
    return {"label": f"Lower the learning rate to {new:g} (next run)", "kind": "settings", "settings": {"lr": new}}


def _names(ids: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return ids[0] if len(ids) == 1 else f"{', '.join(ids[:-1])} and {ids[-1]}"


def _dead_relus(latest: dict, by_id: dict, report, step: Any, cfg: dict) -> Advice | None:
    """One warning for every ReLU with more than DEAD_SHARE dead units (worst first, each with its share), and one
    set of remedies for all of them: each would otherwise repeat the same advice once per layer."""
    share = {nid: q["dead"] for nid, q in latest.items()
             if nid in by_id and (q or {}).get("dead") is not None and q["dead"] > DEAD_SHARE}
    if not share:
        return None
    worst = sorted(share, key=lambda n: (-share[n], n))
    listed = ", ".join(f"{n} ({share[n]:.0%})" for n in worst)
    if len(worst) == 1:
        message = (f"{share[worst[0]]:.0%} of the units of {worst[0]} are dead at step {step} (zero for the whole "
                   f"batch): they no longer learn.")
    else:
        message = (f"{len(worst)} ReLU layers have dead units at step {step} (zero for the whole batch, so they no "
                   f"longer learn): {listed}; the worst is {worst[0]} at {share[worst[0]]:.0%}.")
    remedies = [{"label": f"Replace {_names(worst)} by LeakyReLU", "kind": "design",
                 "edits": [{"kind": "set_op", "node": n, "op": "LeakyReLU"} for n in worst]}]
    bn_edits = []
    for n in worst:  # a BatchNorm before each ReLU whose input is not one already
        src = by_id[n].inputs[0] if by_id[n].inputs else None
        bn = _bn_for(report.nodes[src].shape if src in report.nodes else None)
        if bn and not (src in by_id and by_id[src].op.startswith("BatchNorm")):
            bn_edits.append({"kind": "insert_before", "node": n, "op": bn, "input": 0, "params": {}})
    if bn_edits:
        what = bn_edits[0]["op"] if len(bn_edits) == 1 else "a BatchNorm"
        remedies.append({"label": f"Insert {what} before {_names([e['node'] for e in bn_edits])}", "kind": "design",
                         "edits": bn_edits})
    remedies.append(_lower_lr(cfg))
    return Advice("dead_relu", worst, message, remedies)


def advise(rows: list[dict], g: Graph, cfg: dict[str, Any]) -> list[Advice]:
    """The warnings for a run's diagnostics rows, its design and its settings (config.json as a dict)."""
    if not rows:
        return []
    latest = rows[-1].get("nodes") or {}
    step = rows[-1].get("step")
    report = check(g)
    by_id = {n.id: n for n in g.nodes}
    out: list[Advice] = []

    dead = _dead_relus(latest, by_id, report, step, cfg)
    if dead is not None:
        out.append(dead)

    grads = {nid: q["grad_norm"] for nid, q in latest.items() if (q or {}).get("grad_norm") is not None}
    big = sorted((nid for nid, v in grads.items() if v > EXPLODE_NORM), key=lambda n: -grads[n])
    if big and not cfg.get("clip_grad_norm"):
        out.append(Advice("exploding", big, f"exploding gradients at step {step}: the gradient norm of "
                                            f"{', '.join(f'{n} ({grads[n]:.3g})' for n in big[:3])} is above "
                                            f"{EXPLODE_NORM:g}.",
                          [{"label": f"Clip the gradient norm at {CLIP_TO:g} (next run)", "kind": "settings",
                            "settings": {"clip_grad_norm": CLIP_TO}}]))

    order = _param_order(g, latest)
    if len(order) >= 3:
        last = grads[order[-1]]
        early = order[:max(1, len(order) // 3)]
        small = [nid for nid in early if last > 0 and grads[nid] < VANISH_RATIO * last]
        if small:
            edits = []
            for nid in small:  # a BatchNorm between the layer and each node that reads it
                bn = _bn_for(report.nodes[nid].shape if nid in report.nodes else None)
                if not bn:
                    continue
                for user in g.nodes:
                    for i, s in enumerate(user.inputs):
                        if s == nid and not user.op.startswith("BatchNorm"):
                            edits.append({"kind": "insert_before", "node": user.id, "op": bn, "input": i,
                                          "params": {}})
            remedies = [{"label": f"Insert a BatchNorm after {', '.join(small)}", "kind": "design", "edits": edits}] \
                if edits else []
            out.append(Advice("vanishing", small, f"vanishing gradients in the early layers at step {step}: the "
                                                  f"gradient norm of {', '.join(small)} is below {VANISH_RATIO:g}× "
                                                  f"that of {order[-1]} ({last:.3g}). A BatchNorm after them, or "
                                                  f"residual connections around them, keep the gradient alive.",
                              remedies))

    high = sorted((nid for nid, q in latest.items() if (q or {}).get("update_ratio") is not None
                   and q["update_ratio"] > UPDATE_HIGH), key=lambda n: -latest[n]["update_ratio"])
    if high:
        out.append(Advice("update_ratio", high, f"the updates are too large at step {step}: ‖Δw‖/‖w‖ is "
                                                f"{', '.join(_ratio(latest, n) for n in high[:3])}"
                                                f" (healthy: about 1e-3, at most 1e-2).", [_lower_lr(cfg)]))
    return out


def _ratio(latest: dict, nid: str) -> str:
    return f"{latest[nid]['update_ratio']:.2g} for {nid}"


def apply_design_remedy(design: dict[str, Any], remedy: dict[str, Any]) -> dict[str, Any]:
    """The design (a graph-file dict) with the remedy's edits applied; the one given is not changed."""
    if remedy.get("kind") != "design":
        raise ValueError(f"not a design remedy. Received: kind={remedy.get('kind')!r}.")
    g = copy.deepcopy(design)
    for e in remedy["edits"]:
        if e["kind"] == "set_op":
            g = edit.set_op(g, e["node"], e["op"], e.get("params"))
        else:  # insert_before: engine.fixes puts the new node between the node and its input
            g = apply_fix(g, e).to_dict()
    return g


def apply_settings_remedy(settings: dict[str, Any], remedy: dict[str, Any]) -> dict[str, Any]:
    """The next run's settings (a TrainConfig dict) with the remedy's values."""
    if remedy.get("kind") != "settings":
        raise ValueError(f"not a settings remedy. Received: kind={remedy.get('kind')!r}.")
    return {**settings, **remedy["settings"]}
