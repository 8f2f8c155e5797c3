"""The trainer as the app runs it: a detached `python -m engine train` process answering SIGTERM and kill -9."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.train.rundir import RunDir
from engine.train.runs import load_trained, resume_run, start_run, stop_run
from engine.train.store import read_json
from engine.train.trainer import TrainConfig

pytestmark = pytest.mark.slow  # starts, signals and resumes real trainer processes

ROOT = Path(__file__).resolve().parents[3]
CFG = dict(data="mnist-sample", limit=1280, batch_size=32, epochs=2, log_every=2)  # 40 steps per epoch


def wait_for(cond, what: str, timeout: float = 300.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def last_step(run: Path) -> int:
    return max((r["step"] for r in RunDir(run).metrics()[0]), default=0)


def test_sigterm_stops_with_a_checkpoint_then_resume_finishes(tmp_path, template_path):
    run = start_run(template_path("lenet5"), TrainConfig(**CFG), tmp_path, "sigterm")
    assert RunDir(run).status()["state"] in ("queued", "running")
    wait_for(lambda: last_step(run) >= 4, "the first metrics lines")
    assert RunDir(run).is_alive() and stop_run(run)
    wait_for(lambda: not RunDir(run).is_alive(), "the trainer to exit after SIGTERM")
    st = RunDir(run).status()
    assert st["state"] == "stopped", st["message"]
    assert 4 <= st["step"] < 80 and RunDir(run).load_last_state()[1]["step"] == st["step"]
    assert "stopped at step" in (run / "log.txt").read_text()
    assert not stop_run(run)  # nothing left to stop
    resume_run(run)
    wait_for(lambda: RunDir(run).status()["state"] in ("finished", "failed"), "the resumed run to end")
    st = RunDir(run).status()
    assert st["state"] == "finished", st["message"]
    rows = RunDir(run).metrics()[0]
    assert [r["step"] for r in rows if r["kind"] == "epoch"] == [40, 80]
    assert RunDir(run).results()["n"] == 1000


def test_kill_9_leaves_a_readable_resumable_run(tmp_path, template_path):
    run = start_run(template_path("lenet5"), TrainConfig(**CFG, checkpoint_every=3), tmp_path, "killed")
    wait_for(lambda: (read_json(run / "checkpoints" / "last.json") or {}).get("step", 0) >= 6, "a checkpoint")
    pid = RunDir(run).status()["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not RunDir(run).is_alive(), "the killed process to go")
    st = RunDir(run).status()
    assert st["state"] == "failed" and "process exited" in st["message"] and "resume to continue" in st["message"]
    json.loads((run / "status.json").read_text())  # every file still parses
    json.loads((run / "config.json").read_text())
    rows, _ = RunDir(run).metrics()
    assert rows and all(isinstance(r["step"], int) for r in rows)
    tensors, state = RunDir(run).load_last_state()
    _, model = load_trained(run, "last")
    assert state["step"] >= 6 and set(tensors) == set(model.state_dict())
    resume_run(run)
    wait_for(lambda: RunDir(run).status()["state"] in ("finished", "failed"), "the resumed run to end")
    st = RunDir(run).status()
    assert st["state"] == "finished", st["message"]
    steps = [r["step"] for r in RunDir(run).metrics()[0]]
    assert steps == sorted(steps) and steps[-1] == 80  # lines after the checkpoint were dropped, then redone


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "engine", "train", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def test_command_line_trains_resumes_and_refuses_bad_options(tmp_path, template_path):
    p = cli(str(template_path("lenet5")), "--data", "mnist-sample", "--limit", "256", "--epochs", "1",
            "--batch-size", "64", "--max-steps", "3", "--log-every", "1", "--out", str(tmp_path / "runs"),
            "--name", "cli run", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    run = Path(p.stdout.splitlines()[0])
    assert run.parent == tmp_path / "runs" and run.name.endswith("-cli-run")
    assert RunDir(run).status()["state"] == "finished" and p.stdout.splitlines()[-1].startswith("finished:")
    assert read_json(run / "config.json")["max_steps"] == 3 and last_step(run) == 3
    again = cli("--resume", str(run), cwd=tmp_path)  # a finished run has nothing left to train
    assert again.returncode == 0 and RunDir(run).status()["state"] == "finished"
    bad = cli(str(template_path("lenet5")), "--optimizer", "lamb", "--out", str(tmp_path / "runs"), cwd=tmp_path)
    assert bad.returncode == 2 and "optimizer must be one of sgd, adam, adamw, rmsprop" in bad.stderr
    mixed = cli("--resume", str(run), "--epochs", "5", cwd=tmp_path)
    assert mixed.returncode == 2 and "--resume takes the run directory" in mixed.stderr
    bad_lr = cli("--resume", str(run), "--lr", "-1", cwd=tmp_path)  # the override is validated before anything runs
    assert bad_lr.returncode == 2 and "lr must be positive. Received: lr=-1.0." in bad_lr.stderr
    assert RunDir(run).config().lr == TrainConfig().lr and RunDir(run).status()["state"] == "finished"
    failed = cli(str(template_path("lenet5")), "--data", str(tmp_path / "no-such-folder"), "--out",
                 str(tmp_path / "runs"), cwd=tmp_path)
    assert failed.returncode == 1 and "unknown data source" in failed.stdout
