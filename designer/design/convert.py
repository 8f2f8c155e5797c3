"""Graph + live check -> what the canvas draws (the component's `data`).

The canvas gets every node as the graph file has it (id, op, params, inputs, position) plus what engine.check
found: the output shape, the parameter count, the engine's message when the node is in error, and whether it is
blocked by an upstream error. It also gets the palette and the op table (ports) once per run; both are small.
"""
from __future__ import annotations

from typing import Any

from designer.design.modules import instance_view, module_ops, module_summary
from designer.design.palette import op_spec, op_table, palette
from engine.catalog.arith import fmt_shape
from engine.layout import SIZES, layout_positions
from engine.shapes import Report
from engine.verdict import verdict


def _pair(v: Any) -> str:
    if isinstance(v, (list, tuple)) and len(v) == 2:
        return f"{v[0]}×{v[1]}"
    return f"{v}×{v}" if isinstance(v, int) and not isinstance(v, bool) else str(v)


def _fmt_param(name: str, ptype: str, v: Any) -> str:
    if name == "out_channels":
        return f"{v} ch"
    if name == "out_features":
        return f"{v} units"
    if name == "kernel_size":
        return f"k {_pair(v)}"
    if name == "stride":
        return f"stride {v if not isinstance(v, (list, tuple)) else _pair(v)}"
    if name == "padding":
        return f"pad {v if not isinstance(v, (list, tuple)) else _pair(v)}"
    if ptype == "bool":
        return name if v else f"no {name}"
    if ptype == "shape" and isinstance(v, (list, tuple)):
        return f"{name} {'×'.join(str(x) for x in v)}"
    if ptype == "pair" and isinstance(v, (list, tuple)):
        return f"{name} {_pair(v)}"
    return f"{name} {v}"


def param_summary(op: str, params: dict[str, Any]) -> str:
    """The parameters set in the file (defaults are left out), shortest form first: '32 ch · k 5×5 · pad same'."""
    spec = op_spec(op)
    if not spec:
        return ""
    parts = []
    for prm in spec["params"]:
        name = prm["name"]
        if name in params and prm["type"] != "node" and not (op == "Input" and name == "shape"):
            parts.append(_fmt_param(name, prm["type"], params[name]))
    return " · ".join(parts)


def node_views(g: dict[str, Any], report: Report) -> list[dict[str, Any]]:
    """One entry per node: the graph fields, its position (laid out when the file has none) and its check."""
    missing = [n for n in g.get("nodes", []) if "x" not in (n.get("ui") or {})]
    laid = layout_positions(g["nodes"]) if missing else {}
    outputs = set(g.get("outputs", []))
    views = []
    for n in g.get("nodes", []):
        ui = n.get("ui") or {}
        x, y = (ui.get("x", 0.0), ui.get("y", 0.0)) if "x" in ui else laid[n["id"]]
        nr = report.nodes.get(n["id"])
        views.append({
            "id": n["id"], "op": n["op"], "params": n.get("params", {}), "inputs": n.get("inputs", []),
            "x": x, "y": y, "summary": module_summary(g, n["op"], n.get("params", {}))
            or param_summary(n["op"], n.get("params", {})),
            "shape": fmt_shape(nr.shape) if nr and nr.shape else None, "n_params": nr.params if nr else 0,
            "error": nr.error if nr else None, "blocked": bool(nr and nr.blocked), "output": n["id"] in outputs,
            **instance_view(g, n, report, param_summary),  # a module instance: its module, expanded or not, its inner layers
        })
    return views


def canvas_data(g: dict[str, Any], report: Report, *, rev: int, ack: dict | None, selected: str | None,
                select_nonce: int, can_undo: bool, can_redo: bool, height: int = 700,
                health: dict[str, Any] | None = None, selected_inner: str | None = None,
                quick: dict[str, str] | None = None) -> dict[str, Any]:
    """The component's `data` (the CanvasData type in frontend/src/types.ts). `quick`: the quick-check route's
    {url, token} (designer/canvas/quick.py `offer`), None when the server has none."""
    return {
        "rev": rev, "ack": ack, "nodes": node_views(g, report), "ops": {**op_table(), **module_ops(g)},
        "palette": palette(),
        "select": {"id": selected, "nonce": select_nonce,
                   **({"inner": selected_inner} if selected_inner else {})},  # a layer of the selected instance
        "can_undo": can_undo, "can_redo": can_redo,
        "height": height, "layout": layout_sizes(), "health": health,
        "verdict": verdict(report),  # the badge's words: the same as the problems panel's (engine.verdict)
        "quick": quick,
    }


def layout_sizes() -> dict[str, float]:
    """The sizes the canvas places new nodes with (the LayoutSizes type in frontend/src/types.ts): a card's width
    and height, the distance between layers, and between side-by-side columns; engine.layout lays out with the
    same ones (`SIZES`)."""
    return SIZES.to_dict()
