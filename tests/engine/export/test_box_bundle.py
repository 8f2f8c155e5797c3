"""A box task's bundle: box_loss.py is the app's losses (same numbers), and train.py, run in a fresh process that
cannot import the engine, trains the exported detector / localiser on the shipped sample: the loss falls and it
writes weights that load into the exported model."""
from __future__ import annotations

import importlib.util
import json
import re
import sys
import zipfile
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from engine.data import load_data
from engine.detect.loss import detection_loss, localisation_loss
from engine.export.bundle import build_bundle, sample_of
from engine.templates import load_template
from tests.engine.export.test_bundle import run

SHAPES = {"tiny_grid_detector": ("mnist-detect", (1, 96, 96)), "digit_localiser": ("mnist-locate", (1, 56, 56))}


def bundle(template: str, tmp: Path, n_train: int = 64) -> Path:
    source, shape = SHAPES[template]
    data = load_data(source, input_shape=shape, limit=200)
    z = build_bundle(load_template(template), tmp / "b.zip", sample=sample_of(data, n_train=n_train, n_val=32),
                     train_config={"data": source, "epochs": 1, "batch_size": 16, "optimizer": "adam", "lr": 2e-3,
                                   "seed": 0})
    with zipfile.ZipFile(z) as zf:
        zf.extractall(tmp / "out")
    return next((tmp / "out").iterdir())


def import_file(path: Path):
    spec = importlib.util.spec_from_file_location(f"bundle_{path.stem}_{id(path)}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_bundles_box_loss_is_the_apps(tmp_path):
    folder = bundle("tiny_grid_detector", tmp_path)
    mod = import_file(folder / "box_loss.py")
    torch.manual_seed(0)
    y = torch.tensor([[[3, 10, 12, 40, 50], [7, 50, 50, 90, 94], [-1, 0, 0, 0, 0]],
                      [[1, 0, 0, 30, 20], [-1, 0, 0, 0, 0], [-1, 0, 0, 0, 0]]], dtype=torch.float32)
    out = torch.randn(2, 15, 6, 6)
    got, want = mod.detection_loss(out, y, (96, 96)), detection_loss(out, y, (96, 96))
    assert set(got) == {"loss", "obj", "cls", "box"}
    assert all(torch.equal(got[k], want[k]) for k in want)
    logits, box = torch.randn(2, 10), torch.randn(2, 4)
    yl = torch.tensor([[4, 5, 6, 30, 40], [9, 10, 2, 50, 55]], dtype=torch.float32)
    got, want = mod.localisation_loss(logits, box, yl, (56, 56), 0.1), localisation_loss(logits, box, yl, (56, 56), 0.1)
    assert all(torch.equal(got[k], want[k]) for k in want)
    cfg = json.loads((folder / "train_config.json").read_text())
    assert cfg["task"] == "detection" and cfg["input_shape"] == [1, 96, 96]


def losses_printed(stdout: str) -> list[float]:
    return [float(m) for m in re.findall(r"^step \d+/\d+ +loss ([\d.]+)", stdout, flags=re.M)]


@pytest.mark.slow
@pytest.mark.parametrize("template", ["tiny_grid_detector", "digit_localiser"])
def test_the_bundles_train_py_trains_the_box_model(tmp_path, template):
    folder = bundle(template, tmp_path, n_train=96)
    steps = 24
    p = run([sys.executable, "-I", "train.py", "--device", "cpu", "--epochs", "10", "--max-steps", str(steps),
             "--log-every", "1", "--init", "weights.safetensors", "--out", "w.safetensors"], folder)
    assert p.returncode == 0, p.stdout + p.stderr
    loss = losses_printed(p.stdout)
    assert len(loss) == steps, p.stdout
    first, last = sum(loss[:4]) / 4, sum(loss[-4:]) / 4
    print(f"{template}: train loss first 4 steps {first:.3f}, last 4 {last:.3f}")
    assert last < 0.8 * first, p.stdout  # it learns: the loss of the shipped sample falls
    assert "epoch" in p.stdout and "validation loss" in p.stdout
    assert "kept the weights of epoch" in p.stdout  # the epoch of the lowest validation loss
    assert p.stdout.count("test, once, on those weights: loss") == 1  # the sample's held-out test boxes, at the end
    sys.path.insert(0, str(folder))
    try:
        net = import_file(folder / "model.py").Net()
    finally:
        sys.path.remove(str(folder))
    trained, start = load_file(folder / "w.safetensors"), load_file(folder / "weights.safetensors")
    net.load_state_dict(trained)  # the written weights fit the exported model
    assert any(not torch.equal(trained[k], start[k]) for k in start if start[k].is_floating_point())
