"""Box-aware augmentation for the box tasks: the Train option `augment` (crop | flip | crop+flip; off unless
chosen) moves the boxes with the pixels.

- crop: a random shift of up to crop_pad(H) pixels (as the classification crop: H/8) along x and y, zero fill,
  limited per image so that every box stays wholly inside the image (no object is cut or lost, and a localiser
  keeps its one box);
- flip: a horizontal mirror with probability 1/2 (for digits it makes mirror-writing: choose it for data whose
  classes survive a mirror).

The geometry of images and boxes comes from torchvision.transforms.v2 (functional affine / horizontal_flip on
tv_tensors.Image and tv_tensors.BoundingBoxes), one image at a time because v2 draws one transform per call; the
random numbers come from the trainer's generator, so a resumed run draws the same augmentations.
"""
from __future__ import annotations

import torch
from torchvision import tv_tensors
from torchvision.transforms.v2 import functional as TF

from engine.train.augment import crop_pad


def augment_boxes(x: torch.Tensor, y: torch.Tensor, mode: str, gen: torch.Generator):
    """x (B, C, H, W) float images; y (B, M, 5) detection rows (class -1 = padding) or (B, 5) one box each, as
    (class, x1, y1, x2, y2) in pixels -> the augmented images and labels (padding rows untouched)."""
    if mode == "none":
        return x, y
    one = y.ndim == 2
    rows = y[:, None] if one else y
    B, _, H, W = x.shape
    pad = crop_pad(H)
    draws = torch.rand(B, 3, generator=gen, device=x.device).tolist()  # flip?, shift x, shift y in [0, 1)
    xs, ys = [], []
    for b in range(B):
        valid = rows[b, :, 0] >= 0
        img = tv_tensors.Image(x[b])
        boxes = tv_tensors.BoundingBoxes(rows[b, valid, 1:], format="XYXY", canvas_size=(H, W))
        if "flip" in mode and draws[b][0] < 0.5:
            img, boxes = TF.horizontal_flip(img), TF.horizontal_flip(boxes)
        if "crop" in mode:
            dx, dy = _shift(boxes, W, pad, draws[b][1], 0), _shift(boxes, H, pad, draws[b][2], 1)
            if dx or dy:
                img = TF.affine(img, angle=0.0, translate=[dx, dy], scale=1.0, shear=[0.0, 0.0])
                boxes = TF.affine(boxes, angle=0.0, translate=[dx, dy], scale=1.0, shear=[0.0, 0.0])
        out = rows[b].clone()
        out[valid, 1:] = boxes.as_subclass(torch.Tensor).to(out.dtype)
        xs.append(img.as_subclass(torch.Tensor))
        ys.append(out)
    x, y = torch.stack(xs), torch.stack(ys)
    return x, (y[:, 0] if one else y)


def _shift(boxes: torch.Tensor, size: int, pad: int, u: float, axis: int) -> int:
    """A whole-pixel shift in [-pad, pad] along one axis (0: x, 1: y) that keeps every box inside [0, size]."""
    lo, hi = -pad, pad
    if len(boxes):
        lo = max(lo, -int(boxes[:, axis].min().floor()))
        hi = min(hi, int(size - boxes[:, axis + 2].max().ceil()))
    if hi < lo:  # a box wider than the image can move: it stays
        return 0
    return lo + min(int(u * (hi - lo + 1)), hi - lo)
