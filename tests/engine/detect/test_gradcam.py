"""Grad-CAM of a detected box: Captum's LayerGradCam on that cell's class score, checked by hand."""
from __future__ import annotations

import torch
import torch.nn.functional as F

import engine
from engine.detect.gradcam import box_gradcam
from engine.detect.grid import postprocess
from engine.templates import load_template


def test_box_gradcam_is_the_gradient_weighted_feature_map_of_that_cell():
    torch.manual_seed(0)
    model = engine.build_module(load_template("tiny_grid_detector")).eval()
    model.head.bias.data[0] = 4.0
    x = torch.rand(1, 1, 96, 96)
    with torch.no_grad():
        det = postprocess(model(x), (96, 96), score_threshold=0.0)[0]
    cell, label = int(det["cells"][0]), int(det["labels"][0])
    res = box_gradcam(model, x, cell, label, model.block5_relu)
    # by hand: feature maps A of block5_relu, gradient of the cell's class logit, channel weights = mean gradient
    feats = {}
    h = model.block5_relu.register_forward_hook(lambda m, i, o: feats.setdefault("a", o))
    out = model(x)
    h.remove()
    i, j = divmod(cell, 6)
    a = feats["a"]
    (g,) = torch.autograd.grad(out[0, 5 + label, i, j], a)
    cam = F.relu((g.mean((2, 3), keepdim=True) * a).sum(1, keepdim=True))
    cam = F.interpolate(cam, size=(96, 96), mode="bilinear", align_corners=False)[0, 0]
    want = cam / cam.max()
    assert res.cell == (i, j) and res.label == label and res.map.shape == (96, 96)
    assert torch.allclose(res.map, want.detach(), atol=1e-5)
    assert res.score == float(out[0, 5 + label, i, j])
