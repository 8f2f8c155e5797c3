"""Grad-CAM of a detected box: Captum's LayerGradCam on that cell's class score, checked by hand."""
from __future__ import annotations

import torch
import torch.nn.functional as F

import engine
from engine.detect.gradcam import box_gradcam
from engine.detect.grid import localise, postprocess
from engine.detect.inspect import cam_layer, explain_box, predict_boxes
from engine.templates import load_template
from engine.visualise.layers import taps


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


def _hand_cam(model, layer, x, pick):
    feats = {}
    h = layer.register_forward_hook(lambda m, i, o: feats.setdefault("a", o))
    out = model(x)
    h.remove()
    a = feats["a"]
    (g,) = torch.autograd.grad(pick(out), a)
    cam = F.relu((g.mean((2, 3), keepdim=True) * a).sum(1, keepdim=True))
    cam = F.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
    return (cam / cam.max()).detach()


def test_inspect_explains_each_detected_box_at_the_heads_input():
    torch.manual_seed(1)
    g = load_template("tiny_grid_detector")
    model = engine.build_module(g).eval()
    model.head.bias.data[0] = 4.0
    name, layer = cam_layer(g, model)
    assert name == "block5_relu" and layer is model.block5_relu  # the node feeding the DetectionHead
    x = torch.rand(1, 1, 96, 96)
    boxes = predict_boxes(model, "detection", x, score_threshold=0.3)
    with torch.no_grad():
        want = postprocess(model(x), (96, 96), score_threshold=0.3)[0]
    assert [b.cell for b in boxes] == want["cells"].tolist() and len(boxes) > 1
    assert torch.allclose(torch.tensor([b.box for b in boxes]), want["boxes"])
    assert [b.score for b in boxes] == sorted((b.score for b in boxes), reverse=True)
    b = boxes[-1]
    res = explain_box(model, x, b, layer)
    i, j = divmod(b.cell, 6)
    assert res.cell == (i, j)
    assert torch.allclose(res.map, _hand_cam(model, layer, x, lambda out: out[0, 5 + b.label, i, j]), atol=1e-5)


def test_inspect_explains_a_localisers_box_by_its_class_logit():
    torch.manual_seed(2)
    g = load_template("digit_localiser")
    model = engine.build_module(g).eval()
    name, layer = cam_layer(g, model)
    shapes = {n: t.shape for n, t in taps(g, model).items()}
    assert len(shapes[name]) == 3 and shapes[name][1] > 1  # the last spatial feature map, before Flatten
    assert list(shapes).index(name) == max(i for i, s in enumerate(shapes.values()) if len(s) == 3 and s[1] > 1)
    x = torch.rand(1, 1, 56, 56)
    (box,) = predict_boxes(model, "localisation", x)
    with torch.no_grad():
        logits, numbers = model(x)
    assert box.cell is None and box.label == int(logits.argmax()) and abs(box.score - float(logits.softmax(1).max())) < 1e-6
    assert torch.allclose(torch.tensor(box.box), localise(logits, numbers, (56, 56))["boxes"][0])
    res = explain_box(model, x, box, layer)
    assert res.cell is None and res.label == box.label and res.score == float(logits[0, box.label])
    assert torch.allclose(res.map, _hand_cam(model, layer, x, lambda out: out[0][0, box.label]), atol=1e-5)
