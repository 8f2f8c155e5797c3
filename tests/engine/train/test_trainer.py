"""The trainer in-process: exact resume, stop, NaN, a checkpoint that does not fit, task/data checks, OOM.

Small and fast on purpose: a few hundred bundled digits and a small CNN with dropout and augmentation, so every
random stream the trainer has (weights, batch order, dropout, crops) is exercised by the resume test.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from engine.train.rundir import RunDir
from engine.train.runs import load_trained
from engine.train.store import CheckpointMismatch, read_json
from engine.train.trainer import TrainConfig, resume, train

SMALL = {"format": "convas-graph", "version": 1, "name": "small cnn", "outputs": ["fc"],
         "task": {"kind": "classification", "num_classes": 10},
         "nodes": [{"id": "x", "op": "Input", "params": {"shape": [1, 28, 28]}},
                   {"id": "conv", "op": "Conv2d", "params": {"out_channels": 8, "kernel_size": 3}, "inputs": ["x"]},
                   {"id": "relu", "op": "ReLU", "inputs": ["conv"]},
                   {"id": "pool", "op": "MaxPool2d", "params": {"kernel_size": 2}, "inputs": ["relu"]},
                   {"id": "flat", "op": "Flatten", "inputs": ["pool"]},
                   {"id": "drop", "op": "Dropout", "params": {"p": 0.3}, "inputs": ["flat"]},
                   {"id": "fc", "op": "Linear", "params": {"out_features": 10}, "inputs": ["drop"]}]}


def cfg(**kw) -> TrainConfig:
    base = dict(data="mnist-sample", limit=320, batch_size=64, epochs=2, log_every=2, augment="crop+flip",
                schedule="onecycle", optimizer="adam", lr=3e-3)
    return TrainConfig(**{**base, **kw})


def status(run: Path) -> dict:
    return json.loads((run / "status.json").read_text())


def weights(run: Path, which: str = "last") -> dict[str, torch.Tensor]:
    return load_trained(run, which)[1].state_dict()


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:  # bitwise on CPU; allclose documents the contract if a kernel ever reorders a sum
        assert torch.equal(a[k], b[k]) or torch.allclose(a[k], b[k], rtol=0, atol=1e-6), k


@pytest.mark.parametrize("stop_at", [5, 3])  # 5 = one epoch exactly (320/64), 3 = in the middle of epoch 1
def test_resume_is_exact(tmp_path, stop_at):
    straight = train(SMALL, cfg(), tmp_path / "straight")
    assert status(straight)["state"] == "finished"
    split = train(SMALL, cfg(), tmp_path / "split", should_stop=lambda step: step >= stop_at)
    st = status(split)
    assert st["state"] == "stopped" and st["step"] == stop_at and "resume to continue" in st["message"]
    assert RunDir(split).load_last_state()[1]["step"] == stop_at
    resume(split)
    assert status(split)["state"] == "finished"
    assert_same_weights(weights(straight), weights(split))
    assert_same_weights(weights(straight, "best"), weights(split, "best"))
    ep = lambda run: [(r["step"], r["val_acc"], r["val_loss"]) for r in RunDir(run).metrics()[0] if r["kind"] == "epoch"]
    assert ep(straight) == ep(split) and [s for s, _, _ in ep(split)] == [5, 10]
    steps = [r["step"] for r in RunDir(split).metrics()[0] if r["kind"] == "step"]
    assert steps == sorted(steps) and steps[-1] == 10
    assert RunDir(straight).results()["confusion"] == RunDir(split).results()["confusion"]


def test_stop_writes_a_checkpoint_and_status_stopped(tmp_path):
    run = train(SMALL, cfg(epochs=3), tmp_path / "r", should_stop=lambda step: step >= 7)
    st = RunDir(run).status()
    assert st["state"] == "stopped" and st["step"] == 7 and st["total_steps"] == 15
    tensors, state = RunDir(run).load_last_state()
    assert state["step"] == 7 and state["epoch"] == 1 and state["epoch_step"] == 2
    assert all(torch.isfinite(t).all() for t in tensors.values())
    rows = RunDir(run).metrics()[0]
    assert max(r["step"] for r in rows) == 7 and not (run / "results.json").exists()


def test_nan_fails_with_the_step_and_keeps_the_last_good_checkpoint(tmp_path):
    run = train(SMALL, cfg(schedule="constant", augment="none"), tmp_path / "r", should_stop=lambda step: step >= 5)
    assert status(run)["state"] == "stopped"
    good = weights(run)
    c = read_json(run / "config.json")
    c["lr"] = 1e30  # Adam moves every weight by ~lr: the next forward pass overflows
    (run / "config.json").write_text(json.dumps(c))
    resume(run)
    st = RunDir(run).status()
    assert st["state"] == "failed"
    m = re.match(r"loss became (NaN|infinite) at step (\d+); the last good checkpoint \(step 5\) is kept; try a "
                 r"lower learning rate", st["message"])
    assert m, st["message"]
    assert 6 <= int(m.group(2)) <= 8
    assert_same_weights(good, weights(run))  # the checkpoint was not overwritten with NaN weights
    assert read_json(run / "checkpoints" / "last.json")["step"] == 5


def test_a_checkpoint_that_does_not_match_the_graph_is_refused(tmp_path):
    run = train(SMALL, cfg(), tmp_path / "r", should_stop=lambda step: step >= 2)
    g = json.loads((run / "graph.json").read_text())
    for n in g["nodes"]:
        if n["id"] == "conv":
            n["params"]["out_channels"] = 16
    (run / "graph.json").write_text(json.dumps(g))
    resume(run)
    st = RunDir(run).status()
    assert st["state"] == "failed"
    assert "does not match the graph" in st["message"]
    assert "conv.weight: the graph needs (16, 1, 3, 3), the checkpoint has (8, 1, 3, 3)" in st["message"]
    assert "fc.weight: the graph needs (10, 2704), the checkpoint has (10, 1352)" in st["message"]
    with pytest.raises(CheckpointMismatch, match="conv.bias"):
        load_trained(run, "last")


def with_node(graph: dict, node_id: str, **params) -> dict:
    g = json.loads(json.dumps(graph))
    for n in g["nodes"]:
        if n["id"] == node_id:
            n["params"].update(params)
    return g


@pytest.mark.parametrize("graph,data,match", [
    (with_node(SMALL, "fc", out_features=12), "mnist-sample",
     r"the network outputs 12 values per example but mnist-sample has 10 classes\. Set fc\.out_features to 10\."),
    (with_node(SMALL, "x", shape=[3, 32, 32]), "mnist-sample",
     r"the data's examples are 1×28×28 but the Input 'x' expects 3×32×32\. Set x\.shape to \[1, 28, 28\]"),
    (SMALL, "mnist-seg", r"the graph's task is classification but mnist-seg is segmentation data"),
])
def test_graph_and_data_mismatch_fails_before_any_step_naming_the_fix(tmp_path, graph, data, match):
    if data == "mnist-seg":
        graph = with_node(graph, "x", shape=[1, 64, 64])
    run = train(graph, cfg(data=data), tmp_path / "r")
    st = RunDir(run).status()
    assert st["state"] == "failed" and re.search(match, st["message"]), st["message"]
    assert not (run / "checkpoints").exists() and RunDir(run).metrics()[0] == []


def test_segmentation_output_must_be_k_by_h_by_w(tmp_path):
    g = {"format": "convas-graph", "version": 1, "name": "seg", "outputs": ["head"],
         "task": {"kind": "segmentation", "num_classes": 11},
         "nodes": [{"id": "x", "op": "Input", "params": {"shape": [1, 32, 32]}},
                   {"id": "head", "op": "Conv2d", "params": {"out_channels": 10, "kernel_size": 1}, "inputs": ["x"]}]}
    run = train(g, cfg(data="mnist-seg", limit=64), tmp_path / "r")
    msg = RunDir(run).status()["message"]
    assert "segmentation needs the output 'head' to be 11×32×32" in msg and "Set head.out_channels to 11." in msg


def test_out_of_memory_stops_with_the_batch_size_and_a_suggestion(tmp_path, monkeypatch):
    import engine.train.loop as trainer  # the loop builds the module

    real = trainer.build_module

    def exploding(g):
        m = real(g)

        def forward(*a, **k):
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        m.forward = forward
        return m

    monkeypatch.setattr(trainer, "build_module", exploding)
    run = train(SMALL, cfg(batch_size=96), tmp_path / "r")
    st = RunDir(run).status()
    assert st["state"] == "failed"
    assert st["message"].startswith("ran out of GPU memory at batch size 96") and "Try batch size 32" in st["message"]


def test_bad_config_and_bad_graph_fail_readably(tmp_path):
    run = train(SMALL, {"epochs": 1, "optimiser": "adam"}, tmp_path / "a")
    assert "unknown training option(s): optimiser" in RunDir(run).status()["message"]
    run = train(SMALL, cfg(optimizer="lamb"), tmp_path / "b")
    assert RunDir(run).status()["message"] == ("optimizer must be one of sgd, adam, adamw, rmsprop. Received: "
                                           "optimizer='lamb'.")
    broken = with_node(SMALL, "conv", kernel_size=40)
    run = train(broken, cfg(), tmp_path / "c")
    assert RunDir(run).status()["state"] == "failed" and "conv" in RunDir(run).status()["message"]


@pytest.mark.parametrize("opt,extra", [("sgd", {"nesterov": True}), ("adamw", {"weight_decay": 0.05}),
                                       ("rmsprop", {"lr": 1e-3})])
def test_every_optimizer_learns_with_clipping_smoothing_and_schedules(tmp_path, opt, extra):
    schedule = {"sgd": "step", "adamw": "cosine", "rmsprop": "constant"}[opt]
    run = train(SMALL, cfg(optimizer=opt, schedule=schedule, epochs=3, limit=640, clip_grad_norm=1.0,
                           label_smoothing=0.1, augment="none", lr=extra.pop("lr", 0.05 if opt == "sgd" else 3e-3),
                           **extra), tmp_path / "r")
    assert RunDir(run).status()["state"] == "finished", RunDir(run).status()["message"]
    rows = RunDir(run).metrics()[0]
    epochs = [r for r in rows if r["kind"] == "epoch"]
    assert epochs[-1]["val_acc"] > 0.6 and epochs[-1]["train_loss"] < epochs[0]["train_loss"]


def test_bf16_autocast_trains_on_cpu(tmp_path):
    run = train(SMALL, cfg(precision="bf16", epochs=1), tmp_path / "r")
    assert RunDir(run).status()["state"] == "finished", RunDir(run).status()["message"]
    assert all(t.dtype == torch.float32 for t in weights(run).values())  # autocast keeps fp32 master weights


def test_logged_lr_follows_the_schedule(tmp_path):
    from engine.train.optim import lr_factor

    run = train(SMALL, cfg(epochs=2, log_every=1, schedule="onecycle", lr=0.01), tmp_path / "r")
    for r in (r for r in RunDir(run).metrics()[0] if r["kind"] == "step"):
        assert r["lr"] == pytest.approx(0.01 * lr_factor("onecycle", r["step"] - 1, 10))
