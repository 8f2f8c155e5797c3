"""Activations: what each layer outputs for one input, plus the network's prediction for it."""
from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass

import torch
from torch import nn

from engine.visualise.guard import ModelGuard, model_device
from engine.visualise.layers import Capture, resolve


@dataclass
class LayerActivation:
    layer: str
    values: torch.Tensor  # the node's output for the input, batch dimension dropped: (C, H, W), (T, F) or (F,)
    channel_mean: list[float]  # mean per channel (per unit for vectors)
    channel_max: list[float]
    zero_fraction: float  # share of exactly-zero values (after a ReLU: how sparse the layer is)


@dataclass
class ActivationsResult:
    probs: torch.Tensor  # (classes,) softmax of the network's output
    predicted: int
    layers: dict[str, LayerActivation]


def _summarise(name: str, t: torch.Tensor) -> LayerActivation:
    per = t.flatten(1) if t.dim() == 3 else t[:, None] if t.dim() == 1 else t.T  # (channels, positions)
    return LayerActivation(name, t, per.mean(1).tolist(), per.amax(1).tolist(), float((t == 0).float().mean()))


class Activations:
    def __init__(self, model: nn.Module, graph=None):
        self.model = model
        self.graph = graph

    @torch.no_grad()
    def run(self, x: torch.Tensor, layers: list | None = None) -> ActivationsResult:
        """x: (C, H, W) or (1, C, H, W); layers: node ids / modules / taps to read (None = none, prediction only)."""
        x = (x if x.dim() == 4 else x[None]).to(model_device(self.model))
        taps = [resolve(self.model, layer, self.graph) for layer in (layers or [])]
        with ModelGuard(self.model) as guard:
            caps = [Capture(guard, t) for t in taps]
            with ExitStack() as stack:  # every tap records during the one full forward
                for c in caps:
                    stack.enter_context(c.listening())
                logits = self.model(x)
        probs = torch.softmax(logits.float(), 1)[0].cpu()
        out = {}
        for t, c in zip(taps, caps):
            if c.tensor is None:
                raise RuntimeError(f"{t.label} was not reached in the forward pass")
            name = t.node or type(t.module).__name__
            out[name] = _summarise(name, c.tensor[0].detach().float().cpu())
        return ActivationsResult(probs, int(probs.argmax()), out)
