"""What "New design" starts from: an empty canvas, or the starter (Input → Flatten → Linear).

The starter is the smallest design that trains: a linear classifier of 28×28 digits (7,850 parameters), to build
on. The empty design has no node at all; its check names what is missing (an Input, an output) until there is.
"""
from __future__ import annotations

import copy
from typing import Any

_TASK = {"kind": "classification", "num_classes": 10}

STARTS: dict[str, dict[str, Any]] = {
    "empty": {"format": "convas-graph", "version": 1, "name": "Untitled design", "nodes": [], "outputs": [],
              "task": _TASK},
    "starter": {
        "format": "convas-graph", "version": 1, "name": "Untitled design",
        "nodes": [{"id": "input", "op": "Input", "params": {"shape": [1, 28, 28]}, "ui": {"x": 0.0, "y": 0.0}},
                  {"id": "flat", "op": "Flatten", "inputs": ["input"], "ui": {"x": 0.0, "y": 100.0}},
                  {"id": "out", "op": "Linear", "params": {"out_features": 10}, "inputs": ["flat"],
                   "ui": {"x": 0.0, "y": 200.0}}],
        "outputs": ["out"], "task": _TASK,
    },
}
TITLES = {"empty": "Empty", "starter": "Starter: Input → Flatten → Linear"}


def new_design(kind: str = "starter") -> dict[str, Any]:
    """A fresh graph-file dict of this kind ("empty" or "starter"); the caller may change it freely."""
    if kind not in STARTS:
        raise ValueError(f"unknown kind of new design. Expected one of {', '.join(STARTS)}. Received: kind={kind!r}.")
    return copy.deepcopy(STARTS[kind])
