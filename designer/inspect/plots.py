"""Plotly figures for the Inspect page. Builders take tensors / lists and return go.Figure; nothing calls st.*."""
from __future__ import annotations

import math

import plotly.graph_objects as go
import torch

from engine.visualise.images import minmax01, tile_grid, to_display

GREY = [[0.0, "#000000"], [1.0, "#ffffff"]]
# Inferno's stops, spelled as rgb(): Streamlit's plotly build draws plotly's own "#000004" start as purple
HEAT = [[0.0, "rgb(0,0,0)"], [0.13, "rgb(40,11,84)"], [0.25, "rgb(87,16,110)"], [0.38, "rgb(136,34,106)"],
        [0.5, "rgb(188,55,84)"], [0.63, "rgb(228,90,49)"], [0.75, "rgb(249,142,9)"], [0.88, "rgb(245,219,76)"],
        [1.0, "rgb(252,255,164)"]]
# transparent where nothing matters, then purple → red → yellow, more opaque as importance rises: the image
# stays readable under the unimportant parts of an overlay
HEAT_OVER = [[0.0, "rgba(0,0,0,0)"], [0.15, "rgba(90,20,140,0.25)"], [0.4, "rgba(200,40,80,0.55)"],
             [0.7, "rgba(250,130,20,0.75)"], [1.0, "rgba(255,240,80,0.9)"]]


def _frame(fig: go.Figure, title: str, height: int, width: int | None = None) -> go.Figure:
    fig.update_layout(title=dict(text=title, x=0.0, xanchor="left", font=dict(size=13)), height=height,
                      width=width, margin=dict(l=4, r=4, t=30 if title else 4, b=4), showlegend=False,
                      paper_bgcolor="rgba(0,0,0,0)", plot_bgcolor="rgba(0,0,0,0)")
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, autorange="reversed", scaleanchor="x", constrain="domain")
    # a hairline frame: an all-white (or all-black) picture still reads as a picture on the page
    fig.add_shape(type="rect", xref="x domain", yref="y domain", x0=0, x1=1, y0=0, y1=1,
                  line=dict(color="#c8cbd2", width=1))
    return fig


def image(img: torch.Tensor, title: str = "", height: int = 240, value_range=(0.0, 1.0),
          hover: str = "value") -> go.Figure:
    """A model input (C, H, W) or a display image (H, W) / (H, W, 3) in [0, 1]."""
    if img.dim() == 3 and img.shape[0] in (1, 3) and img.shape[-1] != 3:
        img = to_display(img, value_range)
    fig = go.Figure()
    if img.dim() == 3:
        fig.add_trace(go.Image(z=(img.clamp(0, 1) * 255).round().to(torch.uint8).numpy(), hoverinfo="skip"))
    else:
        fig.add_trace(go.Heatmap(z=img.numpy(), colorscale=GREY, zmin=0, zmax=1, showscale=False,
                                 hovertemplate=f"x %{{x}}, y %{{y}}: {hover} %{{z:.2f}}<extra></extra>"))
    return _frame(fig, title, height)


def heat_over(img: torch.Tensor, heat: torch.Tensor, title: str = "", height: int = 240) -> go.Figure:
    """A heat map (H, W) in [0, 1] drawn over the input image (dimmed): where the method looks."""
    fig = image(img * 0.6, title, height)
    fig.add_trace(go.Heatmap(z=heat.numpy(), colorscale=HEAT_OVER, zmin=0, zmax=1, showscale=False,
                             hovertemplate="x %{x}, y %{y}: importance %{z:.2f}<extra></extra>"))
    return fig


def grid(tiles: torch.Tensor, title: str = "", cols: int | None = None, height: int | None = None,
         colorscale=GREY, labels: list[str] | None = None) -> go.Figure:
    """Many small maps (N, h, w) in [0, 1] as one picture, row-major; hovering names the tile."""
    n, h, w = tiles.shape[:3]
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    picture = tile_grid(tiles, cols, pad=1, pad_value=float("nan"))
    ids = torch.full(picture.shape[:2], -1)
    for i in range(n):
        r, c = divmod(i, cols)
        ids[r * (h + 1): r * (h + 1) + h, c * (w + 1): c * (w + 1) + w] = i
    names = [[(labels[i] if labels else f"#{i}") if i >= 0 else "" for i in row] for row in ids.tolist()]
    fig = go.Figure(go.Heatmap(z=picture.numpy(), colorscale=colorscale, zmin=0, zmax=1, showscale=False,
                               customdata=names, hovertemplate="%{customdata}: %{z:.2f}<extra></extra>"))
    height = height or int(min(900, max(160, 900 * rows * (h + 1) / max(1, cols * (w + 1)) * 0.6)))
    return _frame(fig, title, height)


def rgb_grid(picture: torch.Tensor, title: str = "", height: int = 320) -> go.Figure:
    fig = go.Figure(go.Image(z=(picture.clamp(0, 1) * 255).round().to(torch.uint8).numpy(), hoverinfo="skip"))
    return _frame(fig, title, height)


def exemplars(images: torch.Tensor, title: str = "", height: int = 200) -> go.Figure:
    """Dataset images (k, C, H, W) side by side, grey or colour."""
    shown = torch.stack([to_display(im) for im in images])
    if shown.dim() == 4:
        return rgb_grid(tile_grid(shown, cols=len(shown), pad=2), title, height)
    return grid(shown, title, cols=len(shown), height=height)


def feature_maps(values: torch.Tensor, title: str = "", max_maps: int = 64) -> go.Figure:
    """A (C, H, W) activation as a grid of its channels on one shared scale (so strong and weak channels
    compare); a vector (F,) or sequence (T, F) as a bar chart / heat map."""
    if values.dim() == 3:
        shown = values[:max_maps]
        return grid(minmax01(shown), title, labels=[f"channel {i}" for i in range(len(shown))])
    if values.dim() == 2:
        fig = go.Figure(go.Heatmap(z=values.numpy(), colorscale=HEAT, showscale=True))
        fig.update_layout(title=title, height=260, margin=dict(l=4, r=4, t=30, b=4))
        return fig
    fig = go.Figure(go.Bar(y=values.numpy(), marker_color="#4f46e5",
                           hovertemplate="unit %{x}: %{y:.3f}<extra></extra>"))
    fig.update_layout(title=title, height=260, margin=dict(l=4, r=4, t=30, b=4), xaxis_title="unit",
                      yaxis_title="activation")
    return fig


def probabilities(probs: torch.Tensor, classes: list[str], title: str = "Prediction", height: int = 240) -> go.Figure:
    top = int(probs.argmax())
    colors = ["#4f46e5" if i == top else "#c7d2fe" for i in range(len(probs))]
    names = [classes[i] if i < len(classes) else str(i) for i in range(len(probs))]
    fig = go.Figure(go.Bar(x=names, y=probs.numpy(), marker_color=colors,
                           hovertemplate="%{x}: %{y:.1%}<extra></extra>"))
    fig.update_layout(title=dict(text=title, font=dict(size=13)), height=height, margin=dict(l=4, r=4, t=30, b=4),
                      yaxis=dict(range=[0, 1], tickformat=".0%"), xaxis=dict(type="category"))
    return fig


def history(values: list[float], title: str, y_title: str, height: int = 220) -> go.Figure:
    fig = go.Figure(go.Scatter(y=values, mode="lines", line=dict(color="#4f46e5")))
    fig.update_layout(title=dict(text=title, font=dict(size=13)), height=height, margin=dict(l=4, r=4, t=30, b=4),
                      xaxis_title="step", yaxis_title=y_title)
    return fig
