"""Optimizers and learning-rate schedules.

A schedule is a pure function of (step, total steps) giving a factor of the configured lr; LambdaLR applies it
per optimizer step, so its state (the step count) is all a checkpoint needs.
"""
from __future__ import annotations

import math

import torch

from engine.train.config import TrainConfig

ONECYCLE_WARMUP = 0.25  # fraction of the steps spent warming up from lr/25 to lr
ONECYCLE_START = 1 / 25  # torch OneCycleLR's default div_factor


def lr_factor(schedule: str, step: int, total: int) -> float:
    """The multiplier of the base lr used for optimizer step `step` (0-based) of `total`."""
    t = min(max(step, 0), total) / max(total, 1)
    if schedule == "constant":
        return 1.0
    if schedule == "step":  # x0.1 at half-way and again at three quarters
        return 1.0 if t < 0.5 else (0.1 if t < 0.75 else 0.01)
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * t))
    if schedule == "onecycle":
        if t < ONECYCLE_WARMUP:
            return ONECYCLE_START + (1.0 - ONECYCLE_START) * t / ONECYCLE_WARMUP
        u = (t - ONECYCLE_WARMUP) / (1.0 - ONECYCLE_WARMUP)
        return 0.5 * (1.0 + math.cos(math.pi * u))
    raise ValueError(f"unknown schedule. Received: schedule={schedule!r}.")


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig, device: torch.device) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("the network has no trainable parameters: add a layer with weights (Conv2d, Linear, ...).")
    wd = cfg.weight_decay
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov, weight_decay=wd)
    if cfg.optimizer == "rmsprop":  # alpha 0.9: Keras's rho, what the RMSprop MNIST recipes were tuned with
        return torch.optim.RMSprop(params, lr=cfg.lr, alpha=0.9, weight_decay=wd)
    cls = torch.optim.Adam if cfg.optimizer == "adam" else torch.optim.AdamW
    extra = {"fused": True} if device.type == "cuda" else {}  # one kernel for all parameters on the GPU
    return cls(params, lr=cfg.lr, weight_decay=wd, **extra)


def epoch_decay(step: int, steps_per_epoch: int, decay: float, after: int) -> float:
    """decay ** (epochs finished past `after`), counting the epoch this step is in (the PTB recipe: lr × 0.5 ** max(
    epoch + 1 − 4, 0) with epochs from 0); 1.0 while decay is 1."""
    if decay == 1.0:
        return 1.0
    return decay ** max(step // max(steps_per_epoch, 1) + 1 - after, 0)


def make_scheduler(opt: torch.optim.Optimizer, schedule: str, total_steps: int, steps_per_epoch: int = 1,
                   decay: float = 1.0, decay_after: int = 0) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(schedule, s, total_steps)
                                             * epoch_decay(s, steps_per_epoch, decay, decay_after))


def init_uniform(model: torch.nn.Module, scale: float | None) -> None:
    """Every parameter drawn uniformly from [−scale, scale] (the Zaremba et al. PTB recipe); None leaves torch's."""
    if scale is None:
        return
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-scale, scale)
