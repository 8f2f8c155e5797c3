"""Leave the model exactly as we found it.

Every visualisation runs inside a `ModelGuard`: it puts the model in eval mode, freezes the weights (gradients are
wanted with respect to the *input*, never the weights), registers hooks through itself, and in `finally` removes
every hook, restores each parameter's `requires_grad`, the training flag of every submodule and the weights'
values. A long-running server calls these methods thousands of times; one leaked hook or one unfrozen weight would
silently change every later answer.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

# progress(fraction in [0, 1], message) -> None; called by the long methods (ascent, inversion, sanity, occlusion)
Progress = Callable[[float, str], None]


def no_progress(fraction: float, message: str) -> None:
    """The default progress callback: ignore."""


def model_device(model: nn.Module) -> torch.device:
    for t in model.parameters():
        return t.device
    for t in model.buffers():
        return t.device
    return torch.device("cpu")


class ModelGuard:
    """Context manager: eval mode + frozen weights inside; everything restored on exit, even on error."""

    def __init__(self, model: nn.Module):
        self.model = model
        self._handles: list = []

    def __enter__(self) -> ModelGuard:
        m = self.model
        self._training = {mod: mod.training for mod in m.modules()}
        self._requires_grad = [(p, p.requires_grad) for p in m.parameters()]
        # values are snapshotted so that nothing a method does (or a bug in one) can change the trained weights
        self._values = [(t, t.detach().clone()) for t in list(m.parameters()) + list(m.buffers())]
        m.eval()
        for p, _ in self._requires_grad:
            p.requires_grad_(False)
        return self

    def hook(self, module: nn.Module, fn, *, pre: bool = False):
        """Register a forward (or forward-pre) hook that is removed when the guard exits."""
        h = module.register_forward_pre_hook(fn) if pre else module.register_forward_hook(fn)
        self._handles.append(h)
        return h

    def __exit__(self, *exc) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()
        with torch.no_grad():
            for t, v in self._values:
                if not torch.equal(t, v):
                    t.copy_(v)
        for p, flag in self._requires_grad:
            p.requires_grad_(flag)
        for mod, flag in self._training.items():
            mod.training = flag
        self._values = []


def hook_count(model: nn.Module) -> int:
    """Forward, forward-pre and backward hooks registered on any submodule (0 for a clean model)."""
    n = 0
    for mod in model.modules():
        n += len(mod._forward_hooks) + len(mod._forward_pre_hooks) + len(mod._backward_hooks)
        n += len(getattr(mod, "_backward_pre_hooks", {}))
    return n
