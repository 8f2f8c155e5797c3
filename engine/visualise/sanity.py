"""Model-randomisation sanity check (Adebayo et al. 2018, "Sanity Checks for Saliency Maps").

An explanation of a trained network must depend on what the network learned. So compute a method's maps on the
trained model and on a copy whose weights are all re-initialised, and compare them with Spearman's rank
correlation: a method that explains the model gives clearly different maps (low correlation, it passes); a method
whose maps survive the randomisation is showing the input (edges), not the model (it fails). Guided Backprop is
the classic failure. "Clearly low" is mean |ρ| < 0.4 by default: on the MNIST CNN, Saliency and SmoothGrad sit
near 0.2, Grad-CAM at 0.1-0.3, Guided Backprop above 0.5 and Integrated Gradients (zero baseline) near 1.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass

import torch
from torch import nn

from engine.visualise.guard import Progress, model_device, no_progress
from engine.visualise.layers import Tap
from engine.visualise.metrics import spearman
from engine.visualise.saliency import AttributionMethod


@dataclass
class SanityResult:
    method: str
    rho: list[float]  # Spearman correlation per image between the trained and randomised maps
    mean_rho: float  # mean |ρ| over the images (a strongly negative ρ is as dependent as a positive one)
    threshold: float  # pass when mean_rho < threshold
    passed: bool
    maps_trained: torch.Tensor  # (N, H, W) in [0, 1]
    maps_random: torch.Tensor  # (N, H, W)
    seconds: float
    note: str = ""


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


class ModelRandomisation:
    """Run `method` on the trained model and on a re-initialised copy; Spearman between the maps per image."""

    def __init__(self, method: AttributionMethod, threshold: float = 0.4, seed: int = 0):
        self.method = method
        self.threshold = threshold
        self.seed = seed

    def run(self, images: torch.Tensor, targets: torch.Tensor | None = None,
            progress: Progress = no_progress) -> SanityResult:
        """images: (N, C, H, W). targets None = the trained model's predictions (used for both models)."""
        t0 = time.perf_counter()
        model = self.method.model
        if targets is None:
            with torch.no_grad():
                was = model.training
                model.eval()
                targets = model(images.to(model_device(model))).argmax(1).cpu()
                model.train(was)
        progress(0.0, f"{self.method.name}: maps on the trained model")
        _, trained = self.method.maps(images, targets)
        progress(0.5, f"{self.method.name}: maps on a re-initialised copy")
        clone = randomised_copy(model, self.seed)
        try:
            _, random = _on(self.method, clone).maps(images, targets)
        finally:
            del clone
        rho = [spearman(a, b) for a, b in zip(trained, random)]
        mean = sum(abs(r) for r in rho) / len(rho)
        progress(1.0, f"{self.method.name}: mean |Spearman| {mean:.2f}")
        return SanityResult(self.method.name, rho, mean, self.threshold, mean < self.threshold, trained, random,
                            time.perf_counter() - t0, self.method.note)
