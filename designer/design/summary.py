"""The live check as a table and a few totals: node, op, output, params, MACs; memory at a batch size; the errors.

Plain data (lists of dicts, strings) so the page only lays it out and tests read it without a browser.
"""
from __future__ import annotations

from typing import Any

from engine.catalog.arith import fmt_shape
from engine.shapes import Report
from engine.totals import known_totals


def human_count(n: int) -> str:
    """11689512 -> '11.7M', 3274634 -> '3.27M', 61706 -> '61.7k' (the full number goes beside it in the UI)."""
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            v = n / div
            return f"{v:.3g}{unit}" if v < 100 else f"{v:.0f}{unit}"
    return str(n)


def human_bytes(b: int) -> str:
    for div, unit in ((2**30, "GiB"), (2**20, "MiB"), (2**10, "KiB")):
        if b >= div:
            return f"{b / div:.1f} {unit}"
    return f"{b} B"


def summary_rows(g: dict[str, Any], report: Report) -> list[dict[str, Any]]:
    """One row per node in file order. `output` is the shape, or what stops it (error / waiting on an input)."""
    rows = []
    for n in g.get("nodes", []):
        nr = report.nodes.get(n["id"])
        if nr is None:
            out, params, macs = "not checked", 0, 0
        elif nr.error:
            out, params, macs = "error", 0, 0
        elif nr.blocked or nr.shape is None:
            out, params, macs = "waiting on input", 0, 0
        else:
            out, params, macs = fmt_shape(nr.shape), nr.params, nr.macs
        rows.append({"node": n["id"], "op": n["op"], "output": out, "params": params, "MACs": macs})
    return rows


def totals(report: Report, batch_size: int) -> dict[str, Any]:
    """Parameters, MACs per sample, and the training memory estimate at this batch size (bytes and text), of what
    is known (engine.totals): with a node in error they are `partial`, and `partial_note` says what they leave out."""
    t = known_totals(report)
    mem = t.memory(batch_size)
    n, m = len(t.unknown), len(t.params_unknown)
    note = (f"Partial totals (≥), of what is known: {n} layer{'s' if n != 1 else ''} without a shape yet (in error, "
            f"or after one) add no MACs or memory here, and {m} of them no parameters." if t.partial else "")
    return {"params": t.params, "macs": t.macs, "memory": mem["total"], "memory_parts": mem,
            "params_text": human_count(t.params), "macs_text": human_count(t.macs),
            "memory_text": human_bytes(mem["total"]), "partial": t.partial, "partial_note": note}


def error_items(report: Report) -> list[dict[str, Any]]:
    """Every problem, node-level first: {node, field, message, fix} (node None for the graph as a whole)."""
    return [{"node": e.node, "field": e.field, "message": e.message, "fix": e.fix} for e in report.errors]
