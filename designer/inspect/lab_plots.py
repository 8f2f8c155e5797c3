"""Plotly figures of the faithfulness lab: perturbation curves (deletion and insertion, each against its random
control) and the cascading randomisation's rank correlation per layer. Builders only; nothing calls st.*."""
from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

PALETTE = ["#4f46e5", "#ea580c", "#059669", "#db2777", "#0891b2", "#ca8a04"]
X_TITLE = {"deletion": "fraction of pixels removed", "insertion": "fraction of pixels put back"}


def _add_curves(fig: go.Figure, curves: dict[str, tuple[list[float], list[float]]], row=None, col=None,
                legend: bool = True) -> None:
    where = {"row": row, "col": col} if row else {}
    for i, (name, (curve, rnd)) in enumerate(curves.items()):
        c = PALETTE[i % len(PALETTE)]
        xs = [k / (len(curve) - 1) for k in range(len(curve))]
        fig.add_trace(go.Scatter(x=xs, y=curve, name=name, legendgroup=name, showlegend=legend,
                                 line=dict(color=c)), **where)
        fig.add_trace(go.Scatter(x=xs, y=rnd, name=f"{name} · random", legendgroup=name, showlegend=legend,
                                 line=dict(color=c, dash="dot"), opacity=0.6), **where)


def perturbation_curves(deletion: dict[str, tuple[list[float], list[float]]],
                        insertion: dict[str, tuple[list[float], list[float]]], title: str = "",
                        height: int = 320) -> go.Figure:
    """Deletion (left: lower area is better) and insertion (right: higher area is better) side by side; each method
    solid, its random orders dotted."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Deletion: the probability should fall fast",
                                                        "Insertion (from a blur): it should rise fast"))
    _add_curves(fig, deletion, 1, 1)
    _add_curves(fig, insertion, 1, 2, legend=False)
    fig.update_xaxes(tickformat=".0%")
    fig.update_xaxes(title_text=X_TITLE["deletion"], row=1, col=1)
    fig.update_xaxes(title_text=X_TITLE["insertion"], row=1, col=2)
    fig.update_yaxes(title_text="class probability", range=[0, 1.02], row=1, col=1)
    fig.update_yaxes(range=[0, 1.02], row=1, col=2)
    fig.update_layout(title=dict(text=title, font=dict(size=13)), height=height, margin=dict(l=4, r=4, t=60, b=4),
                      showlegend=True, legend=dict(orientation="h", yanchor="top", y=-0.25, xanchor="left", x=0.0))
    return fig


def cascade(results: dict, threshold: float, height: int = 320) -> go.Figure:
    """Mean |Spearman ρ| between the trained maps and the maps after re-initialising each further layer (output
    layer first), with its 95% interval; the pass threshold dashed. `results`: method -> CascadeResult."""
    fig = go.Figure()
    for i, (name, r) in enumerate(results.items()):
        c = PALETTE[i % len(PALETTE)]
        xs = ["trained"] + [f"+ {layer}" for layer in r.layers]
        ys = [1.0] + [s.interval.mean for s in r.steps]
        up = [0.0] + [s.interval.hi - s.interval.mean for s in r.steps]
        down = [0.0] + [s.interval.mean - s.interval.lo for s in r.steps]
        fig.add_trace(go.Scatter(x=xs, y=ys, name=name, mode="lines+markers", line=dict(color=c),
                                 error_y=dict(type="data", array=up, arrayminus=down, visible=True),
                                 hovertemplate="%{x}: mean |ρ| %{y:.3f}<extra>" + name + "</extra>"))
    fig.add_hline(y=threshold, line=dict(color="#6b7280", dash="dash"),
                  annotation_text=f"pass below {threshold}", annotation_position="top right")
    fig.update_layout(title=dict(text="Cascading randomisation: layers re-initialised from the output down",
                                 font=dict(size=13)), height=height, margin=dict(l=4, r=4, t=30, b=4),
                      xaxis=dict(title="re-initialised so far", type="category"),
                      yaxis=dict(title="mean |Spearman ρ| with the trained maps", range=[0, 1.05]),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1.0))
    return fig
