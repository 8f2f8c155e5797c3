"""Box-aware augmentation: every box still frames exactly its object's pixels after the shift and the flip."""
from __future__ import annotations

import pytest
import torch

from engine.detect.augment import augment_boxes
from engine.train.augment import crop_pad


def canvases(B=24, H=48, W=64, M=3, seed=0):
    """Images where object k of an image is a filled rectangle of value (k + 1) / 10 exactly over its box; rows of
    class -1 are padding (some images have fewer objects)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.zeros(B, 1, H, W)
    y = torch.zeros(B, M, 5)
    y[:, :, 0] = -1
    for b in range(B):
        for k in range(1 + b % M):
            w, h = int(torch.randint(4, 14, (1,), generator=g)), int(torch.randint(4, 14, (1,), generator=g))
            x0 = int(torch.randint(0, W - w + 1, (1,), generator=g))
            y0 = int(torch.randint(0, H - h + 1, (1,), generator=g))
            x[b, 0, y0:y0 + h, x0:x0 + w] = (k + 1) / 10  # later objects paint over earlier ones: check the last
            y[b, k] = torch.tensor([k, x0, y0, x0 + w, y0 + h], dtype=torch.float)
    return x, y


def frame(mask: torch.Tensor) -> list[float]:
    rows, cols = mask.any(1).nonzero()[:, 0], mask.any(0).nonzero()[:, 0]
    return [float(cols.min()), float(rows.min()), float(cols.max() + 1), float(rows.max() + 1)]


@pytest.mark.parametrize("mode", ["crop", "flip", "crop+flip"])
def test_boxes_follow_the_pixels(mode):
    x, y = canvases()
    ax, ay = augment_boxes(x, y, mode, torch.Generator().manual_seed(1))
    assert ax.shape == x.shape and ay.shape == y.shape
    assert torch.equal(ay[..., 0], y[..., 0])  # classes and padding rows unchanged
    moved = 0
    for b in range(len(x)):
        n = int((y[b, :, 0] >= 0).sum())
        last = n - 1  # painted last, so wholly visible: its pixels frame its box exactly
        assert frame(ax[b, 0] == (last + 1) / 10) == ay[b, last, 1:].tolist(), (b, mode)
        assert torch.equal(ay[b, n:], y[b, n:])
        for k in range(n):  # every box inside the image, same size
            x1, y1, x2, y2 = ay[b, k, 1:].tolist()
            assert 0 <= x1 and x2 <= 64 and 0 <= y1 and y2 <= 48
            assert (x2 - x1, y2 - y1) == tuple((y[b, k, 3:5] - y[b, k, 1:3]).tolist())
        assert sorted(ax[b].unique().tolist()) == sorted(x[b].unique().tolist())  # no pixel of an object lost
        moved += not torch.equal(ax[b], x[b])
    assert moved >= len(x) // 3  # it does augment
    if mode == "crop":
        shift = (ay[..., 1:3] - y[..., 1:3]).abs()
        assert shift.max() <= crop_pad(48) and shift.max() > 0


def test_a_localisation_label_keeps_its_one_box_and_a_resumed_generator_draws_the_same():
    x, y = canvases(M=1)
    y1 = y[:, 0]
    a = augment_boxes(x, y1, "crop+flip", torch.Generator().manual_seed(3))
    b = augment_boxes(x, y1, "crop+flip", torch.Generator().manual_seed(3))
    assert a[1].shape == (24, 5) and torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    for i in range(len(x)):
        assert frame(a[0][i, 0] > 0) == a[1][i, 1:].tolist()
    assert augment_boxes(x, y1, "none", torch.Generator()) == (x, y1)
