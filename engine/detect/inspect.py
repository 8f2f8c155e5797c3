"""What the Inspect page shows for a box run (localisation or detection): the model's boxes on one image, and
Grad-CAM of one box's class score. Pure torch; the page only draws."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from engine.detect.gradcam import BoxCam, box_gradcam, localiser_gradcam
from engine.detect.grid import localise, postprocess
from engine.visualise.layers import taps


@dataclass
class Box:
    label: int
    score: float  # detection: objectness × class probability; localisation: the class's softmax probability
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels
    cell: int | None  # the row-major grid cell that predicted it (detection); None for a localiser


def cam_layer(graph, model: nn.Module) -> tuple[str, nn.Module]:
    """The layer Grad-CAM weighs: the node feeding the DetectionHead, else the last node with a spatial feature
    map (C×H×W with H·W > 1), i.e. the backbone's last one. Returns (node id, module)."""
    all_taps = taps(graph, model)
    heads = [n for n in graph.nodes if n.op == "DetectionHead"]
    if heads and heads[0].inputs and heads[0].inputs[0] in all_taps:
        t = all_taps[heads[0].inputs[0]]
        if t.side == "output":
            return heads[0].inputs[0], t.module
    spatial = [(k, t) for k, t in all_taps.items() if t.side == "output" and t.shape is not None
               and len(t.shape) == 3 and t.shape[1] * t.shape[2] > 1 and t.op != "DetectionHead"]
    if not spatial:
        raise ValueError("Grad-CAM needs a layer with a spatial feature map (C×H×W); this network has none.")
    return spatial[-1][0], spatial[-1][1].module


@torch.no_grad()
def predict_boxes(model: nn.Module, task: str, x: torch.Tensor, score_threshold: float = 0.25) -> list[Box]:
    """x (1, C, H, W) float -> the boxes the model predicts, best first: after the score threshold and NMS for a
    detector (postprocess), the one box for a localiser."""
    was = model.training
    model.eval()
    try:
        out = model(x)
    finally:
        model.train(was)
    size = tuple(x.shape[-2:])
    if task == "localisation":
        r = localise(out[0], out[1], size)
        return [Box(int(r["labels"][0]), float(r["scores"][0]), tuple(r["boxes"][0].tolist()), None)]
    r = postprocess(out, size, score_threshold=score_threshold)[0]
    return [Box(int(c), float(s), tuple(b), int(cell)) for c, s, b, cell in
            zip(r["labels"].tolist(), r["scores"].tolist(), r["boxes"].tolist(), r["cells"].tolist())]


def explain_box(model: nn.Module, x: torch.Tensor, box: Box, layer: nn.Module) -> BoxCam:
    """Grad-CAM of the box's class score: that cell's class logit for a detector, the class logit for a
    localiser."""
    if box.cell is None:
        return localiser_gradcam(model, x, box.label, layer)
    return box_gradcam(model, x, box.cell, box.label, layer)
