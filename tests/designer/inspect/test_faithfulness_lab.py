"""Inspect headless (AppTest), Saliency tab: deletion and insertion for one image with the random range, the
faithfulness lab behind its button (one verdict line per method, the score table, both plots), and the
data-randomisation test: one click trains the design on shuffled labels through the run queue, and once that run
has finished the lab compares the maps with it."""
from __future__ import annotations

import json
import time

import pytest
from streamlit.testing.v1 import AppTest

from engine.train.rundir import RunDir
from engine.train.runs import new_run_dir, pump_queue
from engine.train.trainer import TrainConfig, train
from engine.workspace import Workspaces
from tests.conftest import TEMPLATES


def _script():
    import streamlit as st

    import designer.inspect.faithfulness as lab
    from designer.inspect.runs import load_run, test_images, weights_stamp
    from designer.inspect.saliency import saliency_tab
    from designer.inspect.views import input_id
    from engine.workspace import Workspaces

    lab.LAB_IMAGES = 12  # the page's 100 images take minutes on a shared CPU; the numbers' contract is the same
    st.session_state.setdefault("workspace", Workspaces(st.session_state.home).create())
    run = load_run(st.session_state.path, weights_stamp(st.session_state.path))
    images, _, _ = test_images(st.session_state.path, run.input_shape)
    x = images[0]
    saliency_tab(run, x, input_id(x), int(run.model(x[None]).argmax()))


def _figure_titles(at) -> list[str]:
    out = []
    for e in at.get("plotly_chart"):
        spec = json.loads(e.proto.spec)
        out.append((spec["layout"].get("title") or {}).get("text", ""))
        out += [a.get("text", "") for a in spec["layout"].get("annotations", [])]
    return out


@pytest.mark.slow
def test_the_lab_runs_from_its_button_and_the_shuffled_label_twin_from_one_click(tmp_path, monkeypatch):
    home = tmp_path / "home"
    monkeypatch.setenv("CONVAS_HOME", str(home))
    runs = tmp_path / "runs"
    run_dir = new_run_dir(runs, "MNIST CNN")
    train(TEMPLATES / "mnist_cnn.json", TrainConfig(data="mnist-sample", epochs=1, max_steps=30, seed=0), run_dir)
    assert RunDir(run_dir).status()["state"] == "finished"

    at = AppTest.from_function(_script, default_timeout=600)
    at.session_state.path, at.session_state.home = str(run_dir), str(home)
    at.session_state.inspect_methods = ["Saliency", "Guided Backprop"]
    at.run()
    assert not at.exception, at.exception
    lines = [m.value for m in at.markdown]
    assert sum("Deletion AUC" in v for v in lines) == 2 and sum("Insertion AUC" in v for v in lines) == 2
    assert all("vs random [" in v for v in lines if "AUC" in v)  # the random range, not a bare mean
    assert "Deletion: the probability should fall fast" in _figure_titles(at)
    assert not any(v.startswith(":") and "model randomisation" in v for v in lines)  # the lab waits for its button

    at.button(key="lab_go").click().run()
    assert not at.exception, at.exception
    verdicts = [m.value for m in at.markdown if "model randomisation" in m.value]
    assert len(verdicts) == 2
    assert any("Saliency: deletion" in v for v in verdicts) and any("Guided Backprop: deletion" in v for v in verdicts)
    table = at.dataframe[0].value
    assert list(table["method"]) == ["Saliency", "Guided Backprop"] and "|ρ| all layers random" in table
    assert all("[" in v for v in table["deletion AUC ↓"])  # every score with its interval
    titles = _figure_titles(at)
    assert any(t.startswith("Mean curves over 12 images") for t in titles)
    assert any(t.startswith("Cascading randomisation") for t in titles)

    # data randomisation: one click starts a real run of the same design on shuffled labels, through the queue
    at.button(key="lab_twin_go").click().run()
    assert not at.exception, at.exception
    (twin,) = [d for d in runs.iterdir() if d != run_dir]
    assert json.loads((twin / "config.json").read_text())["shuffle_labels"] is True
    deadline = time.time() + 600
    while RunDir(twin).status().get("state") not in ("finished", "failed", "stopped") and time.time() < deadline:
        pump_queue(Workspaces(home).queue_dir)  # what every page refresh does
        time.sleep(1)
    assert RunDir(twin).status()["state"] == "finished", RunDir(twin).status()
    at.run()
    at.button(key="lab_go").click().run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert "data rand." in table and set(table["data rand."]) <= {"passes", "fails", "inconclusive", "undefined"}
    verdicts = [m.value for m in at.markdown if "data randomisation" in m.value]
    assert len(verdicts) == 2
