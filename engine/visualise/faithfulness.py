"""The faithfulness lab: every saliency method scored over many test images, each score with its 95% interval,
and one verdict line per method.

Four tests, each from the literature:
- deletion (Petsiuk et al. 2018): remove pixels most-important first; the class probability should fall faster
  than for a random order (smaller area);
- insertion (RISE protocol, same paper): put pixels back into a blurred copy most-important first; the probability
  should rise faster than for a random order (larger area);
- cascading model randomisation (Adebayo et al. 2018): re-initialise the layers from the top down; the maps should
  stop resembling the trained model's (rank correlation |ρ| falls below 0.4);
- data randomisation (same paper, optional): the same design trained on shuffled labels; the maps should differ.

A method "beats random" only when its interval and the random control's interval separate; a sanity check passes
only when the whole interval of |ρ| is below the threshold, and says "undefined" when the maps are blank.

    FaithfulnessLab(model, graph).run(images, ["Saliency", "Guided Backprop"])   -> {method: MethodFaithfulness}
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn

from engine.visualise.guard import ModelGuard, Progress, model_device, no_progress
from engine.visualise.metrics import deletion, insertion
from engine.visualise.saliency import METHODS, AttributionMethod
from engine.visualise.sanity import THRESHOLD, CascadeResult, CascadingRandomisation, ModelRandomisation, SanityResult
from engine.visualise.stats import Interval, interval

MIN_IMAGES = 100  # the lab's default and the least it calls a verdict over without a warning
LAB_RANDOM_ORDERS = 4  # random orders per image: the interval is over images, each image's control a mean of these


@dataclass
class MethodFaithfulness:
    method: str
    n_images: int
    deletion: Interval  # deletion AUC over the images (lower is better)
    deletion_random: Interval  # the same images' random-order deletion AUC
    insertion: Interval  # insertion AUC (higher is better)
    insertion_random: Interval
    curves: dict[str, list[float]]  # mean curves: deletion, deletion_random, insertion, insertion_random
    cascade: CascadeResult
    data: SanityResult | None  # against the shuffled-label model, when one was given
    seconds: float
    note: str = ""

    @property
    def deletion_verdict(self) -> str:
        return _versus(self.deletion.below(self.deletion_random), self.deletion.above(self.deletion_random))

    @property
    def insertion_verdict(self) -> str:
        return _versus(self.insertion.above(self.insertion_random), self.insertion.below(self.insertion_random))

    @property
    def standing(self) -> str:
        """'good' (beats random both ways, passes every randomisation check), 'bad' (fails a randomisation check)
        or 'unsure' (anything else): the colour of the verdict line."""
        checks = [self.cascade.verdict] + ([self.data.verdict] if self.data is not None else [])
        if "fails" in checks:
            return "bad"
        if all(c == "passes" for c in checks) and self.deletion_verdict == self.insertion_verdict == "beats random":
            return "good"
        return "unsure"

    @property
    def verdict(self) -> str:
        """One line: the faithfulness scores against random, then the randomisation checks, then what it means."""
        parts = [f"deletion {self.deletion_verdict}", f"insertion {self.insertion_verdict}",
                 f"model randomisation {self.cascade.verdict}"]
        if self.data is not None:
            parts.append(f"data randomisation {self.data.verdict}")
        checks = [self.cascade.verdict] + ([self.data.verdict] if self.data is not None else [])
        faithful = self.deletion_verdict == "beats random" and self.insertion_verdict == "beats random"
        if "fails" in checks:
            meaning = "its maps do not depend on what the network learned: read them as pictures of the input"
        elif "undefined" in checks:
            meaning = "a randomisation check is undefined (blank maps), so it is not shown to depend on the model"
        elif "inconclusive" in checks:
            meaning = "a randomisation check is inconclusive: more images would decide it"
        elif faithful:
            meaning = "it finds evidence the network uses and depends on the trained weights"
        else:
            meaning = "it depends on the trained weights but does not rank pixels better than chance"
        return f"{self.method}: {', '.join(parts)} — {meaning}."


def _versus(better: bool, worse: bool) -> str:
    return "beats random" if better else "worse than random" if worse else "not distinguishable from random"


class FaithfulnessLab:
    """Score saliency methods on one model over a set of images (default settings of each method, or instances)."""

    def __init__(self, model: nn.Module, graph=None, *, steps: int = 28, random_orders: int = LAB_RANDOM_ORDERS,
                 threshold: float = THRESHOLD, seed: int = 0, shuffled: nn.Module | None = None):
        self.model, self.graph = model, graph
        self.steps, self.random_orders, self.threshold, self.seed = steps, random_orders, threshold, seed
        self.shuffled = shuffled  # the same design trained on shuffled labels (engine/train/twin.py), or None

    def method(self, m: str | AttributionMethod) -> AttributionMethod:
        if isinstance(m, AttributionMethod):
            return m
        if m not in METHODS:
            raise ValueError(f"unknown saliency method {m!r}. Known: {', '.join(METHODS)}")
        return METHODS[m](self.model, self.graph)

    def run(self, images: torch.Tensor, methods: list[str | AttributionMethod],
            progress: Progress = no_progress) -> dict[str, MethodFaithfulness]:
        """images: (N, C, H, W), N ≥ 100 for the intervals the page reports. Targets: the predicted classes."""
        if images.dim() != 4 or len(images) < 2:
            raise ValueError(f"the faithfulness lab needs a batch of images (N, C, H, W) with N ≥ 2 (≥ "
                             f"{MIN_IMAGES} for its verdicts). Received: shape {tuple(images.shape)}")
        device = model_device(self.model)
        with torch.no_grad(), ModelGuard(self.model):
            targets = self.model(images.to(device)).argmax(1).cpu()
        out = {}
        chosen = [self.method(m) for m in methods]
        for i, method in enumerate(chosen):
            def sub(f: float, msg: str, i=i) -> None:
                progress((i + f) / len(chosen), msg)
            out[method.name] = self._score(method, images, targets, sub)
        progress(1.0, "done")
        return out

    def _score(self, method: AttributionMethod, images: torch.Tensor, targets: torch.Tensor,
               progress: Progress) -> MethodFaithfulness:
        t0 = time.perf_counter()
        n = len(images)
        progress(0.0, f"{method.name}: maps of {n} images")
        _, maps = method.maps(images, targets)
        device = model_device(self.model)
        dels, inss = [], []
        with ModelGuard(self.model):
            for k in range(n):
                if k % 10 == 0:
                    progress(0.1 + 0.4 * k / n, f"{method.name}: deletion and insertion, image {k + 1}/{n}")
                x = images[k:k + 1].to(device)
                t, seed = int(targets[k]), self.seed + k
                dels.append(deletion(self.model, x, maps[k], t, self.steps, random_orders=self.random_orders,
                                     seed=seed))
                inss.append(insertion(self.model, x, maps[k], t, self.steps, random_orders=self.random_orders,
                                      seed=seed))

        def mean_curve(rows: list[list[float]]) -> list[float]:
            return torch.tensor(rows, dtype=torch.float64).mean(0).tolist()

        curves = {"deletion": mean_curve([d.curve for d in dels]),
                  "deletion_random": mean_curve([d.random_curve for d in dels]),
                  "insertion": mean_curve([c.curve for c in inss]),
                  "insertion_random": mean_curve([c.random_curve for c in inss])}
        progress(0.5, f"{method.name}: cascading randomisation")
        cascade = CascadingRandomisation(method, self.threshold, self.seed).run(
            images, targets, progress=lambda f, msg: progress(0.5 + 0.35 * f, msg))
        data = None
        if self.shuffled is not None:
            progress(0.85, f"{method.name}: against the shuffled-label model")
            data = ModelRandomisation(method, self.threshold, self.seed, against=self.shuffled).run(images, targets)
        return MethodFaithfulness(
            method.name, n, interval(d.auc for d in dels), interval(d.random_auc for d in dels),
            interval(c.auc for c in inss), interval(c.random_auc for c in inss), curves, cascade, data,
            time.perf_counter() - t0, method.note)

