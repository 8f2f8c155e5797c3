"""mnist-locate / mnist-detect: deterministic canvases whose boxes frame exactly their digit's ink."""
from __future__ import annotations

import hashlib

import numpy as np
import pytest

from engine.data import DataError, load_data
from engine.data.detect import MAX_IOU, MIN_CENTRE_GAP, SIZES, _iou, plan, render


def digest(d) -> str:
    h = hashlib.sha256()
    for t in (d.x_train, d.y_train, d.x_val, d.y_val, d.x_test, d.y_test):
        h.update(t.numpy().tobytes())
    return h.hexdigest()


@pytest.mark.parametrize("kind", ["mnist-locate", "mnist-detect"])
def test_generated_sets_are_deterministic(kind):
    a, b = load_data(kind, limit=300), load_data(kind, limit=300)
    assert digest(a) == digest(b)
    assert digest(load_data(kind, limit=300, seed=1)) != digest(a)


def sample_digits(n=150):
    d = load_data("mnist-sample")
    return d.x_train[:n, 0].numpy(), d.y_train[:n].numpy()


@pytest.mark.parametrize("H, W, M", [(56, 56, 1), (96, 96, 5), (64, 80, 5)])
def test_every_box_frames_its_digits_ink_exactly(H, W, M):
    images, labels = sample_digits()
    canvases = plan(images, labels, H, W, seed=4, max_objects=M)
    x, y = render(canvases, H, W, M)
    assert sum(len(c) for c in canvases) == len(images)  # every digit is used once, in order
    assert [p.label for c in canvases for p in c] == labels.tolist()
    for n, placed in enumerate(canvases):
        assert 1 <= len(placed) <= M
        drawn = np.zeros((H, W), np.uint8)
        for k, p in enumerate(placed):
            ink = np.zeros((H, W), bool)  # this digit's ink alone, where it landed
            ink[p.y0:p.y0 + p.patch.shape[0], p.x0:p.x0 + p.patch.shape[1]] = p.patch > 0
            rows, cols = np.nonzero(ink)
            x1, y1, x2, y2 = y[n, k, 1:]
            assert (x1, y1, x2, y2) == (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)  # tight, encloses
            assert y[n, k, 0] == p.label
            assert SIZES[0] <= max(x2 - x1, y2 - y1) <= SIZES[1] + 1
            np.maximum(drawn, np.where(ink, x[n, 0], 0), out=drawn)
        assert np.array_equal(drawn, x[n, 0])  # no ink on the canvas outside the digits' boxes
        assert (y[n, len(placed):, 0] == -1).all()


def test_overlaps_are_limited_and_centres_fall_in_different_cells():
    d = load_data("mnist-detect", limit=600)
    y = d.y_train.numpy()
    assert (y[:, :, 0] >= 0).sum(1).max() == 5 and (y[:, :, 0] >= 0).sum(1).min() == 1
    for boxes in y:
        real = boxes[boxes[:, 0] >= 0, 1:]
        for i in range(len(real)):
            for j in range(i):
                assert _iou(real[i], real[j]) <= MAX_IOU
                ci, cj = (real[i, :2] + real[i, 2:]) / 2, (real[j, :2] + real[j, 2:]) / 2
                assert np.abs(ci - cj).max() >= MIN_CENTRE_GAP


def test_tasks_and_shapes():
    loc, det = load_data("mnist-locate", limit=100), load_data("mnist-detect", limit=100)
    assert (loc.task, loc.input_shape, tuple(loc.y_train.shape[1:])) == ("localisation", (1, 56, 56), (5,))
    assert (det.task, det.input_shape, tuple(det.y_train.shape[1:])) == ("detection", (1, 96, 96), (5, 5))
    assert load_data("mnist-detect", input_shape=(1, 64, 64), limit=50).input_shape == (1, 64, 64)


def test_a_canvas_too_small_is_refused_with_the_fix():
    with pytest.raises(DataError, match=r"Set the Input shape to \[1, 56, 56\]"):
        load_data("mnist-locate", input_shape=(1, 28, 28))


def test_full_mnist_gives_train_and_test_canvases(mnist_root):
    d = load_data("mnist-locate", mnist_root, limit=200)
    assert d.test_name == "test set" and len(d.x_train) == 200 and len(d.x_val) == 6000 and len(d.x_test) == 10_000
