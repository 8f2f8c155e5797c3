"""Object detection with a single-stage grid detector: the graph's one output is a DetectionHead's
(5 + K)×S_h×S_w cells (engine/catalog/detect.py, decoded by engine.detect.grid).

Loss: focal loss on objectness and classes, GIoU + L1 on the boxes (engine.detect.loss), logged in parts.
Validation: the same loss parts and mAP@0.5 / mAP@0.5:0.95 (torchmetrics); the best weights are picked by
mAP@0.5. Results: mAP, AP per class, the precision-recall curve and example images with every box scored at
least EXAMPLE_SCORE (the page's slider filters them further).
"""
from __future__ import annotations

import torch

from engine.catalog.arith import fmt_shape
from engine.data import Data
from engine.detect.grid import postprocess
from engine.detect.loss import detection_loss
from engine.detect.metrics import mean_average_precision
from engine.detect.targets import ground_truth
from engine.train.checks import TrainError
from engine.train.store import load_weights_into
from engine.train.tasks.boxes import N_EXAMPLES, BoxRun, check_input

MAP_SCORE = 0.01  # candidates scored below this are dropped before mAP (COCO practice: keep nearly everything)
EXAMPLE_SCORE = 0.05  # boxes kept with the example images


def grid_of(g, report, data: Data) -> tuple[int, int]:
    """The S_h×S_w grid the graph's DetectionHead produces; TrainError when the output is not one."""
    check_input(g, report, data)
    K = data.num_classes
    if len(g.outputs) != 1:
        raise TrainError(f"detection needs one output, a DetectionHead. Received: {len(g.outputs)} outputs "
                         f"({', '.join(g.outputs)}).")
    out_id = g.outputs[0]
    node, shape = g.node(out_id), report.nodes[out_id].shape
    if node.op != "DetectionHead":
        raise TrainError(f"detection needs the output '{out_id}' to be a DetectionHead (objectness, box and class "
                         f"scores per cell) but it is a {node.op} of shape {fmt_shape(shape)}. Add a DetectionHead "
                         f"with num_classes={K} after the backbone's last C×S×S feature map.")
    if shape[0] != 5 + K:
        raise TrainError(f"the DetectionHead '{out_id}' scores {shape[0] - 5} classes but {data.name} has {K}. "
                         f"Set {out_id}.num_classes to {K}.")
    return shape[1], shape[2]


class DetectionRun(BoxRun):
    PARTS = ("obj", "cls", "box")

    def check_fit(self, report, data: Data) -> bool:
        S_h, S_w = self.grid = grid_of(self.g, report, data)
        H, W = data.input_shape[1:]
        self.status("running", say=True, message=f"detector grid {S_h}×{S_w}: each cell covers {H / S_h:g}×"
                                                 f"{W / S_w:g} px of the {H}×{W} image")
        return False

    def loss(self, out, yb) -> dict[str, torch.Tensor]:
        return detection_loss(out, yb, self.image_size)

    def train_step(self, idx: torch.Tensor) -> None:
        xb, yb = self.train_batch(idx)
        parts = self.loss(self.forward(xb), yb)
        self.optimise(parts["loss"])
        self.count(parts, len(yb))

    @torch.no_grad()
    def evaluate(self, keep: bool = False) -> dict:
        was = self.model.training
        self.model.eval()
        x, y = self.data.x_val, self.data.y_val
        sums = torch.zeros(4, device=self.device, dtype=torch.float64)
        preds = []
        for i in range(0, len(x), self.eval_bs):
            out = self.forward(self.batch(x[i:i + self.eval_bs]))
            yb = y[i:i + self.eval_bs]
            parts = self.loss(out, yb)
            sums += torch.stack([parts[k].detach() for k in ("loss", *self.PARTS)]).double() * len(yb)
            preds += postprocess(out, self.image_size, score_threshold=MAP_SCORE)
        self.model.train(was)
        m = mean_average_precision(preds, ground_truth(y), self.K, curves=keep)
        loss, lo, lc, lb = (sums / len(y)).tolist()
        res = {"val_loss": loss, "val_obj": lo, "val_cls": lc, "val_box": lb, "val_map50": m["map_50"],
               "val_map": m["map"]}
        if keep:
            res.update(metrics=m, preds=preds)
        return res

    def val_fields(self, ev: dict) -> dict:
        return {k: ev[k] for k in ("val_loss", "val_obj", "val_cls", "val_box", "val_map50", "val_map")}

    def score(self, ev: dict) -> tuple[str, float]:
        return "mAP@0.5", ev["val_map50"]

    def finish(self) -> None:
        self.status("running", "computing the results (mAP)")
        best = self.dir.weights("best")
        meta = load_weights_into(self.model, best) if best else {}
        which = "best" if best == self.dir.best_path else "last"
        self.selected = (self.data.val_name, meta)
        self.data = self.data.test_view()  # the test split, seen once, now, on the weights validation chose
        ev = self.evaluate(keep=True)
        d, m = self.data, ev["metrics"]
        res = {**self.results_head(d, which, meta.get("epoch")), "loss": ev["val_loss"], "map_50": m["map_50"],
               "map": m["map"], "ap_50": m["ap_50"], "ap": m["ap"], "pr_recall": m["pr_recall"],
               "pr_precision": m["pr_precision"], "grid": list(self.grid)}
        n = min(N_EXAMPLES, len(d.y_val))
        examples = []
        for r in range(n):
            p = ev["preds"][r]
            keep = p["scores"] >= EXAMPLE_SCORE
            yv = d.y_val[r]
            examples.append({"index": r, "row": r, "true": yv[yv[:, 0] >= 0].tolist(),
                             "pred": [[int(c), float(s), *b] for c, s, b in zip(p["labels"][keep].tolist(),
                                                                             p["scores"][keep].tolist(),
                                                                             p["boxes"][keep].tolist())]})
        res["examples"] = examples
        self.dir.write_results(res, {"images": d.x_val[:n].cpu().numpy()})
        self.status("finished", say=True, message=f"finished: {d.val_name} mAP@0.5 {m['map_50']:.3f}, mAP@0.5:0.95 "
                    f"{m['map']:.3f} ({which} weights, epoch {meta.get('epoch')}) after {self.step} steps in "
                    f"{self.now():.0f} s.", best_val_acc=self.best)
