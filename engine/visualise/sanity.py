"""Sanity checks for saliency maps (Adebayo et al. 2018, "Sanity Checks for Saliency Maps").

An explanation of a trained network must depend on what the network learned. So compute a method's maps on the
trained model and on a copy whose weights are re-initialised, and compare them with Spearman's rank correlation: a
method that explains the model gives clearly different maps (low correlation, it passes); a method whose maps
survive the randomisation is showing the input (edges), not the model (it fails). Guided Backprop is the classic
failure. "Clearly low" is |ρ| < 0.4 by default, judged on the 95% interval of the mean |ρ| over the images: it
passes when the whole interval is below 0.4, fails when it is all above, and is inconclusive in between. On the
MNIST CNN, Saliency and SmoothGrad sit near 0.2, Grad-CAM at 0.1-0.3, Guided Backprop above 0.5 and Integrated
Gradients (zero baseline) near 1.

A constant (blank) map has no ranking, so its correlation is not defined (NaN, never 0): when more than one image in
ten has one, the verdict is "undefined" and says which maps were blank. Three checks share this comparison:

    ModelRandomisation(method).run(images)          every layer re-initialised at once
    CascadingRandomisation(method).run(images)      layers re-initialised one by one from the top (Adebayo's cascade)
    ModelRandomisation(method, against=m).run(...)  the data-randomisation test: `m` trained on shuffled labels
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import torch
from torch import nn

from engine.visualise.guard import Progress, model_device, no_progress
from engine.visualise.layers import Tap, taps
from engine.visualise.metrics import is_constant, spearman
from engine.visualise.saliency import AttributionMethod
from engine.visualise.stats import Interval, interval

THRESHOLD = 0.4
# more than this share of images with a constant map and the check says "undefined" instead of judging the rest
UNDEFINED_SHARE = 0.1


@dataclass
class Comparison:
    """Spearman's ρ per image between two sets of maps, and what it means."""

    rho: list[float]  # per image; NaN where either map is constant
    interval: Interval  # of |ρ| over the images with a defined ρ
    verdict: str  # "passes" | "fails" | "inconclusive" | "undefined"
    reason: str  # one sentence: why this verdict
    blank_trained: int  # images whose map on the trained model is constant
    blank_other: int  # ... on the other (randomised) model


def compare(trained: torch.Tensor, other: torch.Tensor, threshold: float = THRESHOLD,
            other_name: str = "randomised") -> Comparison:
    """Compare maps (N, H, W) of the trained model with those of another model, image by image."""
    rho = [spearman(a, b) for a, b in zip(trained, other)]
    blank_t = sum(is_constant(m) for m in trained)
    blank_o = sum(is_constant(m) for m in other)
    iv = interval(abs(r) for r in rho)
    n = len(rho)
    if n == 0:
        return Comparison(rho, iv, "undefined", "no images to compare", 0, 0)
    if iv.undefined > UNDEFINED_SHARE * n:
        parts = [f"{c} of {n} {what} maps are constant (blank)" for c, what in
                 ((blank_t, "trained"), (blank_o, other_name)) if c]
        return Comparison(rho, iv, "undefined", f"{' and '.join(parts)}: a rank correlation with a constant map is "
                          f"not defined, so the check cannot tell whether the maps changed", blank_t, blank_o)
    if iv.n < 2:
        return Comparison(rho, iv, "undefined", f"only {iv.n} image with a defined correlation: an interval needs at "
                          f"least 2 (use 100)", blank_t, blank_o)
    skipped = f" ({iv.undefined} image(s) with a blank map left out)" if iv.undefined else ""
    if iv.hi < threshold:
        verdict, why = "passes", f"mean |ρ| {iv.text(2)} is below {threshold}: the maps changed{skipped}"
    elif iv.lo >= threshold:
        verdict, why = "fails", (f"mean |ρ| {iv.text(2)} is at or above {threshold}: the maps barely changed"
                                 f"{skipped}")
    else:
        verdict, why = "inconclusive", f"mean |ρ| {iv.text(2)} straddles {threshold}: more images needed{skipped}"
    return Comparison(rho, iv, verdict, why, blank_t, blank_o)


@dataclass
class SanityResult:
    method: str
    rho: list[float]  # Spearman correlation per image between the trained and randomised maps (NaN: a blank map)
    mean_rho: float  # mean |ρ| over the images with a defined ρ (a strongly negative ρ is as dependent as a positive)
    threshold: float  # pass when the whole 95% interval of mean |ρ| is below it
    passed: bool  # verdict == "passes"
    maps_trained: torch.Tensor  # (N, H, W) in [0, 1]
    maps_random: torch.Tensor  # (N, H, W)
    seconds: float
    note: str = ""
    verdict: str = ""  # "passes" | "fails" | "inconclusive" | "undefined"
    reason: str = ""
    interval: Interval | None = None


def randomised_copy(model: nn.Module, seed: int = 0) -> nn.Module:
    """A deep copy with every layer re-initialised by its own reset_parameters (the global RNG is untouched)."""
    clone = copy.deepcopy(model)
    devices = [model_device(model)] if model_device(model).type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        for mod in clone.modules():
            if hasattr(mod, "reset_parameters") and callable(mod.reset_parameters):
                mod.reset_parameters()
            if hasattr(mod, "reset_running_stats"):
                mod.reset_running_stats()
    return clone.eval()


def _counterpart(model: nn.Module, clone: nn.Module, module: nn.Module) -> nn.Module:
    """The submodule of `clone` at the same path as `module` in `model`."""
    for name, m in model.named_modules():
        if m is module:
            return clone.get_submodule(name) if name else clone
    raise ValueError("the method's layer is not part of its model")


def _on(method: AttributionMethod, clone: nn.Module) -> AttributionMethod:
    """The same method with the same settings, pointed at the randomised clone."""
    twin = copy.copy(method)
    twin.model = clone
    tap = getattr(method, "tap", None)
    if isinstance(tap, Tap):
        twin.tap = Tap(tap.node, _counterpart(method.model, clone, tap.module), tap.side, tap.op, tap.shape)
    return twin


def _counterpart(model: nn.Module, clone: nn.Module, module: nn.Module) -> nn.Module:
    """The submodule of `clone` at the same path as `module` in `model`."""
    for name, m in model.named_modules():
        if m is module:
            return clone.get_submodule(name) if name else clone
    raise ValueError("the method's layer is not part of its model")


def _on(method: AttributionMethod, clone: nn.Module) -> AttributionMethod:
    """The same method with the same settings, pointed at the randomised clone."""
    twin = copy.copy(method)
    twin.model = clone
    tap = getattr(method, "tap", None)
    if isinstance(tap, Tap):
        twin.tap = Tap(tap.node, _counterpart(method.model, clone, tap.module), tap.side, tap.op, tap.shape)
    return twin


def _predicted(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        was = model.training
        model.eval()
        out = model(images.to(model_device(model))).argmax(1).cpu()
        model.train(was)
    return out


class ModelRandomisation:
    """Run `method` on the trained model and on a re-initialised copy (or on `against`, a model of the same
    architecture, e.g. one trained on shuffled labels); Spearman between the maps per image."""

    def __init__(self, method: AttributionMethod, threshold: float = THRESHOLD, seed: int = 0,
                 against: nn.Module | None = None):
        self.method = method
        self.threshold = threshold
        self.seed = seed
        self.against = against

    def run(self, images: torch.Tensor, targets: torch.Tensor | None = None,
            progress: Progress = no_progress) -> SanityResult:
        """images: (N, C, H, W). targets None = the trained model's predictions (used for both models)."""
        t0 = time.perf_counter()
        model = self.method.model
        if targets is None:
            targets = _predicted(model, images)
        progress(0.0, f"{self.method.name}: maps on the trained model")
        _, trained = self.method.maps(images, targets)
        other_name = "randomised" if self.against is None else "shuffled-label"
        progress(0.5, f"{self.method.name}: maps on the {other_name} model")
        clone = randomised_copy(model, self.seed) if self.against is None else self.against.eval()
        try:
            _, random = _on(self.method, clone).maps(images, targets)
        finally:
            del clone
        c = compare(trained, random, self.threshold, other_name)
        progress(1.0, f"{self.method.name}: {c.verdict}")
        return SanityResult(self.method.name, c.rho, c.interval.mean, self.threshold, c.verdict == "passes",
                            trained, random, time.perf_counter() - t0, self.method.note, c.verdict, c.reason,
                            c.interval)


@dataclass
class CascadeResult:
    """Adebayo et al.'s cascading randomisation: layer k's weights re-initialised on top of layers 0..k-1's."""

    method: str
    layers: list[str]  # the layers in the order they were re-initialised: the output layer first
    steps: list[Comparison]  # steps[k]: trained maps against the maps with layers[:k + 1] re-initialised
    threshold: float
    maps: torch.Tensor  # (len(layers) + 1, H, W): the first image's map, trained then after each step
    seconds: float
    note: str = ""

    @property
    def final(self) -> Comparison:
        """Every layer re-initialised: the verdict of the check."""
        return self.steps[-1]

    @property
    def verdict(self) -> str:
        return self.final.verdict


def parametrised_layers(model: nn.Module, images: torch.Tensor, graph=None) -> list[tuple[str, str]]:
    """(module path, label) of every module that owns weights, in the order the forward pass runs them (one
    forward of one image). Labels are node ids when the graph names the module, else the module path."""
    owners = {name: m for name, m in model.named_modules() if any(True for _ in m.parameters(recurse=False))}
    order: list[str] = []
    handles = [m.register_forward_hook(lambda mod, a, o, name=name: order.append(name) if name not in order else None)
               for name, m in owners.items()]
    try:
        with torch.no_grad():
            was = model.training
            model.eval()
            model(images[:1].to(model_device(model)))
            model.train(was)
    finally:
        for h in handles:
            h.remove()
    labels: dict[int, str] = {}
    if graph is not None:
        labels = {id(t.module): nid for nid, t in taps(graph, model).items() if t.side == "output"}
    return [(name, labels.get(id(owners[name]), name)) for name in order]


def _reinit(module: nn.Module, seed: int, device: torch.device) -> None:
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        if hasattr(module, "reset_parameters") and callable(module.reset_parameters):
            module.reset_parameters()
        else:  # a module without its own initialiser: Gaussian noise of the weights' scale
            with torch.no_grad():
                for p in module.parameters(recurse=False):
                    p.normal_(0.0, float(p.std()) if p.numel() > 1 else 1.0)
        if hasattr(module, "reset_running_stats"):
            module.reset_running_stats()


class CascadingRandomisation:
    """Re-initialise the layers one by one from the output down to the input (cumulatively) and compare the
    method's maps with the trained model's after each step."""

    def __init__(self, method: AttributionMethod, threshold: float = THRESHOLD, seed: int = 0):
        self.method = method
        self.threshold = threshold
        self.seed = seed

    def run(self, images: torch.Tensor, targets: torch.Tensor | None = None,
            progress: Progress = no_progress) -> CascadeResult:
        t0 = time.perf_counter()
        model = self.method.model
        if targets is None:
            targets = _predicted(model, images)
        layers = list(reversed(parametrised_layers(model, images, self.method.graph)))
        if not layers:
            raise ValueError("cascading randomisation needs a model with weights; this one has none")
        progress(0.0, f"{self.method.name}: maps on the trained model")
        _, trained = self.method.maps(images, targets)
        clone = copy.deepcopy(model).eval()
        device = model_device(clone)
        steps: list[Comparison] = []
        firsts = [trained[0]]
        try:
            twin = _on(self.method, clone)
            for k, (path, label) in enumerate(layers):
                progress((k + 1) / (len(layers) + 1), f"{self.method.name}: {label} re-initialised")
                _reinit(clone.get_submodule(path), self.seed + k, device)
                _, maps = twin.maps(images, targets)
                steps.append(compare(trained, maps, self.threshold))
                firsts.append(maps[0])
        finally:
            del clone
        progress(1.0, f"{self.method.name}: {steps[-1].verdict}")
        return CascadeResult(self.method.name, [label for _, label in layers], steps, self.threshold,
                             torch.stack(firsts), time.perf_counter() - t0, self.method.note)
