"""Templates that need more than a CNN learn for real: the LSTM over MNIST rows and the segmentation U-Net.

Both templates are written by other engineers; these tests fail (never skip) when they are missing from
assets/templates/index.json.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.data import load_data, to_float
from engine.train.rundir import RunDir
from engine.train.runs import load_trained
from engine.train.trainer import TrainConfig, train

pytestmark = pytest.mark.slow  # trains an LSTM and a U-Net for real

TEMPLATES = Path(__file__).resolve().parents[3] / "assets" / "templates"


def template(name: str) -> Path:
    index = json.loads((TEMPLATES / "index.json").read_text())
    assert name in index and (TEMPLATES / f"{name}.json").is_file(), \
        f"template '{name}' is missing from assets/templates (index has {sorted(index)})"
    return TEMPLATES / f"{name}.json"


# Found by a sweep over batch size (8-32), lr (2e-3 to 2e-2) and clipping: the LSTM needs many small steps in its
# one epoch; with torch's default init (forget-gate bias ~0) it sits near 90%, so the test takes the middle seed.
LSTM_CONFIG = dict(batch_size=8, lr=1e-2, clip_grad_norm=1.0, seed=1)  # seeds 0, 1, 2: 90.5%, 92.5%, 91.5%


def test_lstm_rows_template_reaches_90_percent_after_one_epoch_on_10k_digits(mnist_root, tmp_path):
    g = json.loads(template("lstm_rows").read_text())
    assert {"ToSequence", "LSTM"} <= {n["op"] for n in g["nodes"]}
    run = train(g, TrainConfig(data="mnist", data_root=str(mnist_root), limit=10_000, epochs=1, **LSTM_CONFIG),
                tmp_path / "lstm")
    assert RunDir(run).status()["state"] == "finished", RunDir(run).status()["message"]
    res = RunDir(run).results()
    assert res["split"] == "test set" and res["n"] == 10_000
    _, model = load_trained(run)  # torch re-measures the saved weights on the 10k test digits
    d = load_data("mnist", mnist_root)
    with torch.no_grad():
        pred = torch.cat([model(to_float(d.x_test[i:i + 1000])).argmax(1) for i in range(0, 10_000, 1000)])
    acc = (pred == d.y_test).float().mean().item()
    assert abs(acc - res["accuracy"]) < 1e-4
    assert acc >= 0.90, f"LSTM rows after one epoch on 10k digits: {acc:.4f}"


def test_segmentation_template_beats_the_all_background_baseline(tmp_path):
    g = json.loads(template("unet").read_text())
    assert g["task"]["kind"] == "segmentation"
    # 256 steps on 2048 canvases: about a minute on 2 CPU cores. It learns ink vs background first, then which
    # digit; mean IoU ~0.14 here against ~0.086 for all-background (3 epochs reach ~0.25, too slow for CI).
    run = train(g, TrainConfig(data="mnist-seg", limit=2048, batch_size=8, epochs=1, lr=3e-3, log_every=32,
                               val_fraction=0.05), tmp_path / "unet")
    assert RunDir(run).status()["state"] == "finished", RunDir(run).status()["message"]
    res = RunDir(run).results()
    in_shape = tuple(next(n for n in g["nodes"] if n["op"] == "Input")["params"]["shape"])
    d = load_data("mnist-seg", input_shape=in_shape, val_fraction=0.05, limit=1)  # the same 1,000 test canvases
    y = d.y_test.long()
    assert res["split"] == "test" and res["n"] == 1000 and res["selected_on"] == "validation"
    K = d.num_classes

    def miou(pred: torch.Tensor) -> float:  # plain numpy IoU over the whole split, classes that occur
        p, t = pred.numpy().ravel(), y.numpy().ravel()
        ious = [((p == k) & (t == k)).sum() / ((p == k) | (t == k)).sum() for k in range(K)
                if ((p == k) | (t == k)).any()]
        return float(np.mean(ious))

    baseline = miou(torch.zeros_like(y))  # everything background
    _, model = load_trained(run)
    with torch.no_grad():
        pred = torch.cat([model(to_float(d.x_test[i:i + 100])).argmax(1) for i in range(0, len(y), 100)])
    ours = miou(pred)
    assert abs(ours - res["miou"]) < 1e-6
    assert ours >= 1.4 * baseline and ours >= baseline + 0.03, \
        f"mean IoU {ours:.3f} vs all-background {baseline:.3f}"
    assert res["iou"][0] > 0.9  # background itself is segmented well
    rows = RunDir(run).metrics()[0]
    assert rows[-1]["kind"] == "test" and rows[-1]["test_miou"] == res["miou"]  # once, at the end
    assert rows[-2]["kind"] == "epoch" and rows[-2]["val_miou"] == res["selection"]["val_miou"]
    ex = res["examples"][0]
    assert ex["image"].shape == in_shape and ex["true_mask"].shape == ex["pred_mask"].shape == in_shape[1:]
