"""Engine visualisation building blocks: metrics, layer taps, the guard, and every method's contract on small
untrained models (fast; quality is tested on the trained network in test_visualise.py)."""
from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import engine
from engine.visualise import (
    METHODS,
    Activations,
    AscentConfig,
    ChannelVisualisation,
    ClassVisualisation,
    FeatureInversion,
    Filters,
    GradCamMap,
    InversionConfig,
    ModelGuard,
    ModelRandomisation,
    OcclusionMap,
    SaliencyMap,
    conv_taps,
    hook_count,
    invert_depths,
    psnr,
    resolve,
    spearman,
    ssim,
    taps,
)
from engine.visualise.images import heat_overlay, tile_grid
from engine.visualise.metrics import curve_auc, deletion_curve, rank
from engine.visualise.params import FourierImage, PixelImage
from engine.visualise.priors import gaussian_blur, total_variation

TEMPLATES = Path(__file__).resolve().parents[3] / "assets" / "templates"


@pytest.fixture(scope="module")
def mnist():
    """The seed MNIST CNN, untrained (seeded weights)."""
    g = engine.load_graph(TEMPLATES / "mnist_cnn.json")
    torch.manual_seed(0)
    return g, engine.build_module(g).eval()


def digits(n: int = 4, seed: int = 0) -> torch.Tensor:
    """Blurry strokes on black, in [0, 1]: enough structure for the methods to have something to find."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.zeros(n, 1, 28, 28)
    for i in range(n):
        r, c = torch.randint(6, 22, (2,), generator=gen).tolist()
        x[i, 0, r - 5:r + 5, c - 1:c + 2] = 1.0
        x[i, 0, r - 1:r + 1, c - 5:c + 5] = 1.0
    return gaussian_blur(x, 0.7).clamp(0, 1)


# ---- metrics ---------------------------------------------------------------------------------------------------

def test_rank_averages_ties_and_spearman_matches_its_definition():
    assert rank(torch.tensor([10.0, 20.0, 20.0, 5.0])).tolist() == [1.0, 2.5, 2.5, 0.0]
    a = torch.randn(200, generator=torch.Generator().manual_seed(1))
    assert spearman(a, a.exp()) == pytest.approx(1.0)  # any monotone map keeps the ranking
    assert spearman(a, -a) == pytest.approx(-1.0)
    b = torch.randn(200, generator=torch.Generator().manual_seed(2))
    ra, rb = rank(a), rank(b)  # no ties: Spearman = 1 - 6 Σd² / (n (n² - 1))
    n = 200
    expected = 1 - 6 * float(((ra - rb) ** 2).sum()) / (n * (n * n - 1))
    assert spearman(a, b) == pytest.approx(expected, abs=1e-9)
    assert math.isnan(spearman(torch.ones(5), torch.arange(5.0)))  # a constant map has no ranking: undefined
    with pytest.raises(ValueError, match="same size"):
        spearman(torch.ones(3), torch.ones(4))


def test_psnr_and_ssim():
    x = torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert psnr(x, x) == math.inf
    noisy = (x + 0.1).clamp(0, 1)
    mse = F.mse_loss(noisy, x).item()
    assert psnr(noisy, x) == pytest.approx(10 * math.log10(1 / mse), rel=1e-6)
    assert ssim(x, x) == pytest.approx(1.0)
    assert ssim(noisy, x) < 1.0
    assert ssim(torch.rand(1, 28, 28), x) < 0.2  # unrelated noise has no shared structure


def test_deletion_curve_starts_at_the_prediction_and_area_is_trapezoidal():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 3))
    x = torch.rand(1, 1, 4, 4)
    curve = deletion_curve(model, x, torch.arange(16), target=1, steps=4)
    assert len(curve) == 5
    assert curve[0].item() == pytest.approx(torch.softmax(model(x), 1)[0, 1].item())
    assert curve[-1].item() == pytest.approx(torch.softmax(model(torch.zeros_like(x)), 1)[0, 1].item())
    assert curve_auc(torch.tensor([1.0, 0.0])) == 0.5
    assert curve_auc(torch.tensor([1.0, 1.0, 0.0])) == 0.75


# ---- layers, guard ---------------------------------------------------------------------------------------------

def test_taps_read_every_node_with_the_shape_inference_predicts(mnist):
    g, model = mnist
    found = taps(g, model)
    assert list(found) == ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "flat", "fc1", "relu3", "drop",
                           "fc2"]
    assert found["flat"].side == "input" and found["flat"].module is model.fc1  # Flatten read at fc1's input
    x = torch.rand(2, 1, 28, 28)
    acts = Activations(model, g).run(x[:1], list(found))
    for nid, t in found.items():
        assert tuple(acts.layers[nid].values.shape) == t.shape, nid
    assert torch.equal(acts.layers["flat"].values, acts.layers["pool2"].values.flatten())
    assert set(conv_taps(g, model)) == {"conv1", "conv2"}
    assert hook_count(model) == 0


def test_taps_follow_the_codegen_namespace_for_awkward_node_ids():
    g = engine.load_graph({"format": "convas-graph", "version": 1, "nodes": [
        {"id": "input", "op": "Input", "params": {"shape": [1, 8, 8]}},
        {"id": "class", "op": "Conv2d", "params": {"out_channels": 2, "kernel_size": 3}, "inputs": ["input"]},
        {"id": "2nd conv!", "op": "Conv2d", "params": {"out_channels": 3, "kernel_size": 3}, "inputs": ["class"]},
        {"id": "flat", "op": "Flatten", "inputs": ["2nd conv!"]},
        {"id": "out", "op": "Linear", "params": {"out_features": 4}, "inputs": ["flat"]}], "outputs": ["out"]})
    model = engine.build_module(g)
    found = taps(g, model)
    assert found["class"].module.out_channels == 2
    assert found["2nd conv!"].module.out_channels == 3
    assert found["flat"].module is found["out"].module
    with pytest.raises(ValueError, match="Choose one of"):
        resolve(model, "input", g)
    with pytest.raises(ValueError, match="needs the graph"):
        resolve(model, "class")


def test_a_module_that_is_not_its_nodes_output_is_not_tapped():
    """'same' average pooling calls its module twice (sum / count): the node is read at its consumer's input, and
    the last one, consumed by nothing, is not readable at all."""
    g = engine.load_graph({"format": "convas-graph", "version": 1, "nodes": [
        {"id": "input", "op": "Input", "params": {"shape": [1, 7, 7]}},
        {"id": "pool", "op": "AvgPool2d", "params": {"kernel_size": 2, "stride": 1, "padding": "same"},
         "inputs": ["input"]},
        {"id": "conv", "op": "Conv2d", "params": {"out_channels": 2, "kernel_size": 3}, "inputs": ["pool"]},
        {"id": "pool2", "op": "AvgPool2d", "params": {"kernel_size": 2, "stride": 1, "padding": "same"},
         "inputs": ["conv"]}], "outputs": ["pool2"]})
    model = engine.build_module(g)
    found = taps(g, model)
    assert set(found) == {"pool", "conv"}
    assert found["pool"].side == "input" and found["pool"].module is model.conv
    x = torch.rand(1, 1, 7, 7)
    pooled = F.avg_pool2d(F.pad(x, (0, 1, 0, 1)), 2, 1) / F.avg_pool2d(F.pad(torch.ones_like(x), (0, 1, 0, 1)), 2, 1)
    assert torch.allclose(Activations(model, g).run(x, ["pool"]).layers["pool"].values, pooled[0], atol=1e-6)
    assert hook_count(model) == 0


def test_guard_restores_everything_when_a_method_raises(mnist):
    g, model = mnist
    model.train()  # unusual state on purpose: the guard must restore it, not reset it to a default
    model.fc2.weight.requires_grad_(False)
    flags = [p.requires_grad for p in model.parameters()]
    state = {k: v.clone() for k, v in model.state_dict().items()}

    def explode(fraction, message):
        if fraction > 0.1:
            with torch.no_grad():
                model.conv1.weight.add_(1.0)  # even a method that corrupts the weights is undone
            raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        ClassVisualisation(model, AscentConfig(steps=20), graph=g).run(3, progress=explode)
    with pytest.raises(ValueError, match="channel out of range"):
        ChannelVisualisation(model, "conv1", AscentConfig(steps=5), graph=g).run(99)
    with pytest.raises(RuntimeError, match="stop here"):
        FeatureInversion(model, "relu2", g, InversionConfig(steps=20)).run(digits(1)[0], progress=explode)
    assert hook_count(model) == 0
    assert [p.requires_grad for p in model.parameters()] == flags
    assert model.training and all(m.training for m in model.modules())
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())
    model.eval()
    model.fc2.weight.requires_grad_(True)


def test_guard_freezes_weights_inside(mnist):
    _, model = mnist
    with ModelGuard(model):
        assert not any(p.requires_grad for p in model.parameters())
        assert not model.training
    assert all(p.requires_grad for p in model.parameters())


# ---- methods on an untrained model: contracts, shapes, clean-up -----------------------------------------------

def test_filters_grid(mnist):
    g, model = mnist
    r = Filters(model, g).run("conv2")
    assert r.weights.shape == (64, 32, 5, 5) and not r.rgb and r.shown_inputs == 16
    assert r.grid.shape == (64 * 6 - 1, 16 * 6 - 1) and 0 <= r.grid.min() and r.grid.max() <= 1
    assert r.norms[0] == pytest.approx(model.conv2.weight[0].norm().item(), rel=1e-5)
    with pytest.raises(ValueError, match="only for 2-d convolutions"):
        Filters(model, g).run("fc1")


def test_every_saliency_method_gives_a_map_and_a_deletion_score(mnist):
    g, model = mnist
    x = digits(1)[0]
    for name, cls in METHODS.items():
        r = cls(model, g).run(x)
        assert r.method == name
        assert r.map.shape == (28, 28) and 0 <= r.map.min() and r.map.max() <= 1
        assert 0 <= r.deletion.auc <= 1 and 0 <= r.deletion.random_auc <= 1
        assert 0 <= r.insertion.auc <= 1 and r.insertion.random is not None and len(r.insertion.curve) == 29
        assert r.target == int(model(x[None]).argmax())
        assert hook_count(model) == 0, name


def test_gradcam_layer_default_and_choice(mnist):
    g, model = mnist
    assert GradCamMap(model, g).tap.node == "relu2"  # the last spatial layer that is not a pool
    assert GradCamMap(model, g, layer="conv1").tap.module is model.conv1
    with pytest.raises(ValueError, match="window and stride"):
        OcclusionMap(model, g, window=0)


def test_sanity_check_leaves_the_model_and_global_rng_alone(mnist):
    g, model = mnist
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    r = ModelRandomisation(SaliencyMap(model, g)).run(digits(3))
    assert torch.rand(1) == expected  # re-initialising the copy did not consume the caller's random stream
    assert len(r.rho) == 3 and r.threshold == 0.4 and r.passed == (r.verdict == "passes")
    assert r.verdict == "undefined" or r.passed == (r.interval.hi < 0.4)
    assert hook_count(model) == 0


def test_ascent_priors_and_parameterisations():
    x = torch.rand(2, 3, 16, 16)
    assert total_variation(torch.ones(1, 1, 5, 5)) == 0
    assert gaussian_blur(x, 1.0).shape == x.shape
    assert total_variation(gaussian_blur(x, 1.0)) < total_variation(x)
    f = FourierImage((3, 16, 16), lo=-1, hi=2, batch=2)
    img = f()
    assert img.shape == (2, 3, 16, 16) and img.min() >= -1 and img.max() <= 2
    p = PixelImage((1, 8, 8))
    with torch.no_grad():
        p.pixels.add_(5)
    p.project()
    assert p().max() == 1.0


def test_bare_rgb_module_without_graph():
    """Any nn.Module works when the input shape is given (the ResNet benchmark path): RGB, Fourier, Grad-CAM."""
    import torchvision

    torch.manual_seed(0)
    net = torchvision.models.resnet18(weights=None, num_classes=5).eval()
    r = ChannelVisualisation(net, net.layer1, AscentConfig(steps=3, param="fourier", scale=(0.9, 1.1)),
                             input_shape=(3, 32, 32)).run(2)
    assert r.image.shape == (3, 32, 32) and r.ratio is None
    c = ClassVisualisation(net, AscentConfig(steps=2, blur_every=1), input_shape=(3, 32, 32)).run(1)
    assert c.image.shape == (3, 32, 32)
    filters = Filters(net).run(net.conv1)
    assert filters.rgb and filters.grid.shape[-1] == 3
    cam = GradCamMap(net).run(torch.rand(3, 32, 32))
    assert cam.map.shape == (32, 32)
    with pytest.raises(ValueError, match="input shape"):
        ClassVisualisation(net)
    assert hook_count(net) == 0


def test_inversion_depths_and_images(mnist):
    g, model = mnist
    x = digits(1)[0]
    rs = invert_depths(model, x, ["conv1", "pool2"], g, InversionConfig(steps=10))
    assert [r.layer for r in rs] == ["conv1", "pool2"] and rs[0].image.shape == (1, 28, 28)
    grid = tile_grid(torch.stack([r.image[0] for r in rs]), cols=2)
    assert grid.shape == (28, 57)
    over = heat_overlay(x[0], torch.rand(28, 28))
    assert over.shape == (28, 28, 3) and 0 <= over.min() and over.max() <= 1
