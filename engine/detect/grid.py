"""The box tasks' outputs -> boxes. Localisation: `localise(logits, box_numbers, image_size)`. Detection: a
DetectionHead's output (B, 5 + K, S_h, S_w) -> boxes. Channel layout per cell: objectness, tx, ty, tw, th,
then K class scores, all logits. Anchor-free, in the style of YOLO:

    cx = (j + sigmoid(tx)) · W_img/S_w,   cy = (i + sigmoid(ty)) · H_img/S_h   (cell j, i of the grid)
    w  = sigmoid(tw) · W_img,             h  = sigmoid(th) · H_img
    score = sigmoid(objectness) · max_k sigmoid(class_k),  label = argmax_k

so a cell predicts the object whose centre falls in it, with a box anywhere up to the whole image. These functions
use only torch and torchvision and are copied verbatim into exported code (engine/export), so the exported
`postprocess` is the app's.
"""
import torch
import torchvision


def cells_to_boxes(txy, twh, image_size):
    """Per-cell centre offsets in [0, 1] (B, S_h, S_w, 2) and sizes as fractions of the image (B, S_h, S_w, 2)
    -> boxes (x1, y1, x2, y2) in pixels, (B, S_h, S_w, 4)."""
    H, W = image_size
    S_h, S_w = txy.shape[1], txy.shape[2]
    cell_w, cell_h = W / S_w, H / S_h
    j = torch.arange(S_w, device=txy.device, dtype=txy.dtype).view(1, 1, S_w)
    i = torch.arange(S_h, device=txy.device, dtype=txy.dtype).view(1, S_h, 1)
    cx = (j + txy[..., 0]) * cell_w
    cy = (i + txy[..., 1]) * cell_h
    w, h = twh[..., 0] * W, twh[..., 1] * H
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], -1)


def decode(out, image_size):
    """The head's raw output (B, 5 + K, S_h, S_w) -> boxes (B, S_h·S_w, 4) in pixels, scores (B, S_h·S_w) and
    labels (B, S_h·S_w): one candidate per cell."""
    out = out.float().permute(0, 2, 3, 1)  # (B, S_h, S_w, 5 + K)
    t = out[..., 1:5].sigmoid()
    boxes = cells_to_boxes(t[..., 0:2], t[..., 2:4], image_size)
    cls_prob, labels = out[..., 5:].sigmoid().max(-1)
    scores = out[..., 0].sigmoid() * cls_prob
    B = out.shape[0]
    return boxes.reshape(B, -1, 4), scores.reshape(B, -1), labels.reshape(B, -1)


def postprocess(out, image_size, score_threshold=0.25, iou_threshold=0.5, max_detections=100):
    """The head's raw output -> one dict per image: boxes (n, 4) in pixels (x1, y1, x2, y2), scores (n,),
    labels (n,) and cells (n,) (the row-major grid cell that predicted each box), after dropping scores below
    score_threshold and per-class non-maximum suppression."""
    boxes, scores, labels = decode(out, image_size)
    B, n = scores.shape
    image = torch.arange(B, device=scores.device).repeat_interleave(n)
    cells = torch.arange(n, device=scores.device).repeat(B)  # the cell (row-major) that predicted each box
    boxes, scores, labels = boxes.reshape(-1, 4), scores.reshape(-1), labels.reshape(-1)
    keep = scores >= score_threshold
    boxes, scores, labels, image, cells = boxes[keep], scores[keep], labels[keep], image[keep], cells[keep]
    H, W = image_size
    boxes = torch.stack([boxes[:, 0].clamp(0, W), boxes[:, 1].clamp(0, H), boxes[:, 2].clamp(0, W),
                         boxes[:, 3].clamp(0, H)], -1)
    # one NMS call for the whole batch: boxes of another image or another class never suppress each other
    num_classes = int(labels.max()) + 1 if len(labels) else 1
    kept = torchvision.ops.batched_nms(boxes, scores, image * num_classes + labels, iou_threshold)
    results = []
    for b in range(B):
        mine = kept[image[kept] == b][:max_detections]  # batched_nms returns indices by decreasing score
        results.append({"boxes": boxes[mine], "scores": scores[mine], "labels": labels[mine], "cells": cells[mine]})
    return results


def numbers_to_box(t, image_size):
    """A localiser's 4 box numbers after a sigmoid, (cx, cy, w, h) as fractions of the image (N, 4) -> boxes
    (x1, y1, x2, y2) in pixels (N, 4)."""
    H, W = image_size
    cx, cy, w, h = t.unbind(-1)
    return torch.stack([(cx - w / 2) * W, (cy - h / 2) * H, (cx + w / 2) * W, (cy + h / 2) * H], -1)


def localise(logits, box_numbers, image_size):
    """A localiser's two outputs, class logits (B, K) and 4 raw box numbers (B, 4) -> a dict of labels (B,),
    scores (B,) (the class's softmax probability) and boxes (B, 4) in pixels."""
    scores, labels = logits.float().softmax(1).max(1)
    return {"boxes": numbers_to_box(box_numbers.float().sigmoid(), image_size), "scores": scores, "labels": labels}
