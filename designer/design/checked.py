"""The design, parsed and checked once per revision: the (graph, report) the sidebar, the pages, the fixes and the
autosave share.

Every change of the design stores a new graph-file dict in the session (edits return new dicts and never mutate
the one stored; DesignSession's undo history relies on the same), so the stored dict's identity is its revision.
The cache keeps the dict it was computed from, which also keeps that identity from being reused, and is valid while
the session still holds that very dict. A rerun that changed nothing therefore checks nothing, and a rerun after
an edit checks once, however many parts of the page read the report.
"""
from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import engine
from engine.fixes import suggest_fixes
from engine.graph import Graph, parse

KEY = "design_checked"  # session key of the cached Checked


@dataclass(frozen=True)
class Checked:
    source: dict[str, Any]  # the graph-file dict that was checked (the session's "graph" at the time)
    graph: Graph | None  # that dict parsed, or None when its structure is refused (the report says why)
    report: engine.Report  # engine.check of it

    @cached_property
    def fixes(self) -> dict[tuple[str, str], list[dict[str, Any]]]:
        """The one-click fixes, keyed by (node, message), each problem's alternatives in order, worked out once per
        revision like the report (a rerun that only changes the selection does not prove them again); none for a
        file whose structure is refused."""
        if self.report.ok or self.graph is None:
            return {}
        out: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for f in suggest_fixes(self.graph, self.report):
            out.setdefault((f["node"], f["issue"]), []).append(f)
        return out


def check_design(source: dict[str, Any]) -> Checked:
    """Parse once and check the parsed graph (engine.check takes a Graph without parsing it again); a file the
    parser refuses is checked as it is, so the report still names every problem."""
    g, _ = parse(source)
    return Checked(source, g, engine.check(g if g is not None else source))


def checked(state: MutableMapping[str, Any]) -> Checked:
    """The session's design checked: cached until the session holds a different graph dict."""
    hit = state.get(KEY)
    if hit is None or hit.source is not state["graph"]:
        hit = check_design(state["graph"])
        state[KEY] = hit
    return hit
