"""The Inspect page's inputs and helpers without a browser: uploads are checked and fitted, drawings are centred
like MNIST, results are cached by key, figures are built from the engine's results."""
from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from PIL import Image

from designer.inspect import lab_plots, plots
from designer.inspect.cache import ResultStore, key
from designer.inspect.inputs import InputError, centre_digit, decode_upload, digest, drawing_to_input
from engine.visualise import AscentConfig


def png(array: np.ndarray, mode: str = "L", fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array.astype(np.uint8), mode).save(buf, fmt)
    return buf.getvalue()


def test_upload_is_fitted_to_the_model_input_and_ink_on_paper_is_inverted():
    paper = np.full((100, 80), 255, np.uint8)
    paper[20:80, 35:45] = 0  # a dark "1" on white paper
    x, inverted = decode_upload(png(paper), "one.png", (1, 28, 28))
    assert x.shape == (1, 28, 28) and inverted
    assert x[0, 14, 14] > 0.8 and x[0, 0, 0] < 0.05  # light stroke on black, like MNIST
    x2, inverted2 = decode_upload(png(paper), "one.png", (1, 28, 28), invert=False)
    assert not inverted2 and torch.allclose(x2, 1 - x, atol=1e-6)
    rgb = np.zeros((40, 50, 3), np.uint8)
    rgb[..., 0] = 255
    y, inv = decode_upload(png(rgb, "RGB", "JPEG"), "red.jpg", (3, 32, 32))
    assert y.shape == (3, 32, 32) and not inv and y[0].mean() > 0.9 and y[2].mean() < 0.1


def test_upload_refuses_what_is_not_a_picture_or_too_large():
    with pytest.raises(InputError, match="not a readable picture"):
        decode_upload(b"%PDF-1.4 not an image", "doc.pdf", (1, 28, 28))
    with pytest.raises(InputError, match="too large: at most 5 MB"):
        decode_upload(b"0" * (5 * 2**20 + 1), "big.png", (1, 28, 28))
    buf = io.BytesIO()
    Image.new("L", (8, 8)).save(buf, "TIFF")
    with pytest.raises(InputError, match="unsupported picture type TIFF"):
        decode_upload(buf.getvalue(), "scan.tiff", (1, 28, 28))
    with pytest.raises(InputError, match="1 or 3 input channels"):
        decode_upload(png(np.zeros((8, 8))), "x.png", (2, 28, 28))


def test_drawing_is_centred_and_scaled_like_mnist():
    canvas = np.zeros((84, 84), np.float32)
    canvas[5:30, 60:66] = 255  # a short stroke in a corner
    x = centre_digit(canvas)
    assert x.shape == (1, 28, 28)
    rows = np.nonzero(x[0].numpy().max(1) > 0.3)[0]
    assert rows.max() - rows.min() + 1 >= 18  # scaled up to fill the 20-pixel box
    ys, xs = np.nonzero(x[0].numpy())
    w = x[0].numpy()[ys, xs]
    assert abs((ys * w).sum() / w.sum() - 13.5) < 1.5 and abs((xs * w).sum() / w.sum() - 13.5) < 1.5
    assert drawing_to_input(None, 84, (1, 28, 28)) is None
    assert drawing_to_input([0] * 84 * 84, 84, (1, 28, 28)) is None
    assert drawing_to_input(canvas.flatten().tolist(), 84, (1, 28, 28)).shape == (1, 28, 28)
    with pytest.raises(InputError, match="expected 84×84"):
        drawing_to_input([1, 2, 3], 84, (1, 28, 28))


def test_result_store_is_bounded_and_keys_follow_the_settings():
    class Run:
        id, stamp = "run-1", 1.0

    k1 = key(Run, "ascent", AscentConfig(steps=16), ("a", 1))
    assert k1 == key(Run, "ascent", AscentConfig(steps=16), ("a", 1))
    assert k1 != key(Run, "ascent", AscentConfig(steps=32), ("a", 1))
    store = ResultStore(max_entries=2)
    calls = []
    for k in ("a", "b", "a", "c"):
        store.get_or_compute((k,), lambda k=k: calls.append(k) or k.upper())
    assert calls == ["a", "b", "c"] and store.get(("b",)) is None and store.get(("a",)) == "A"
    assert digest(torch.zeros(3)) == digest(torch.zeros(3)) != digest(torch.ones(3))


def test_figures_build_from_results():
    x = torch.rand(1, 28, 28)
    assert len(plots.heat_over(x, torch.rand(28, 28), "Saliency").data) == 2
    assert plots.grid(torch.rand(6, 5, 5), cols=3).data[0].z.shape == (11, 17)
    assert plots.exemplars(torch.rand(4, 3, 8, 8)).data[0].type == "image"
    assert plots.feature_maps(torch.rand(10)).data[0].type == "bar"
    fig = lab_plots.perturbation_curves({"Saliency": ([1.0, 0.5, 0.1], [1.0, 0.9, 0.2])},
                                        {"Saliency": ([0.1, 0.6, 1.0], [0.1, 0.3, 1.0])})
    assert [t.name for t in fig.data] == ["Saliency", "Saliency · random"] * 2  # deletion, then insertion
    assert [t.xaxis for t in fig.data] == ["x", "x", "x2", "x2"]
    assert plots.probabilities(torch.tensor([0.1, 0.9]), ["cat", "dog"]).data[0].marker.color[1] == "#4f46e5"

