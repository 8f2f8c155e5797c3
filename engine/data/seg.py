"""Segmentation data made from real MNIST: digits placed on a larger canvas, every pixel labelled.

Each canvas holds two digits at random places (the second drawn over the first where they overlap). A pixel
of a digit (value >= 128) gets class 1 + its digit; everything else is class 0, background. So an FCN/U-Net
template learns both where the strokes are and which digit they belong to (11 classes).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from engine.data.base import Data, DataError
from engine.data.builtin import DIGITS, load_mnist_sample, read_idx_split

CLASSES = ["background"] + DIGITS
DEFAULT_CANVAS = (64, 64)
INK = 128  # a digit pixel at least this bright is labelled with the digit; fainter edges are background
PER_CANVAS = 2


def compose(images: np.ndarray, labels: np.ndarray, H: int, W: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """images uint8 (N, 28, 28) -> canvases uint8 (N, 1, H, W) and masks uint8 (N, H, W)."""
    N, h, w = images.shape
    rng = np.random.default_rng(seed)
    x = np.zeros((N, 1, H, W), dtype=np.uint8)
    m = np.zeros((N, H, W), dtype=np.uint8)
    partner = [np.arange(N)] + [rng.permutation(N) for _ in range(PER_CANVAS - 1)]
    oy = rng.integers(0, H - h + 1, size=(PER_CANVAS, N))
    ox = rng.integers(0, W - w + 1, size=(PER_CANVAS, N))
    n_idx = np.arange(N)[:, None, None]
    for k in range(PER_CANVAS):  # every canvas at once: (N, 28, 28) index grids into the canvases
        rows = oy[k][:, None, None] + np.arange(h)[None, :, None]
        cols = ox[k][:, None, None] + np.arange(w)[None, None, :]
        digits = images[partner[k]]
        x[n_idx, 0, rows, cols] = np.maximum(x[n_idx, 0, rows, cols], digits)
        region = m[n_idx, rows, cols]
        m[n_idx, rows, cols] = np.where(digits >= INK, (labels[partner[k]] + 1)[:, None, None], region)
    return x, m


def load_mnist_seg(root: str | os.PathLike | None = None, *, input_shape: tuple[int, ...] | None = None,
                   val_fraction: float = 0.1, seed: int = 0, limit: int | None = None) -> Data:
    """From the MNIST idx files in root (train -> train canvases, test -> validation), else from the bundled
    sample. The canvas is the graph's Input size (1×H×W, H and W >= 28), 64×64 by default."""
    H, W = DEFAULT_CANVAS
    if input_shape is not None:
        if len(input_shape) != 3 or input_shape[0] != 1 or min(input_shape[1:]) < 28:
            raise DataError(f"mnist-seg draws 28×28 digits on a 1-channel canvas, so the Input must be 1×H×W with H "
                            f"and W >= 28. Received: input shape {'×'.join(map(str, input_shape))}. Set the Input "
                            f"shape to [1, 64, 64].")
        H, W = input_shape[1:]
    splits = read_idx_split(Path(root), "train") if root else None
    if splits is not None:
        test = read_idx_split(Path(root), "test")
        (xt, yt), (xv, yv) = splits, test if test is not None else splits
        val_name = "test set"
    else:
        d = load_mnist_sample(val_fraction, seed)
        xt, yt = d.x_train[:, 0].numpy(), d.y_train.numpy()
        xv, yv = d.x_val[:, 0].numpy(), d.y_val.numpy()
        val_name = d.val_name
    if limit is not None:
        xt, yt = xt[:limit], yt[:limit]
    ct, mt = compose(xt, yt, H, W, seed)
    cv, mv = compose(xv, yv, H, W, seed + 1)
    t = torch.from_numpy  # masks stay uint8 (8x smaller); the trainer widens each batch to int64
    return Data("mnist-seg", CLASSES, t(ct), t(mt), t(cv), t(mv), task="segmentation",
                val_name=val_name, augment="none", info={"canvas": [H, W], "digits_per_canvas": PER_CANVAS})
