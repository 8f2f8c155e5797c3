"""Classification + localisation: one object per image, its class and its box.

The graph has two outputs, in order: K class logits, and 4 box numbers (cx, cy, w, h as fractions of the image
after a sigmoid; engine.detect.targets). Loss: cross-entropy + GIoU + L1 (engine.detect.loss). Metrics: class
accuracy, mean IoU of the predicted box, and accuracy at IoU >= 0.5 (right class and IoU >= 0.5); the best
weights are picked by the last one.
"""
from __future__ import annotations

import torch

from engine.catalog.arith import fmt_shape
from engine.data import Data
from engine.detect.loss import localisation_loss
from engine.detect.metrics import localisation_metrics, paired_iou
from engine.detect.targets import decode_box
from engine.train.checks import TrainError
from engine.train.tasks.boxes import N_EXAMPLES, BoxRun, check_input


def check_localiser(g, report, data: Data) -> None:
    """The graph's two outputs must be K logits and 4 box numbers, in that order."""
    check_input(g, report, data)
    K = data.num_classes
    if len(g.outputs) != 2:
        raise TrainError(f"localisation needs two outputs, in order: {K} class logits and 4 box numbers (cx, cy, "
                         f"w, h). Received: {len(g.outputs)} output(s) ({', '.join(g.outputs)}). Add a Linear "
                         f"with out_features=4 beside the class head and list both as outputs, logits first.")
    for nid, shape, what in ((g.outputs[0], (K,), "class logits"), (g.outputs[1], (4,), "box numbers")):
        have = report.nodes[nid].shape
        if have != shape:
            raise TrainError(f"localisation's output '{nid}' ({what}) must be {fmt_shape(shape)} but it is "
                             f"{fmt_shape(have)}. End it with a Linear of out_features={shape[0]}"
                             + (" (after a Flatten)." if len(have) > 1 else "."))


class LocalisationRun(BoxRun):
    PARTS = ("cls", "box")

    def check_fit(self, report, data: Data) -> bool:
        check_localiser(self.g, report, data)
        return False

    def loss(self, out, yb) -> dict[str, torch.Tensor]:
        logits, box = out
        return localisation_loss(logits, box, yb, self.image_size, label_smoothing=self.cfg.label_smoothing)

    def count(self, out, parts: dict[str, torch.Tensor], yb: torch.Tensor) -> None:
        """The loss parts, and the class accuracy as train_acc."""
        super().count(out, parts, yb)
        self.w[1] += (out[0].detach().argmax(1) == yb[:, 0].long()).sum()
        self.w[3] += len(yb)

    def decode(self, out) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The predicted class, its probability and the box in pixels."""
        logits, box = out
        p, c = logits.float().softmax(1).max(1)
        return c, p, decode_box(box.float().sigmoid(), self.image_size)

    def measure(self, decoded: list, y: torch.Tensor, keep: bool) -> dict:
        cls, prob, boxes = (torch.cat(t) for t in zip(*decoded))
        m = localisation_metrics(cls, boxes, y)
        res = {"val_acc": m["accuracy"], "val_iou": m["mean_iou"], "val_acc_iou50": m["acc_iou50"]}
        if keep:
            res.update(pred=cls, conf=prob, boxes=boxes)
        return res

    def score(self, ev: dict) -> tuple[str, float]:
        return "accuracy at IoU ≥ 0.5", ev["val_acc_iou50"]

    def results(self, ev: dict, d: Data) -> tuple[dict, object, str]:
        y = d.y_val
        iou = paired_iou(ev["boxes"], y[:, 1:])
        res = {"loss": ev["val_loss"], "accuracy": ev["val_acc"], "mean_iou": ev["val_iou"],
               "acc_iou50": ev["val_acc_iou50"]}
        K = d.num_classes
        right = (ev["pred"] == y[:, 0].long())
        res["per_class_accuracy"] = [float(right[y[:, 0] == k].float().mean()) if (y[:, 0] == k).any() else None
                                     for k in range(K)]
        res["per_class_iou"] = [float(iou[y[:, 0] == k].mean()) if (y[:, 0] == k).any() else None for k in range(K)]
        # examples: the worst localised first (lowest IoU), then the first images, up to N_EXAMPLES
        idx = iou.argsort()[:N_EXAMPLES]
        res["examples"] = [{"index": int(i), "row": r, "iou": float(iou[i]),
                            "true": [y[i].tolist()],
                            "pred": [[int(ev["pred"][i]), float(ev["conf"][i]), *ev["boxes"][i].tolist()]]}
                           for r, i in enumerate(idx.tolist())]
        return res, d.x_val[idx].cpu().numpy(), (f"accuracy {ev['val_acc']:.2%}, mean IoU {ev['val_iou']:.3f}, "
                                                 f"accuracy at IoU ≥ 0.5 {ev['val_acc_iou50']:.2%}")
