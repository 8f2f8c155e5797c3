"""The run queue with real trainer processes (python -m engine train), as the app starts them: with one slot, three
runs train one after another, each trainer starting the next as it ends; a trainer killed with kill -9 frees its
slot at the next look at the queue."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from engine.train import runs as R
from engine.train.queue import Limits, Queue
from engine.train.rundir import RunDir

pytestmark = pytest.mark.slow  # starts real trainer processes

CFG = {"data": "mnist-sample", "epochs": 1, "max_steps": 6, "log_every": 2, "seed": 0}


def wait_for(cond, what: str, timeout: float = 240.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


@pytest.fixture
def queue_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVAS_MAX_TRAININGS", "1")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    q = tmp_path / "queue"
    yield q
    for e in Queue(q).snapshot()["entries"]:  # leave no trainer behind
        R.stop_run(e["run"])


def test_limit_one_trains_three_runs_one_after_another(tmp_path, template_path, queue_dir):
    runs = [R.start_run(template_path("lenet5"), CFG, tmp_path / "runs", f"r{i}", queue=queue_dir, owner="ws")
            for i in range(3)]
    q = Queue(queue_dir)
    assert q.snapshot()["limits"] == {"server": 1, "per_workspace": 1}
    places = q.places()
    assert [places[str(r)].position for r in runs[1:]] == [1, 2]
    seen_live: list[int] = []
    order: list[Path] = []

    def all_done() -> bool:
        states = [RunDir(r).status()["state"] for r in runs]
        seen_live.append(states.count("running"))
        for r, s in zip(runs, states):
            if s == "running" and r not in order:
                order.append(r)
        return all(s == "finished" for s in states)

    wait_for(all_done, "three queued runs to finish")  # nobody pumps here: each trainer starts the next
    assert max(seen_live) == 1  # never two trainings at once (an ending trainer starts the next as it exits)
    assert order == runs  # in the order they were submitted
    assert q.snapshot()["entries"] == []
    assert len(q.snapshot()["durations"]) == 3  # what the ETA of the next waiting runs is estimated from


def test_kill_9_of_a_real_trainer_frees_its_slot(tmp_path, template_path, queue_dir):
    slow = {**CFG, "max_steps": 100000, "epochs": 50, "batch_size": 4}
    first = R.start_run(template_path("lenet5"), slow, tmp_path / "runs", "first", queue=queue_dir, owner="a")
    second = R.start_run(template_path("lenet5"), CFG, tmp_path / "runs", "second", queue=queue_dir, owner="b")
    wait_for(lambda: RunDir(first).status()["state"] == "running", "the first run to train")
    assert Queue(queue_dir).place(second).position == 1
    os.kill(RunDir(first).status()["pid"], signal.SIGKILL)
    wait_for(lambda: not RunDir(first).is_alive(), "the killed trainer to be gone")
    assert RunDir(first).status()["state"] == "failed"
    assert R.pump_queue(queue_dir, Limits(1, 1)) == [second]  # what a page refresh does
    wait_for(lambda: RunDir(second).status()["state"] == "finished", "the second run to finish")
