"""A language model leaves Convas intact: the exported code carries the state exactly as the app does, and the
bundle of a trained run reproduces the app's logits and retrains with train.py."""
from __future__ import annotations

import importlib.util
import json
import sys

import pytest
import torch

from engine.codegen import build_module, to_python
from engine.data.text import load_text
from engine.export.bundle import bundle_from_run
from engine.train.trainer import train
from tests.engine.export.test_bundle import run, unzip
from tests.engine.lm.graphs import lm_graph
from tests.engine.lm.test_train import corpus


def test_exported_code_carries_the_state_like_the_app(tmp_path):
    g = lm_graph(V=40, T=6, H=8, layers=2)
    torch.manual_seed(0)
    app = build_module(g).eval()
    path = tmp_path / "model.py"
    path.write_text(to_python(g), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("exported_lm", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    exported = mod.Net().eval()
    exported.load_state_dict(app.state_dict())
    batches = [torch.randint(0, 40, (3, 6)) for _ in range(3)]
    with torch.no_grad():
        for x in batches:  # consecutive windows: the second and third start from the carried state
            assert torch.equal(app(x), exported(x))
        app.reset_state()
        exported.reset_state()
        assert torch.equal(app(batches[1]), exported(batches[1]))
        assert not torch.equal(app(batches[1]), build_module(g).eval()(batches[1]))  # weights matter: not vacuous


@pytest.mark.slow
def test_bundle_of_a_language_model_run_reproduces_the_app_and_retrains(tmp_path):
    data = corpus(tmp_path / "text.txt", lines=300)
    V = len(load_text(str(data)).vocab)
    g = lm_graph(V=V, T=8, H=12, layers=2)
    cfg = {"data": str(data), "epochs": 1, "batch_size": 4, "optimizer": "sgd", "lr": 1.0, "momentum": 0.0,
           "schedule": "constant", "clip_grad_norm": 5.0, "init_uniform": 0.1, "lr_decay": 0.5, "lr_decay_after": 1,
           "device": "cpu", "max_steps": 10}
    rd = train(g, cfg, tmp_path / "run")
    assert json.loads((rd / "status.json").read_text())["state"] == "finished"
    folder = unzip(bundle_from_run(rd, tmp_path / "lm.zip"), tmp_path / "unzipped")
    settings = json.loads((folder / "train_config.json").read_text())
    assert settings["task"] == "language_model" and len(settings["classes"]) == V
    assert settings["train"]["init_uniform"] == 0.1 and settings["train"]["lr_decay"] == 0.5
    checked = run([sys.executable, "-I", "test_model.py"], folder)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "3/3 checks passed" in checked.stdout
    retrained = run([sys.executable, "-I", "train.py", "--device", "cpu", "--max-steps", "6", "--log-every", "3"],
                    folder)
    assert retrained.returncode == 0, retrained.stdout + retrained.stderr
    assert "val perplexity" in retrained.stdout and "words/s" in retrained.stdout
    # the run's test text ships too: scored once, after training, on the weights validation kept
    assert "kept the weights of epoch 1 (best validation perplexity)" in retrained.stdout
    assert retrained.stdout.count("test, once, on those weights: loss") == 1
    assert (folder / "retrained.safetensors").is_file()
