"""Targets, decoding, losses and metrics of the box tasks, against torchvision / torchmetrics / hand-made cases."""
from __future__ import annotations

import pytest
import torch
from torchmetrics.detection import MeanAveragePrecision
from torchvision.ops import batched_nms, box_iou, generalized_box_iou_loss, sigmoid_focal_loss

from engine.data import load_data
from engine.detect.grid import decode, postprocess
from engine.detect.loss import detection_loss, localisation_loss
from engine.detect.metrics import localisation_metrics, mean_average_precision, paired_iou
from engine.detect.targets import decode_box, decode_targets, encode, encode_box, ground_truth


def sort_rows(boxes, labels):
    key = boxes[:, 0] * 1e6 + boxes[:, 1] * 1e3 + labels
    o = key.argsort()
    return boxes[o], labels[o]


@pytest.mark.parametrize("S", [6, 12, 24])  # cells of 16, 8, 4 px: mnist-detect keeps centres 16 px apart
def test_encode_then_decode_returns_the_ground_truth_boxes_exactly(S):
    d = load_data("mnist-detect", limit=400)
    y = d.y_train
    t = encode(y, (S, S), (96, 96))
    for got, want in zip(decode_targets(t, (96, 96)), ground_truth(y)):
        gb, gl = sort_rows(got["boxes"], got["labels"])
        wb, wl = sort_rows(want["boxes"], want["labels"])
        assert torch.equal(gb, wb) and torch.equal(gl, wl)


def test_encode_puts_each_box_in_the_cell_of_its_centre():
    y = torch.tensor([[[3, 10, 20, 30, 40], [7, 50, 0, 96, 96], [-1, 0, 0, 0, 0]]], dtype=torch.float32)
    t = encode(y, (6, 6), (96, 96))
    assert t.obj.sum() == 2 and t.obj[0, 1, 1] == 1 and t.obj[0, 3, 4] == 1  # centres (20, 30) and (73, 48)
    assert t.cls[0, 1, 1] == 3 and t.cls[0, 3, 4] == 7 and (t.cls == -1).sum() == 34
    assert torch.allclose(t.txy[0, 1, 1], torch.tensor([20 / 16 - 1, 30 / 16 - 1]))
    assert torch.allclose(t.twh[0, 3, 4], torch.tensor([46 / 96, 1.0]))


def test_localiser_box_round_trip():
    b = torch.tensor([[13.0, 13.0, 44.0, 49.0], [0.0, 2.0, 56.0, 30.0]])
    assert torch.allclose(decode_box(encode_box(b, (56, 56)), (56, 56)), b, atol=1e-5)


def test_focal_loss_parts_equal_torchvisions():
    torch.manual_seed(0)
    out = torch.randn(2, 5 + 3, 4, 4, requires_grad=True)
    y = torch.tensor([[[0, 1, 1, 20, 20], [2, 40, 40, 60, 60]], [[1, 30, 5, 50, 40], [-1, 0, 0, 0, 0]]],
                     dtype=torch.float32)
    parts = detection_loss(out, y, (64, 64))
    o = out.detach().permute(0, 2, 3, 1)
    obj_t = torch.zeros(2, 4, 4)
    obj_t[0, 0, 0] = obj_t[0, 3, 3] = obj_t[1, 1, 2] = 1  # cells of 16 px: centres (10.5,10.5) (50,50) (40,22.5)
    n = 3
    assert torch.allclose(parts["obj"], sigmoid_focal_loss(o[..., 0], obj_t, reduction="sum") / n)
    cells = [(0, 0, 0, 0), (0, 3, 3, 2), (1, 1, 2, 1)]
    logits = torch.stack([o[b, i, j, 5:] for b, i, j, _ in cells])
    onehot = torch.nn.functional.one_hot(torch.tensor([c for *_, c in cells]), 3).float()
    assert torch.allclose(parts["cls"], sigmoid_focal_loss(logits, onehot, reduction="sum") / n)
    # box: GIoU of the decoded positive cells against the truth, plus L1 of the box numbers
    boxes, _, _ = decode(out.detach(), (64, 64))
    pred = torch.stack([boxes[b, i * 4 + j] for b, i, j, _ in cells])
    truth = torch.tensor([[1, 1, 20, 20], [40, 40, 60, 60], [30, 5, 50, 40]], dtype=torch.float32)
    giou = generalized_box_iou_loss(pred, truth, reduction="sum") / n
    assert parts["box"] > giou  # the L1 part is positive
    parts["loss"].backward()
    assert out.grad is not None and torch.isfinite(out.grad).all()


def test_a_perfect_head_has_low_loss_and_decodes_to_the_truth():
    y = torch.tensor([[[4, 8, 8, 40, 30], [1, 50, 60, 90, 94]]], dtype=torch.float32)
    t = encode(y, (6, 6), (96, 96))
    logit = lambda p: torch.logit(p.clamp(1e-6, 1 - 1e-6))
    out = torch.full((1, 5 + 10, 6, 6), -12.0)
    body = out.permute(0, 2, 3, 1)  # a view: writes land in out
    body[..., 0] = torch.where(t.obj > 0, 12.0, -12.0)
    body[..., 1:3] = logit(t.txy)
    body[..., 3:5] = logit(t.twh)
    body[..., 5:] = torch.where(torch.nn.functional.one_hot(t.cls.clamp(min=0), 10).bool() & (t.obj > 0)[..., None],
                                12.0, -12.0)
    parts = detection_loss(out, y, (96, 96))
    assert parts["loss"] < 1e-3
    res = postprocess(out, (96, 96))[0]
    assert res["labels"].tolist() == [4, 1] or sorted(res["labels"].tolist()) == [1, 4]
    assert torch.allclose(sort_rows(res["boxes"], res["labels"])[0], sort_rows(y[0, :, 1:], y[0, :, 0])[0],
                          atol=1e-3)


def test_postprocess_is_torchvisions_batched_nms_per_image():
    torch.manual_seed(1)
    out = torch.randn(3, 5 + 4, 5, 5) * 3
    res = postprocess(out, (80, 80), score_threshold=0.1, iou_threshold=0.4)
    boxes, scores, labels = decode(out, (80, 80))
    for b in range(3):
        keep = scores[b] >= 0.1
        bx = boxes[b][keep].clamp(min=0, max=80)
        k = batched_nms(bx, scores[b][keep], labels[b][keep], 0.4)
        assert torch.allclose(res[b]["boxes"], bx[k]) and torch.equal(res[b]["labels"], labels[b][keep][k])
    assert sum(len(r["boxes"]) for r in res) > 0


def test_localisation_loss_parts():
    torch.manual_seed(2)
    logits, box = torch.randn(4, 10), torch.randn(4, 4)
    y = torch.tensor([[1, 2, 3, 30, 40], [5, 10, 10, 50, 50], [9, 0, 0, 56, 56], [0, 20, 5, 40, 20]], dtype=torch.float32)
    parts = localisation_loss(logits, box, y, (56, 56))
    assert torch.allclose(parts["cls"], torch.nn.functional.cross_entropy(logits, y[:, 0].long()))
    giou = generalized_box_iou_loss(decode_box(box.sigmoid(), (56, 56)), y[:, 1:], reduction="mean")
    l1 = (box.sigmoid() - encode_box(y[:, 1:], (56, 56))).abs().sum(-1).mean()
    assert torch.allclose(parts["box"], giou + l1)


def test_paired_iou_is_the_diagonal_of_box_iou():
    torch.manual_seed(3)
    a = torch.rand(50, 2) * 40
    b = torch.rand(50, 2) * 40
    A, B = torch.cat([a, a + torch.rand(50, 2) * 20 + 1], 1), torch.cat([b, b + torch.rand(50, 2) * 20 + 1], 1)
    assert torch.allclose(paired_iou(A, B), box_iou(A, B).diagonal(), atol=1e-6)


def test_localisation_metrics_hand_made():
    y = torch.tensor([[1, 0, 0, 10, 10], [2, 0, 0, 10, 10], [3, 0, 0, 10, 10]], dtype=torch.float32)
    pred = torch.tensor([[0, 0, 10, 10], [0, 0, 10, 5], [0, 0, 10, 4]], dtype=torch.float32)  # IoU 1, .5, .4
    m = localisation_metrics(torch.tensor([1, 2, 0]), pred, y)
    assert m["accuracy"] == pytest.approx(2 / 3)
    assert m["mean_iou"] == pytest.approx((1 + 0.5 + 0.4) / 3)
    assert m["acc_iou50"] == pytest.approx(2 / 3)


T = lambda *rows: torch.tensor(rows, dtype=torch.float32)


def test_map_hand_made_cases():
    gt = [{"boxes": T([0, 0, 10, 10], [20, 20, 30, 30]), "labels": torch.tensor([0, 1])}]
    perfect = [{"boxes": T([0, 0, 10, 10], [20, 20, 30, 30]), "scores": torch.tensor([.9, .8]),
                "labels": torch.tensor([0, 1])}]
    r = mean_average_precision(perfect, gt, 2, curves=True)
    assert r["map_50"] == 1.0 and r["map"] == 1.0 and r["ap_50"] == pytest.approx([1.0, 1.0])
    assert r["pr_precision"][0] == pytest.approx([1.0] * 101)
    # class 0 found; class 1 missed, a box of class 1 elsewhere: AP 1 and 0, mAP 0.5
    half = [{"boxes": T([0, 0, 10, 10], [50, 50, 60, 60]), "scores": torch.tensor([.9, .8]),
             "labels": torch.tensor([0, 1])}]
    r = mean_average_precision(half, gt, 3, curves=True)
    assert r["map_50"] == pytest.approx(0.5) and r["ap_50"][:2] == pytest.approx([1.0, 0.0]) and r["ap_50"][2] is None
    # a false positive scored above the true one: precision 1/2 at recall 1 -> AP 0.5 (101-point interpolation)
    fp_first = [{"boxes": T([40, 40, 50, 50], [0, 0, 10, 10]), "scores": torch.tensor([.9, .5]),
                 "labels": torch.tensor([0, 0])}]
    r = mean_average_precision(fp_first, [{"boxes": T([0, 0, 10, 10]), "labels": torch.tensor([0])}], 1)
    assert r["map_50"] == pytest.approx(0.5)
    # IoU 0.62 counts at 0.5, 0.55, 0.6 but not from 0.65 on: mAP@0.5:0.95 = 3/10
    shifted = [{"boxes": T([0, 0, 10, 6.2]), "scores": torch.tensor([.9]), "labels": torch.tensor([0])}]
    r = mean_average_precision(shifted, [{"boxes": T([0, 0, 10, 10]), "labels": torch.tensor([0])}], 1)
    assert r["map_50"] == pytest.approx(1.0) and r["map"] == pytest.approx(0.3)


def test_map_equals_torchmetrics_on_random_detections():
    g = torch.Generator().manual_seed(5)
    preds, targets = [], []
    for _ in range(20):
        n, m = int(torch.randint(1, 6, (1,), generator=g)), int(torch.randint(0, 8, (1,), generator=g))
        xy = torch.rand(n, 2, generator=g) * 60
        gt = torch.cat([xy, xy + 10 + torch.rand(n, 2, generator=g) * 20], 1)
        jitter = torch.randn(n, 4, generator=g) * 3
        extra = torch.rand(m, 2, generator=g) * 60
        pb = torch.cat([gt + jitter, torch.cat([extra, extra + 15], 1)])
        targets.append({"boxes": gt, "labels": torch.randint(0, 3, (n,), generator=g)})
        preds.append({"boxes": pb, "scores": torch.rand(n + m, generator=g),
                      "labels": torch.cat([targets[-1]["labels"], torch.randint(0, 3, (m,), generator=g)])})
    ours = mean_average_precision(preds, targets, 3, curves=True)
    ref = MeanAveragePrecision(class_metrics=True, iou_thresholds=[0.5])
    ref.update(preds, targets)
    r = ref.compute()
    assert ours["map_50"] == pytest.approx(float(r["map"]), abs=1e-6)
    assert ours["ap_50"] == pytest.approx(r["map_per_class"].tolist(), abs=1e-6)
    assert 0.2 < ours["map_50"] < 0.95
