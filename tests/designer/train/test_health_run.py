"""The Design page's health overlay finds the design's run by its fingerprint (the match the Inspect page opens
on), not by its name: two designs called the same never show each other's health, and a renamed copy of the
network still finds its own run. Headless, with AppTest."""
from __future__ import annotations

import json
import time

import pytest
from streamlit.testing.v1 import AppTest

from engine.train import runs as R
from engine.train.rundir import RunDir
from engine.workspace import Workspaces
from tests.conftest import TEMPLATES


def run_with_diagnostics(graph: dict, root, name: str) -> str:
    path = R.prepare_run(graph, {"data": "mnist-sample", "epochs": 1}, root, name=name)
    run = RunDir(path)
    row = {"step": 4, "nodes": {n["id"]: {"grad_norm": 0.1, "update_ratio": 1e-3, "dead": None}
                                for n in graph["nodes"] if n["op"] in ("Conv2d", "Linear")}}
    run.diagnostics_path.write_text(json.dumps(row) + "\n")
    run.write_status("finished", "finished", step=4, total_steps=4)
    return path.name


def overlay_script():
    import streamlit as st

    from designer.train.layers import design_run, overlay

    found = design_run(st.session_state.graph)
    st.session_state.found = found[1]["id"] if found else None
    health = overlay(st.session_state.graph, lambda g: True)
    st.session_state.health_nodes = sorted(health["nodes"]) if health else None


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVAS_HOME", str(tmp_path))
    at = AppTest.from_function(overlay_script, default_timeout=120)
    at.session_state["workspace"] = Workspaces(tmp_path).create()
    return at


def test_two_designs_of_the_same_name_do_not_show_each_others_health(app):
    root = app.session_state["workspace"].runs
    lenet = json.loads((TEMPLATES / "lenet5.json").read_text())
    other = {**json.loads((TEMPLATES / "mnist_cnn.json").read_text()), "name": lenet["name"]}  # same name
    ours = run_with_diagnostics(lenet, root, "ours")
    time.sleep(1.1)  # run directories are named by the second
    theirs = run_with_diagnostics(other, root, "theirs, newer")
    assert R.list_runs(root)[0]["id"] == theirs  # the newest run of that name is not LeNet's

    app.session_state["graph"] = lenet
    app.run()
    assert not app.exception, app.exception
    assert app.session_state["found"] == ours
    lenet_layers = sorted(n["id"] for n in lenet["nodes"] if n["op"] in ("Conv2d", "Linear"))
    assert app.session_state["health_nodes"] == lenet_layers

    app.session_state["graph"] = other  # the other design, same name: its own run
    app.run()
    assert app.session_state["found"] == theirs

    renamed = {**lenet, "name": "LeNet, renamed"}  # the same network under another name: still LeNet's run
    app.session_state["graph"] = renamed
    app.run()
    assert app.session_state["found"] == ours

    changed = json.loads(json.dumps(lenet))  # a design no run trained (a Linear's width changed): no overlay
    next(n for n in changed["nodes"] if n["op"] == "Linear")["params"]["out_features"] += 1
    app.session_state["graph"] = changed
    app.run()
    assert not app.exception, app.exception
    assert app.session_state["found"] is None and app.session_state["health_nodes"] is None
