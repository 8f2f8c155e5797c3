"""engine.train.runs on files alone: run ids, listing, tailing metrics.jsonl, status of a dead process, loading."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.train.rundir import RunDir
from engine.train.runs import list_runs, load_trained, new_run_dir, prepare_run
from engine.train.trainer import TrainConfig


def test_new_run_dirs_are_unique_and_named(tmp_path):
    a, b = new_run_dir(tmp_path, "My Net: v2!"), new_run_dir(tmp_path, "My Net: v2!")
    assert a != b and a.name.endswith("-my-net-v2") and b.name.endswith("-my-net-v2-2")
    assert json.loads((a / "run.json").read_text())["name"] == "My Net: v2!"


def test_read_metrics_tails_incrementally_and_tolerates_a_partial_line(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"kind": "step", "step": 1}\n{"kind": "step", "st')
    rows, off = RunDir(tmp_path).metrics()
    assert rows == [{"kind": "step", "step": 1}] and off == len('{"kind": "step", "step": 1}\n')
    with open(path, "a") as f:
        f.write('ep": 2}\n{"kind": "epoch", "step": 3}\n')
    rows, off2 = RunDir(tmp_path).metrics(off)
    assert [r["step"] for r in rows] == [2, 3] and off2 == path.stat().st_size
    assert RunDir(tmp_path).metrics(off2) == ([], off2)
    path.write_text('{"kind": "step", "step": 1}\n')  # a resume dropped lines: the file shrank
    assert RunDir(tmp_path).metrics(off2)[0] == [{"kind": "step", "step": 1}]
    assert RunDir(tmp_path / "nowhere").metrics() == ([], 0)


def test_a_running_status_whose_process_is_gone_reads_failed(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    RunDir(tmp_path).write_status("running", "training: epoch 1/2", pid=proc.pid, step=3)
    (tmp_path / "log.txt").write_text("starting\nSegmentation fault\n")
    st = RunDir(tmp_path).status()
    assert st["state"] == "failed" and st["message"].startswith(f"failed: process exited (pid {proc.pid})")
    assert "Last log line: Segmentation fault" in st["message"]
    assert json.loads((tmp_path / "status.json").read_text())["state"] == "running"  # reading changes nothing
    RunDir(tmp_path).write_status("running", "training", pid=os.getpid())
    assert RunDir(tmp_path).is_alive() and RunDir(tmp_path).status()["state"] == "running"


def test_an_exited_child_is_not_alive_even_before_it_is_reaped(tmp_path):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    RunDir(tmp_path).write_status("running", "", pid=proc.pid)
    deadline = time.time() + 30
    while RunDir(tmp_path).is_alive() and time.time() < deadline:  # a zombie answers kill(pid, 0): must not count
        time.sleep(0.05)
    assert not RunDir(tmp_path).is_alive()


def test_list_runs_newest_first_with_status_and_dataset(tmp_path, template_path):
    first = prepare_run(template_path("lenet5"), TrainConfig(data="mnist-sample"), tmp_path, "first")
    time.sleep(0.01)
    second = prepare_run(template_path("mnist_cnn"), {"data": "mnist", "epochs": 3}, tmp_path)
    (tmp_path / "not-a-run").mkdir()
    runs = list_runs(tmp_path)
    assert [r["id"] for r in runs] == [second.name, first.name]
    assert runs[0]["name"] == "MNIST CNN (TensorFlow tutorial)" and runs[0]["dataset"] == "mnist"
    assert runs[1]["name"] == "first" and runs[1]["status"] == "failed"  # queued, but no process: reads failed
    assert list_runs(tmp_path / "missing") == []


def test_prepare_run_refuses_bad_config(tmp_path, template_path):
    with pytest.raises(ValueError, match="batch_size must be >= 1. Received: batch_size=0."):
        prepare_run(template_path("lenet5"), {"batch_size": 0}, tmp_path)


def test_load_trained_without_a_checkpoint_says_so(tmp_path, template_path):
    run = prepare_run(template_path("lenet5"), TrainConfig(), tmp_path)
    with pytest.raises(FileNotFoundError, match="has no checkpoint yet"):
        load_trained(run)
    assert RunDir(run).results() is None


def test_a_reused_pid_is_not_mistaken_for_the_run(tmp_path):
    RunDir(tmp_path).write_status("running", "training", pid=os.getpid())
    assert RunDir(tmp_path).is_alive()
    st = json.loads((tmp_path / "status.json").read_text())
    st["pid_start"] -= 1  # same pid, started at another time: a different process
    (tmp_path / "status.json").write_text(json.dumps(st))
    assert not RunDir(tmp_path).is_alive() and RunDir(tmp_path).status()["state"] == "failed"


def test_config_problems_lists_every_bad_option_and_validate_names_them_all():
    bad = TrainConfig(batch_size=0, lr=-1.0, optimizer="adam", nesterov=True)
    assert bad.problems() == ["batch_size must be >= 1. Received: batch_size=0.",
                              "lr must be positive. Received: lr=-1.0.",
                              "nesterov needs optimizer sgd with momentum > 0. Received: nesterov=True."]
    with pytest.raises(ValueError) as e:
        bad.validate()
    assert str(e.value) == " ".join(bad.problems())
    assert TrainConfig().problems() == []


def test_prepare_run_makes_paths_absolute_in_the_runs_copy_only(tmp_path, template_path):
    cfg = TrainConfig(data=str(tmp_path), data_root=".")  # relative paths: made absolute in the run's copy only
    run = RunDir(prepare_run(template_path("lenet5"), cfg, tmp_path / "runs"))
    assert cfg.data_root == "." and run.config().data_root == str(Path(".").resolve())
    assert run.config().data == str(tmp_path.resolve()) and run.status()["state"] in ("queued", "failed")
