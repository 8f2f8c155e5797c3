"""Filters: the kernels of a convolution as a grid of small images.

A first-layer kernel on an RGB input is drawn as one colour tile (its three input slices are its colour
channels), which is how the oriented edges and colour blobs of trained networks are usually shown. Otherwise each
(output, input) slice is one grey tile with 0 at mid-grey, one row per output channel.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from engine.visualise.images import symmetric01, tile_grid
from engine.visualise.layers import resolve


@dataclass
class FiltersResult:
    layer: str
    weights: torch.Tensor  # (out, in, kh, kw) on the CPU (ConvTranspose2d kernels transposed to this order)
    rgb: bool  # True when each filter is drawn as one colour tile
    grid: torch.Tensor  # (H, W) or (H, W, 3) in [0, 1]: the picture
    norms: list[float]  # L2 norm of each output filter (a dead or tiny filter stands out)
    shown_inputs: int  # input channels drawn per filter (the rest are left out of the grid)


class Filters:
    def __init__(self, model: nn.Module, graph=None):
        self.model = model
        self.graph = graph

    @torch.no_grad()
    def run(self, layer, max_inputs: int = 16, max_outputs: int = 64) -> FiltersResult:
        tap = resolve(self.model, layer, self.graph)
        mod = tap.module
        w = getattr(mod, "weight", None)
        if tap.side != "output" or not isinstance(w, torch.Tensor) or w.dim() != 4:
            raise ValueError(f"filters exist only for 2-d convolutions (a 4-d weight); {tap.label} has none. "
                             f"Received: layer={tap.node or type(mod).__name__}")
        w = w.detach().float().cpu()
        if isinstance(mod, nn.ConvTranspose2d):
            w = w.transpose(0, 1)  # stored (in, out/groups, kh, kw)
        out_ch, in_ch, kh, kw = w.shape
        norms = w.flatten(1).norm(dim=1).tolist()
        shown = w[:max_outputs]
        if in_ch == 3:
            # one colour tile per filter, each filter scaled on its own so weak ones stay visible
            tiles = symmetric01(shown, dims=(1, 2, 3)).permute(0, 2, 3, 1)
            grid = tile_grid(tiles, cols=min(8, len(tiles)), pad=1)
            return FiltersResult(tap.node, w, True, grid, norms, 3)
        k = min(in_ch, max_inputs)
        tiles = symmetric01(shown[:, :k], dims=(1, 2, 3)).reshape(-1, kh, kw)
        grid = tile_grid(tiles, cols=k if k > 1 else min(8, len(tiles)), pad=1)
        return FiltersResult(tap.node, w, False, grid, norms, k)
