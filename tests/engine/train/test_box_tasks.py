"""Localisation and detection runs: the graph/data checks, exact resume, and short CPU runs against a trivial
baseline measured in the same test (the numbers are printed; the bars are far from both)."""
from __future__ import annotations

import pytest
import torch

import engine
from engine.data import load_data, to_float
from engine.detect.grid import localise, postprocess
from engine.detect.metrics import localisation_metrics, mean_average_precision
from engine.detect.targets import ground_truth
from engine.templates import load_template, template_train
from engine.train.checks import TrainError
from engine.train.rundir import RunDir
from engine.train.runs import load_trained
from engine.train.tasks.detection import grid_of
from engine.train.tasks.localisation import check_localiser
from engine.train.trainer import resume, train


def edited(name: str, **changes) -> dict:
    g = load_template(name).to_dict()
    g.update(changes)
    return g


@pytest.fixture(scope="module")
def loc_data():
    return load_data("mnist-locate", limit=50)


@pytest.fixture(scope="module")
def det_data():
    return load_data("mnist-detect", limit=50)


def test_the_detector_check_names_the_grid_and_the_fixes(det_data):
    g = load_template("tiny_grid_detector")
    assert grid_of(g, engine.check(g), det_data) == (6, 6)
    bad = engine.load_graph(edited("tiny_grid_detector", outputs=["block5_relu"]))
    with pytest.raises(TrainError, match="to be a DetectionHead.*Add a DetectionHead with num_classes=10"):
        grid_of(bad, engine.check(bad), det_data)
    d = edited("tiny_grid_detector")
    d["nodes"][-1]["params"]["num_classes"] = 3
    bad = engine.load_graph(d)
    with pytest.raises(TrainError, match="scores 3 classes but mnist-detect has 10. Set head.num_classes to 10"):
        grid_of(bad, engine.check(bad), det_data)
    with pytest.raises(TrainError, match="task is detection but mnist-locate is localisation data"):
        grid_of(g, engine.check(g), load_data("mnist-locate", input_shape=(1, 96, 96), limit=20))


def test_the_localiser_check_wants_logits_then_four_numbers(loc_data):
    g = load_template("digit_localiser")
    check_localiser(g, engine.check(g), loc_data)
    one = engine.load_graph(edited("digit_localiser", outputs=["classes"]))
    with pytest.raises(TrainError, match="needs two outputs.*Received: 1 output"):
        check_localiser(one, engine.check(one), loc_data)
    swapped = engine.load_graph(edited("digit_localiser", outputs=["box", "classes"]))
    with pytest.raises(TrainError, match="output 'box' \\(class logits\\) must be 10 but it is 4"):
        check_localiser(swapped, engine.check(swapped), loc_data)


FAST = dict(epochs=1, batch_size=16, device="cpu", log_every=1)


@pytest.mark.slow
def test_detection_resume_is_exact(tmp_path):
    cfg = dict(data="mnist-detect", limit=90, max_steps=4, **FAST)  # 30 canvases, 2 steps per epoch
    cfg.update(epochs=2, augment="crop+flip")  # box-aware augmentation: its draws resume exactly too
    straight = train("assets/templates/tiny_grid_detector.json", cfg, tmp_path / "a")
    split = train("assets/templates/tiny_grid_detector.json", cfg, tmp_path / "b", should_stop=lambda s: s >= 3)
    assert RunDir(split).status()["state"] == "stopped"
    resume(split)
    st = RunDir(split).status()  # the headline number is named: the run pickers say "best mAP@0.5 0.0xx"
    assert st["best_metric"] == "mAP@0.5" and st["best_val_acc"] == max(
        r["val_map50"] for r in RunDir(split).metrics()[0] if r.get("val_map50") is not None)
    a, b = load_trained(straight, "last")[1].state_dict(), load_trained(split, "last")[1].state_dict()
    for k in a:
        assert torch.allclose(a[k], b[k], rtol=0, atol=1e-6), k
    parts = lambda run: [(r["step"], r.get("train_obj"), r.get("val_map50")) for r in RunDir(run).metrics()[0]]
    assert parts(straight) == parts(split)
    res = RunDir(split).results()
    assert res["task"] == "detection" and len(res["ap_50"]) == 10 and len(res["pr_recall"]) == 101
    assert res["examples"][0]["image"].shape == (1, 96, 96) and res["examples"][0]["true"]


@pytest.mark.slow
def test_a_short_detector_run_beats_the_untrained_network(tmp_path, mnist_root):
    """The template's own recipe (Adam 5e-3, one-cycle, batch 32) for 100 steps on full-MNIST canvases (3.2k
    images, under a minute on an idle 2-core CPU) against the same network untrained, both on the 3.3k test
    canvases made from the 10k MNIST test digits. The same run as `python benchmarks/train_detect.py --task detect
    --limit 9600 --max-steps 100 --epochs-detect 1 --device cpu`."""
    recipe = template_train("tiny_grid_detector")
    cfg = {**recipe, "data_root": str(mnist_root), "limit": 9600, "epochs": 1, "max_steps": 100,
           "device": "cpu", "log_every": 50}  # 9.6k digits -> ~3.2k canvases: one epoch of 100 steps
    g = load_template("tiny_grid_detector")
    run = train(g, cfg, tmp_path / "r")
    res = RunDir(run).results(examples=False)
    data = load_data("mnist-detect", mnist_root, limit=32)
    torch.manual_seed(0)  # the trainer seeds its initial weights with cfg.seed (0): the same network
    model = engine.build_module(g).eval()
    preds = []
    with torch.no_grad():
        for i in range(0, len(data.x_test), 512):
            preds += postprocess(model(to_float(data.x_test[i:i + 512])), (96, 96), score_threshold=0.01)
    base = mean_average_precision(preds, ground_truth(data.y_test), 10)["map_50"]
    print(f"mAP@0.5 on {len(data.x_test)} test canvases after {RunDir(run).status()['step']} steps: "
          f"{res['map_50']:.3f}; the same network untrained: {base:.5f}")
    assert res["split"] == data.test_name and res["selected_on"] == "validation"
    assert len(data.x_test) == res["n"] > 3000  # the same full test canvases
    # measured: 0.164 against 0.00003 (two-way split) and 0.119 against 0.00008 (validation carved from these
    # training canvases); the template needs epochs, not steps, for the benchmark's 0.95
    assert base < 0.001 and res["map_50"] > 0.08 and res["map_50"] > 100 * base


@pytest.mark.slow
def test_a_short_localiser_run_beats_predicting_the_mean_box(tmp_path):
    run = train("assets/templates/digit_localiser.json", dict(data="mnist-locate", limit=2000, max_steps=60,
                                                              **{**FAST, "batch_size": 32, "epochs": 1}), tmp_path / "r")
    res = RunDir(run).results(examples=False)
    data = load_data("mnist-locate", limit=2000)
    y = data.y_train  # the trivial baseline: the most common class and the mean box of the training set
    n = len(data.y_test)  # the results are the test split's
    mean_box = y[:, 1:].mean(0).expand(n, 4)
    base = localisation_metrics(torch.full((n,), int(y[:, 0].mode().values)), mean_box, data.y_test)
    assert res["split"] == "test" and res["n"] == n
    print(f"localiser after 60 steps: {res['accuracy']:.3f} accuracy, mean IoU {res['mean_iou']:.3f}; "
          f"baseline {base['accuracy']:.3f}, {base['mean_iou']:.3f}")
    # measured here: mean IoU 0.688 against 0.253, accuracy 0.181 against 0.089 (60 steps: boxes come first)
    assert res["mean_iou"] > base["mean_iou"] + 0.3 and res["accuracy"] > base["accuracy"] + 0.05
    model = load_trained(run, "best")[1].eval()
    with torch.no_grad():
        got = localise(*model(to_float(data.x_val[:5])), (56, 56))
    assert got["boxes"].shape == (5, 4)
