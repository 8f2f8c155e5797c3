"""The losses of the two box tasks, each returned with its parts so the Train page can draw them.

Detection (Lin et al. 2017, "Focal Loss for Dense Object Detection"): most cells hold no object, so objectness
and classes use torchvision's sigmoid focal loss, which down-weights the many easy empty cells; boxes use GIoU
(torchvision) plus L1 on the encoded box numbers, at the cells that hold an object. Sums are divided by the number
of objects, as in RetinaNet.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torchvision.ops import generalized_box_iou_loss, sigmoid_focal_loss

from engine.detect.grid import cells_to_boxes
from engine.detect.targets import decode_box, encode, encode_box

ALPHA, GAMMA = 0.25, 2.0  # the paper's (and torchvision's) defaults


def detection_loss(out: torch.Tensor, y: torch.Tensor, image_size: tuple[int, int]) -> dict[str, torch.Tensor]:
    """out (B, 5 + K, S_h, S_w) raw head output, y (B, M, 5) -> {'loss', 'obj', 'cls', 'box'} (scalars)."""
    out = out.float().permute(0, 2, 3, 1)  # (B, S_h, S_w, 5 + K)
    K = out.shape[-1] - 5
    t = encode(y, (out.shape[1], out.shape[2]), image_size)
    pos = t.obj > 0
    n = pos.sum().clamp(min=1).float()
    obj = sigmoid_focal_loss(out[..., 0], t.obj, alpha=ALPHA, gamma=GAMMA, reduction="sum") / n
    p = out[pos]  # (P, 5 + K)
    onehot = F.one_hot(t.cls[pos].clamp(min=0), K).float()
    cls = sigmoid_focal_loss(p[:, 5:], onehot, alpha=ALPHA, gamma=GAMMA, reduction="sum") / n
    s = out[..., 1:5].sigmoid()  # every cell, so the decoding is grid.cells_to_boxes itself
    pred_boxes = cells_to_boxes(s[..., 0:2], s[..., 2:4], image_size)[pos]
    giou = generalized_box_iou_loss(pred_boxes, t.boxes[pos], reduction="sum") / n
    l1 = (s[pos] - torch.cat([t.txy[pos], t.twh[pos]], -1)).abs().sum() / n
    box = giou + l1
    return {"loss": obj + cls + box, "obj": obj.detach(), "cls": cls.detach(), "box": box.detach()}


def localisation_loss(logits: torch.Tensor, box_out: torch.Tensor, y: torch.Tensor, image_size: tuple[int, int],
                      label_smoothing: float = 0.0) -> dict[str, torch.Tensor]:
    """logits (B, K), box_out (B, 4) raw, y (B, 5) = (class, x1, y1, x2, y2) -> {'loss', 'cls', 'box'}: cross-
    entropy, and GIoU + L1 between sigmoid(box_out) and the encoded box."""
    cls = F.cross_entropy(logits.float(), y[:, 0].long(), label_smoothing=label_smoothing)
    s = box_out.float().sigmoid()
    giou = generalized_box_iou_loss(decode_box(s, image_size), y[:, 1:], reduction="mean")
    l1 = (s - encode_box(y[:, 1:], image_size)).abs().sum(-1).mean()
    box = giou + l1
    return {"loss": cls + box, "cls": cls.detach(), "box": box.detach()}
