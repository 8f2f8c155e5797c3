"""The faithfulness lab and the honest verdicts (issue 16, sections 3 and 4) on small models where the right answer
is known: insertion and deletion against a hand-written reference, intervals, blank maps, the cascade's order,
near-dead channels, and the metrics against scipy and torchmetrics."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure

from engine.train.shuffle import shuffled_labels
from engine.visualise import (
    AscentConfig,
    CascadingRandomisation,
    ChannelVisualisation,
    FaithfulnessLab,
    GradCamMap,
    ModelRandomisation,
    SaliencyMap,
    deletion,
    hook_count,
    insertion,
    interval,
    psnr,
    spearman,
    ssim,
)
from engine.visualise.metrics import blurred, curve_auc
from engine.visualise.sanity import compare, parametrised_layers


def toy_linear(side: int = 4, classes: int = 3, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Flatten(), nn.Linear(side * side, classes)).eval()


def reference_curve(model, start: torch.Tensor, end: torch.Tensor, order: list[int], target: int,
                    steps: int) -> list[float]:
    """By hand: for each step, copy the first round(k·n/steps) pixels of `order` from `end` into `start`, one pixel
    at a time, and read the softmax of the target."""
    _, C, H, W = start.shape
    n = H * W
    out = []
    for k in range(steps + 1):
        img = start.clone()
        for idx in order[:round(k * n / steps)]:
            r, c = divmod(idx, W)
            img[0, :, r, c] = end[0, :, r, c]
        with torch.no_grad():
            out.append(float(torch.softmax(model(img), 1)[0, target]))
    return out


def reference_auc(curve: list[float]) -> float:
    return sum((a + b) / 2 for a, b in zip(curve[:-1], curve[1:])) / (len(curve) - 1)


# ---- insertion and deletion ------------------------------------------------------------------------------------

def test_insertion_and_deletion_match_a_hand_written_reference_on_a_toy_model():
    model = toy_linear()
    x = torch.rand(1, 1, 4, 4, generator=torch.Generator().manual_seed(3))
    sal = torch.rand(4, 4, generator=torch.Generator().manual_seed(4))  # distinct values: no ties
    order = torch.argsort(sal.flatten(), descending=True).tolist()
    target, steps = 2, 8
    d = deletion(model, x, sal, target, steps, random_orders=0)
    ref_d = reference_curve(model, x, torch.zeros_like(x), order, target, steps)
    assert d.curve == pytest.approx(ref_d, abs=1e-6)
    assert d.auc == pytest.approx(reference_auc(ref_d), abs=1e-6)
    i = insertion(model, x, sal, target, steps, random_orders=0)
    ref_i = reference_curve(model, blurred(x), x, order, target, steps)
    assert i.curve == pytest.approx(ref_i, abs=1e-6)
    assert i.auc == pytest.approx(reference_auc(ref_i), abs=1e-6)
    # insertion ends on the image itself and starts on its blur; deletion the other way round to black
    p = lambda t: float(torch.softmax(model(t), 1)[0, target].detach())
    assert i.curve[-1] == pytest.approx(p(x), abs=1e-6) and d.curve[0] == pytest.approx(p(x), abs=1e-6)
    assert i.curve[0] == pytest.approx(p(blurred(x)), abs=1e-6)


def test_the_insertion_substrate_is_a_blur_that_keeps_a_flat_image():
    flat = torch.full((1, 3, 28, 28), 0.4)
    assert torch.allclose(blurred(flat), flat, atol=1e-6)
    x = torch.rand(1, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    assert blurred(x).std() < 0.5 * x.std()  # the detail is gone
    assert blurred(torch.rand(1, 1, 2, 2)).shape == (1, 1, 2, 2)  # tiny images still get a substrate


def evidence_model(side: int = 8):
    """logit₀ = Σ w·x, logit₁ = 0: pixel (r, c) is evidence for class 0 in proportion to w·x."""
    torch.manual_seed(1)
    lin = nn.Linear(side * side, 2)
    with torch.no_grad():
        lin.weight[0] = torch.rand(side * side) * 0.4
        lin.weight[1] = 0
        lin.bias.zero_()
    return nn.Sequential(nn.Flatten(), lin).eval()


def test_beats_random_only_outside_the_random_range():
    """Today's rule `auc < random_auc` calls about half of all meaningless maps better than random."""
    model = evidence_model()
    x = torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(0)) + 0.5
    contribution = (model[1].weight[0].view(8, 8) * x[0, 0]).detach()
    good = deletion(model, x, contribution, 0)
    assert good.beats_random and good.verdict == "beats random", (good.auc, good.random)
    assert good.random.lo < good.random_auc < good.random.hi and len(good.random_aucs) == 40
    gen = torch.Generator().manual_seed(5)
    noise = [deletion(model, x, torch.rand(8, 8, generator=gen), 0, seed=s) for s in range(40)]
    below_mean = sum(d.auc < d.random_auc for d in noise)
    called_better = sum(d.beats_random for d in noise)
    assert below_mean >= 10  # the old rule's false claims
    assert called_better <= 4, f"{called_better} of 40 random maps 'beat random'"
    assert any(d.verdict == "not distinguishable from random" for d in noise)
    # insertion: pixel (r, c) put back changes logit₀ by w·(x − blur(x)); start the blur at probability 1/2
    x = torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(2))
    w = model[1].weight[0].view(8, 8)
    with torch.no_grad():
        model[1].bias[0] = -(w * blurred(x)[0, 0]).sum() * 1.0
    gain = (w * (x - blurred(x))[0, 0]).detach()
    ins = insertion(model, x, gain, 0)
    assert ins.curve[0] == pytest.approx(0.5, abs=1e-5)
    assert ins.beats_random and ins.auc > ins.random.hi, (ins.auc, ins.random)
    flipped = insertion(model, x, -gain, 0)  # the worst order: the evidence against the class first
    assert flipped.verdict == "worse than random"


def test_interval_is_students_t_and_skips_undefined_values():
    vals = [0.2, 0.4, 0.35, 0.1, 0.3, float("nan")]
    iv = interval(vals)
    lo, hi = stats.t.interval(0.95, 4, loc=np.mean(vals[:5]), scale=stats.sem(vals[:5]))
    assert (iv.lo, iv.hi) == pytest.approx((lo, hi)) and iv.n == 5 and iv.undefined == 1
    assert math.isnan(interval([float("nan")]).mean)
    assert interval([1.0, 2.0, 1.5, 1.2]).below(interval([10.0, 11.0, 10.5, 10.2]))
    assert not interval([1.0, 3.0, 2.0, 1.5]).below(interval([2.0, 4.0, 3.0, 2.5]))  # overlapping intervals do not separate


# ---- sanity checks ---------------------------------------------------------------------------------------------

def dead_conv_model() -> nn.Module:
    """conv → ReLU → linear whose conv bias is so negative that the ReLU is silent for every input in [0, 1]:
    Grad-CAM of the conv output is blank."""
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 8 * 8, 3)).eval()
    with torch.no_grad():
        m[0].bias.fill_(-100.0)
    return m


def test_a_blank_trained_map_makes_the_sanity_check_undefined_never_a_pass():
    model = dead_conv_model()
    images = torch.rand(10, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    r = ModelRandomisation(GradCamMap(model, layer=model[0])).run(images)
    assert (r.maps_trained == 0).all()  # the blank maps of the issue
    assert not r.passed
    assert r.verdict == "undefined"
    assert "10 of 10 trained maps are constant" in r.reason and "not defined" in r.reason
    assert all(math.isnan(v) for v in r.rho)


def test_rank_correlation_with_a_constant_map_is_undefined():
    a = torch.rand(28, 28)
    assert math.isnan(spearman(torch.zeros(28, 28), a)) and math.isnan(spearman(a, torch.full((28, 28), 0.3)))
    maps = torch.rand(20, 8, 8, generator=torch.Generator().manual_seed(0))
    blank = maps.clone()
    blank[:3] = 0  # 3 of 20 randomised maps blank: more than one in ten
    c = compare(maps, blank)
    assert c.verdict == "undefined" and "3 of 20 randomised maps are constant" in c.reason
    one = maps.clone()
    one[0] = 0.5  # 1 of 20: judged on the other 19, and said
    c = compare(maps, one)
    assert c.verdict == "fails" and c.interval.n == 19 and "1 image(s) with a blank map left out" in c.reason
    unrelated = torch.rand(20, 8, 8, generator=torch.Generator().manual_seed(1))
    assert compare(maps, unrelated).verdict == "passes"
    single = compare(maps[:1], unrelated[:1])
    assert single.verdict == "undefined" and "an interval needs at least 2" in single.reason


def test_spearman_psnr_and_ssim_agree_with_scipy_and_torchmetrics():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.rand(784, generator=gen), torch.rand(784, generator=gen)
    b[:100] = a[:100] * 2  # some shared ranking
    a[200:260] = 0.5  # ties
    assert spearman(a, b) == pytest.approx(stats.spearmanr(a.numpy(), b.numpy()).statistic, abs=1e-12)
    x = torch.rand(1, 28, 28, generator=gen)
    noisy = (x + 0.05 * torch.randn(1, 28, 28, generator=gen)).clamp(0, 1)
    assert psnr(noisy, x) == pytest.approx(float(peak_signal_noise_ratio(noisy, x, data_range=1.0)), rel=1e-5)
    tm = structural_similarity_index_measure(noisy[None], x[None], gaussian_kernel=True, sigma=1.5, data_range=1.0)
    assert ssim(noisy, x) == pytest.approx(float(tm), abs=1e-6)
    assert ssim(noisy[0], x[0]) == pytest.approx(float(tm), abs=1e-6)  # (H, W) as one channel


def small_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(),
                         nn.Flatten(), nn.Linear(4 * 8 * 8, 16), nn.ReLU(), nn.Linear(16, 3)).eval()


def test_cascading_randomisation_goes_from_the_output_layer_down():
    model = small_cnn()
    images = torch.rand(6, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    assert [p for p, _ in parametrised_layers(model, images)] == ["0", "2", "5", "7"]  # forward order
    r = CascadingRandomisation(SaliencyMap(model)).run(images)
    assert r.layers == ["7", "5", "2", "0"]  # the logits first, the first conv last
    assert len(r.steps) == 4 and r.maps.shape == (5, 8, 8)
    assert all(len(s.rho) == 6 for s in r.steps)
    assert r.final is r.steps[-1] and r.verdict == r.steps[-1].verdict
    assert hook_count(model) == 0 and all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())
    # the first step only touched the last layer: the saliency of a net whose logits are random still follows the
    # same input weights, the last step nothing of the trained net is left
    assert r.steps[0].interval.mean != r.steps[-1].interval.mean


def test_cascade_on_a_module_with_forward_reused_layers_lists_each_once():
    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(4, 4), nn.Linear(4, 2)

        def forward(self, x):
            return self.b(self.a(self.a(x.flatten(1))))
    assert [p for p, _ in parametrised_layers(Twice(), torch.rand(1, 1, 2, 2))] == ["a", "b"]


def test_the_data_randomisation_check_compares_against_the_given_model():
    model, other = small_cnn(), small_cnn()
    torch.manual_seed(9)
    for p in other.parameters():
        nn.init.normal_(p, 0, 0.3)
    images = torch.rand(12, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    same = ModelRandomisation(SaliencyMap(model), against=small_cnn()).run(images)
    assert same.verdict == "fails" and same.interval.mean == pytest.approx(1.0)  # identical weights, identical maps
    diff = ModelRandomisation(SaliencyMap(model), against=other).run(images)
    assert diff.interval.mean < 0.9 and diff.maps_random.shape == (12, 8, 8)


def test_shuffled_labels_permute_the_training_targets():
    y = torch.arange(100) % 10
    s = shuffled_labels(y, seed=0)
    assert sorted(s.tolist()) == sorted(y.tolist()) and not torch.equal(s, y)
    assert torch.equal(s, shuffled_labels(y, seed=0)) and not torch.equal(s, shuffled_labels(y, seed=1))
    assert (s == y).float().mean() < 0.25  # about chance: the labels no longer belong to their images


# ---- the lab ---------------------------------------------------------------------------------------------------

def test_the_lab_scores_every_method_with_intervals_and_one_verdict_line():
    model = small_cnn()
    images = torch.rand(12, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    state = {k: v.clone() for k, v in model.state_dict().items()}
    seen = []
    out = FaithfulnessLab(model, steps=8).run(images, ["Saliency", GradCamMap(model, layer=model[2])],
                                              progress=lambda f, m: seen.append(f))
    assert list(out) == ["Saliency", "Grad-CAM"]
    for r in out.values():
        assert r.n_images == 12 and r.deletion.n == 12 and r.insertion_random.n == 12
        assert r.deletion.lo <= r.deletion.mean <= r.deletion.hi
        assert len(r.curves["insertion"]) == 9 and len(r.cascade.layers) == 4
        assert r.deletion.mean == pytest.approx(curve_auc(torch.tensor(r.curves["deletion"])), abs=1e-6)
        assert r.verdict.startswith(f"{r.method}: deletion ") and "model randomisation" in r.verdict
        assert r.data is None
    assert seen == sorted(seen) and seen[-1] == 1.0
    assert hook_count(model) == 0 and all(torch.equal(v, model.state_dict()[k]) for k, v in state.items())
    with pytest.raises(ValueError, match="unknown saliency method"):
        FaithfulnessLab(model).run(images, ["Nope"])


# ---- channel ascent ----------------------------------------------------------------------------------------------

def near_dead_layer_model() -> nn.Module:
    """A 1×1 conv with two channels read after its ReLU: channel 0 = the image, channel 1 = relu(x − 0.9995), which
    only the brightest pixels of a few images reach, by a hair."""
    m = nn.Sequential(nn.Conv2d(1, 2, 1), nn.ReLU(), nn.Flatten(), nn.Linear(2 * 8 * 8, 2)).eval()
    with torch.no_grad():
        m[0].weight.fill_(1.0)
        m[0].bias.copy_(torch.tensor([0.0, -0.9995]))
    return m


def test_a_near_dead_channel_gets_no_ratio_and_the_dead_channel_wording_with_real_digits():
    model = near_dead_layer_model()
    images = torch.rand(200, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    vis = ChannelVisualisation(model, model[1], AscentConfig.for_channels(steps=4), input_shape=(1, 8, 8))
    r = vis.run(1, dataset=images)
    assert 0 < r.dataset_best < 1e-4
    assert r.ratio is None and r.status == "near-dead"
    assert r.active_images == int((vis.dataset_scores(images)[:, 1] > 0).sum()) and 0 < r.active_images < 200
    text = r.summary()
    assert text.startswith("near-dead channel:") and f"{r.active_images:,} of 200 test images" in text
    assert f"{r.dataset_best:.3g}" in text and "0.000 " not in text and "×" not in text
    live = vis.run(0, dataset=images)
    assert live.status == "live" and live.ratio == pytest.approx(live.activation / live.dataset_best)
    assert "× the best of 200 test images" in live.summary()
    dead_model = near_dead_layer_model()
    with torch.no_grad():
        dead_model[0].bias[1] = -5.0
    dead = ChannelVisualisation(dead_model, dead_model[1], AscentConfig.for_channels(steps=2),
                                input_shape=(1, 8, 8)).run(1, dataset=images)
    assert dead.status == "dead" and dead.ratio is None and dead.summary().startswith("dead channel: 0 of 200")
