"""Plotly figures for the Train page: curves (one or several runs), confusion matrix, per-class accuracy, examples.

Every builder takes plain rows / lists (what engine.train.runs reads) and returns a go.Figure; nothing here calls st.*.
Long runs stay light: step curves are averaged down to at most MAX_POINTS points per series.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import plotly.graph_objects as go

MAX_POINTS = 300
PALETTE = ["#4f46e5", "#ea580c", "#059669", "#db2777", "#0891b2", "#ca8a04", "#7c3aed", "#dc2626"]
BASE_LAYOUT = dict(margin=dict(l=10, r=10, t=40, b=10), height=280, hovermode="x unified",
                   legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0, title_text=""))


def downsample(xs: Sequence[float], ys: Sequence[float], max_points: int = MAX_POINTS) -> tuple[list, list]:
    """Average consecutive points into at most max_points buckets; the last point is kept exactly (it is the
    number the user is watching). Points whose y is None are dropped first."""
    pts = [(x, y) for x, y in zip(xs, ys) if y is not None and x is not None and math.isfinite(y)]
    if len(pts) <= max_points:
        return [p[0] for p in pts], [p[1] for p in pts]
    size = len(pts) / (max_points - 1)
    out_x, out_y = [], []
    for b in range(max_points - 1):
        chunk = pts[int(b * size):int((b + 1) * size)]
        if chunk:
            out_x.append(sum(p[0] for p in chunk) / len(chunk))
            out_y.append(sum(p[1] for p in chunk) / len(chunk))
    out_x.append(pts[-1][0])
    out_y.append(pts[-1][1])
    return out_x, out_y


def _series(rows: list[dict], key: str, kind: str | None = None) -> tuple[list, list]:
    sel = [r for r in rows if (kind is None or r.get("kind") == kind) and r.get(key) is not None]
    return [r.get("epoch") for r in sel], [r[key] for r in sel]


def _mode(n: int) -> str:
    return "lines+markers" if n < 30 else "lines"  # a lone first point is a dot, not an invisible line


def _epoch_axis(fig: go.Figure, epochs: float | None) -> None:
    """x from 0 to the planned epochs: a live curve grows across a fixed axis, which shows how far it has to go."""
    if epochs:
        fig.update_xaxes(range=[0, epochs * 1.02])


def curves(runs: dict[str, list[dict]], metric: str, title: str, percent: bool = False,
           epochs: float | None = None) -> go.Figure:
    """Train (per logged step, solid) and validation (per epoch, dashed with markers) of `metric` for each run.
    runs: label -> metrics rows; x is the (fractional) epoch, so runs with other batch sizes line up."""
    fig = go.Figure()
    for i, (label, rows) in enumerate(runs.items()):
        color = PALETTE[i % len(PALETTE)]
        name = "" if len(runs) == 1 else f"{label} · "
        x, y = downsample(*_series(rows, f"train_{metric}", "step"))
        fig.add_scatter(x=x, y=y, mode=_mode(len(x)), name=f"{name}train", line=dict(color=color, width=2),
                        marker=dict(size=5))
        val = [r for r in rows if r.get(f"val_{metric}") is not None]
        fig.add_scatter(x=[r["epoch"] for r in val], y=[r[f"val_{metric}"] for r in val], mode="lines+markers",
                        name=f"{name}validation", line=dict(color=color, width=2, dash="dash"),
                        marker=dict(size=8, symbol="circle"))
    fig.update_layout(title=title, xaxis_title="epoch", **BASE_LAYOUT)
    _epoch_axis(fig, epochs)
    if percent:
        fig.update_yaxes(tickformat=".0%", range=[0, 1.02])
    return fig


def single(runs: dict[str, list[dict]], key: str, title: str, y_title: str, log: bool = False,
           epochs: float | None = None) -> go.Figure:
    """One step series per run (learning rate, images/s)."""
    fig = go.Figure()
    for i, (label, rows) in enumerate(runs.items()):
        x, y = downsample(*_series(rows, key, "step"))
        fig.add_scatter(x=x, y=y, mode=_mode(len(x)), name=label, marker=dict(size=5),
                        line=dict(color=PALETTE[i % len(PALETTE)], width=2), showlegend=len(runs) > 1)
    fig.update_layout(title=title, xaxis_title="epoch", yaxis_title=y_title, **BASE_LAYOUT)
    _epoch_axis(fig, epochs)
    if log:
        ys = [v for rows in runs.values() for v in _series(rows, key, "step")[1] if v and v > 0 and math.isfinite(v)]
        fig.update_yaxes(type="log", exponentformat="e", **log_ticks(ys))
    else:
        fig.update_yaxes(rangemode="tozero")
    return fig


def log_ticks(values: Sequence[float], most: int = 6) -> dict:
    """A log axis's range and labelled ticks that always show numbers: a learning rate often stays within one
    decade (a warm-up from 2e-4 to 8e-4, a constant 1e-3), where ticks at powers of ten alone leave the axis bare.
    Ticks at 1, 2 and 5 × 10^k inside the range (decades only when there are many), else the ends themselves."""
    if not values:
        return {"dtick": 1}
    lo, hi = min(values), max(values)
    a, b = math.log10(lo), math.log10(hi)
    pad = max(0.05 * (b - a), 0.05)  # a constant rate gets a small band around it
    a, b = a - pad, b + pad
    ticks = [m * 10.0 ** k for k in range(math.floor(a), math.ceil(b) + 1) for m in (1, 2, 5)]
    ticks = [t for t in ticks if a <= math.log10(t) <= b]
    if len(ticks) > most:
        ticks = [t for t in ticks if math.isclose(t / 10 ** math.floor(math.log10(t) + 1e-9), 1.0)] or ticks[::3]
    if len(ticks) < 2:
        ticks = sorted({lo, hi} | set(ticks))
    return {"range": [a, b], "tickvals": ticks, "ticktext": [_sci(t) for t in ticks]}


def _sci(v: float) -> str:
    """2e-4, 3.1e-3, 0.05, 2: short, as learning rates are written."""
    if 0.01 <= abs(v) < 1000:
        return f"{v:.3g}"
    m, e = f"{v:.2e}".split("e")
    return f"{m.rstrip('0').rstrip('.')}e{int(e)}"


def confusion(matrix: list[list[int]], classes: list[str]) -> go.Figure:
    """Rows: true class, columns: predicted; colour by row-normalised rate, the counts written in each cell."""
    cm = np.asarray(matrix, dtype=float)
    rate = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    labels = [str(c) for c in classes]
    fig = go.Figure(go.Heatmap(z=rate, x=labels, y=labels, text=cm.astype(int), texttemplate="%{text}",
                               colorscale="Blues", zmin=0, zmax=1, showscale=False,
                               hovertemplate="true %{y}, predicted %{x}: %{text} (%{z:.1%} of true %{y})"
                                             "<extra></extra>"))
    fig.update_layout(title="Confusion matrix", xaxis_title="predicted", yaxis_title="true",
                      margin=dict(l=10, r=10, t=40, b=10), height=400)
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category", side="bottom")
    return fig


def per_class(acc: list[float | None], classes: list[str], title: str = "Accuracy per class") -> go.Figure:
    vals = [a if a is not None else 0.0 for a in acc]
    worst = min(range(len(vals)), key=vals.__getitem__) if vals else -1
    colors = ["#dc2626" if i == worst else PALETTE[0] for i in range(len(vals))]
    fig = go.Figure(go.Bar(x=[str(c) for c in classes], y=vals, marker_color=colors,
                           text=[f"{v:.1%}" for v in vals], textposition="outside", cliponaxis=False,
                           hovertemplate="%{x}: %{y:.2%}<extra></extra>"))
    low = max(0.0, min(vals, default=0.0) - 0.05)
    fig.update_layout(title=title, yaxis=dict(range=[low, 1.0], tickformat=".0%"), xaxis=dict(type="category"),
                      margin=dict(l=10, r=10, t=40, b=10), height=400)
    return fig


def image_grid(images: list[np.ndarray], captions: list[str], cols: int = 8, title: str = "") -> go.Figure:
    """Images (C×H×W or H×W uint8) in a grid, a caption under each: one picture, not a wall of numbers."""
    n = len(images)
    rows = max(1, math.ceil(n / cols))
    h, w = _hw(images[0]) if images else (28, 28)
    pad = max(2, h // 7)
    cap = max(10, h // 2)  # room for the caption under each image
    canvas = np.full((rows * (h + pad + cap), cols * (w + pad), 3), 255, dtype=np.uint8)
    anns = []
    for i, (img, text) in enumerate(zip(images, captions)):
        r, c = divmod(i, cols)
        y0, x0 = r * (h + pad + cap), c * (w + pad)
        canvas[y0:y0 + h, x0:x0 + w] = to_rgb(img)
        anns.append(dict(x=x0 + w / 2, y=y0 + h + cap * 0.45, text=text, showarrow=False, font=dict(size=13),
                         xref="x", yref="y"))
    fig = go.Figure(go.Image(z=canvas, hoverinfo="skip"))
    top = 40 if title else 0
    width_px = 1100 if cols >= 8 else 140 * cols  # about what the page gives it; the height keeps the aspect
    fig.update_layout(title=title, annotations=anns, margin=dict(l=0, r=0, t=top, b=0),
                      height=int(width_px * canvas.shape[0] / canvas.shape[1]) + top)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def _hw(img: np.ndarray) -> tuple[int, int]:
    return (img.shape[-2], img.shape[-1])


def to_rgb(img: np.ndarray) -> np.ndarray:
    """C×H×W or H×W (uint8 or float in [0, 1]) -> H×W×3 uint8."""
    a = np.asarray(img)
    if a.dtype != np.uint8:
        a = (np.clip(a, 0, 1) * 255).astype(np.uint8)
    if a.ndim == 3:
        a = a[0] if a.shape[0] == 1 else np.moveaxis(a[:3], 0, -1)
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    return a


def mask_rgb(mask: np.ndarray, k: int) -> np.ndarray:
    """A class mask (H×W) as colours: class 0 (background) black, the others from a fixed palette."""
    pal = np.array([[0, 0, 0]] + [[int(c[i:i + 2], 16) for i in (1, 3, 5)] for c in PALETTE] * (1 + k // 8),
                   dtype=np.uint8)
    return pal[np.clip(mask.astype(int), 0, len(pal) - 1)]
