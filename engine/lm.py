"""What the language_model task asks of a graph, checked with the shapes: token ids in (an int64 Input of T ids),
next-word scores out (T×V), and V, the task's vocabulary size, the same at the output and at every Embedding the
ids feed. Each mismatch is an Issue on the node to change, with the one-click fix (engine.fixes) that sets it."""
from __future__ import annotations

from typing import Any

from engine.catalog import get_op
from engine.catalog.arith import fmt_shape
from engine.errors import Issue

TASK = "language_model"


def task_issues(g: Any, reports: dict, normalised: dict[str, dict[str, Any]]) -> list[Issue]:
    """Issues of a language_model graph whose node shapes are known; [] for other tasks."""
    if g.task is None or g.task.kind != TASK:
        return []
    V = g.task.num_classes
    issues: list[Issue] = []
    for n in g.nodes:
        p = normalised.get(n.id)
        if p is None:
            continue
        if n.op == "Input" and (p.get("dtype") != "int64" or len(p.get("shape") or ()) != 1):
            issues.append(Issue(f"a language model reads T token ids per example, an int64 Input of shape [T], but "
                                f"'{n.id}' is {p.get('dtype')} {fmt_shape(tuple(p.get('shape') or ()))}. Set its "
                                f"dtype to int64 and its shape to [T] (e.g. [35]).", node=n.id, field="params.dtype",
                                fix={"kind": "set_param", "param": "dtype", "value": "int64"}
                                if len(p.get("shape") or ()) == 1 else None))
        if n.op == "Embedding" and p["num_embeddings"] != V:
            issues.append(Issue(f"the Embedding looks up {p['num_embeddings']:,} token ids but the task's vocabulary "
                                f"has V = {V:,} words. Set num_embeddings to {V}.", node=n.id,
                                field="params.num_embeddings",
                                fix={"kind": "set_param", "param": "num_embeddings", "value": V}))
    for out in g.outputs:
        r = reports.get(out)
        if r is None or r.shape is None:
            continue
        if len(r.shape) != 2:
            issues.append(Issue(f"a language model outputs next-word scores at every step, T×V, but '{out}' is "
                                f"{fmt_shape(r.shape)}. Turn on return_sequence of the recurrent layer and end with "
                                f"a Linear of out_features={V}.", node=out))
        elif r.shape[1] != V:
            width = get_op(r.op).width_param
            issues.append(Issue(f"the output gives {r.shape[1]:,} scores per step but the task's vocabulary has "
                                f"V = {V:,} words: the output must be T×V. "
                                + (f"Set {width} to {V}." if width else f"End with a Linear of out_features={V}."),
                                node=out, field=f"params.{width}" if width else None,
                                fix={"kind": "set_param", "param": width, "value": V} if width else None))
    return issues
