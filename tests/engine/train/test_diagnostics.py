"""Per-layer diagnostics: the recorded numbers equal hand computations, the trainer writes them for every task,
and each warning is provoked by a real (tiny) training run and its remedy applied."""
from __future__ import annotations

import json

import pytest
import torch
import torch.nn.functional as F

import engine
from engine.train.advice import advise, apply_design_remedy, apply_settings_remedy
from engine.train.diagnostics import QUANTITIES, Diagnostics, series
from engine.train.rundir import RunDir
from engine.train.trainer import TrainConfig, train
from tests.engine.lm.graphs import lm_graph
from tests.engine.lm.test_train import corpus

TINY = {"format": "convas-graph", "version": 1, "name": "tiny", "outputs": ["fc2"],
        "task": {"kind": "classification", "num_classes": 2},
        "nodes": [{"id": "x", "op": "Input", "params": {"shape": [4]}},
                  {"id": "fc1", "op": "Linear", "params": {"out_features": 3}, "inputs": ["x"]},
                  {"id": "r", "op": "ReLU", "inputs": ["fc1"]},
                  {"id": "fc2", "op": "Linear", "params": {"out_features": 2}, "inputs": ["r"]}]}


def test_diagnostics_equal_hand_computations():
    torch.manual_seed(0)
    g = engine.load_graph(TINY)
    model = engine.build_module(g)
    with torch.no_grad():
        model.fc1.bias[0] = -100.0  # unit 0 of r is zero for every example: dead
    W1, b1, W2, b2 = (t.detach().clone() for t in (model.fc1.weight, model.fc1.bias, model.fc2.weight,
                                                  model.fc2.bias))
    x, y = torch.randn(5, 4), torch.tensor([0, 1, 1, 0, 1])
    lr, clip = 0.5, 0.05

    d = Diagnostics(model, g, every=1)
    d.arm()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    total = torch.nn.utils.clip_grad_norm_(model.parameters(), clip)  # the recorded norm is the one before clipping
    torch.optim.SGD(model.parameters(), lr=lr).step()
    row = d.collect(1)

    # the reference: the same network written out by hand, its gradients from torch.autograd
    w1, c1, w2, c2 = (t.clone().requires_grad_() for t in (W1, b1, W2, b2))
    h = x @ w1.T + c1
    r = h.clamp(min=0)
    out = r @ w2.T + c2
    gw1, gc1, gw2, gc2 = torch.autograd.grad(F.cross_entropy(out, y), (w1, c1, w2, c2))
    pop_std = lambda t: float(((t - t.mean()) ** 2).mean().sqrt())
    norm = lambda *ts: float(torch.sqrt(sum((t ** 2).sum() for t in ts)))
    scale = min(1.0, clip / float(total))
    n = row["nodes"]
    assert row["step"] == 1 and set(n) == {"fc1", "r", "fc2"} and all(set(q) == set(QUANTITIES) for q in n.values())
    for nid, t in (("fc1", h.detach()), ("r", r.detach()), ("fc2", out.detach())):
        assert n[nid]["act_mean"] == pytest.approx(float(t.mean()), rel=1e-5, abs=1e-7)
        assert n[nid]["act_std"] == pytest.approx(pop_std(t), rel=1e-5)
    dead = float(((r == 0).all(0)).float().mean())
    assert dead >= 1 / 3 and n["r"]["dead"] == pytest.approx(dead)
    assert n["fc1"]["dead"] is None and n["r"]["grad_norm"] is None and n["r"]["update_ratio"] is None
    assert n["fc1"]["grad_norm"] == pytest.approx(norm(gw1, gc1), rel=1e-5)
    assert n["fc2"]["grad_norm"] == pytest.approx(norm(gw2, gc2), rel=1e-5)
    assert scale < 1  # clipping changed the update, and the update ratio sees the clipped step: lr·s·‖g‖ / ‖w‖
    assert n["fc1"]["update_ratio"] == pytest.approx(lr * scale * norm(gw1, gc1) / norm(W1, b1), rel=1e-4)
    assert n["fc2"]["update_ratio"] == pytest.approx(lr * scale * norm(gw2, gc2) / norm(W2, b2), rel=1e-4)
    # the hooks are gone: a later forward records nothing
    model(x)
    assert d._acts == {}


SMALL = {"format": "convas-graph", "version": 1, "name": "small", "outputs": ["fc"],
         "task": {"kind": "classification", "num_classes": 10},
         "nodes": [{"id": "x", "op": "Input", "params": {"shape": [1, 28, 28]}},
                   {"id": "conv", "op": "Conv2d", "params": {"out_channels": 4, "kernel_size": 3}, "inputs": ["x"]},
                   {"id": "relu", "op": "ReLU", "inputs": ["conv"]},
                   {"id": "pool", "op": "MaxPool2d", "params": {"kernel_size": 2}, "inputs": ["relu"]},
                   {"id": "flat", "op": "Flatten", "inputs": ["pool"]},
                   {"id": "fc", "op": "Linear", "params": {"out_features": 10}, "inputs": ["flat"]}]}


def small_cfg(**kw) -> TrainConfig:
    return TrainConfig(**{**dict(data="mnist-sample", limit=256, batch_size=64, epochs=1, log_every=2,
                                 diag_every=2, augment="none"), **kw})


def test_trainer_writes_diagnostics_every_n_steps_and_resume_keeps_them(tmp_path):
    run = train(SMALL, small_cfg(epochs=2), tmp_path / "r", should_stop=lambda s: s >= 5)
    rows = RunDir(run).diagnostics()[0]
    assert [r["step"] for r in rows] == [1, 2, 4]
    assert set(rows[0]["nodes"]) == {"conv", "relu", "pool", "fc"}  # Flatten has no module of its own
    from engine.train.trainer import resume
    resume(run)
    rows = RunDir(run).diagnostics()[0]
    assert [r["step"] for r in rows] == [1, 2, 4, 6, 8]  # the stop came after step 5: nothing recorded twice
    steps, vals = series(rows, "update_ratio")["fc"]
    assert steps == [1, 2, 4, 6, 8] and all(v > 0 for v in vals)
    assert "relu" not in series(rows, "grad_norm")


def test_diagnostics_off(tmp_path):
    run = train(SMALL, small_cfg(diag_every=0, max_steps=2), tmp_path / "r")
    assert json.loads((run / "status.json").read_text())["state"] == "finished"
    assert not RunDir(run).diagnostics_path.exists()
    with pytest.raises(ValueError, match="diag_every must be a whole number >= 0"):
        TrainConfig(diag_every=-1).validate()


@pytest.mark.slow
@pytest.mark.parametrize("task", ["language_model", "detection", "recommendation"])
def test_every_task_records_diagnostics(tmp_path, task):
    if task == "language_model":  # a tiny LSTM on a small generated text
        g, cfg = lm_graph(V=32), TrainConfig(data=str(corpus(tmp_path / "text.txt", lines=400)), batch_size=4)
    elif task == "detection":
        g, cfg = "assets/templates/tiny_grid_detector.json", TrainConfig(data="mnist-detect", batch_size=16, limit=90)
    else:
        g, cfg = "assets/templates/rbm_recommender.json", TrainConfig(data="movielens-sample", batch_size=32)
    run = train(g, TrainConfig(**{**cfg.to_dict(), "epochs": 1, "max_steps": 2, "diag_every": 1}), tmp_path / "r")
    st = json.loads((run / "status.json").read_text())
    assert st["state"] == "finished", st["message"]
    rows = RunDir(run).diagnostics()[0]
    assert [r["step"] for r in rows] == [1, 2]
    ratios = series(rows, "update_ratio")
    assert ratios and all(v is not None and v >= 0 for _, vs in ratios.values() for v in vs)
    if task != "recommendation":  # contrastive divergence has no backward pass (no gradient) and never calls
        assert series(rows, "grad_norm") and series(rows, "act_std")  # the module's forward (no activations)


# ---- warnings, each provoked by a short real run, and their remedies --------------------------------------------

def mlp(name: str, widths: list[int], act: str, out: int = 10) -> dict:
    nodes = [{"id": "x", "op": "Input", "params": {"shape": [1, 28, 28]}}, {"id": "flat", "op": "Flatten",
                                                                           "inputs": ["x"]}]
    prev = "flat"
    for i, w in enumerate(widths, 1):
        nodes += [{"id": f"fc{i}", "op": "Linear", "params": {"out_features": w}, "inputs": [prev]},
                  {"id": f"a{i}", "op": act, "inputs": [f"fc{i}"]}]
        prev = f"a{i}"
    nodes.append({"id": "head", "op": "Linear", "params": {"out_features": out}, "inputs": [prev]})
    return {"format": "convas-graph", "version": 1, "name": name, "outputs": ["head"],
            "task": {"kind": "classification", "num_classes": 10}, "nodes": nodes}


def provoke(tmp_path, g: dict, **kw) -> tuple[list, dict]:
    cfg = small_cfg(diag_every=1, **kw)
    run = train(g, cfg, tmp_path / "r")
    assert json.loads((run / "status.json").read_text())["state"] in ("finished", "failed")
    rows = RunDir(run).diagnostics()[0]
    return advise(rows, engine.load_graph(g), cfg.to_dict()), cfg.to_dict()


def kinds(found) -> set[str]:
    return {a.kind for a in found}


def test_healthy_run_has_no_warning(tmp_path):
    found, _ = provoke(tmp_path, SMALL, max_steps=4)
    assert found == []


def test_dead_relus_warn_and_each_remedy_applies(tmp_path):
    g = mlp("dying", [64], "ReLU")
    found, cfg = provoke(tmp_path, g, optimizer="sgd", momentum=0.0, lr=30.0, schedule="constant", max_steps=4)
    dead = next(a for a in found if a.kind == "dead_relu")
    assert dead.nodes == ["a1"] and "dead" in dead.message
    leaky, bn, lower = dead.remedies
    fixed = apply_design_remedy(g, leaky)
    assert next(n for n in fixed["nodes"] if n["id"] == "a1")["op"] == "LeakyReLU"
    assert g["nodes"][3]["op"] == "ReLU"  # the design given is not changed (undo keeps it)
    fixed = apply_design_remedy(g, bn)
    a1 = next(n for n in fixed["nodes"] if n["id"] == "a1")
    new = next(n for n in fixed["nodes"] if n["id"] == a1["inputs"][0])
    assert new["op"] == "BatchNorm1d" and new["inputs"] == ["fc1"] and engine.check(engine.load_graph(fixed)).ok
    assert apply_settings_remedy(cfg, lower)["lr"] == pytest.approx(3.0)


def test_exploding_gradients_warn_and_clipping_is_the_remedy(tmp_path):
    g = mlp("exploding", [256, 256, 256], "ReLU")
    found, cfg = provoke(tmp_path, g, init_uniform=1.0, max_steps=2, optimizer="sgd", lr=1e-4)
    exploding = next(a for a in found if a.kind == "exploding")
    (clip,) = exploding.remedies
    nxt = apply_settings_remedy(cfg, clip)
    assert nxt["clip_grad_norm"] == 1.0 and TrainConfig.from_dict(nxt).clip_grad_norm == 1.0
    found, _ = provoke(tmp_path / "clipped", g, init_uniform=1.0, max_steps=2, optimizer="sgd", lr=1e-4,
                       clip_grad_norm=1.0)
    assert "exploding" not in kinds(found)  # clipping on: the warning is answered


def test_vanishing_gradients_warn_and_batchnorm_is_the_remedy(tmp_path):
    g = mlp("vanishing", [32] * 8, "Sigmoid")
    found, _ = provoke(tmp_path, g, max_steps=2)
    before = RunDir(tmp_path / "r").diagnostics()[0][-1]["nodes"]
    van = next(a for a in found if a.kind == "vanishing")
    assert "fc1" in van.nodes and "residual" in van.message
    fixed = apply_design_remedy(g, van.remedies[0])
    assert engine.check(engine.load_graph(fixed)).ok
    bns = [n for n in fixed["nodes"] if n["op"] == "BatchNorm1d"]
    assert {n["inputs"][0] for n in bns} == set(van.nodes)
    provoke(tmp_path / "bn", fixed, max_steps=2)
    after = RunDir(tmp_path / "bn" / "r").diagnostics()[0][-1]["nodes"]
    ratio = lambda n: n["fc1"]["grad_norm"] / n["head"]["grad_norm"]
    assert ratio(after) > 100 * ratio(before)  # the first layer's gradient is two decades less vanished


def test_large_updates_warn_and_a_lower_lr_is_the_remedy(tmp_path):
    found, cfg = provoke(tmp_path, SMALL, optimizer="sgd", momentum=0.0, lr=3.0, schedule="constant", max_steps=2)
    big = next(a for a in found if a.kind == "update_ratio")
    (lower,) = big.remedies
    nxt = apply_settings_remedy(cfg, lower)
    assert nxt["lr"] == pytest.approx(0.3)
    with pytest.raises(ValueError, match="not a design remedy"):
        apply_design_remedy(SMALL, lower)
