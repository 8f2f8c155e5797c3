"""Exported code of a box task carries the app's decoding: the same boxes from the same weights."""
from __future__ import annotations

import importlib.util

import pytest
import torch

import engine
from engine.data import load_data, to_float
from engine.detect.grid import localise, postprocess
from engine.export.formats import export
from engine.templates import load_template
from engine.train.rundir import RunDir
from engine.train.store import load_weights_into
from engine.train.trainer import train


def import_file(path):
    spec = importlib.util.spec_from_file_location("exported_model", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_exported_detector_postprocess_matches_the_engines(tmp_path):
    g = load_template("tiny_grid_detector")
    path = export(g, "py", tmp_path / "model.py")
    mod = import_file(path)
    assert mod.IMAGE_SIZE == (96, 96)
    torch.manual_seed(0)
    model = mod.build().eval()
    app = engine.build_module(g).eval()
    app.load_state_dict(model.state_dict())
    with torch.no_grad():
        head = model.head
        head.bias.data[0] = 3.0  # confident cells, so there is something to suppress
        app.head.bias.data[0] = 3.0
        x = to_float(load_data("mnist-detect", limit=30).x_val[:4])
        ours = mod.postprocess(model(x), mod.IMAGE_SIZE, score_threshold=0.05)
        theirs = postprocess(app(x), (96, 96), score_threshold=0.05)
    assert sum(len(r["boxes"]) for r in ours) > 4
    for a, b in zip(ours, theirs):
        assert torch.equal(a["boxes"], b["boxes"]) and torch.equal(a["labels"], b["labels"])
        assert torch.equal(a["scores"], b["scores"])


def test_exported_localiser_has_localise(tmp_path):
    g = load_template("digit_localiser")
    mod = import_file(export(g, "py", tmp_path / "model.py"))
    torch.manual_seed(1)
    model = mod.build().eval()
    x = torch.rand(3, 1, 56, 56)
    with torch.no_grad():
        got = mod.localise(*model(x), mod.IMAGE_SIZE)
        want = localise(*model(x), (56, 56))
    assert got["boxes"].shape == (3, 4) and torch.equal(got["boxes"], want["boxes"])
    assert torch.equal(got["labels"], want["labels"])


def test_other_tasks_export_no_box_code():
    src = engine.to_python(load_template("lenet5"))
    assert "postprocess" not in src and "torchvision" not in src


@pytest.mark.slow
def test_exported_code_reproduces_the_boxes_the_train_page_shows(tmp_path):
    run = train("assets/templates/tiny_grid_detector.json",
                {"data": "mnist-detect", "epochs": 1, "batch_size": 16, "max_steps": 2, "limit": 60,
                 "device": "cpu"}, tmp_path / "run")
    rd = RunDir(run)
    assert rd.status()["state"] == "finished", rd.status()
    res = rd.results()
    g = engine.load_graph(rd.graph_path)
    mod = import_file(export(g, "py", tmp_path / "model.py"))
    model = mod.build().eval()
    load_weights_into(model, rd.weights("best"))
    images = torch.stack([torch.as_tensor(e["image"]) for e in res["examples"]])
    with torch.no_grad():
        out = mod.postprocess(model(to_float(images)), mod.IMAGE_SIZE, score_threshold=0.05)
    rows = lambda b, lab: sorted(zip([round(v, 2) for v in b[:, 0].tolist()], b.tolist(), lab))  # ties: any order
    for e, r in zip(res["examples"], out):
        want = torch.tensor([p[2:] for p in e["pred"]]).reshape(-1, 4)
        assert [x[2] for x in rows(r["boxes"], r["labels"].tolist())] == [x[2] for x in rows(want, [p[0] for p in e["pred"]])]
        r["boxes"] = torch.tensor([x[1] for x in rows(r["boxes"], r["labels"].tolist())]).reshape(-1, 4)
        want = torch.tensor([x[1] for x in rows(want, [p[0] for p in e["pred"]])]).reshape(-1, 4)
        # the app evaluated 256 images per batch, here 16: convolutions may round differently in the last bits
        assert r["boxes"].shape == want.shape and torch.allclose(r["boxes"], want, atol=2e-3), (r["boxes"] - want).abs().max()
        assert sorted(r["scores"].tolist()) == pytest.approx(sorted(p[1] for p in e["pred"]), abs=1e-4)
