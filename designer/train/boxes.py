"""The box tasks on the Train page: live loss parts and mAP / IoU curves, and the results (headline numbers, test
images with predicted boxes over the ground truth and a confidence slider, AP per class, the precision-recall
curve). Figures are built by pure functions (testable without a browser); render_* draw them."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from designer.train import plots

CHART = {"displayModeBar": False}
TRUE_COLOUR = "#16a34a"  # ground truth: green, dashed
PRED_COLOUR = "#dc2626"  # predictions: red, solid, labelled "class score"
BOX_TASKS = ("localisation", "detection")


def is_box_run(rows: list[dict]) -> bool:
    return any(r.get("val_map50") is not None or r.get("val_iou") is not None or r.get("train_box") is not None
               for r in rows)


def is_detector(rows: list[dict]) -> bool:
    """A detection run's metrics (objectness loss from the first logged step, mAP from the first validation)."""
    return any(r.get("val_map50") is not None or r.get("train_obj") is not None for r in rows)


def headline_chart(runs: dict[str, list[dict]], epochs: float | None) -> go.Figure:
    """The chart beside the loss: accuracy (train and validation), or for detectors, which have no accuracy,
    validation mAP@0.5 per epoch, titled as such."""
    if not runs or not all(is_detector(rows) for rows in runs.values()):
        return plots.curves(runs, "acc", "Accuracy", percent=True, epochs=epochs)
    fig = go.Figure()
    for i, (label, rows) in enumerate(runs.items()):
        val = [r for r in rows if r.get("val_map50") is not None]
        fig.add_scatter(x=[r["epoch"] for r in val], y=[r["val_map50"] for r in val], mode="lines+markers",
                        name=f"{label} · validation" if len(runs) > 1 else "validation",
                        line=dict(color=plots.PALETTE[i % len(plots.PALETTE)], width=2, dash="dash"),
                        marker=dict(size=8))
    fig.update_layout(title="mAP@0.5 (validation)", xaxis_title="epoch", **plots.BASE_LAYOUT)
    fig.update_yaxes(range=[0, 1.02])
    plots._epoch_axis(fig, epochs)
    return fig


def loss_parts(runs: dict[str, list[dict]], epochs: float | None) -> go.Figure:
    """train_<part> per logged step (solid) and val_<part> per epoch (dashed) of obj / cls / box."""
    fig = go.Figure()
    multi = len(runs) > 1
    for label, rows in runs.items():
        for i, part in enumerate(("obj", "cls", "box")):
            colour = plots.PALETTE[i]
            x, y = plots.downsample(*plots._series(rows, f"train_{part}", "step"))
            if not x:
                continue
            name = f"{label} · {part}" if multi else part
            fig.add_scatter(x=x, y=y, mode=plots._mode(len(x)), name=f"{name} train", line=dict(color=colour))
            val = [r for r in rows if r.get(f"val_{part}") is not None]
            fig.add_scatter(x=[r["epoch"] for r in val], y=[r[f"val_{part}"] for r in val], mode="lines+markers",
                            name=f"{name} validation", line=dict(color=colour, dash="dash"))
    fig.update_layout(title="Loss parts: objectness, class, box", xaxis_title="epoch", **plots.BASE_LAYOUT)
    plots._epoch_axis(fig, epochs)
    return fig


def box_metrics(runs: dict[str, list[dict]], epochs: float | None) -> go.Figure:
    """Validation mAP@0.5 and mAP@0.5:0.95 (detection) or mean IoU and accuracy at IoU >= 0.5 (localisation)."""
    fig = go.Figure()
    keys = {"val_map50": "mAP@0.5", "val_map": "mAP@0.5:0.95", "val_iou": "mean IoU",
            "val_acc_iou50": "accuracy at IoU ≥ 0.5"}
    for j, (label, rows) in enumerate(runs.items()):
        for i, (key, name) in enumerate(keys.items()):
            val = [r for r in rows if r.get(key) is not None]
            if val:
                fig.add_scatter(x=[r["epoch"] for r in val], y=[r[key] for r in val], mode="lines+markers",
                                name=name if len(runs) == 1 else f"{label} · {name}",
                                line=dict(color=plots.PALETTE[(i + 4 * j) % len(plots.PALETTE)]))
    fig.update_layout(title="Validation boxes", xaxis_title="epoch", **plots.BASE_LAYOUT)
    fig.update_yaxes(tickformat=".0%", range=[0, 1.02])
    plots._epoch_axis(fig, epochs)
    return fig


def boxes_figure(image: np.ndarray, true: list[list[float]], pred: list[list[float]], classes: list[str],
                 threshold: float = 0.0, title: str = "") -> go.Figure:
    """The image with its ground-truth boxes (green, dashed) and the predictions scored >= threshold (red,
    labelled 'class score'). true rows: (class, x1, y1, x2, y2); pred rows: (class, score, x1, y1, x2, y2)."""
    rgb = plots.to_rgb(image)
    H, W = rgb.shape[:2]
    fig = go.Figure(go.Image(z=rgb, hoverinfo="skip"))
    for c, x1, y1, x2, y2 in true:
        fig.add_shape(type="rect", x0=x1 - 0.5, y0=y1 - 0.5, x1=x2 - 0.5, y1=y2 - 0.5,
                      line=dict(color=TRUE_COLOUR, width=1.5, dash="dash"), name=f"true {classes[int(c)]}")
    for c, s, x1, y1, x2, y2 in (p for p in pred if p[1] >= threshold):
        fig.add_shape(type="rect", x0=x1 - 0.5, y0=y1 - 0.5, x1=x2 - 0.5, y1=y2 - 0.5,
                      line=dict(color=PRED_COLOUR, width=2), name=f"pred {classes[int(c)]}")
        fig.add_annotation(x=x1 - 0.5, y=y1 - 0.5, text=f"{classes[int(c)]} {s:.2f}", showarrow=False,
                           xanchor="left", yanchor="bottom", font=dict(color="white", size=10),
                           bgcolor=PRED_COLOUR, borderpad=1)
    fig.update_layout(title=dict(text=title, font=dict(size=12)), margin=dict(l=0, r=0, t=24 if title else 0, b=0),
                      height=220, xaxis=dict(visible=False, range=[-0.5, W - 0.5]),
                      yaxis=dict(visible=False, range=[H - 0.5, -0.5]))
    return fig


def pr_curve(res: dict) -> go.Figure:
    """Precision against recall at IoU 0.5, one line per class (COCO's 101 recall points)."""
    fig = go.Figure()
    for k, (name, prec) in enumerate(zip(res["classes"], res["pr_precision"])):
        if prec is not None:
            ap = res["ap_50"][k]
            fig.add_scatter(x=res["pr_recall"], y=prec, mode="lines", name=f"{name} (AP {ap:.2f})",
                            line=dict(color=plots.PALETTE[k % len(plots.PALETTE)], width=1.5))
    fig.update_layout(title="Precision–recall at IoU 0.5", xaxis_title="recall", yaxis_title="precision",
                      margin=dict(l=10, r=10, t=40, b=10), height=360, legend=dict(font=dict(size=10)))
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(range=[0, 1.02])
    return fig


def render_box_results(res: dict, run_id: str) -> None:
    classes = res["classes"]
    det = res["task"] == "detection"
    c = st.columns(4)
    if det:
        c[0].metric("mAP@0.5", f"{res['map_50']:.3f}", border=True, help="torchmetrics MeanAveragePrecision")
        c[1].metric("mAP@0.5:0.95", f"{res['map']:.3f}", border=True)
    else:
        c[0].metric("Class accuracy", f"{res['accuracy']:.2%}", border=True)
        c[1].metric("Mean IoU", f"{res['mean_iou']:.3f}", border=True,
                    help=f"accuracy at IoU ≥ 0.5 (right class and box): {res['acc_iou50']:.2%}")
    c[2].metric("Loss", f"{res['loss']:.4f}", border=True)
    c[3].metric("Weights of epoch", f"{res.get('epoch')}", border=True,
                help=f"the {res.get('weights', 'best')} weights, evaluated on the {res.get('split', 'validation')} "
                     f"split of {res.get('data')}")
    threshold = 0.0
    if det:
        threshold = st.slider("Confidence threshold", 0.05, 1.0, 0.25, 0.05, key=f"box_thr_{run_id}",
                              help="draw the predicted boxes scored at least this (objectness × class probability)")
    ex = [e for e in res.get("examples", []) if "image" in e][:8]
    st.caption("Validation images: ground truth dashed green, predictions red with class and score"
               + ("" if det else " (the lowest IoU first)"))
    cols = st.columns(4)
    for i, e in enumerate(ex):
        shown = sum(1 for p in e["pred"] if p[1] >= threshold)
        title = (f"{shown} box{'es' if shown != 1 else ''} ≥ {threshold:.2f}" if det
                 else f"IoU {e.get('iou', 0):.2f}")
        cols[i % 4].plotly_chart(boxes_figure(e["image"], e["true"], e["pred"], classes, threshold, title),
                                 key=f"boxes_{run_id}_{i}", config=CHART)
    left, right = st.columns(2)
    if det:
        left.plotly_chart(plots.per_class(res["ap_50"], classes, "AP@0.5 per class"), key=f"ap_{run_id}",
                          config=CHART)
        right.plotly_chart(pr_curve(res), key=f"pr_{run_id}", config=CHART)
    else:
        left.plotly_chart(plots.per_class(res["per_class_accuracy"], classes), key=f"pc_{run_id}", config=CHART)
        right.plotly_chart(plots.per_class(res["per_class_iou"], classes, "Mean IoU per class"),
                           key=f"pi_{run_id}", config=CHART)
