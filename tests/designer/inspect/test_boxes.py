"""Inspect headless (AppTest) for a detection run: a validation image with the model's boxes, and beside it the
Grad-CAM of the chosen box's class score, which follows the box the user picks."""
from __future__ import annotations

import base64
import json

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from engine.data import load_data, to_float
from engine.detect.inspect import cam_layer, explain_box, predict_boxes
from engine.train.rundir import RunDir
from engine.train.runs import load_trained, new_run_dir
from engine.train.trainer import TrainConfig, train
from tests.conftest import TEMPLATES


def _array(z) -> torch.Tensor:
    """A plotly array as sent: a list, or plotly.py's typed array {dtype, bdata (base64), shape}."""
    if isinstance(z, dict):
        shape = [int(s) for s in str(z["shape"]).split(",")]
        return torch.from_numpy(np.frombuffer(base64.b64decode(z["bdata"]), dtype=z["dtype"]).reshape(shape).copy())
    return torch.tensor(z)


def _figures(at) -> list[dict]:
    return [json.loads(e.proto.spec) for e in at.get("plotly_chart")]


@pytest.mark.slow
def test_a_detected_boxs_grad_cam_is_drawn_beside_it(tmp_path):
    run_dir = new_run_dir(tmp_path, "det")
    train(TEMPLATES / "tiny_grid_detector.json", TrainConfig(data="mnist-detect", epochs=1, max_steps=20,
                                                             batch_size=16, seed=0), run_dir)
    assert RunDir(run_dir).status()["state"] == "finished"

    def script():
        import streamlit as st

        from designer.inspect import boxes
        from designer.inspect.runs import load_run, weights_stamp

        run = load_run(st.session_state.path, weights_stamp(st.session_state.path))
        boxes.render(run)

    at = AppTest.from_function(script, default_timeout=120)
    at.session_state.path = str(run_dir)
    at.run()
    assert not at.exception
    at.slider(key="box_inspect_thr").set_value(0.05).run()
    assert not at.exception
    radio = at.radio[0]
    assert len(radio.options) >= 2
    # the engine's answer for image 0, at the same threshold: the page must draw these boxes and this map
    graph, model = load_trained(run_dir)
    cfg = RunDir(run_dir).config()
    d = load_data(cfg.data, cfg.data_root, input_shape=(1, 96, 96), val_fraction=cfg.val_fraction, seed=cfg.seed,
                  limit=cfg.limit)
    x = to_float(d.x_val[:1])
    want = predict_boxes(model, "detection", x, 0.05)[:len(radio.options)]
    _, layer = cam_layer(graph, model)
    for pick in (0, 1):
        if pick:
            radio.set_value(1).run()
            assert not at.exception
        image, cam = _figures(at)
        preds = [s for s in image["layout"]["shapes"] if s["line"].get("dash") != "dash" and s.get("xref") != "x domain"]
        assert len(preds) == len(want) + 1  # every box above the threshold drawn on the image, the picked one again
        assert [preds[-1][k] for k in ("x0", "y1")] == pytest.approx([want[pick].box[0] - 0.5, want[pick].box[3] - 0.5])
        assert any(s["line"].get("dash") == "dash" for s in image["layout"]["shapes"])  # and the ground truth
        assert f"Grad-CAM of box #{pick + 1}" in cam["layout"]["title"]["text"]
        heat = next(t for t in cam["data"] if t["type"] == "heatmap" and "importance" in t.get("hovertemplate", ""))
        expected = explain_box(model, x, want[pick], layer).map
        assert torch.allclose(_array(heat["z"]).float(), expected, atol=1e-4)
        x1, y1, x2, y2 = want[pick].box
        (rect,) = [s for s in cam["layout"]["shapes"] if s.get("xref") != "x domain"]
        assert abs(rect["x0"] - (x1 - 0.5)) < 1e-3 and abs(rect["y1"] - (y2 - 0.5)) < 1e-3  # the box beside it
        i, j = divmod(want[pick].cell, 6)
        assert f"grid cell (row {i}, column {j})" in at.caption[-1].value


@pytest.mark.slow
def test_a_localisers_box_is_explained_by_its_class_logit(tmp_path):
    run_dir = new_run_dir(tmp_path, "loc")
    train(TEMPLATES / "digit_localiser.json", TrainConfig(data="mnist-locate", epochs=1, max_steps=10, batch_size=16,
                                                          limit=400, seed=0), run_dir)
    assert RunDir(run_dir).status()["state"] == "finished"

    def script():
        import streamlit as st

        from designer.inspect import boxes
        from designer.inspect.runs import load_run, weights_stamp

        run = load_run(st.session_state.path, weights_stamp(st.session_state.path))
        boxes.render(run)

    at = AppTest.from_function(script, default_timeout=120)
    at.session_state.path = str(run_dir)
    at.run()
    assert not at.exception
    assert not at.slider  # one box per image: no confidence threshold
    at.number_input(key="box_image").set_value(3).run()
    assert len(at.radio[0].options) == 1
    graph, model = load_trained(run_dir)
    cfg = RunDir(run_dir).config()
    d = load_data(cfg.data, cfg.data_root, input_shape=(1, 56, 56), val_fraction=cfg.val_fraction, seed=cfg.seed,
                  limit=cfg.limit)
    x = to_float(d.x_val[3:4])
    (box,) = predict_boxes(model, "localisation", x)
    image, cam = _figures(at)
    assert f"({d.classes[box.label]})" in cam["layout"]["title"]["text"]
    heat = next(t for t in cam["data"] if t["type"] == "heatmap" and "importance" in t.get("hovertemplate", ""))
    assert torch.allclose(_array(heat["z"]).float(), explain_box(model, x, box, cam_layer(graph, model)[1]).map,
                          atol=1e-4)
    assert "class logit of the localiser" in at.caption[-1].value
