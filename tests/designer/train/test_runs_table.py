"""The Train page's runs table keeps its selection by run id: when a new run appears at the top (runs are listed
newest first) or a run is deleted, the runs selected for comparison stay selected, not the rows at the same
positions. Headless, with AppTest (the selection is set the way the browser reports it: row positions)."""
from __future__ import annotations

import json
import shutil
import time

import pytest
from streamlit.testing.v1 import AppTest

from engine.train import runs as R
from engine.workspace import Workspaces
from tests.conftest import TEMPLATES


def table_script():
    import streamlit as st

    from designer.train.runs import all_runs, runs_table

    st.session_state.picked = runs_table(all_runs(), None)


def new_run(root, name: str) -> str:
    time.sleep(1.05)  # run directories are named by the second
    g = json.loads((TEMPLATES / "lenet5.json").read_text())
    return R.prepare_run(g, {"data": "mnist-sample", "epochs": 1}, root, name=name).name


def select(at: AppTest, rows: list[int]) -> None:
    """What the browser sends when the user ticks rows: their positions in the table as drawn."""
    at.session_state["runs_table"] = {"selection": {"rows": rows, "columns": [], "cells": []}}


def selected_rows(at: AppTest) -> list[int]:
    return list(at.session_state["runs_table"]["selection"]["rows"])


@pytest.fixture
def app(tmp_path, monkeypatch):
    monkeypatch.setenv("CONVAS_HOME", str(tmp_path))
    at = AppTest.from_function(table_script, default_timeout=60)
    at.session_state["workspace"] = Workspaces(tmp_path).create()
    at.session_state["run_metrics"] = {}  # designer.state's session init, which the page would have run
    return at


def test_the_selection_follows_the_runs_when_a_new_run_appears_and_one_is_deleted(app):
    root = app.session_state["workspace"].runs
    a = new_run(root, "a")
    b = new_run(root, "b")
    app.run()  # table: b, a
    assert not app.exception, app.exception
    select(app, [1])  # the user ticks a
    app.run()
    assert app.session_state["picked"] == [a]

    c = new_run(root, "c")  # a new run: table c, b, a; position 1 is now b
    app.run()
    assert not app.exception, app.exception
    assert app.session_state["picked"] == [a]
    assert selected_rows(app) == [2]  # the tick moved with its run

    select(app, [0, 2])  # c and a
    app.run()
    assert app.session_state["picked"] == [c, a]
    shutil.rmtree(root / b)  # b is deleted: table c, a
    app.run()
    assert app.session_state["picked"] == [c, a] and selected_rows(app) == [0, 1]
    shutil.rmtree(root / c)  # a selected run is deleted: it drops out, a stays
    app.run()
    assert app.session_state["picked"] == [a] and selected_rows(app) == [0]


def test_each_run_shows_its_headline_number_by_its_own_name(app):
    """A detector's mAP, a localiser's accuracy at IoU ≥ 0.5, a language model's perplexity (lower is better,
    not a percent) and an RBM's NDCG@10 each read as their task names them, beside a classifier's accuracy."""
    from engine.train.rundir import RunDir

    root = app.session_state["workspace"].runs
    kept = {"classifier": {"best_val_acc": 0.981, "best_metric": "accuracy"},
            "detector": {"best_val_acc": 0.7342, "best_metric": "mAP@0.5"},
            "localiser": {"best_val_acc": 0.5, "best_metric": "accuracy at IoU ≥ 0.5"},
            "language model": {"best_val_ppl": 112.346},
            "rbm": {}}
    ids = {}
    for name, status in kept.items():
        ids[name] = new_run(root, name)
        RunDir(root / ids[name]).write_status("finished", "finished", **status)
    rows = [{"kind": "step", "step": 5, "train_loss": 0.3},
            {"kind": "epoch", "step": 10, "epoch": 1, "val_ndcg": 0.25},
            {"kind": "epoch", "step": 20, "epoch": 2, "val_ndcg": 0.31},
            {"kind": "epoch", "step": 30, "epoch": 3, "val_ndcg": 0.29}]  # its best, not its last
    RunDir(root / ids["rbm"]).metrics_path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ids["queued"] = new_run(root, "queued")  # prepared, no number yet
    app.run()
    assert not app.exception, app.exception
    df = app.dataframe[0].value
    shown = {rid: v if isinstance(v, str) else None for rid, v in zip(df["id"], df["best val"])}  # NaN: empty
    assert shown == {ids["classifier"]: "accuracy 98.10%", ids["detector"]: "mAP@0.5 0.734",
                     ids["localiser"]: "accuracy at IoU ≥ 0.5 50.00%", ids["language model"]: "perplexity 112.35",
                     ids["rbm"]: "NDCG@10 0.310", ids["queued"]: None}
