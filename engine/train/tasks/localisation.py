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
from engine.train.store import load_weights_into
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

    def train_step(self, idx: torch.Tensor) -> None:
        xb, yb = self.train_batch(idx)
        out = self.forward(xb)
        parts = self.loss(out, yb)
        self.optimise(parts["loss"])
        n = len(yb)
        self.count(parts, n)
        self.w[1] += (out[0].detach().argmax(1) == yb[:, 0].long()).sum()
        self.w[3] += n

    @torch.no_grad()
    def evaluate(self, keep: bool = False) -> dict:
        was = self.model.training
        self.model.eval()
        x, y = self.data.x_val, self.data.y_val
        sums = torch.zeros(3, device=self.device, dtype=torch.float64)
        cls, prob, boxes = [], [], []
        for i in range(0, len(x), self.eval_bs):
            logits, box = out = self.forward(self.batch(x[i:i + self.eval_bs]))
            yb = y[i:i + self.eval_bs]
            parts = self.loss(out, yb)
            sums += torch.stack([parts["loss"].detach(), parts["cls"], parts["box"]]).double() * len(yb)
            p, c = logits.float().softmax(1).max(1)
            cls.append(c)
            prob.append(p)
            boxes.append(decode_box(box.float().sigmoid(), self.image_size))
        self.model.train(was)
        cls, prob, boxes = torch.cat(cls), torch.cat(prob), torch.cat(boxes)
        m = localisation_metrics(cls, boxes, y)
        loss, lc, lb = (sums / len(y)).tolist()
        res = {"val_loss": loss, "val_cls": lc, "val_box": lb, "val_acc": m["accuracy"], "val_iou": m["mean_iou"],
               "val_acc_iou50": m["acc_iou50"]}
        if keep:
            res.update(pred=cls, conf=prob, boxes=boxes)
        return res

    def val_fields(self, ev: dict) -> dict:
        return {k: ev[k] for k in ("val_loss", "val_cls", "val_box", "val_acc", "val_iou", "val_acc_iou50")}

    def score(self, ev: dict) -> tuple[str, float]:
        return "accuracy at IoU ≥ 0.5", ev["val_acc_iou50"]

    def finish(self) -> None:
        self.status("running", "computing the results")
        best = self.dir.weights("best")
        meta = load_weights_into(self.model, best) if best else {}
        which = "best" if best == self.dir.best_path else "last"
        self.selected = (self.data.val_name, meta)
        self.data = self.data.test_view()  # the test split, seen once, now, on the weights validation chose
        ev = self.evaluate(keep=True)
        d = self.data
        y = d.y_val
        iou = paired_iou(ev["boxes"], y[:, 1:])
        res = {**self.results_head(d, which, meta.get("epoch")), "loss": ev["val_loss"], "accuracy": ev["val_acc"],
               "mean_iou": ev["val_iou"], "acc_iou50": ev["val_acc_iou50"]}
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
        self.dir.write_results(res, {"images": d.x_val[idx].cpu().numpy()})
        self.status("finished", say=True, message=f"finished: {d.val_name} accuracy {ev['val_acc']:.2%}, mean IoU "
                    f"{ev['val_iou']:.3f}, accuracy at IoU ≥ 0.5 {ev['val_acc_iou50']:.2%} ({which} weights, epoch "
                    f"{meta.get('epoch')}) after {self.step} steps in {self.now():.0f} s.", best_val_acc=self.best)
