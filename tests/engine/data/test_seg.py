"""mnist-seg: real digits on a larger canvas, each ink pixel labelled with its digit, the rest background."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.data import DataError, load_data
from engine.data.seg import CLASSES, INK, compose


def compose_by_loop(images, labels, H, W, seed):
    """The same placement written the obvious way, one digit at a time (the oracle for the vectorised one)."""
    N, h, w = images.shape
    rng = np.random.default_rng(seed)
    partner = [np.arange(N), rng.permutation(N)]
    oy, ox = rng.integers(0, H - h + 1, size=(2, N)), rng.integers(0, W - w + 1, size=(2, N))
    x, m = np.zeros((N, 1, H, W), np.uint8), np.zeros((N, H, W), np.uint8)
    for k in range(2):
        for n in range(N):
            d = partner[k][n]
            for i in range(h):
                for j in range(w):
                    y_, x_ = oy[k, n] + i, ox[k, n] + j
                    x[n, 0, y_, x_] = max(x[n, 0, y_, x_], images[d, i, j])
                    if images[d, i, j] >= INK:
                        m[n, y_, x_] = labels[d] + 1
    return x, m


def test_compose_matches_the_obvious_loop():
    d = load_data("mnist-sample")
    images, labels = d.x_train[:12, 0].numpy(), d.y_train[:12].numpy()
    x, m = compose(images, labels, 40, 36, seed=3)
    x2, m2 = compose_by_loop(images, labels, 40, 36, seed=3)
    assert np.array_equal(x, x2) and np.array_equal(m, m2)


def test_masks_label_ink_with_the_digit_and_everything_else_background():
    d = load_data("mnist-seg", input_shape=(1, 48, 48), limit=200)
    assert d.task == "segmentation" and d.classes == CLASSES and d.num_classes == 11
    assert d.x_train.shape == (200, 1, 48, 48) and d.y_train.shape == (200, 48, 48)
    assert d.x_val.shape == (900, 1, 48, 48) and d.x_test.shape == (1000, 1, 48, 48) and d.y_train.dtype == torch.uint8
    x, m = d.x_train[:, 0], d.y_train
    assert torch.equal(m > 0, x >= INK)  # ink <=> a digit label (the brighter stroke wins an overlap)
    assert (m == 0).float().mean() > 0.7  # mostly background, as on a real page
    present = {int(v) for v in m.unique()}
    assert present == set(range(11))


def test_the_canvas_follows_the_graph_input_and_is_checked():
    assert load_data("mnist-seg", limit=5).x_train.shape[1:] == (1, 64, 64)
    with pytest.raises(DataError, match=r"Input must be 1×H×W with H and W >= 28.*1×20×20"):
        load_data("mnist-seg", input_shape=(1, 20, 20), limit=5)


def test_mnist_seg_from_the_full_idx_files(mnist_root):
    d = load_data("mnist-seg", mnist_root, input_shape=(1, 32, 32), limit=100)
    assert len(d.x_train) == 100 and len(d.x_val) == 6000 and len(d.x_test) == 10000 and d.test_name == "test set"
