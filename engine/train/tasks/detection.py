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
    COMPUTING = "computing the results (mAP)"

    def check_fit(self, report, data: Data) -> bool:
        S_h, S_w = self.grid = grid_of(self.g, report, data)
        H, W = data.input_shape[1:]
        self.status("running", say=True, message=f"detector grid {S_h}×{S_w}: each cell covers {H / S_h:g}×"
                                                 f"{W / S_w:g} px of the {H}×{W} image")
        return False

    def loss(self, out, yb) -> dict[str, torch.Tensor]:
        return detection_loss(out, yb, self.image_size)

    def decode(self, out) -> list[dict]:
        return postprocess(out, self.image_size, score_threshold=MAP_SCORE)

    def measure(self, decoded: list, y: torch.Tensor, keep: bool) -> dict:
        preds = [p for batch in decoded for p in batch]
        m = mean_average_precision(preds, ground_truth(y), self.K, curves=keep)
        res = {"val_map50": m["map_50"], "val_map": m["map"]}
        if keep:
            res.update(metrics=m, preds=preds)
        return res

    def score(self, ev: dict) -> tuple[str, float]:
        return "mAP@0.5", ev["val_map50"]

    def results(self, ev: dict, d: Data) -> tuple[dict, object, str]:
        m = ev["metrics"]
        res = {"loss": ev["val_loss"], "map_50": m["map_50"], "map": m["map"], "ap_50": m["ap_50"], "ap": m["ap"],
               "pr_recall": m["pr_recall"], "pr_precision": m["pr_precision"], "grid": list(self.grid)}
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
        return res, d.x_val[:n].cpu().numpy(), f"mAP@0.5 {m['map_50']:.3f}, mAP@0.5:0.95 {m['map']:.3f}"
