"""Gradient ascent: synthesise the input a class or a channel responds to most.

Class visualisation (Simonyan et al. 2013): maximise the class logit S_c(x) − λ‖x‖² (the logit, not the softmax:
raising the softmax can be done by lowering the other classes). Channel visualisation: maximise a channel's mean
activation at a chosen layer (Erhan et al. 2009; Olah et al. 2017). Both optimise an image parameterisation
(params.py) with Adam under robustness transforms and priors (priors.py), then report how far they got: the
softmax probability of the class, or the activation reached and its ratio to the best of N dataset images, beside
those top dataset exemplars.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from torch import nn

from engine.visualise.guard import ModelGuard, Progress, model_device, no_progress
from engine.visualise.layers import Capture, Tap, input_shape_of, resolve
from engine.visualise.params import make_image
from engine.visualise.priors import gaussian_blur, random_jitter_scale, total_variation


@dataclass
class AscentConfig:
    steps: int = 256  # optimiser steps
    lr: float = 0.05  # Adam learning rate (pixel units for 'pixel'; spectrum units for 'fourier')
    param: str = "pixel"  # image parameterisation: 'pixel' or 'fourier' (decorrelated spectrum, Lucent-style)
    decorrelate: bool = True  # with 'fourier' on RGB inputs, also decorrelate the colour channels
    l2: float = 0.1  # λ of the L2 prior λ·mean(x²) (Simonyan's ‖x‖², per pixel so λ is size-independent)
    tv: float = 0.5  # λ of the total-variation prior TV₂(x)
    blur_every: int = 4  # blur the pixels every n steps (0 = never; 'pixel' parameterisation only)
    blur_sigma: float = 0.5  # σ of that blur, in pixels
    jitter: int = 2  # shift the image by up to ±jitter pixels before each forward
    scale: tuple[float, float] = (0.9, 1.1)  # zoom factor range drawn before each forward; (1, 1) = off
    value_range: tuple[float, float] = (0.0, 1.0)  # pixel range the model was trained on
    seed: int = 0  # the starting noise and the transforms' draws
    # random starting images tried (noise of growing strength); the one the objective likes best is optimised:
    # a ReLU unit that is silent on the first image has no gradient there and would never move
    starts: int = 4


    @classmethod
    def for_channels(cls, **overrides) -> AscentConfig:
        """Lighter priors for channel objectives: a unit's mean activation has no logit to trade against ‖x‖², and
        the strong class-image priors keep a few channels below their best real image (measured on the seed MNIST
        CNN: 32/32 conv1 and 30/32 conv2 channels beat the best of 1,000 test images with these settings)."""
        return cls(**{"l2": 0.02, "tv": 0.1, "blur_every": 8, "jitter": 1, "scale": (0.95, 1.05), **overrides})


@dataclass
class ClassAscentResult:
    target: int
    image: torch.Tensor  # (C, H, W) on the CPU
    logit: float  # S_c(x*) of the final image, no transforms applied
    prob: float  # softmax probability of the target class for x*
    history: list[float]  # the objective after every step
    seconds: float


@dataclass
class ChannelAscentResult:
    channel: int
    image: torch.Tensor  # (C, H, W) on the CPU
    activation: float  # the channel's mean activation for x*, no transforms applied
    dataset_best: float | None  # the highest mean activation over the dataset images (None without a dataset)
    # activation / dataset_best: ≥ 1 when the synthetic image beats every real one. Only defined for a live
    # channel (None otherwise): a ratio against a best of 0, or of 0.0002 when the layer's other channels reach 1,
    # says nothing. A conv's raw output before its ReLU can be negative for every real image, so read such a
    # channel at the ReLU after it, where activations are ≥ 0.
    ratio: float | None
    history: list[float]
    seconds: float
    exemplars: torch.Tensor | None = None  # (k, C, H, W) the dataset images that excite the channel most
    exemplar_scores: list[float] = field(default_factory=list)
    exemplar_indices: list[int] = field(default_factory=list)
    status: str = ""  # "live" | "near-dead" | "dead" ("" without a dataset); see channel_status
    active_images: int | None = None  # dataset images whose mean activation of this channel is above 0
    dataset_size: int | None = None
    layer_best: float | None = None  # the highest dataset_best over the layer's channels

    def summary(self) -> str:
        """The one line the page prints under the channel's image: the ratio for a live channel, and for a dead
        or near-dead one the same honest wording, with significant digits rather than a rounded 0.000."""
        a = sig(self.activation)
        if self.dataset_best is None:
            return f"activation {a} (no dataset to compare with)"
        n = f"{self.dataset_size:,}"
        if self.status == "live" and self.ratio is not None:
            return f"activation {a} = {self.ratio:.2f}× the best of {n} test images ({sig(self.dataset_best)})"
        share = (f", {sig(100 * self.dataset_best / self.layer_best)}% of the layer's strongest channel"
                 if self.layer_best and self.dataset_best > 0 else "")
        return (f"{self.status} channel: {self.active_images:,} of {n} test images activate it above 0 (best "
                f"{sig(self.dataset_best)}{share}); the synthetic image reaches {a}. No ratio: against a best this "
                f"close to 0 it would say nothing")


# a channel whose best dataset image reaches less than this share of the layer's strongest channel is near-dead
NEAR_DEAD = 0.01


def sig(v: float, digits: int = 3) -> str:
    """A number with `digits` significant digits (0.00021, 1.23, 1.23e+04): never a rounded 0.000."""
    return f"{v:.{digits}g}"


def channel_status(best: float, layer_best: float) -> str:
    """'dead' when no dataset image activates the channel above 0; 'near-dead' when its best is below NEAR_DEAD of
    the layer's strongest channel's best; else 'live'."""
    if best <= 0:
        return "dead"
    if layer_best > 0 and best < NEAR_DEAD * layer_best:
        return "near-dead"
    return "live"


def channel_score(t: torch.Tensor, channel: int) -> torch.Tensor:
    """Per-sample mean activation of one channel: (B, C, H, W) -> mean over H, W; (B, T, F) -> mean over T of
    feature `channel`; (B, F) -> that unit."""
    if t.dim() == 4:
        return t[:, channel].mean(dim=(1, 2))
    if t.dim() == 3:
        return t[:, :, channel].mean(dim=1)
    if t.dim() == 2:
        return t[:, channel]
    raise ValueError(f"cannot score a channel of a tensor of shape {tuple(t.shape)}")


def channel_count(t: torch.Tensor) -> int:
    return t.shape[1] if t.dim() in (2, 4) else t.shape[-1]


class _Ascent:
    def __init__(self, model: nn.Module, config: AscentConfig | None = None, graph=None,
                 input_shape: tuple[int, ...] | None = None):
        self.model = model
        self.graph = graph
        self.config = config or AscentConfig()
        self.input_shape = tuple(input_shape) if input_shape else input_shape_of(graph)
        if self.input_shape is None:
            raise ValueError("gradient ascent needs the input shape: pass graph= or input_shape=(C, H, W). "
                             "Received: graph=None, input_shape=None")

    def _optimise(self, objective, batch: int, progress: Progress) -> tuple[torch.Tensor, list[float]]:
        """Maximise objective(x) -> (B,) scores summed over the batch; returns the final images and the history
        of the mean objective. Runs inside a ModelGuard started by the caller."""
        cfg = self.config
        device = model_device(self.model)
        gen = torch.Generator().manual_seed(cfg.seed)
        lo, hi = cfg.value_range
        image = self._start(objective, batch, gen, device)
        opt = torch.optim.Adam(image.parameters(), lr=cfg.lr)
        scores: list[torch.Tensor] = []  # kept on the device: reading one per step would sync a GPU every step
        every = max(1, cfg.steps // 50)
        for step in range(cfg.steps):
            x = image()
            xt = random_jitter_scale(x, cfg.jitter, cfg.scale, gen)
            score = objective(xt)  # (B,)
            loss = -score.sum()
            if cfg.l2:
                loss = loss + cfg.l2 * x.pow(2).flatten(1).mean(1).sum()
            if cfg.tv:
                loss = loss + cfg.tv * total_variation(x) * batch
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            image.project()
            if cfg.blur_every and cfg.param == "pixel" and (step + 1) % cfg.blur_every == 0:
                with torch.no_grad():
                    image.pixels.copy_(gaussian_blur(image.pixels, cfg.blur_sigma))
            scores.append(score.detach().mean())
            if step % every == 0 or step == cfg.steps - 1:
                progress((step + 1) / cfg.steps, f"step {step + 1}/{cfg.steps}: objective {float(scores[-1]):.3f}")
        history = torch.stack(scores).tolist() if scores else []
        with torch.no_grad():
            return image().detach(), history


    @torch.no_grad()
    def _start(self, objective, batch: int, gen: torch.Generator, device) -> nn.Module:
        """The best of `starts` random images (noise std 0.01, 0.1, 0.2, ... of the range) by the objective."""
        cfg = self.config
        lo, hi = cfg.value_range
        best, best_score = None, -float("inf")
        for k in range(max(1, cfg.starts)):
            image = make_image(cfg.param, self.input_shape, lo, hi, gen, cfg.decorrelate, batch,
                               init_std=0.01 if k == 0 else 0.1 * k).to(device)
            score = float(objective(image()).sum()) if cfg.starts > 1 else 0.0
            if score > best_score:
                best, best_score = image, score
        return best


class ClassVisualisation(_Ascent):
    """The input that maximises a class logit (Simonyan et al. 2013)."""

    def run(self, target: int, progress: Progress = no_progress) -> ClassAscentResult:
        return self.run_many([target], progress)[0]

    def run_many(self, targets: list[int], progress: Progress = no_progress) -> list[ClassAscentResult]:
        """Several classes optimised side by side as one batch (each image only sees its own objective)."""
        t0 = time.perf_counter()
        with ModelGuard(self.model) as _:
            idx = torch.tensor(targets, device=model_device(self.model))
            rows = torch.arange(len(targets), device=idx.device)

            def objective(x):
                logits = self.model(x)
                if not (0 <= int(idx.min()) and int(idx.max()) < logits.shape[1]):
                    raise ValueError(f"target class out of range 0..{logits.shape[1] - 1}. Received: {targets}")
                return logits[rows, idx]

            images, history = self._optimise(objective, len(targets), progress)
            with torch.no_grad():
                logits = self.model(images)
                probs = torch.softmax(logits, 1)
        seconds = time.perf_counter() - t0
        return [ClassAscentResult(int(t), images[i].cpu(), float(logits[i, t]), float(probs[i, t]), history, seconds)
                for i, t in enumerate(targets)]


class ChannelVisualisation(_Ascent):
    """The input that maximises one channel's mean activation at a layer (node id, module or Tap)."""

    def __init__(self, model: nn.Module, layer, config: AscentConfig | None = None, graph=None,
                 input_shape: tuple[int, ...] | None = None):
        super().__init__(model, config or AscentConfig.for_channels(), graph, input_shape)
        self.tap: Tap = resolve(model, layer, graph)
        self._scores: tuple[torch.Tensor, torch.Tensor] | None = None

    @torch.no_grad()
    def dataset_scores(self, images: torch.Tensor, batch_size: int = 250) -> torch.Tensor:
        """(N, channels): every channel's mean activation for every dataset image (cached for the same tensor)."""
        if self._scores is not None and self._scores[0] is images:
            return self._scores[1]
        device = model_device(self.model)
        out = []
        with ModelGuard(self.model) as guard:
            cap = Capture(guard, self.tap, stop=True)
            for i in range(0, len(images), batch_size):
                t = cap.run(self.model, images[i:i + batch_size].to(device))
                out.append(torch.stack([channel_score(t, c) for c in range(channel_count(t))], 1).cpu())
        scores = torch.cat(out)
        self._scores = (images, scores)
        return scores

    def run(self, channel: int, dataset: torch.Tensor | None = None, top_k: int = 6,
            progress: Progress = no_progress) -> ChannelAscentResult:
        t0 = time.perf_counter()
        scores = self.dataset_scores(dataset) if dataset is not None else None
        with ModelGuard(self.model) as guard:
            cap = Capture(guard, self.tap, stop=True)
            probe = cap.run(self.model, torch.zeros((1, *self.input_shape), device=model_device(self.model)))
            n = channel_count(probe)
            if not 0 <= channel < n:
                raise ValueError(f"channel out of range: {self.tap.label} has {n} channels (0..{n - 1}). "
                                 f"Received: channel={channel}")
            images, history = self._optimise(lambda x: channel_score(cap.run(self.model, x), channel), 1, progress)
            with torch.no_grad():
                reached = float(channel_score(cap.run(self.model, images), channel)[0])
        result = ChannelAscentResult(channel, images[0].cpu(), reached, None, None, history, 0.0)
        if scores is not None:
            col = scores[:, channel]
            best = float(col.max())
            result.dataset_best = best
            result.layer_best = float(scores.max())
            result.status = channel_status(best, result.layer_best)
            result.active_images = int((col > 0).sum())
            result.dataset_size = len(col)
            result.ratio = reached / best if result.status == "live" else None
            top = torch.argsort(col, descending=True)[:top_k]
            result.exemplars = dataset[top].cpu()
            result.exemplar_scores = col[top].tolist()
            result.exemplar_indices = top.tolist()
        result.seconds = time.perf_counter() - t0
        return result
