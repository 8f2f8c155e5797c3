"""Localisation and detection data made from real MNIST: digits scaled and placed on a larger canvas, with boxes.

- `mnist-locate`: one digit per 56×56 canvas; the label is (class, x1, y1, x2, y2), shape (N, 5).
- `mnist-detect`: 1–5 digits per 96×96 canvas; labels (N, MAX_OBJECTS, 5), rows of class -1 are padding.

Boxes are float pixel corners in torchvision's convention (x1, y1, x2, y2), the pixel (i, j) covering
[j, j+1) × [i, i+1): a box is the tight frame of its digit's ink (every pixel > 0 of the scaled digit). Each digit
is first cropped to its ink, then scaled (bilinear, antialiased) so its longer side is SIZES px. Everything is
drawn from one seeded numpy generator, so a seed gives the same canvases on every machine.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from engine.data.base import TEST_SEED, Data, DataError
from engine.data.builtin import DIGITS, mnist_digit_splits

LOCATE_CANVAS = (56, 56)
DETECT_CANVAS = (96, 96)
SIZES = (14, 40)  # the longer side of a placed digit, inclusive range (pixels)
MAX_OBJECTS = 5  # digits per detection canvas: 1..MAX_OBJECTS
MAX_IOU = 0.15  # two digits on one canvas overlap at most this much (IoU of their boxes)
MIN_CENTRE_GAP = 16  # and their centres are at least this far apart along x or y (Chebyshev distance), so
# a grid with cells of up to 16 px never has two centres in one cell


@dataclass
class Placed:
    """One digit on a canvas: its class, its scaled image and where its top-left pixel lands."""

    label: int
    patch: np.ndarray  # uint8 (h, w), the scaled digit cropped to its ink
    y0: int
    x0: int

    @property
    def box(self) -> tuple[float, float, float, float]:
        h, w = self.patch.shape
        return (float(self.x0), float(self.y0), float(self.x0 + w), float(self.y0 + h))


def _crop(img: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(img.any(1))[0], np.nonzero(img.any(0))[0]
    return img[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def scale_digit(img: np.ndarray, size: int) -> np.ndarray:
    """A 28×28 digit cropped to its ink and scaled so its longer side is `size`, cropped to its ink again."""
    c = _crop(img)
    h, w = c.shape
    L = max(h, w)
    nh, nw = max(1, round(h * size / L)), max(1, round(w * size / L))
    t = torch.from_numpy(c.astype(np.float32))[None, None]
    out = F.interpolate(t, size=(nh, nw), mode="bilinear", align_corners=False, antialias=True)
    patch = out[0, 0].round().clamp(0, 255).to(torch.uint8).numpy()
    return _crop(patch) if patch.any() else c


def _iou(a, b) -> float:
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])
    return inter / (area(a) + area(b) - inter)


def _fits(box, others) -> bool:
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    for o in others:
        ox, oy = (o[0] + o[2]) / 2, (o[1] + o[3]) / 2
        if max(abs(cx - ox), abs(cy - oy)) < MIN_CENTRE_GAP or _iou(box, o) > MAX_IOU:
            return False
    return True


def plan(images: np.ndarray, labels: np.ndarray, H: int, W: int, seed: int, max_objects: int) -> list[list[Placed]]:
    """Which digits go on which canvas, at what size and place. Digits are used in order, 1..max_objects per
    canvas (always 1 when max_objects is 1); a digit that finds no free place in 30 tries starts the next canvas."""
    rng = np.random.default_rng(seed)
    canvases: list[list[Placed]] = []
    i, N = 0, len(images)
    while i < N:
        want = int(rng.integers(1, max_objects + 1))
        placed: list[Placed] = []
        while len(placed) < want and i < N:
            patch = scale_digit(images[i], int(rng.integers(SIZES[0], SIZES[1] + 1)))
            h, w = patch.shape
            for _ in range(30):
                p = Placed(int(labels[i]), patch, int(rng.integers(0, H - h + 1)), int(rng.integers(0, W - w + 1)))
                if _fits(p.box, [q.box for q in placed]):
                    placed.append(p)
                    i += 1
                    break
            else:
                break  # this digit opens the next canvas
        canvases.append(placed)
    return canvases


def render(canvases: list[list[Placed]], H: int, W: int, max_objects: int) -> tuple[np.ndarray, np.ndarray]:
    """Canvases uint8 (N, 1, H, W) (digits drawn with max where they overlap) and labels float32
    (N, max_objects, 5) = (class, x1, y1, x2, y2), padded with class -1 and a zero box."""
    x = np.zeros((len(canvases), 1, H, W), np.uint8)
    y = np.zeros((len(canvases), max_objects, 5), np.float32)
    y[:, :, 0] = -1
    for n, placed in enumerate(canvases):
        for k, p in enumerate(placed):
            h, w = p.patch.shape
            region = x[n, 0, p.y0:p.y0 + h, p.x0:p.x0 + w]
            np.maximum(region, p.patch, out=region)
            y[n, k] = (p.label, *p.box)
    return x, y


def _canvas(kind: str, input_shape: tuple[int, ...] | None) -> tuple[int, int]:
    H, W = LOCATE_CANVAS if kind == "mnist-locate" else DETECT_CANVAS
    if input_shape is None:
        return H, W
    if len(input_shape) != 3 or input_shape[0] != 1 or min(input_shape[1:]) < SIZES[1] + 2:
        raise DataError(f"{kind} draws digits up to {SIZES[1]} px on a 1-channel canvas, so the Input must be 1×H×W "
                        f"with H and W >= {SIZES[1] + 2}. Received: input shape {'×'.join(map(str, input_shape))}. "
                        f"Set the Input shape to [1, {H}, {W}].")
    return tuple(input_shape[1:])


def load_mnist_boxes(kind: str, root: str | os.PathLike | None = None, *, input_shape: tuple[int, ...] | None = None,
                     val_fraction: float = 0.1, seed: int = 0, limit: int | None = None) -> Data:
    """mnist-locate or mnist-detect from the MNIST idx files in root (train -> train and validation canvases, test
    -> test canvases), else from the bundled sample split three ways. `limit` caps the training digits used."""
    H, W = _canvas(kind, input_shape)
    d = mnist_digit_splits(root, val_fraction, seed)
    digits = [(t[:, 0].numpy(), lab.numpy()) for t, lab in ((d.x_train, d.y_train), (d.x_val, d.y_val),
                                                              (d.x_test, d.y_test))]
    (xt, yt), (xv, yv), (xs, ys) = digits
    if limit is not None:
        xt, yt = xt[:limit], yt[:limit]
    M = 1 if kind == "mnist-locate" else MAX_OBJECTS
    out = []
    for imgs, labs, s in ((xt, yt, seed), (xv, yv, seed + 1), (xs, ys, TEST_SEED + 2)):  # test: a fixed layout
        x, y = render(plan(imgs, labs, H, W, s, M), H, W, M)
        out.append((torch.from_numpy(x), torch.from_numpy(y[:, 0] if M == 1 else y)))
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = out
    task = "localisation" if M == 1 else "detection"
    return Data(kind, list(DIGITS), x_train, y_train, x_val, y_val, task=task, augment="none",
                info={"canvas": [H, W], "max_objects": M, "sizes": list(SIZES), "splits": d.info["splits"]},
                x_test=x_test, y_test=y_test, test_name=d.test_name)
