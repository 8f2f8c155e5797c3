"""The issue's headline: the seed CNN trains one epoch on the full MNIST training set to >= 98% test accuracy.

The `trained_mnist_run` fixture (tests/conftest.py) does the training once per session; here torch re-measures
the saved weights on the 10k test set independently of the trainer's own evaluation.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.data.builtin import read_idx
from engine.train.rundir import RunDir
from engine.train.runs import list_runs, load_trained
from engine.train.store import read_json

pytestmark = pytest.mark.slow  # trains the seed CNN for a full epoch on real MNIST


def test_seed_cnn_one_epoch_full_mnist_reaches_98_percent(trained_mnist_run, mnist_root):
    run = trained_mnist_run
    assert RunDir(run).status()["state"] == "finished"
    cfg = read_json(run / "config.json")
    assert cfg["data"] == "mnist" and cfg["epochs"] == 1 and cfg["limit"] is None and cfg["max_steps"] is None

    # torch as the oracle: the best weights, the raw test files, no engine code in the measurement loop
    g, model = load_trained(run, "best")
    assert not model.training
    images = torch.from_numpy(read_idx(mnist_root / "t10k-images-idx3-ubyte.gz")).float().div(255).unsqueeze(1)
    labels = torch.from_numpy(read_idx(mnist_root / "t10k-labels-idx1-ubyte.gz").astype(np.int64))
    with torch.no_grad():
        pred = torch.cat([model(images[i:i + 1000]).argmax(1) for i in range(0, 10000, 1000)])
    acc = (pred == labels).float().mean().item()
    assert acc >= 0.98, f"test accuracy after one epoch: {acc:.4f}"

    res = RunDir(run).results()
    assert res["split"] == "test set" and res["n"] == 10000
    assert abs(res["accuracy"] - acc) < 1e-4
    cm = np.array(res["confusion"])
    assert cm.shape == (10, 10) and cm.sum() == 10000 and np.trace(cm) == round(acc * 10000)
    assert np.allclose(res["per_class_accuracy"], np.diag(cm) / cm.sum(1))
    assert 0 < len(res["misclassified"]) <= 32
    for e in res["misclassified"]:
        assert e["true"] != e["pred"] and e["image"].shape == (1, 28, 28) and e["image"].dtype == np.uint8
        assert pred[e["index"]] == e["pred"] and labels[e["index"]] == e["true"]

    rows, offset = RunDir(run).metrics()
    assert offset == (run / "metrics.jsonl").stat().st_size
    epochs = [r for r in rows if r["kind"] == "epoch"]
    steps = [r for r in rows if r["kind"] == "step"]
    assert len(epochs) == 1 and epochs[0]["step"] == 422 and epochs[0]["epoch"] == 1  # ceil(54000 / 128)
    # validation is 6,000 training digits (never the test set); it chose the weights the test then measured once
    assert res["selected_on"] == "validation" and res["selection"]["val_acc"] == epochs[0]["val_acc"] >= 0.97
    assert res["splits"]["train"] == 54000 and res["splits"]["validation"] == 6000 and res["splits"]["test"] == 10000
    assert [r["kind"] for r in rows][-1] == "test" and rows[-1]["test_acc"] == res["accuracy"]
    assert [r["step"] for r in steps][:4] == [1, 50, 100, 150]  # step 1 is always logged: the divergence reference
    assert all(r["images_per_s"] > 0 and r["train_loss"] > 0 for r in steps)
    assert steps[-1]["train_acc"] > 0.95
    assert any((run / "tb").iterdir()), "TensorBoard events missing"
    listed = list_runs(run.parent)
    assert [r["status"] for r in listed] == ["finished"] and listed[0]["dataset"] == "mnist"
    assert listed[0]["best_val_acc"] >= 0.98
