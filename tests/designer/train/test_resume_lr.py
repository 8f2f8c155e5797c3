"""Resume has a learning-rate field: it starts at the run's own learning rate (a resume left alone is exact, its
config untouched), and a changed value reaches the trainer, which reads it from the run's config.json when it
starts (engine.train.runs.override_lr; the trainer keeps the schedule's shape around it). Headless, with AppTest;
the trainer process is not started (engine.train.runs._spawn records the config it would train with)."""
from __future__ import annotations

import json
import os

import pytest
from streamlit.testing.v1 import AppTest

import engine.train.runs as R
from engine.train.rundir import RunDir
from engine.workspace import Workspaces
from tests.conftest import TEMPLATES

KEY = "resume_lr_{}"


def controls_script():
    import streamlit as st

    from designer.train.live import render_controls
    from designer.train.runs import run_dir

    rid = st.session_state.rid
    render_controls(rid, run_dir(rid).status().get("state"))


@pytest.fixture
def stopped(tmp_path, monkeypatch):
    """An app session with one run stopped at step 40 (lr 0.02, the schedule had it at 0.0123 there)."""
    monkeypatch.setenv("CONVAS_HOME", str(tmp_path))
    ws = Workspaces(tmp_path).create()
    g = json.loads((TEMPLATES / "lenet5.json").read_text())
    path = R.prepare_run(g, {"data": "mnist-sample", "epochs": 2, "lr": 0.02}, ws.runs, name="stopped")
    run = RunDir(path)
    run.metrics_path.write_text(json.dumps({"kind": "step", "step": 40, "lr": 0.0123, "train_loss": 1.0}) + "\n")
    run.write_status("stopped", "stopped at step 40", step=40, total_steps=100, pid=None)
    monkeypatch.setattr(RunDir, "has_checkpoint", lambda self: True)  # the checkpoint itself is not read here
    spawned: list[float] = []

    def spawn(r, slot=None):
        spawned.append(RunDir(r).config().lr)  # what the trainer would read as it starts
        return os.getpid()

    monkeypatch.setattr(R, "_spawn", spawn)
    at = AppTest.from_function(controls_script, default_timeout=60)
    at.session_state["workspace"] = ws
    at.session_state["run_metrics"] = {}
    at.session_state["rid"] = path.name
    return at, run, spawned


def test_resume_starts_at_the_runs_lr_and_a_new_lr_reaches_the_trainer(stopped):
    at, run, spawned = stopped
    at.run()
    assert not at.exception, at.exception
    box = at.number_input(key=KEY.format(run.id))
    assert box.label == "Learning rate to continue with" and box.value == pytest.approx(0.02)
    assert "0.0123" in box.help  # where the schedule had it when the run stopped
    box.set_value(0.005)
    at.button(key=f"resume_{run.id}").click()
    at.run()
    assert not at.exception, at.exception
    assert spawned == [pytest.approx(0.005)]
    assert run.config().lr == pytest.approx(0.005)


def test_resume_left_alone_keeps_the_config_as_it_is(stopped):
    at, run, spawned = stopped
    before = run.config_path.read_bytes()
    at.run()
    at.button(key=f"resume_{run.id}").click()
    at.run()
    assert not at.exception, at.exception
    assert spawned == [pytest.approx(0.02)]
    assert run.config_path.read_bytes() == before  # an exact resume: nothing rewritten
