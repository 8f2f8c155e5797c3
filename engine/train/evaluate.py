"""Validation and the end-of-run results: loss, accuracy, mean IoU, confusion matrix, examples it gets wrong.

Everything accumulates on the device and is read once per evaluation.
"""
from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F

from engine.data import Data, to_float
from engine.train.rundir import RunDir

N_EXAMPLES = 32  # misclassified examples kept for classification
N_SEG_EXAMPLES = 8  # image / true mask / predicted mask triples kept for segmentation


def autocast(device: torch.device, dtype: torch.dtype | None):
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def prepare(x: torch.Tensor, squeeze: bool, channels_last: bool) -> torch.Tensor:
    """A uint8 batch as the model's input: float in [0, 1], channel axis dropped for sequence models."""
    x = to_float(x)
    if squeeze:
        return x.squeeze(1)
    if channels_last and x.ndim == 4:
        return x.contiguous(memory_format=torch.channels_last)
    return x


def confusion(y: torch.Tensor, pred: torch.Tensor, K: int) -> torch.Tensor:
    """K×K counts, rows the true class, columns the prediction (pixels for masks)."""
    return torch.bincount(y.reshape(-1) * K + pred.reshape(-1), minlength=K * K).reshape(K, K)


def iou_per_class(cm: torch.Tensor) -> list[float | None]:
    """IoU = TP / (TP + FP + FN) per class; None for a class absent from both truth and prediction."""
    tp = cm.diag().double()
    union = cm.sum(0).double() + cm.sum(1).double() - tp
    return [None if u == 0 else float(t / u) for t, u in zip(tp.tolist(), union.tolist())]


def mean_iou(cm: torch.Tensor) -> float:
    vals = [v for v in iou_per_class(cm) if v is not None]
    return sum(vals) / len(vals) if vals else 0.0


@torch.no_grad()
def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, K: int, *, batch: int,
             amp: torch.dtype | None, squeeze: bool, channels_last: bool, keep: bool = False) -> dict:
    """val_loss, val_acc (pixel accuracy for masks), val_miou for masks, the confusion matrix; with keep=True
    also every prediction and its probability (for the results)."""
    was_training = model.training
    model.eval()
    dev = x.device
    loss_sum = torch.zeros((), device=dev, dtype=torch.float64)
    cm = torch.zeros(K, K, device=dev, dtype=torch.int64)
    preds, confs = [], []
    for i in range(0, len(x), batch):
        xb, yb = prepare(x[i:i + batch], squeeze, channels_last), y[i:i + batch].long()
        with autocast(dev, amp):
            out = model(xb)
        out = out.float()
        loss_sum += F.cross_entropy(out, yb, reduction="sum").double()
        prob, pred = out.softmax(1).max(1)
        cm += confusion(yb, pred, K)
        if keep and pred.ndim == 1:
            preds.append(pred)
            confs.append(prob)
        elif keep:  # masks: uint8 keeps 10k predicted 64×64 masks at 40 MB; no per-pixel confidence needed
            preds.append(pred.to(torch.uint8))
    model.train(was_training)
    n = y.numel()
    res = {"val_loss": float(loss_sum) / n, "val_acc": float(cm.diag().sum()) / n, "confusion": cm}
    if y.ndim == 3:
        res["val_miou"] = mean_iou(cm)
    if keep:
        res["pred"] = torch.cat(preds)
        res["conf"] = torch.cat(confs) if confs else None
    return res


def selection_fields(data: Data, selected_on: str | None, selection: dict | None) -> dict:
    """What results.json says about how its weights were chosen: the split (`selected_on`), that split's numbers
    for those weights (`selection`: val_* fields) and how the splits were made (`splits`)."""
    out: dict = {}
    if selected_on is not None:
        out["selected_on"] = selected_on
    if selection:
        out["selection"] = {k: v for k, v in selection.items() if k.startswith("val_")}
    if "splits" in data.info:
        out["splits"] = data.info["splits"]
    return out


def write_results(run: RunDir, model: torch.nn.Module, data: Data, *, batch: int, amp: torch.dtype | None,
                  squeeze: bool, channels_last: bool, weights: str, epoch: int | None, selected_on: str | None = None,
                  selection: dict | None = None) -> dict:
    """The run's results (RunDir.write_results: the numbers, and example images) from the held-out split in
    data.x_val: the test split at the end of a run (Data.test_view). `selected_on` names the split that chose the
    weights, `selection` its numbers for them (the best weights' metadata), kept beside the test numbers."""
    K = data.num_classes
    ev = evaluate(model, data.x_val, data.y_val, K, batch=batch, amp=amp, squeeze=squeeze,
                  channels_last=channels_last, keep=True)
    cm = ev["confusion"].cpu()
    res = {"task": data.task, "data": data.name, "split": data.val_name, "classes": data.classes,
           "weights": weights, "epoch": epoch, "n": len(data.y_val), "loss": ev["val_loss"],
           "accuracy": ev["val_acc"], "confusion": cm.tolist(), **selection_fields(data, selected_on, selection)}
    y, pred, conf = data.y_val.long(), ev["pred"], ev["conf"]
    if data.task == "classification":
        support = cm.sum(1)
        res["per_class_accuracy"] = [None if s == 0 else float(cm[k, k]) / float(s) for k, s in
                                     enumerate(support.tolist())]
        wrong = (pred != y).nonzero().flatten()
        order = conf[wrong].argsort(descending=True)[:N_EXAMPLES]  # the most confident mistakes teach most
        idx = wrong[order]
        arrays = {"images": data.x_val[idx].cpu().numpy(), "true": y[idx].cpu().numpy(),
                  "pred": pred[idx].cpu().numpy(), "confidence": conf[idx].float().cpu().numpy(),
                  "index": idx.cpu().numpy()}
        res["misclassified"] = [{"index": int(i), "true": int(t), "pred": int(p), "confidence": float(c), "row": r}
                                for r, (i, t, p, c) in enumerate(zip(arrays["index"], arrays["true"],
                                                                     arrays["pred"], arrays["confidence"]))]
    else:
        res["iou"] = iou_per_class(cm)
        res["miou"] = mean_iou(cm)
        res["pixel_accuracy"] = ev["val_acc"]
        # examples: the images whose masks it gets most wrong (by pixel error rate)
        err = (pred.long() != y).flatten(1).float().mean(1)
        idx = err.argsort(descending=True)[:N_SEG_EXAMPLES]
        arrays = {"images": data.x_val[idx].cpu().numpy(), "true": y[idx].to(torch.uint8).cpu().numpy(),
                  "pred": pred[idx].to(torch.uint8).cpu().numpy(), "index": idx.cpu().numpy()}
        res["examples"] = [{"index": int(i), "pixel_error": float(err[i]), "row": r}
                           for r, i in enumerate(arrays["index"])]
    run.write_results(res, arrays)
    return res
