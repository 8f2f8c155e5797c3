"""The recommendation task: one CD-1 step against a NumPy transcription of the seed's update, exact resume (CD with
momentum and persistent CD), the refusals, and (slow) the seed's settings on MovieLens-small."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.codegen import build_module
from engine.data.ratings import SAMPLE_PATH
from engine.train.rundir import RunDir
from engine.train.store import read_weights
from engine.train.tasks import TASK_DEFAULTS
from engine.train.trainer import train

SMALL = Path(__file__).resolve().parents[3].parent / "shared" / "data" / "movielens" / "ml-latest-small.zip"


def graph(movies: int, hidden: int = 5, units: str = "binary") -> dict:
    return {"format": "convas-graph", "version": 1, "name": "rbm", "outputs": ["rbm"],
            "task": {"kind": "recommendation", "num_classes": 10},
            "nodes": [{"id": "movies", "op": "Input", "params": {"shape": [movies]}},
                      {"id": "rbm", "op": "RBM", "params": {"hidden": hidden, "visible_units": units},
                       "inputs": ["movies"]}]}


@pytest.fixture
def ratings(tmp_path) -> Path:
    """12 users × 8 movies with a pattern to learn (two tastes), a third of the cells rated."""
    rng = np.random.default_rng(0)
    lines = ["userId,movieId,rating"]
    for u in range(12):
        for m in range(8):
            if rng.random() < 0.6:
                taste = 4.5 if (u % 2) == (m % 2) else 1.5
                lines.append(f"{u + 1},{m + 1},{taste + rng.choice([-0.5, 0, 0.5])}")
    p = tmp_path / "ratings.csv"
    p.write_text("\n".join(lines) + "\n")
    return p


def cfg(data, **kw) -> dict:
    return {**TASK_DEFAULTS["recommendation"], "data": str(data), "val_fraction": 0.25, "log_every": 1, **kw}


def weights(run: Path, which: str = "last") -> dict[str, np.ndarray]:
    tensors, _ = read_weights(RunDir(run).weights(which))
    return {k: v.numpy() for k, v in tensors.items()}


def test_one_cd1_step_is_the_seeds_update_in_numpy(tmp_path, ratings):
    g = graph(8, hidden=5)
    run = train(g, cfg(ratings, batch_size=8, max_steps=1, lr=1.0), tmp_path / "run")  # the 8 training users
    assert json.loads((run / "status.json").read_text())["state"] == "finished", (run / "log.txt").read_text()
    # the same data and initial weights the trainer had (seed 0)
    from engine.data import load_data
    d = load_data(str(ratings), input_shape=(8,), val_fraction=0.25, seed=0)
    torch.manual_seed(0)
    init = build_module(g).rbm
    W, vb, hb = (t.detach().numpy().astype(np.float64) for t in (init.W, init.vb, init.hb))
    # the batch (epoch 0's order) and the uniforms the two Bernoulli draws use, in the trainer's order
    assert len(d.x_train) == 8  # 12 users: 1 for testing, 3 of the other 11 for validation
    perm = torch.randperm(8, generator=torch.Generator().manual_seed(0 * 1_000_003 + 0))
    v0 = d.x_train[perm].numpy().astype(np.float64)
    gen = torch.Generator().manual_seed(0)
    u_h = torch.rand(8, 5, generator=gen).numpy()
    u_v = torch.rand(8, 8, generator=gen).numpy()
    sig = lambda x: 1 / (1 + np.exp(-x))
    # the seed: _h0 = sigmoid(v0 W + hb); h0 = relu(sign(_h0 - rand)); _v1 = sigmoid(h0 Wᵀ + vb); v1 likewise;
    # h1 = sigmoid(v1 W + hb); W += α (v0ᵀh0 - v1ᵀh1) / batch; vb += α mean(v0 - v1); hb += α mean(h0 - h1)
    h0 = np.maximum(np.sign(sig(v0 @ W + hb) - u_h), 0)
    v1 = np.maximum(np.sign(sig(h0 @ W.T + vb) - u_v), 0)
    h1 = sig(v1 @ W + hb)
    alpha = 1.0
    W_new = W + alpha * (v0.T @ h0 - v1.T @ h1) / len(v0)
    vb_new = vb + alpha * (v0 - v1).mean(0)
    hb_new = hb + alpha * (h0 - h1).mean(0)
    got = weights(run)
    np.testing.assert_allclose(got["rbm.W"], W_new, atol=1e-6)
    np.testing.assert_allclose(got["rbm.vb"], vb_new, atol=1e-6)
    np.testing.assert_allclose(got["rbm.hb"], hb_new, atol=1e-6)
    assert not np.allclose(W_new, W)  # the step did something


@pytest.mark.parametrize("extra", [{"momentum": 0.5, "weight_decay": 1e-3, "cd_k": 2},
                                   {"persistent_cd": True, "momentum": 0.5},
                                   {"units": "softmax"}])
def test_resume_is_exact(tmp_path, ratings, extra):
    extra = dict(extra)
    g = graph(8, hidden=4, units=extra.pop("units", "binary"))
    c = cfg(ratings, batch_size=4, epochs=3, lr=0.5, **extra)  # 9 users: 3 steps an epoch, the last one short
    straight = train(g, c, tmp_path / "straight")
    split = train(g, c, tmp_path / "split", should_stop=lambda step: step >= 4)
    assert json.loads((split / "status.json").read_text())["state"] == "stopped"
    train(g, c, split)  # resume
    for which in ("last", "best"):
        a, b = weights(straight, which), weights(split, which)
        for k in a:
            np.testing.assert_array_equal(a[k], b[k], err_msg=f"{which} {k}")
    rows = lambda run: [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())
                        if r["kind"] == "epoch"]
    assert [r["val_rmse"] for r in rows(straight)] == [r["val_rmse"] for r in rows(split)]
    res = json.loads((split / "results.json").read_text())
    assert res["task"] == "recommendation" and set(res["metrics"]) == {"model", "global mean", "movie mean",
                                                                       "most popular"}


def test_a_checkpoint_written_before_the_shared_run_state_still_resumes_exactly(tmp_path, ratings):
    """RBM checkpoints once held only their own keys; Run's shared state added rng_cuda, start_loss and warning."""
    g, c = graph(8, hidden=4), cfg(ratings, batch_size=4, epochs=2, lr=0.5, persistent_cd=True, momentum=0.5)
    straight = train(g, c, tmp_path / "straight")
    split = train(g, c, tmp_path / "split", should_stop=lambda step: step >= 4)
    rd = RunDir(split)
    path = rd.checkpoints / rd.last_checkpoint()["state"]
    state = torch.load(path, weights_only=True)
    assert {"velocity", "chain", "design"} <= set(state)
    old = {k: v for k, v in state.items() if k not in ("rng_cuda", "start_loss", "warning")}
    torch.save(old, path)
    train(g, c, split)  # resume
    assert json.loads((split / "status.json").read_text())["state"] == "finished"
    a, b = weights(straight), weights(split)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def test_the_trainer_refuses_what_cd_cannot_train(tmp_path, ratings):
    def fails(g, c, words):
        run = train(g, c, tmp_path / f"r{len(list(tmp_path.iterdir()))}")
        st = json.loads((run / "status.json").read_text())
        assert st["state"] == "failed" and all(w in st["message"] for w in words), st["message"]

    two = graph(8)
    two["nodes"].append({"id": "rbm2", "op": "RBM", "params": {"hidden": 2}, "inputs": ["rbm"]})
    fails(two, cfg(ratings), ["one RBM", "has 2"])
    fails(graph(8, units="softmax"), cfg(ratings, persistent_cd=True), ["persistent_cd needs binary"])
    fails(graph(9), cfg(ratings), ["has 8 movies", "Set the Input shape to [8]"])
    fails(graph(8), cfg("mnist-sample"), ["trains on ratings", "holds images"])
    fails(graph(8), cfg(ratings, batch_size=100), ["larger than the training set (8 users)"])


def test_the_bundled_sample_trains_and_the_error_falls(tmp_path):
    assert SAMPLE_PATH.is_file()
    run = train(graph(300, hidden=20), cfg("movielens-sample", val_fraction=0.1, epochs=4), tmp_path / "run")
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    ep = [r for r in rows if r["kind"] == "epoch"]
    assert ep[-1]["train_loss"] < ep[0]["train_loss"] and ep[-1]["val_loss"] < ep[0]["val_loss"]
    assert all(isinstance(r["free_energy_gap"], float) for r in ep)


@pytest.mark.slow
@pytest.mark.skipif(not SMALL.is_file(), reason="needs ../shared/data/movielens")
def test_seed_settings_train_on_movielens_small(tmp_path):
    t = time.perf_counter()
    run = train(graph(9724, hidden=20), cfg("movielens-small", val_fraction=0.1, log_every=10), tmp_path / "run")
    took = time.perf_counter() - t
    st = json.loads((run / "status.json").read_text())
    assert st["state"] == "finished", st
    ep = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    ep = [r for r in ep if r["kind"] == "epoch"]
    assert len(ep) == 15 and ep[-1]["train_loss"] < 0.7 * ep[0]["train_loss"]
    assert ep[-1]["val_loss"] < ep[0]["val_loss"]
    print(f"seed settings on MovieLens-small: {took:.0f} s, reconstruction error {ep[0]['train_loss']:.4f} -> "
          f"{ep[-1]['train_loss']:.4f}")
