"""The Train page's box figures: ground truth and predictions drawn where the numbers say, filtered by the slider."""
from __future__ import annotations

import numpy as np

from designer.train.boxes import (
    PRED_COLOUR,
    TRUE_COLOUR,
    box_metrics,
    boxes_figure,
    headline_chart,
    is_box_run,
    is_detector,
    loss_parts,
    pr_curve,
)

CLASSES = [str(i) for i in range(10)]


def test_boxes_figure_draws_truth_and_the_predictions_above_the_threshold():
    img = np.zeros((1, 96, 96), np.uint8)
    true = [[3, 10, 20, 30, 40]]
    pred = [[3, 0.9, 11, 21, 31, 41], [5, 0.3, 50, 50, 70, 70]]
    fig = boxes_figure(img, true, pred, CLASSES, threshold=0.5)
    shapes = fig.layout.shapes
    assert [s.line.color for s in shapes] == [TRUE_COLOUR, PRED_COLOUR]
    assert (shapes[1].x0, shapes[1].y0, shapes[1].x1, shapes[1].y1) == (10.5, 20.5, 30.5, 40.5)  # pixel edges
    assert [a.text for a in fig.layout.annotations] == ["3 0.90"]
    assert len(boxes_figure(img, true, pred, CLASSES, threshold=0.1).layout.shapes) == 3
    assert fig.layout.yaxis.range == (95.5, -0.5)  # image rows go down


def test_live_figures_and_pr_curve():
    rows = [{"kind": "step", "epoch": 0.5, "train_obj": 1.0, "train_cls": 2.0, "train_box": 3.0},
            {"kind": "epoch", "epoch": 1, "val_obj": 0.5, "val_cls": 1.0, "val_box": 2.0, "val_map50": 0.4,
             "val_map": 0.2}]
    assert is_box_run(rows) and not is_box_run([{"kind": "step", "train_loss": 1.0}])
    fig = loss_parts({"run": rows}, epochs=2)
    assert [t.name for t in fig.data] == ["obj train", "obj validation", "cls train", "cls validation",
                                          "box train", "box validation"]
    assert [t.name for t in box_metrics({"run": rows}, 2).data] == ["mAP@0.5", "mAP@0.5:0.95"]
    res = {"classes": ["a", "b"], "pr_recall": [0, 0.5, 1], "pr_precision": [[1, 1, 0.5], None], "ap_50": [0.8, None]}
    fig = pr_curve(res)
    assert [t.name for t in fig.data] == ["a (AP 0.80)"]


def test_a_detector_has_a_map_chart_where_classifiers_have_accuracy():
    det = [{"kind": "step", "step": 1, "epoch": 0.5, "train_loss": 2.0, "train_obj": 1.0},
           {"kind": "epoch", "step": 2, "epoch": 1, "val_map50": 0.4}, {"kind": "epoch", "step": 4, "epoch": 2,
                                                                         "val_map50": 0.6}]
    fig = headline_chart({"run": det}, epochs=2)
    assert fig.layout.title.text == "mAP@0.5 (validation)"
    assert [(t.name, list(t.x), list(t.y)) for t in fig.data] == [("validation", [1, 2], [0.4, 0.6])]
    cls = [{"kind": "step", "step": 1, "epoch": 0.5, "train_loss": 2.0, "train_acc": 0.5},
           {"kind": "epoch", "step": 2, "epoch": 1, "val_acc": 0.9}]
    assert headline_chart({"run": cls}, epochs=2).layout.title.text == "Accuracy"
    assert headline_chart({"a": det, "b": cls}, epochs=2).layout.title.text == "Accuracy"  # overlaid: the common one
    assert is_detector(det) and not is_detector(cls)
