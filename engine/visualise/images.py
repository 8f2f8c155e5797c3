"""Tensors -> pictures: tile many small maps into one grid image, scale values for display, overlay heat maps.

Everything returns float tensors in [0, 1] (grey (H, W) or colour (H, W, 3)); the page turns them into plotly
figures or PNGs. Kept apart from the methods so each method returns data, and drawing is one small idea.
"""
from __future__ import annotations

import math

import torch


def symmetric01(t: torch.Tensor, dims: tuple[int, ...] | None = None) -> torch.Tensor:
    """Map values to [0, 1] with 0 at 0.5 (grey): for weights, where the sign matters. `dims` are the dimensions
    that share one scale (None = the whole tensor)."""
    amax = t.abs().amax(dim=dims, keepdim=True) if dims else t.abs().max()
    return 0.5 + 0.5 * t / torch.clamp(amax, min=1e-12)


def minmax01(t: torch.Tensor, dims: tuple[int, ...] | None = None) -> torch.Tensor:
    """Map values to [0, 1] by min and max (over `dims`, or the whole tensor)."""
    lo = t.amin(dim=dims, keepdim=True) if dims else t.min()
    hi = t.amax(dim=dims, keepdim=True) if dims else t.max()
    return torch.where(hi > lo, (t - lo) / torch.clamp(hi - lo, min=1e-12), torch.zeros_like(t))


def tile_grid(tiles: torch.Tensor, cols: int | None = None, pad: int = 1, pad_value: float = 1.0) -> torch.Tensor:
    """(N, h, w) or (N, h, w, 3) tiles -> one (H, W) or (H, W, 3) image, row-major, `pad` pixels between."""
    n, h, w = tiles.shape[:3]
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    extra = tiles.shape[3:]
    out = torch.full((rows * (h + pad) - pad, cols * (w + pad) - pad, *extra), pad_value, dtype=tiles.dtype)
    for i in range(n):
        r, c = divmod(i, cols)
        out[r * (h + pad): r * (h + pad) + h, c * (w + pad): c * (w + pad) + w] = tiles[i]
    return out


def to_display(image: torch.Tensor, value_range: tuple[float, float] = (0.0, 1.0)) -> torch.Tensor:
    """A model input (C, H, W) -> (H, W) grey or (H, W, 3) colour in [0, 1]."""
    lo, hi = value_range
    x = ((image.detach().float().cpu() - lo) / (hi - lo)).clamp(0, 1)
    if x.shape[0] == 1:
        return x[0]
    if x.shape[0] == 3:
        return x.permute(1, 2, 0)
    return x.mean(0)


def heat_overlay(image: torch.Tensor, heat: torch.Tensor, alpha: float = 0.6) -> torch.Tensor:
    """A grey or colour display image (H, W[, 3]) with a [0, 1] heat map (H, W) blended on top in red-yellow."""
    base = image if image.dim() == 3 else image[..., None].expand(*image.shape, 3)
    h = heat.clamp(0, 1)[..., None]
    colour = torch.cat([torch.ones_like(h), h, torch.zeros_like(h)], -1)  # red -> yellow as heat rises
    a = alpha * h
    return (1 - a) * base * 0.8 + a * colour
