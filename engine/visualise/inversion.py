"""Feature inversion (Mahendran & Vedaldi 2015, "Understanding Deep Image Representations by Inverting Them").

Given an image x₀ and a layer Φ, find the image x* whose representation matches Φ₀ = Φ(x₀):

    x* = argmin  ‖Φ(x) − Φ₀‖² / ‖Φ₀‖²  +  λ_α · mean(|(x − m) / B|^α)  +  λ_TV · TV_β(x / B)

with α = 6 (an α-norm that only bites on extreme pixels) and β = 2 (smooth images) by default; m is the middle of
the pixel range and B its half-width, so both priors are on a scale of 1 whatever the range. What survives in x*
is what the layer keeps of the input: near-perfect reconstructions from early layers, the class's gist from deep
ones. The result reports the normalised feature error ‖Φ(x*) − Φ₀‖ / ‖Φ₀‖, PSNR and SSIM against x₀, and
whether the network still predicts the same class for x*.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch
from torch import nn

from engine.visualise.guard import ModelGuard, Progress, model_device, no_progress
from engine.visualise.layers import Capture, resolve
from engine.visualise.metrics import psnr, ssim
from engine.visualise.params import PixelImage
from engine.visualise.priors import alpha_norm, random_jitter_scale, total_variation


@dataclass
class InversionConfig:
    steps: int = 300  # optimiser steps
    lr: float = 0.05  # Adam learning rate, in pixel units
    alpha: float = 6.0  # exponent of the α-norm prior
    beta: float = 2.0  # exponent of the total-variation prior
    lambda_alpha: float = 1e-3  # weight of the α-norm prior
    lambda_tv: float = 1e-3  # weight of TV_β; raise it for deep layers, where many images match the features
    jitter: int = 0  # random shift (pixels) before each forward; 1 helps deep layers avoid adversarial detail
    value_range: tuple[float, float] = (0.0, 1.0)  # pixel range the model was trained on
    seed: int = 0  # the starting noise


@dataclass
class InversionResult:
    layer: str
    image: torch.Tensor  # (C, H, W) reconstruction x*, on the CPU
    original: torch.Tensor  # (C, H, W) x₀
    feature_error: float  # ‖Φ(x*) − Φ₀‖ / ‖Φ₀‖
    psnr: float  # of x* against x₀, in dB, over the value range
    ssim: float  # of x* against x₀
    original_class: int
    reconstructed_class: int
    history: list[float] = field(default_factory=list)  # the objective after every step
    seconds: float = 0.0

    @property
    def class_kept(self) -> bool:
        return self.original_class == self.reconstructed_class


class FeatureInversion:
    """Reconstruct inputs from one layer's representation. `layer`: node id (with graph), module or Tap."""

    def __init__(self, model: nn.Module, layer, graph=None, config: InversionConfig | None = None):
        self.model = model
        self.tap = resolve(model, layer, graph)
        self.config = config or InversionConfig()

    def run(self, x: torch.Tensor, progress: Progress = no_progress) -> InversionResult:
        """x: (C, H, W) or (1, C, H, W)."""
        return self.run_many(x if x.dim() == 4 else x[None], progress)[0]

    def run_many(self, xs: torch.Tensor, progress: Progress = no_progress) -> list[InversionResult]:
        """Invert a batch (N, C, H, W); each image is matched to its own features."""
        cfg = self.config
        t0 = time.perf_counter()
        device = model_device(self.model)
        x0 = xs.to(device)
        lo, hi = cfg.value_range
        mid, half = (lo + hi) / 2, (hi - lo) / 2
        gen = torch.Generator().manual_seed(cfg.seed)
        with ModelGuard(self.model) as guard:
            cap = Capture(guard, self.tap, stop=True)
            with torch.no_grad():
                phi0 = cap.run(self.model, x0).detach().flatten(1)  # (N, D)
                norm0 = phi0.pow(2).sum(1).clamp_min(1e-12)
            start = mid + 0.01 * half * torch.randn(x0.shape, generator=gen)
            image = PixelImage(tuple(x0.shape[1:]), lo, hi, init=start).to(device)
            opt = torch.optim.Adam(image.parameters(), lr=cfg.lr)
            history: list[float] = []
            every = max(1, cfg.steps // 50)
            for step in range(cfg.steps):
                x = image()
                xt = random_jitter_scale(x, cfg.jitter, (1.0, 1.0), gen) if cfg.jitter else x
                phi = cap.run(self.model, xt).flatten(1)
                rep = ((phi - phi0).pow(2).sum(1) / norm0).sum()
                prior = (cfg.lambda_alpha * alpha_norm((x - mid) / half, cfg.alpha)
                         + cfg.lambda_tv * total_variation(x / half, cfg.beta)) * x.shape[0]
                loss = rep + prior
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                image.project()
                history.append(float(loss.detach()) / x.shape[0])
                if step % every == 0 or step == cfg.steps - 1:
                    progress((step + 1) / cfg.steps, f"step {step + 1}/{cfg.steps}: loss {history[-1]:.4f}")
            with torch.no_grad():
                xstar = image().detach()
                err = ((cap.run(self.model, xstar).flatten(1) - phi0).norm(dim=1) / norm0.sqrt()).cpu()
                cls0 = self.model(x0).argmax(1).cpu()
                cls1 = self.model(xstar).argmax(1).cpu()
        seconds = time.perf_counter() - t0
        name = self.tap.node or type(self.tap.module).__name__
        xstar, x0 = xstar.cpu(), x0.cpu()
        return [InversionResult(name, xstar[i], x0[i], float(err[i]), psnr(xstar[i], x0[i], hi - lo),
                                ssim(xstar[i], x0[i], hi - lo), int(cls0[i]), int(cls1[i]), history, seconds)
                for i in range(len(x0))]


def invert_depths(model: nn.Module, x: torch.Tensor, layers: list, graph=None,
                  config: InversionConfig | None = None, progress: Progress = no_progress) -> list[InversionResult]:
    """One image reconstructed from several layers (shallow to deep), for a side-by-side view."""
    out = []
    for i, layer in enumerate(layers):
        def sub(f: float, msg: str, i=i, layer=layer) -> None:
            progress((i + f) / len(layers), f"{layer}: {msg}")
        out.append(FeatureInversion(model, layer, graph, config).run(x, sub))
    return out
