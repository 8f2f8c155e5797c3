"""The run queue (engine.train.queue) with stand-in trainers: `sleep` processes, so admission, positions, Stop while
queued, a kill -9 and a restart are checked in a second. test_queue_process.py runs real trainers through it."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.train import runs as R
from engine.train.queue import Limits, Queue
from engine.train.rundir import RunDir

CFG = {"data": "mnist-sample", "epochs": 1, "max_steps": 2}
ROOT = Path(__file__).resolve().parents[3]


class Trainers:
    """A spawn for Queue.pump that starts `sleep` instead of a trainer, and remembers what it started."""

    def __init__(self):
        self.procs: dict[Path, subprocess.Popen] = {}

    def __call__(self, run: Path, slot: int) -> int:
        p = subprocess.Popen(["sleep", "60"])
        self.procs[run] = p
        RunDir(run).write_status("running", "stand-in trainer", pid=p.pid)
        return p.pid

    def end(self, run: Path, sig: int = signal.SIGTERM) -> None:
        p = self.procs[run]
        p.send_signal(sig)
        p.wait()

    def close(self) -> None:
        for p in self.procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()


@pytest.fixture
def trainers():
    t = Trainers()
    yield t
    t.close()


def prepared(tmp_path: Path, template_path, n: int) -> list[Path]:
    return [R.prepare_run(template_path("lenet5"), CFG, tmp_path / "runs", f"run{i}") for i in range(n)]


def states(runs: list[Path]) -> list[str]:
    return [RunDir(r).status()["state"] for r in runs]


def test_limit_one_runs_three_one_after_another_with_positions(tmp_path, template_path, trainers):
    q, one = Queue(tmp_path / "queue"), Limits(1, 1)
    runs = prepared(tmp_path, template_path, 3)
    for r in runs:
        q.submit(r, "ws-a")
    assert states(runs) == ["queued"] * 3
    assert q.pump(trainers, one) == [runs[0]]
    assert states(runs) == ["running", "queued", "queued"]
    places = q.places()
    assert [places[str(r)].position for r in runs[1:]] == [1, 2]
    assert all(places[str(r)].waiting == 2 for r in runs[1:])
    assert q.pump(trainers, one) == []  # the slot is taken: nothing more starts
    trainers.end(runs[0])
    RunDir(runs[0]).write_status("finished", "done")
    assert q.pump(trainers, one, done=runs[0]) == [runs[1]]
    assert q.place(runs[2]).position == 1
    assert q.place(runs[2]).eta_s is not None  # one training finished: its length estimates the wait
    trainers.end(runs[1])
    assert q.pump(trainers, one) == [runs[2]]
    assert q.places() == {}


def test_stop_while_queued_leaves_the_queue(tmp_path, template_path, trainers):
    q = Queue(tmp_path / "queue")
    runs = prepared(tmp_path, template_path, 3)
    for r in runs:
        q.submit(r, "ws-a")
    q.pump(trainers, Limits(1, 1))
    assert R.stop_run(runs[1])  # the app's Stop, on a run that has no process yet
    st = RunDir(runs[1]).status()
    assert st["state"] == "stopped" and "queued" in st["message"]
    assert q.place(runs[2]).position == 1
    trainers.end(runs[0])
    assert q.pump(trainers, Limits(1, 1)) == [runs[2]]  # the stopped one is skipped
    assert RunDir(runs[1]).status()["state"] == "stopped"


def test_kill_9_of_a_trainer_frees_its_slot(tmp_path, template_path, trainers):
    q = Queue(tmp_path / "queue")
    runs = prepared(tmp_path, template_path, 2)
    for r in runs:
        q.submit(r, "ws-a")
    q.pump(trainers, Limits(1, 1))
    trainers.end(runs[0], signal.SIGKILL)  # no chance to say it is done
    assert RunDir(runs[0]).status()["state"] == "failed"  # the run reads as failed, not running forever
    assert q.pump(trainers, Limits(1, 1)) == [runs[1]]


def test_a_restart_keeps_the_queue(tmp_path, template_path, trainers):
    """Nothing lives in memory: another process (a restarted server, the CLI) sees the same queue."""
    q = Queue(tmp_path / "queue")
    runs = prepared(tmp_path, template_path, 3)
    for r in runs:
        q.submit(r, "ws-a")
    q.pump(trainers, Limits(1, 1))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "engine", "workspaces", "queue", "--home", str(tmp_path), "--json"],
                         capture_output=True, text=True, env=env, cwd=ROOT, check=True).stdout
    rows = json.loads(out)["entries"]
    assert [(r["run"], r["state"], r["position"]) for r in rows] == [
        (runs[0].name, "training", None), (runs[1].name, "waiting", 1), (runs[2].name, "waiting", 2)]
    assert json.loads(out)["limits"] == {"server": 1, "per_workspace": 1}
    again = Queue(tmp_path / "queue")  # as a new server process would open it
    trainers.end(runs[0])
    assert again.pump(trainers) == [runs[1]]  # the limits kept in the queue apply


def test_a_workspace_with_many_runs_does_not_keep_another_waiting(tmp_path, template_path, trainers):
    q = Queue(tmp_path / "queue")
    runs = prepared(tmp_path, template_path, 4)
    for r in runs[:3]:
        q.submit(r, "ws-a")
        time.sleep(0.01)
    q.submit(runs[3], "ws-b")
    q.pump(trainers, Limits(1, 1))  # a's first run starts
    assert q.place(runs[3]).position == 1  # b goes next, before a's second and third
    trainers.end(runs[0])
    assert q.pump(trainers, Limits(1, 1)) == [runs[3]]


def test_the_per_workspace_limit(tmp_path, template_path, trainers):
    q = Queue(tmp_path / "queue")
    runs = prepared(tmp_path, template_path, 3)
    q.submit(runs[0], "ws-a")
    q.submit(runs[1], "ws-a")
    q.submit(runs[2], "ws-b")
    assert q.pump(trainers, Limits(server=3, per_workspace=1)) == [runs[0], runs[2]]
    assert states(runs) == ["running", "queued", "running"]


def test_limits_are_checked(monkeypatch):
    from engine.train.queue import default_limits

    with pytest.raises(ValueError, match="at least 1"):
        Limits(0, 1)
    monkeypatch.setenv("CONVAS_MAX_TRAININGS", "3")
    monkeypatch.setenv("CONVAS_MAX_TRAININGS_PER_WORKSPACE", "2")
    assert default_limits() == Limits(3, 2)
    monkeypatch.setenv("CONVAS_MAX_TRAININGS", "none")
    with pytest.raises(ValueError, match="CONVAS_MAX_TRAININGS must be a whole number"):
        default_limits()
    monkeypatch.delenv("CONVAS_MAX_TRAININGS")
    monkeypatch.delenv("CONVAS_MAX_TRAININGS_PER_WORKSPACE")
    assert default_limits().server >= 1
