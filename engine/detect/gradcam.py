"""Grad-CAM for one box: which parts of the image raise that box's class score.

Detection: the score explained is the DetectionHead's class logit at the cell that predicted the box (postprocess
returns the cell), so each detection gets its own map. Localisation: the class logit of the localiser's class
output (its single box's class). Captum's LayerGradCam does the work (Selvaraju et al. 2017); the layer is the
head's input (the backbone's last feature map) unless another is given.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from captum.attr import LayerGradCam
from torch import nn

from engine.catalog.detect import CELL


@dataclass
class BoxCam:
    map: torch.Tensor  # (H, W) in [0, 1], on the CPU
    cell: tuple[int, int] | None  # (row, column) of the grid cell explained; None for a localiser
    label: int
    score: float  # the class logit explained


def _cam(model: nn.Module, x: torch.Tensor, score, layer: nn.Module) -> tuple[torch.Tensor, float]:
    """Grad-CAM of score(model input) -> (B,) at `layer`, upsampled to x's size and scaled to [0, 1]."""
    cam = LayerGradCam(score, layer).attribute(x, relu_attributions=True)
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[0, 0].detach()
    with torch.no_grad():
        value = float(score(x)[0])
    top = cam.max()
    return (cam / top if top > 0 else torch.zeros_like(cam)).cpu(), value


def box_gradcam(model: nn.Module, x: torch.Tensor, cell: int, label: int, layer: nn.Module) -> BoxCam:
    """x (1, C, H, W) float; cell: row-major index into the S_h×S_w grid (postprocess' 'cells'); label: the
    box's class; layer: the module whose output Grad-CAM weighs (e.g. the layer feeding the DetectionHead)."""
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            S_w = model(x).shape[-1]
        i, j = divmod(int(cell), S_w)
        score = lambda inp: model(inp)[:, CELL + label, i, j]  # (B,): one number per image, no target needed
        m, value = _cam(model, x, score, layer)
    finally:
        model.train(was)
    return BoxCam(m, (i, j), int(label), value)


def localiser_gradcam(model: nn.Module, x: torch.Tensor, label: int, layer: nn.Module) -> BoxCam:
    """A localiser (outputs: class logits (B, K), box numbers (B, 4)): Grad-CAM of class `label`'s logit."""
    was = model.training
    model.eval()
    try:
        m, value = _cam(model, x, lambda inp: model(inp)[0][:, label], layer)
    finally:
        model.train(was)
    return BoxCam(m, None, int(label), value)
