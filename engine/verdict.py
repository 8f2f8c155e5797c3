"""The design's verdict in one place: does it check out, and if not, how many problems it has.

The canvas badge, the problems panel beside it and the sidebar all say this same sentence, computed here from the
check's report, so they cannot disagree. Problems of the graph as a whole count too (no Input yet, no output
named): an empty or unfinished design does not "check out" because no node of it is red.
"""
from __future__ import annotations

from typing import Any

from engine.shapes import Report

OK_TEXT = "All shapes check out"


def problems_text(n: int) -> str:
    return f"{n} problem{'s' if n != 1 else ''}"


def verdict(report: Report) -> dict[str, Any]:
    """{"ok", "problems" (every error, graph-level ones included), "nodes_in_error", "text"}: what the badge, the
    panel and the sidebar show."""
    n = len(report.errors)
    in_error = sum(1 for r in report.nodes.values() if r.error)
    return {"ok": report.ok, "problems": n, "nodes_in_error": in_error,
            "text": OK_TEXT if report.ok else problems_text(n)}
