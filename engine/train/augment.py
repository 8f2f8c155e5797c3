"""Augmentation on the device, a whole batch at once: random crop (a shift with zero fill) and horizontal flip.

Masks (segmentation) get the same crop and flip as their images, filled with class 0 (background).
Randomness comes from the trainer's generator, so a resumed run draws the same augmentations.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def resolve_augment(mode: str, data_default: str) -> str:
    return data_default if mode == "auto" else mode


def crop_pad(h: int) -> int:
    """Padding of the random crop: 4 pixels for 32×32 (the CIFAR recipe), scaled with the image."""
    return max(1, round(h / 8))


def random_shift(x: torch.Tensor, y: torch.Tensor | None, pad: int, gen: torch.Generator):
    """Pad by `pad` and crop back at a random offset per example: x (B, C, H, W), y None or (B, H, W)."""
    B, C, H, W = x.shape
    dev = x.device
    off = torch.randint(0, 2 * pad + 1, (2, B), generator=gen, device=dev)
    rows = off[0, :, None] + torch.arange(H, device=dev)  # (B, H) rows of the padded image
    cols = off[1, :, None] + torch.arange(W, device=dev)  # (B, W)
    b = torch.arange(B, device=dev)
    xp = F.pad(x, (pad, pad, pad, pad))
    x = xp[b[:, None, None, None], torch.arange(C, device=dev)[None, :, None, None],
           rows[:, None, :, None], cols[:, None, None, :]]
    if y is not None and y.ndim == 3:
        yp = F.pad(y, (pad, pad, pad, pad))  # class 0 (background) outside the image
        y = yp[b[:, None, None], rows[:, :, None], cols[:, None, :]]
    return x, y


def random_flip(x: torch.Tensor, y: torch.Tensor | None, gen: torch.Generator):
    flip = torch.rand(x.shape[0], generator=gen, device=x.device) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    if y is not None and y.ndim == 3:
        y = torch.where(flip[:, None, None], y.flip(2), y)
    return x, y


def augment(x: torch.Tensor, y: torch.Tensor, mode: str, gen: torch.Generator):
    """Apply `mode` (none | crop | flip | crop+flip) to a float image batch and its labels."""
    if mode == "none" or x.ndim != 4:
        return x, y
    if "flip" in mode:
        x, y = random_flip(x, y, gen)
    if "crop" in mode:
        x, y = random_shift(x, y, crop_pad(x.shape[2]), gen)
    return x, y
