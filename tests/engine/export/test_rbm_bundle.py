"""A recommender's bundle: test_model.py reproduces the app's recommendations (and fails when they differ);
train.py runs the CD loop on the shipped ratings."""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from safetensors.torch import load_file

from engine.export.bundle import bundle_from_run
from engine.train.tasks import TASK_DEFAULTS
from engine.train.trainer import train
from engine.visualise.recommender import load_recommender


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("rbm")
    rng = np.random.default_rng(1)
    lines = ["userId,movieId,rating"] + [f"{u},{m},{rng.choice([1, 2.5, 4, 5])}" for u in range(1, 31)
                                         for m in range(1, 41) if rng.random() < 0.4]
    (tmp / "ratings.csv").write_text("\n".join(lines) + "\n")
    (tmp / "movies.csv").write_text("movieId,title,genres\n" + "".join(f"{m},Film {m} (2000),Drama\n"
                                                                      for m in range(1, 41)))
    g = {"format": "convas-graph", "version": 1, "name": "rbm", "outputs": ["rbm"],
         "task": {"kind": "recommendation", "num_classes": 10},
         "nodes": [{"id": "movies", "op": "Input", "params": {"shape": [40]}},
                   {"id": "rbm", "op": "RBM", "params": {"hidden": 6}, "inputs": ["movies"]}]}
    run = train(g, {**TASK_DEFAULTS["recommendation"], "data": str(tmp / "ratings.csv"), "epochs": 3,
                    "batch_size": 8, "val_fraction": 0.2}, tmp / "run")
    z = bundle_from_run(run, tmp / "b.zip")
    with zipfile.ZipFile(z) as zf:
        zf.extractall(tmp / "out")
    return run, next((tmp / "out").iterdir())


def test_bundle_reproduces_the_apps_recommendations(bundle):
    run, folder = bundle
    p = subprocess.run([sys.executable, "test_model.py"], cwd=folder, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "3/3 checks passed" in p.stdout and "first user's top 3: Film" in p.stdout
    # the recommendations it checks are the app's own (Inspect's) for the same users
    rec = load_recommender(run)
    z = load_file(str(folder / "sample.safetensors"))
    assert len(z["input_0"]) == len(rec.data.x_val)
    for row, user in enumerate(rec.data.info["val_users"]):
        app = [m["movie_id"] for m in rec.recommend(user, 10)]
        assert [rec.movie_ids[i] for i in z["recommend_index"][row].tolist()] == app


def test_bundle_test_fails_when_the_weights_change(bundle, tmp_path):
    _, folder = bundle
    w = load_file(str(folder / "weights.safetensors"))
    w["rbm.W"] = w["rbm.W"].flip(0)
    import shutil

    from safetensors.torch import save_file
    other = tmp_path / "copy"
    shutil.copytree(folder, other)
    save_file(w, str(other / "weights.safetensors"))
    p = subprocess.run([sys.executable, "test_model.py"], cwd=other, capture_output=True, text=True, timeout=300)
    assert p.returncode == 1 and "FAIL  test_recommendations_match_the_app" in p.stdout


def test_bundle_train_py_runs_contrastive_divergence(bundle, tmp_path):
    _, folder = bundle
    cfg = json.loads((folder / "train_config.json").read_text())
    assert cfg["task"] == "recommendation" and cfg["train"]["cd_k"] == 1 and cfg["classes"][0] == "Film 1 (2000)"
    out = tmp_path / "re.safetensors"
    p = subprocess.run([sys.executable, "train.py", "--epochs", "4", "--out", str(out)], cwd=folder,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    errs = [float(line.split("train ")[1].split()[0]) for line in p.stdout.splitlines() if line.startswith("epoch")]
    assert len(errs) == 4 and errs[-1] < errs[0] and out.is_file()
