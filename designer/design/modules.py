"""What the canvas needs to draw module instances (graph format v2) as one node each.

An instance's op is its module's name, which is not in the catalog's op table: these entries give it ports (one
per module input) and a colour, and its card's summary names the module's arguments. Shape, parameter count and
the error naming the inner node come from engine.check like any node's.
"""
from __future__ import annotations

from typing import Any

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
