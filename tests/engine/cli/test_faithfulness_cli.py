"""python -m engine faithfulness: the lab from the command line, its JSON, and its refusals in words."""
from __future__ import annotations

import json

import pytest

from engine.__main__ import main
from engine.train.rundir import RunDir
from engine.train.runs import new_run_dir, stop_run
from engine.train.trainer import TrainConfig, train
from tests.conftest import TEMPLATES


def test_bad_arguments_are_refused_with_the_fix(tmp_path, capsys):
    assert main(["faithfulness", str(tmp_path), "--methods", "Sailency"]) == 2
    assert "unknown method(s) Sailency. Known: Saliency" in capsys.readouterr().out
    assert main(["faithfulness", str(tmp_path), "--images", "1"]) == 2
    assert "--images must be at least 2" in capsys.readouterr().out
    assert main(["faithfulness", str(tmp_path / "nope")]) == 2
    assert capsys.readouterr().out.startswith("error:")


@pytest.mark.slow
def test_the_lab_prints_intervals_and_verdicts_and_starts_the_shuffled_twin(tmp_path, capsys):
    run_dir = new_run_dir(tmp_path, "cnn")
    train(TEMPLATES / "mnist_cnn.json", TrainConfig(data="mnist-sample", epochs=1, max_steps=5, seed=0), run_dir)
    capsys.readouterr()  # the trainer's own lines
    assert main(["faithfulness", str(run_dir), "--images", "6", "--methods", "Saliency", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    r = out["Saliency"]
    assert r["images"] == 6 and r["deletion"]["n"] == 6 and r["deletion"]["lo"] <= r["deletion"]["hi"]
    assert r["cascade"]["layers"] == ["fc2", "fc1", "conv2", "conv1"] and len(r["cascade"]["abs_rho"]) == 4
    assert r["verdict"].startswith("Saliency: deletion ") and r["data_randomisation"] is None
    assert main(["faithfulness", str(run_dir), "--images", "6", "--methods", "Saliency"]) == 0
    text = capsys.readouterr().out
    assert "6 images of" in text and "cascade mean |ρ|: +fc2" in text
    assert main(["faithfulness", str(run_dir), "--train-shuffled"]) == 0
    assert "on shuffled labels" in capsys.readouterr().out
    (twin,) = [d for d in tmp_path.iterdir() if d != run_dir]
    assert RunDir(twin).config().shuffle_labels and RunDir(twin).graph().to_json() == RunDir(run_dir).graph().to_json()
    stop_run(twin)  # the test only needed it started; its own test (tests/designer/inspect) trains one to the end
