"""Acceptance tests of issue 5 on the seed MNIST CNN trained to >= 98% (the shared `trained_mnist_run` fixture).

Each test also checks that the method left the model as it found it: no hook, same weights, same flags.
"""
from __future__ import annotations

import pytest
import torch

from engine.data import load_data, to_float
from engine.train.runs import load_trained
from engine.visualise import (
    METHODS,
    Activations,
    AscentConfig,
    ChannelVisualisation,
    ClassVisualisation,
    FeatureInversion,
    Filters,
    GradCamMap,
    GuidedBackpropMap,
    InversionConfig,
    ModelRandomisation,
    SaliencyMap,
    deletion,
    hook_count,
    invert_depths,
    taps,
)

pytestmark = pytest.mark.slow  # needs the seed CNN trained on full MNIST (the trained_mnist_run fixture)


@pytest.fixture(scope="module")
def trained(trained_mnist_run):
    graph, model = load_trained(trained_mnist_run)
    return graph, model


@pytest.fixture(scope="module")
def test_set(mnist_root):
    data = load_data("mnist", mnist_root)
    return to_float(data.x_val[:1000]), data.y_val[:1000]


def snapshot(model: torch.nn.Module) -> dict:
    return {"state": {k: v.clone() for k, v in model.state_dict().items()},
            "flags": [p.requires_grad for p in model.parameters()], "training": model.training}


def assert_untouched(model: torch.nn.Module, before: dict) -> None:
    assert hook_count(model) == 0, "a hook was left on the model"
    after = model.state_dict()
    changed = [k for k, v in before["state"].items() if not torch.equal(v, after[k])]
    assert not changed, f"weights changed: {changed}"
    assert [p.requires_grad for p in model.parameters()] == before["flags"]
    assert model.training == before["training"]


def one_per_digit(images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return torch.stack([images[int((labels == d).nonzero()[0])] for d in range(10)])


def test_trained_model_is_accurate(trained, test_set):
    _, model = trained
    x, y = test_set
    with torch.no_grad():
        acc = (model(x).argmax(1) == y).float().mean().item()
    assert acc >= 0.98, f"the fixture model is not the trained one: accuracy {acc:.3f} on 1,000 test digits"


def test_class_visualisation_reaches_softmax_099_for_every_digit(trained):
    graph, model = trained
    before = snapshot(model)
    results = ClassVisualisation(model, AscentConfig(steps=256), graph=graph).run_many(list(range(10)))
    probs = {r.target: round(r.prob, 4) for r in results}
    assert all(r.prob >= 0.99 for r in results), f"softmax per digit: {probs}"
    assert all(r.image.min() >= 0 and r.image.max() <= 1 for r in results)  # stays a valid image
    assert_untouched(model, before)


def test_channel_visualisation_beats_best_of_1000_test_images(trained, test_set):
    """conv1's and conv2's channels, read at their ReLUs (relu1, relu2): a conv's raw output before the ReLU is
    negative for every test image in most channels (all 64 of conv2's), where a ratio to the best image means
    nothing; after the ReLU the activation is >= 0 and the ratio is the plain one."""
    graph, model = trained
    images, _ = test_set
    before = snapshot(model)
    cfg = AscentConfig.for_channels(steps=96)
    outcomes = {}
    for layer, channels in (("relu1", range(0, 32, 4)), ("relu2", range(0, 64, 8))):
        vis = ChannelVisualisation(model, layer, cfg, graph=graph)
        for c in channels:
            r = vis.run(c, dataset=images, top_k=4)
            outcomes[f"{layer}:{c}"] = r.ratio
            assert r.exemplars.shape == (4, 1, 28, 28)
            assert r.exemplar_scores == sorted(r.exemplar_scores, reverse=True)
            assert r.dataset_best == pytest.approx(r.exemplar_scores[0])
    good = sum(1 for v in outcomes.values() if v is not None and v >= 1.0)
    assert good >= 0.8 * len(outcomes), f"ratios (None: a channel no test image activates): {outcomes}"
    assert_untouched(model, before)


def test_inversion_from_conv1_keeps_features_and_class(trained, test_set):
    graph, model = trained
    x = one_per_digit(*test_set)
    before = snapshot(model)
    results = FeatureInversion(model, "conv1", graph, InversionConfig(steps=150)).run_many(x)
    errors = [round(r.feature_error, 4) for r in results]
    assert all(e <= 0.1 for e in errors), f"normalised feature errors: {errors}"
    assert sum(r.class_kept for r in results) >= 9
    assert all(r.psnr > 20 and r.ssim > 0.8 for r in results), [(r.psnr, r.ssim) for r in results]
    assert_untouched(model, before)


def test_randomisation_check_saliency_passes_gradcam_passes_or_names_its_blank_maps_guided_backprop_fails(trained, test_set):
    graph, model = trained
    images = test_set[0][:16]
    before = snapshot(model)
    sal = ModelRandomisation(SaliencyMap(model, graph)).run(images)
    cam = ModelRandomisation(GradCamMap(model, graph)).run(images)
    gbp = ModelRandomisation(GuidedBackpropMap(model, graph)).run(images)
    summary = {r.method: round(r.mean_rho, 3) for r in (sal, cam, gbp)}
    assert sal.passed, summary
    # Grad-CAM: a ReLU'd class map is blank on some digits, and a rank correlation with a blank map is not defined:
    # with more than 1 in 10 blank the verdict is "undefined" and names them, never a pass (issue 16's honest
    # verdicts); with fewer it must pass
    if cam.verdict == "undefined":
        assert cam.interval.undefined > 0.1 * len(images) and "blank" in cam.reason, cam.reason
    else:
        assert cam.passed, (summary, cam.reason)
    assert not gbp.passed and gbp.verdict == "fails", summary  # the known failure the page states beside its maps
    assert "sanity check" in gbp.note
    assert sal.maps_trained.shape == sal.maps_random.shape == (16, 28, 28)
    assert_untouched(model, before)


def test_saliency_deletion_auc_beats_random_order_on_most_images(trained, test_set):
    graph, model = trained
    images = test_set[0][:50]
    before = snapshot(model)
    method = SaliencyMap(model, graph)
    _, maps = method.maps(images)
    with torch.no_grad():
        targets = model(images).argmax(1)
    wins = [deletion(model, images[i:i + 1], maps[i], int(targets[i])).beats_random for i in range(50)]
    assert sum(wins) >= 40, f"saliency beat the random order on {sum(wins)} of 50 images"
    one = method.run(images[0])  # the single-image path carries the same numbers
    assert one.deletion is not None and one.deletion.auc < one.deletion.random_auc
    assert len(one.deletion.curve) == 29 and one.deletion.curve[0] == pytest.approx(one.prob, rel=1e-4)
    assert_untouched(model, before)


def test_every_method_leaves_the_trained_model_untouched(trained, test_set):
    graph, model = trained
    x = test_set[0][0]
    before = snapshot(model)
    Filters(model, graph).run("conv2")
    acts = Activations(model, graph).run(x, list(taps(graph, model)))
    assert acts.predicted == int(test_set[1][0])
    for cls in METHODS.values():
        r = cls(model, graph).run(x)
        assert r.map.shape == (28, 28)
    invert_depths(model, x, ["pool1", "fc1"], graph, InversionConfig(steps=5))
    ChannelVisualisation(model, "fc1", AscentConfig(steps=5), graph=graph).run(3, dataset=test_set[0][:50])
    assert_untouched(model, before)
