"""The design a checkpoint was trained with, so a resume can tell when the design changed under it.

A checkpoint's weights only say which tensors it has: changing ReLU to Tanh, MaxPool2d to AvgPool2d or a Dropout's
p keeps every tensor's name and shape, and the old weights would silently continue in another network. So the
training state records the design's fingerprint: per node its op, its parameters (normalised, so `kernel_size: 3`
and `[3, 3]` are the same) and its inputs, plus the graph's outputs. The design's name and its canvas layout are
left out: they change nothing the weights depend on.
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from engine.graph import Graph
from engine.shapes import check

__all__ = ["DesignChanged", "design_changes", "design_fingerprint"]

MAX_SHOWN = 8  # changes listed in the message; the rest are counted


def _canon(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))


def design_fingerprint(g: Graph) -> dict[str, Any]:
    """{"hash", "nodes": {id: {"op", "params" (canonical JSON), "inputs"}}, "outputs"}: plain strings and lists, so
    it travels inside a checkpoint loaded with weights_only=True."""
    normalised = check(g).normalised
    nodes = {n.id: {"op": n.op, "params": _canon(normalised.get(n.id, n.params)), "inputs": list(n.inputs)}
             for n in g.nodes}
    outputs = list(g.outputs)
    digest = hashlib.sha256(_canon({"nodes": nodes, "outputs": outputs}).encode()).hexdigest()
    return {"hash": digest, "nodes": nodes, "outputs": outputs}


def _show(text: str) -> str:
    return text if len(text) <= 60 else text[:57] + "..."


def _param_changes(nid: str, old: str, new: str) -> list[str]:
    try:
        a, b = json.loads(old), json.loads(new)
    except ValueError:
        a, b = old, new
    if not (isinstance(a, dict) and isinstance(b, dict)):
        return [f"{nid}: params {_show(old)} → {_show(new)}"]
    out = []
    for k in sorted(set(a) | set(b)):
        if a.get(k, "unset") != b.get(k, "unset"):
            out.append(f"{nid}: {k} {_show(_canon(a.get(k, 'unset')))} → {_show(_canon(b.get(k, 'unset')))}")
    return out


def design_changes(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    """One human line per difference between two fingerprints ([] when they are the same design, or when `old`
    is missing: a checkpoint written before fingerprints existed resumes as it always did)."""
    if not isinstance(old, dict) or not isinstance(old.get("nodes"), dict) or old.get("hash") == new["hash"]:
        return []
    before, after = old["nodes"], new["nodes"]
    lines = []
    for nid in list(after) + [i for i in before if i not in after]:
        a, b = before.get(nid), after.get(nid)
        if a is None:
            lines.append(f"{nid} ({b['op']}) was added")
        elif b is None:
            lines.append(f"{nid} ({a['op']}) was removed")
        elif a.get("op") != b["op"]:
            lines.append(f"{nid}: {a.get('op')} → {b['op']}")
        else:
            if a.get("params") != b["params"]:
                lines.extend(_param_changes(nid, str(a.get("params")), b["params"]))
            if list(a.get("inputs") or []) != b["inputs"]:
                lines.append(f"{nid}: inputs {a.get('inputs')} → {b['inputs']}")
    if list(old.get("outputs") or []) != new["outputs"]:
        lines.append(f"outputs {old.get('outputs')} → {new['outputs']}")
    return lines or ["the design's fingerprint differs"]


class DesignChanged(ValueError):
    """The run's graph.json is not the design its checkpoint was trained with; the message names the layers."""

    def __init__(self, step: int, lines: list[str]):
        self.lines = lines
        shown = "; ".join(lines[:MAX_SHOWN]) + (f"; and {len(lines) - MAX_SHOWN} more" if len(lines) > MAX_SHOWN
                                                 else "")
        super().__init__(f"the design changed since the checkpoint at step {step} was written ({len(lines)} "
                         f"change(s): {shown}). Those weights were trained for the old design and were not loaded. "
                         f"Undo the change to resume, or train the changed design as a new run.")
