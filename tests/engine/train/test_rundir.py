"""RunDir: a real small run read back through it; metrics tailed across a half-written line and a resume's rewrite;
the stamp follows the checkpoints; best and last weights; what a missing or half-made run reads as."""
from __future__ import annotations

import dataclasses
import json
import os

import pytest
import torch

from engine.graph import load_graph
from engine.train.config import TrainConfig
from engine.train.log import MetricsLog
from engine.train.rundir import MetricsTail, RunDir
from engine.train.runs import override_lr, prepare_run
from engine.train.trainer import train

TINY = {"format": "convas-graph", "version": 1, "name": "tiny", "outputs": ["fc"],
        "task": {"kind": "classification", "num_classes": 10},
        "nodes": [{"id": "x", "op": "Input", "params": {"shape": [1, 28, 28]}},
                  {"id": "flat", "op": "Flatten", "inputs": ["x"]},
                  {"id": "fc", "op": "Linear", "params": {"out_features": 10}, "inputs": ["flat"]}]}
TINY_CFG = TrainConfig(data="mnist-sample", limit=256, batch_size=64, epochs=1, log_every=1, augment="none",
                       seed=3)


def model() -> torch.nn.Module:
    return torch.nn.Linear(4, 2)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> RunDir:
    return RunDir(train(TINY, TINY_CFG, tmp_path_factory.mktemp("runs") / "tiny"))


def res_acc(run: RunDir) -> float:
    return run.results(examples=False)["accuracy"]


def test_a_trained_run_reads_back_whole(tiny_run):
    run = tiny_run
    st = run.status()
    assert st["state"] == "finished" and st["step"] == 4 and st["total_steps"] == 4, st["message"]
    assert run.config() == TINY_CFG and run.graph() == load_graph(TINY) and run.meta()["name"] == "tiny"
    rows, offset = run.metrics()
    assert [r["step"] for r in rows if r["kind"] == "step"] == [1, 2, 3, 4] and rows[-2]["kind"] == "epoch"
    assert rows[-1]["kind"] == "test" and rows[-1]["test_acc"] == res_acc(run)  # the test split, once, last
    assert offset == run.metrics_path.stat().st_size and run.metrics(offset) == ([], offset)
    res = run.results()
    assert sum(map(sum, res["confusion"])) == res["n"] > 0 and res["weights"] == "best"
    wrong = res["misclassified"]
    assert wrong and all(e["image"].shape == (1, 28, 28) for e in wrong)  # the examples came back from their file
    assert "image" not in run.results(examples=False)["misclassified"][0]
    assert run.weights("best") == run.best_path and run.weights("last").name == "last-4.safetensors"
    assert run.has_checkpoint() and run.last_checkpoint()["step"] == 4
    tensors, state = run.load_last_state()
    assert state["step"] == 4 and set(tensors) == {"fc.weight", "fc.bias"}
    assert run.stamp() and run.results_stamp() and run.problem() is None and run.is_run()


def test_the_on_disk_layout_is_the_one_existing_runs_have(tiny_run):
    # runs written before RunDir existed must stay readable: these names are the file format
    names = {p.name for p in tiny_run.path.iterdir()}
    assert {"graph.json", "config.json", "run.json", "status.json", "metrics.jsonl", "results.json", "results.npz",
            "checkpoints"} <= names
    ck = {p.name for p in (tiny_run.path / "checkpoints").iterdir()}
    assert ck == {"best.safetensors", "last.json", "last-4.safetensors", "last-4.pt"}
    assert set(RunDir.NAMES) >= {"graph.json", "config.json", "metrics.jsonl", "status.json", "results.json",
                                 "results.npz", "checkpoints", "last.json", "best.safetensors", "log.txt", "tb"}


def test_metrics_from_an_offset_across_a_partially_written_line(tmp_path):
    run = RunDir(tmp_path)
    log = MetricsLog(run.metrics_path, run.tb_path, resume_step=None)
    log.write({"kind": "step", "step": 1, "train_loss": 2.0})
    rows, off = run.metrics()
    assert [r["step"] for r in rows] == [1] and rows[0]["train_loss"] == 2.0 and rows[0]["val_acc"] is None
    line = json.dumps({"kind": "step", "step": 2, "train_loss": 1.5}) + "\n"
    with open(run.metrics_path, "a") as f:  # the writer is half-way through a line
        f.write(line[:10])
        f.flush()
        assert run.metrics(off) == ([], off)  # nothing complete yet: the offset stays before the partial line
        f.write(line[10:])
    log.write({"kind": "epoch", "step": 2, "val_acc": 0.5})
    log.close()
    rows, off2 = run.metrics(off)
    assert [(r["kind"], r["step"]) for r in rows] == [("step", 2), ("epoch", 2)]
    assert off2 == run.metrics_path.stat().st_size
    assert RunDir(tmp_path / "nowhere").metrics(7) == ([], 7)


def test_follow_metrics_reads_only_what_is_new_and_follows_a_resume_rewrite(tmp_path):
    run = RunDir(tmp_path)
    tail = run.follow_metrics(MetricsTail())
    assert tail.rows == [] and tail.offset == 0  # no file yet
    log = MetricsLog(run.metrics_path, run.tb_path, resume_step=None)
    for step in (1, 2, 3, 4):
        log.write({"kind": "step", "step": step})
    log.close()
    tail = run.follow_metrics(tail)
    assert [r["step"] for r in tail.rows] == [1, 2, 3, 4] and tail.offset == run.metrics_path.stat().st_size
    before = (list(tail.rows), tail.offset)
    assert (run.follow_metrics(tail).rows, tail.offset) == before  # nothing new: nothing changes
    # a resume from step 2 drops steps 3 and 4 and logs them again; the new lines are longer, so the file ends past
    # the old offset by the time the page looks again: the offset alone cannot tell it was rewritten
    log = MetricsLog(run.metrics_path, run.tb_path, resume_step=2)
    for step in (3, 4, 5):
        log.write({"kind": "step", "step": step, "again": True})
    log.close()
    assert run.metrics_path.stat().st_size > before[1]
    tail = run.follow_metrics(tail)
    assert [(r["step"], r.get("again", False)) for r in tail.rows] == [(1, False), (2, False), (3, True),
                                                                        (4, True), (5, True)]
    log = MetricsLog(run.metrics_path, run.tb_path, resume_step=None)  # a fresh restart: nothing kept
    log.write({"kind": "step", "step": 1})
    log.close()
    assert [r["step"] for r in run.follow_metrics(tail).rows] == [1]


def test_stamp_changes_when_a_checkpoint_is_written(tmp_path):
    run = RunDir(tmp_path)
    assert run.stamp() == ""
    m = model()
    run.save_last(m, {"step": 1, "epoch": 0})
    first = run.stamp()
    assert first and run.stamp() == first  # reading does not change it
    run.save_best(m, {"epoch": 1})
    second = run.stamp()
    run.save_best(m, {"epoch": 1})  # the same bytes again, within the same clock tick: still a new stamp
    third = run.stamp()
    run.save_last(m, {"step": 2, "epoch": 0})
    assert len({first, second, third, run.stamp()}) == 4
    assert run.results_stamp() == ""
    run.write_results({"task": "classification", "n": 0}, {"images": torch.zeros(0, 1, 2, 2).numpy()})
    assert run.results_stamp() and run.results(examples=False)["examples_file"] == RunDir.EXAMPLES


def test_weights_best_falls_back_to_last_and_last_follows_the_pointer(tmp_path):
    run = RunDir(tmp_path)
    assert run.weights("best") is None and run.weights("last") is None and not run.has_checkpoint()
    m = model()
    run.save_last(m, {"step": 3, "epoch": 0})
    assert run.weights("best") == run.weights("last") == run.checkpoints / "last-3.safetensors"
    run.save_best(m, {"epoch": 1})
    run.save_last(m, {"step": 6, "epoch": 1})
    assert run.weights("best") == run.best_path and run.weights("last").name == "last-6.safetensors"
    # the one before is kept until the next step's loss shows the last is good (engine.train.loop check_finite)
    assert sorted(p.name for p in run.checkpoints.glob("last-*")) == ["last-3.pt", "last-3.safetensors",
                                                                       "last-6.pt", "last-6.safetensors"]
    assert run.load_last_state()[1] == {"step": 6, "epoch": 1}
    run.save_last(m, {"step": 9, "epoch": 1})
    assert sorted(p.name for p in run.checkpoints.glob("last-*")) == ["last-6.pt", "last-6.safetensors",
                                                                       "last-9.pt", "last-9.safetensors"]
    assert run.drop_poisoned(10) == {"weights": "last-6.safetensors", "state": "last-6.pt", "step": 6, "epoch": 1,
                                     "updated": run.last_checkpoint()["updated"], "previous": None}
    assert sorted(p.name for p in run.checkpoints.glob("last-*")) == ["last-6.pt", "last-6.safetensors"]
    assert run.drop_poisoned(9)["step"] == 6  # step 9's loss came from update 8: checkpoint 6 is good
    assert run.drop_poisoned(7) is None and not run.has_checkpoint()
    with pytest.raises(ValueError, match="which must be 'best' or 'last'. Received: which='first'."):
        run.weights("first")


def test_a_missing_or_half_made_run_reads_as_such(tmp_path):
    run = RunDir(tmp_path / "gone")
    st = run.status()
    assert st["state"] == "failed" and "has no readable status.json" in st["message"]
    assert run.results() is None and run.config_dict() is None and run.meta() == {} and run.log_tail() == ""
    assert not run.is_run() and not run.is_alive()
    assert run.problem() == f"{run.path} is not a run directory: graph.json and config.json are missing."
    with pytest.raises(FileNotFoundError, match="has no readable config.json"):
        run.config()
    run.path.mkdir()
    run.write_config(TrainConfig())
    assert run.is_run() and run.problem() == f"{run.path} is not a run directory: graph.json is missing."
    run.config_path.write_text(json.dumps({**TrainConfig().to_dict(), "lr": -1}))
    assert run.config_dict()["lr"] == -1  # as it is on disk, for lists...
    with pytest.raises(ValueError, match="lr must be positive. Received: lr=-1."):
        run.config()  # ...and refused where it would be used


def test_override_lr_is_validated_and_written_once(tmp_path, template_path):
    run = RunDir(prepare_run(template_path("lenet5"), TrainConfig(lr=0.01, schedule="cosine"), tmp_path))
    assert override_lr(run, 0.001) == dataclasses.replace(run.config(), lr=0.001)
    assert run.config().lr == 0.001 and run.config().schedule == "cosine"
    with pytest.raises(ValueError, match="lr must be positive"):
        override_lr(run, 0.0)
    assert run.config().lr == 0.001  # a refused value leaves the file as it was


def test_log_tail_is_the_last_nonempty_line(tmp_path):
    run = RunDir(tmp_path)
    run.log_path.write_text("starting\n" + "x" * 5000 + "\nTraceback ...\nValueError: boom\n\n")
    assert run.log_tail() == "ValueError: boom"
    assert os.fspath(run) == str(tmp_path) and RunDir(run) == run and run.id == tmp_path.name
