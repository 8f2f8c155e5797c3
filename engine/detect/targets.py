"""Ground truth -> what the heads are trained towards, and back.

Detection: each box goes to the cell its centre falls in (the cell then predicts objectness 1, the centre's offset
inside the cell, the box's size as a fraction of the image, and its class). `decode_targets` runs the same
arithmetic as the predictions' decoding (grid.cells_to_boxes) on these targets, so a test can check that
encode -> decode returns the ground truth. Two centres in one cell: the later box wins; mnist-detect keeps
centres 16 px apart, so grids with cells of up to 16 px never see it.

Localisation: the 4 box numbers are (cx, cy, w, h) as fractions of the image, predicted through a sigmoid.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from engine.detect.grid import cells_to_boxes, numbers_to_box


@dataclass
class CellTargets:
    obj: torch.Tensor  # (B, S_h, S_w) float: 1 where a box's centre falls
    txy: torch.Tensor  # (B, S_h, S_w, 2) the centre's offset inside its cell, in [0, 1)
    twh: torch.Tensor  # (B, S_h, S_w, 2) the box's size as a fraction of the image
    cls: torch.Tensor  # (B, S_h, S_w) int64 class, -1 where no box
    boxes: torch.Tensor  # (B, S_h, S_w, 4) the ground-truth box each positive cell predicts (pixels)


def encode(y: torch.Tensor, grid: tuple[int, int], image_size: tuple[int, int]) -> CellTargets:
    """y (B, M, 5) = (class, x1, y1, x2, y2), class -1 for padding -> per-cell targets of an S_h×S_w grid."""
    B, M, _ = y.shape
    S_h, S_w = grid
    H, W = image_size
    dev = y.device
    valid = y[..., 0] >= 0
    x1, y1, x2, y2 = y[..., 1], y[..., 2], y[..., 3], y[..., 4]
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    gx, gy = cx / (W / S_w), cy / (H / S_h)  # centre in cell units
    j = gx.floor().clamp(0, S_w - 1).long()
    i = gy.floor().clamp(0, S_h - 1).long()
    b = torch.arange(B, device=dev).view(B, 1).expand(B, M)
    b, i, j = b[valid], i[valid], j[valid]
    obj = torch.zeros(B, S_h, S_w, device=dev)
    txy = torch.zeros(B, S_h, S_w, 2, device=dev)
    twh = torch.zeros(B, S_h, S_w, 2, device=dev)
    cls = torch.full((B, S_h, S_w), -1, device=dev, dtype=torch.long)
    boxes = torch.zeros(B, S_h, S_w, 4, device=dev)
    obj[b, i, j] = 1.0
    txy[b, i, j] = torch.stack([gx[valid] - j, gy[valid] - i], -1)
    twh[b, i, j] = torch.stack([(x2 - x1)[valid] / W, (y2 - y1)[valid] / H], -1)
    cls[b, i, j] = y[..., 0][valid].long()
    boxes[b, i, j] = y[..., 1:][valid]
    return CellTargets(obj, txy, twh, cls, boxes)


def decode_targets(t: CellTargets, image_size: tuple[int, int]) -> list[dict[str, torch.Tensor]]:
    """Per-cell targets -> one dict per image of boxes (n, 4) and labels (n,), row-major over the cells."""
    boxes = cells_to_boxes(t.txy, t.twh, image_size)
    return [{"boxes": boxes[b][t.obj[b] > 0], "labels": t.cls[b][t.obj[b] > 0]} for b in range(len(t.obj))]


def ground_truth(y: torch.Tensor) -> list[dict[str, torch.Tensor]]:
    """y (B, M, 5) -> one dict per image of its real boxes and labels (padding dropped)."""
    return [{"boxes": yb[yb[:, 0] >= 0, 1:], "labels": yb[yb[:, 0] >= 0, 0].long()} for yb in y]


def encode_box(boxes: torch.Tensor, image_size: tuple[int, int]) -> torch.Tensor:
    """(N, 4) x1 y1 x2 y2 in pixels -> (N, 4) cx cy w h as fractions of the image (the localiser's targets)."""
    H, W = image_size
    scale = boxes.new_tensor([W, H, W, H])
    x1, y1, x2, y2 = (boxes / scale).unbind(-1)
    return torch.stack([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1], -1)


def decode_box(t: torch.Tensor, image_size: tuple[int, int]) -> torch.Tensor:
    """(N, 4) cx cy w h as fractions (e.g. sigmoid of the box output) -> (N, 4) x1 y1 x2 y2 in pixels."""
    return numbers_to_box(t, image_size)
