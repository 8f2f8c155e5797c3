"""The training-health overlay of the Design page: the per-layer diagnostics of the design's latest run, as the
canvas draws them (CanvasData.health, frontend/src/Health.tsx): per node the chosen quantity's latest value, a
colour on a scale, the history for the sparkline and the warning about it. No streamlit here: tests call it.

Colours: "dead" and "update_ratio" have a health scale (green = healthy, red = not): the dead share itself, and the
update ratio's distance from 1e-3 in decades (two decades away is red). The other quantities have no healthy value
of their own, so they are coloured relative to the network's other layers (gradient norm on a log scale).
"""
from __future__ import annotations

import math
from typing import Any

from engine.train.advice import Advice
from engine.train.diagnostics import LABELS, series

HEALTH = ("#16a34a", "#facc15", "#dc2626")  # healthy -> unhealthy
SEQUENTIAL = ("#dbeafe", "#60a5fa", "#1e3a8a")  # low -> high, relative to the other layers
SPARK_POINTS = 60


def _mix(scale: tuple[str, ...], t: float) -> str:
    """The colour at t in [0, 1] along the scale's stops (linear in RGB)."""
    t = min(1.0, max(0.0, t))
    k = min(int(t * (len(scale) - 1)), len(scale) - 2)
    f = t * (len(scale) - 1) - k
    a, b = (tuple(int(c[i:i + 2], 16) for i in (1, 3, 5)) for c in (scale[k], scale[k + 1]))
    return "#" + "".join(f"{round(x + (y - x) * f):02x}" for x, y in zip(a, b))


def fmt(v: float | None) -> str:
    if v is None:
        return "–"
    if v == 0:
        return "0"
    return f"{v:.3g}" if 1e-3 <= abs(v) < 1e4 else f"{v:.1e}"


def _levels(quantity: str, latest: dict[str, float]) -> tuple[dict[str, float], tuple[str, ...], str, str]:
    """Node -> position on the scale, the scale, and the legend's two ends."""
    if quantity == "dead":
        return dict(latest), HEALTH, "0% dead", "100% dead"
    if quantity == "update_ratio":
        return ({n: abs(math.log10(v) + 3) / 2 if v > 0 else 1.0 for n, v in latest.items()}, HEALTH,
                "1e-3 (healthy)", "≥ 100× off")
    log = quantity == "grad_norm"
    tx = {n: (math.log10(v) if v > 0 else None) if log else v for n, v in latest.items()}
    vals = [v for v in tx.values() if v is not None]
    if not vals:
        return {}, SEQUENTIAL, "–", "–"
    lo, hi = min(vals), max(vals)
    lv = {n: (0.0 if v is None else (v - lo) / (hi - lo) if hi > lo else 0.5) for n, v in tx.items()}
    ends = [fmt(10 ** x if log else x) for x in (lo, hi)]
    return lv, SEQUENTIAL, f"lowest {ends[0]}", f"highest {ends[1]}"


def health_data(rows: list[dict], quantity: str, run_name: str, live: bool, advice: list[Advice],
                node_ids: set[str]) -> dict[str, Any] | None:
    """CanvasData.health for a run's diagnostics rows (None before its first row)."""
    if not rows:
        return None
    hist = series(rows, quantity)
    latest = {n: vs[-1] for n, (_, vs) in hist.items() if n in node_ids and vs and vs[-1] is not None}
    levels, scale, low, high = _levels(quantity, latest)
    warn = {}
    for a in advice:
        for n in a.nodes:
            warn.setdefault(n, a.message)
    nodes = {}
    for n, (_, vs) in hist.items():
        if n not in node_ids:
            continue
        v = latest.get(n)
        text = f"{v:.0%}" if quantity == "dead" and v is not None else fmt(v)
        nodes[n] = {"value": v, "text": text, "colour": _mix(scale, levels.get(n, 0.0)) if v is not None else "#cbd5e1",
                    "spark": vs[-SPARK_POINTS:], "warning": warn.get(n)}
    return {"run": run_name, "quantity": quantity, "label": LABELS[quantity], "step": rows[-1].get("step", 0),
            "live": live, "scale": list(scale), "low": low, "high": high, "nodes": nodes}
