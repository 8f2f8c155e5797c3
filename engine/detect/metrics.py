"""Detection and localisation metrics. mAP comes from torchmetrics' MeanAveragePrecision (the COCO protocol,
pycocotools backend), never written here: mAP@0.5, mAP@0.5:0.95, AP per class and the precision-recall curve."""
from __future__ import annotations

import torch


def mean_average_precision(preds: list[dict], targets: list[dict], num_classes: int,
                           curves: bool = False) -> dict:
    """preds: dicts of boxes (n, 4) xyxy, scores, labels; targets: dicts of boxes, labels (one per image).
    -> map_50, map (0.5:0.95); with curves=True also ap_50 and ap per class (None for a class with no ground
    truth) and the precision at 101 recall points per class at IoU 0.5 (the PR curve)."""
    # imported here: the app's pages import this module (through engine.train.tasks) in Streamlit's session
    # threads, and torchmetrics imported by two threads at once can come out half-initialised (seen in CI)
    from torchmetrics.detection import MeanAveragePrecision

    m = MeanAveragePrecision(box_format="xyxy", iou_type="bbox", class_metrics=curves, extended_summary=curves)
    cpu = lambda d: {k: v.detach().cpu() for k, v in d.items()}
    m.update([cpu(p) for p in preds], [cpu(t) for t in targets])
    r = m.compute()
    res = {"map_50": float(r["map_50"]), "map": float(r["map"])}
    if not curves:
        return res
    present = [int(c) for c in r["classes"].reshape(-1).tolist()]
    # precision: (IoU thresholds 0.5:0.05:0.95, 101 recall points, classes present, area ranges, max dets); -1 = n/a
    prec = r["precision"][0, :, :, 0, -1]  # IoU 0.5, all areas, 100 detections: (101, classes present)
    ap_50: list[float | None] = [None] * num_classes
    ap: list[float | None] = [None] * num_classes
    pr: list[list[float] | None] = [None] * num_classes
    per_class = r["map_per_class"].reshape(-1).tolist()
    for col, c in enumerate(present):
        if 0 <= c < num_classes:
            p = prec[:, col]
            if (p > -1).any():
                ap_50[c] = float(p.clamp(min=0).mean())
                pr[c] = p.clamp(min=0).tolist()
            ap[c] = per_class[col] if per_class[col] > -1 else None
    res.update(ap_50=ap_50, ap=ap, pr_recall=torch.linspace(0, 1, 101).tolist(), pr_precision=pr)
    return res


def localisation_metrics(pred_cls: torch.Tensor, pred_boxes: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Class accuracy, mean IoU of the predicted box with the true one, and the share of examples with the right
    class AND IoU >= 0.5 (the PASCAL criterion for a correct localisation)."""
    iou = paired_iou(pred_boxes.float(), y[:, 1:].float())
    right = pred_cls == y[:, 0].long()
    return {"accuracy": float(right.float().mean()), "mean_iou": float(iou.mean()),
            "acc_iou50": float((right & (iou >= 0.5)).float().mean())}


def paired_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """IoU of a[n] with b[n] (N,): torchvision.ops.box_iou computes every pair (N×N, 400 MB for 10k boxes), and the
    diagonal is all we need, so the few lines are written here (a test compares with box_iou's diagonal)."""
    lt, rb = torch.maximum(a[:, :2], b[:, :2]), torch.minimum(a[:, 2:], b[:, 2:])
    inter = (rb - lt).clamp(min=0).prod(-1)
    area = lambda t: (t[:, 2:] - t[:, :2]).clamp(min=0).prod(-1)
    return inter / (area(a) + area(b) - inter).clamp(min=1e-9)
