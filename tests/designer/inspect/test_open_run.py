"""The Inspect page opens on the run of the design open in this session, not merely the newest run, and computes
only what the open tab needs: no saliency until its tab is opened (issue 16, "Inspect opens on the most recent run,
not this design's, and computes saliency first"). Headless, with AppTest."""
from __future__ import annotations

import json
import time

import pytest
from streamlit.testing.v1 import AppTest

import designer.inspect.saliency as saliency_mod
import designer.inspect.views as views_mod
import engine
from engine.train import runs as R
from engine.train.rundir import RunDir
from engine.workspace import Workspaces
from tests.conftest import ROOT, TEMPLATES


def finished_run(graph: dict, root, name: str):
    """A finished run of `graph` with (untrained) weights: what Inspect lists and opens."""
    path = R.prepare_run(graph, {"data": "mnist-sample", "epochs": 1}, root, name=name)
    run = RunDir(path)
    run.save_best(engine.build_module(engine.load_graph(graph)), {"epoch": 1, "step": 1})
    run.write_status("finished", "finished", step=1, total_steps=1)
    return path


@pytest.fixture
def app(tmp_path, monkeypatch):
    """The Inspect page of a session whose design is LeNet-5, in its own workspace (runs made before it opens)."""
    monkeypatch.setenv("CONVAS_HOME", str(tmp_path))
    at = AppTest.from_file(str(ROOT / "pages" / "inspect.py"), default_timeout=120)
    at.session_state["graph"] = json.loads((TEMPLATES / "lenet5.json").read_text())  # the design open here
    at.session_state["workspace"] = Workspaces(tmp_path).create()
    return at


def test_inspect_opens_on_this_designs_latest_run_and_computes_only_the_open_tab(app, tmp_path, monkeypatch):
    calls: list[str] = []
    real_sal, real_filters = saliency_mod.saliency_tab, views_mod.filters_tab
    monkeypatch.setattr(saliency_mod, "saliency_tab", lambda *a, **k: (calls.append("saliency"), real_sal(*a, **k)))
    monkeypatch.setattr(views_mod, "filters_tab", lambda *a, **k: (calls.append("filters"), real_filters(*a, **k)))

    mine = app.session_state["graph"]  # the design open in this session
    root = app.session_state["workspace"].runs
    renamed = {**mine, "name": "renamed, moved, same network"}  # the fingerprint ignores name and layout
    ours = finished_run(renamed, root, "ours")
    time.sleep(1.1)  # run directories are named by the second
    other = json.loads((TEMPLATES / "mnist_cnn.json").read_text())
    assert engine.load_graph(other).nodes != engine.load_graph(mine).nodes
    newest = finished_run(other, root, "someone else's, newer")
    assert [r["id"] for r in R.list_runs(root)] == [newest.name, ours.name]  # the newest run is not ours

    app.run()
    assert not app.exception, app.exception
    assert app.selectbox(key="inspect_run").value == ours.name
    assert calls == ["filters"]  # the open tab (Filters) only: no saliency computed behind a closed tab

    calls.clear()
    app.session_state["inspect_tab"] = "Saliency"  # the user opens the Saliency tab
    app.run()
    assert not app.exception, app.exception
    assert calls == ["saliency"]
    assert app.selectbox(key="inspect_run").value == ours.name  # and the choice stays
