"""Segmentation data made from real MNIST: digits placed on a larger canvas, every pixel labelled.

Each canvas holds two digits at random places (the second drawn over the first where they overlap). A pixel
of a digit (value >= 128) gets class 1 + its digit; everything else is class 0, background. So an FCN/U-Net
template learns both where the strokes are and which digit they belong to (11 classes).
"""
from __future__ import annotations

import os

import numpy as np
import torch

from engine.data.base import TEST_SEED, Data, DataError
from engine.data.builtin import DIGITS, mnist_digit_splits

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
    """From the MNIST idx files in root (train -> train and validation canvases, test -> test canvases), else from
    the bundled sample split three ways. The canvas is the graph's Input size (1×H×W, H and W >= 28), 64×64 by default."""
    H, W = DEFAULT_CANVAS
    if input_shape is not None:
        if len(input_shape) != 3 or input_shape[0] != 1 or min(input_shape[1:]) < 28:
            raise DataError(f"mnist-seg draws 28×28 digits on a 1-channel canvas, so the Input must be 1×H×W with H "
                            f"and W >= 28. Received: input shape {'×'.join(map(str, input_shape))}. Set the Input "
                            f"shape to [1, 64, 64].")
        H, W = input_shape[1:]
    d = mnist_digit_splits(root, val_fraction, seed)
    digits = [(t[:, 0].numpy(), lab.numpy()) for t, lab in ((d.x_train, d.y_train), (d.x_val, d.y_val),
                                                              (d.x_test, d.y_test))]
    (xt, yt), (xv, yv), (xs, ys) = digits
    if limit is not None:
        xt, yt = xt[:limit], yt[:limit]
    ct, mt = compose(xt, yt, H, W, seed)
    cv, mv = compose(xv, yv, H, W, seed + 1)
    cs, ms = compose(xs, ys, H, W, TEST_SEED + 2)  # the test canvases do not move with the run's seed
    t = torch.from_numpy  # masks stay uint8 (8x smaller); the trainer widens each batch to int64
    return Data("mnist-seg", CLASSES, t(ct), t(mt), t(cv), t(mv), task="segmentation", augment="none",
                info={"canvas": [H, W], "digits_per_canvas": PER_CANVAS, "splits": d.info["splits"]},
                x_test=t(cs), y_test=t(ms), test_name=d.test_name)
