"""A design with the diff's marks -> the read-only canvas's `data` (ViewData in frontend/src/view.ts)."""
from __future__ import annotations

from typing import Any

from designer.design.convert import node_views
from designer.design.palette import op_table
from engine.shapes import Report


def view_data(g: dict[str, Any], report: Report, marks: dict[str, str], *, name: str, title: str,
              height: int = 520) -> dict[str, Any]:
    """What one side of the diff draws: every node as the Design page's canvas shows it (shape, params, error),
    and per node what the diff found there (added, removed, renamed, changed, rewired, reshaped)."""
    return {"view": "diff", "name": name, "title": title, "nodes": node_views(g, report), "ops": op_table(),
            "marks": dict(marks), "height": height}
