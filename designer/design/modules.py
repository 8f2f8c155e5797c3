"""What the canvas needs to draw module instances (graph format v2) as one node each.

An instance's op is its module's name, which is not in the catalog's op table: these entries give it ports (one
per module input) and a colour, and its card's summary names the module's arguments. Shape, parameter count and
the error naming the inner node come from engine.check like any node's.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from engine.layout import SIZES
from engine.reflow import inner_height

MODULE_CATEGORY = "Module"
MODULE_COLOUR = "#7c6f9f"  # one colour for every instance: a module is not a layer of any catalog category


def module_ops(g: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per module definition, an op-table entry (the OpInfo type in frontend/src/types.ts)."""
    out = {}
    for name, d in (g.get("modules") or {}).items():
        inputs = d.get("inputs", ["x"]) if isinstance(d, dict) else ["x"]
        out[name] = {"category": MODULE_CATEGORY, "colour": MODULE_COLOUR, "min_inputs": len(inputs),
                     "max_inputs": len(inputs), "input_names": list(inputs), "refs": []}
    return out


def module_summary(g: dict[str, Any], op: str, params: dict[str, Any]) -> str | None:
    """'module · out_channels 128' for an instance; None for a catalog op."""
    if op not in (g.get("modules") or {}):
        return None
    return " · ".join(["module"] + [f"{k} {v}" for k, v in params.items()])


def instance_view(g: dict[str, Any], node: dict[str, Any], report: Any,
                  summarise: Callable[[str, dict[str, Any]], str]) -> dict[str, Any]:
    """What an instance card adds to a node view: its module, whether it is drawn expanded, and when it is, one
    row per inner layer (id, op, summary, output shape, params, its own error) from the flat check
    (`report.flat`, flat ids '<instance>.<inner>'); `summarise(op, params)` words a layer's key params (convert's
    param_summary, passed in: convert imports this module), and the heights the list and a row are drawn with. {} for
    a node that is not an instance."""
    d = (g.get("modules") or {}).get(node["op"])
    if not isinstance(d, dict):
        return {}
    expanded = bool((node.get("ui") or {}).get("expanded"))
    out: dict[str, Any] = {"module": node["op"], "expanded": expanded}
    if not expanded:
        return out
    flat = getattr(report, "flat", None)
    rows = []
    for m in d.get("nodes", []):
        if not isinstance(m, dict) or not isinstance(m.get("id"), str):
            continue
        fr = flat.nodes.get(f"{node['id']}.{m['id']}") if flat is not None else None
        shape = "×".join(map(str, fr.shape)) if fr is not None and fr.shape else None
        rows.append({"id": m["id"], "op": m.get("op", "?"), "summary": summarise(m.get("op", ""), m.get("params", {})),
                     "shape": shape, "n_params": fr.params if fr is not None else 0,
                     "error": fr.error if fr is not None else None})
    out["inner"] = rows
    out["inner_h"] = inner_height(len(rows))  # the list's height: engine.reflow made room for exactly this
    out["row_h"] = SIZES.inner_row_h
    return out
