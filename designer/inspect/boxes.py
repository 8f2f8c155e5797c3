"""Inspect for a box run (localisation, detection): pick a validation image, see the model's boxes on it (class
and score) over the ground truth, pick one box and see Grad-CAM of that box's class score beside it. The numbers
come from engine.detect.inspect; this module only draws them."""
from __future__ import annotations

import streamlit as st
import torch

from designer.inspect import plots
from designer.inspect.runs import LoadedRun
from designer.inspect.views import show
from designer.train.boxes import BOX_TASKS, boxes_figure
from engine.data import DataError, load_data, to_float
from engine.detect.inspect import cam_layer, explain_box, predict_boxes
from engine.train.config import TrainConfig
from engine.train.rundir import RunDir

IMAGES = 500  # validation images offered
MAX_BOXES = 12  # boxes offered to explain: the best-scored
PICKED_COLOUR = "#2563eb"  # the box explained, on both pictures


def _outline(fig, box: tuple[float, float, float, float]):
    x1, y1, x2, y2 = box
    return fig.add_shape(type="rect", x0=x1 - 0.5, y0=y1 - 0.5, x1=x2 - 0.5, y1=y2 - 0.5,
                         line=dict(color=PICKED_COLOUR, width=3))


def is_box_run(run: LoadedRun) -> bool:
    return run.graph.task is not None and run.graph.task.kind in BOX_TASKS


@st.cache_resource(max_entries=4, show_spinner="Loading the validation images…")
def _images(run_path: str, input_shape: tuple[int, ...], task: str) -> tuple[torch.Tensor, torch.Tensor, str]:
    """The run's validation images (floats in [0, 1]), their box labels, and where they came from."""
    try:
        cfg = RunDir(run_path).config()
    except (OSError, ValueError):
        cfg = TrainConfig()
    data = load_data(cfg.data, cfg.data_root, input_shape=input_shape, val_fraction=cfg.val_fraction,
                     seed=cfg.seed, limit=cfg.limit, task=task)
    return to_float(data.x_val[:IMAGES]).cpu(), data.y_val[:IMAGES].cpu(), f"{data.name} ({data.val_name})"


def _truth(y: torch.Tensor) -> list[list[float]]:
    """A label row (5,) or rows (N, 5) of (class, x1, y1, x2, y2), class -1 = padding -> the real boxes."""
    y = y.reshape(-1, 5)
    return y[y[:, 0] >= 0].tolist()


def render(run: LoadedRun) -> None:
    task = run.graph.task.kind
    try:
        xs, ys, source = _images(str(run.path), run.input_shape, run.graph.task.kind)
    except (DataError, OSError, RuntimeError, ValueError) as e:
        st.error(f"Could not load this run's validation images: {e}", icon=":material/error:")
        return
    if not len(xs):
        st.info("This run's data has no validation images.")
        return
    det = task == "detection"
    c1, c2 = st.columns([3, 2])
    idx = int(c1.number_input(f"Validation image (0–{len(xs) - 1})", 0, len(xs) - 1, 0, key="box_image",
                              help=f"from {source}"))
    threshold = c2.slider("Confidence threshold", 0.05, 1.0, 0.25, 0.05, key="box_inspect_thr",
                          help="boxes scored at least this (objectness × class probability), after NMS") if det else 0.0
    x = xs[idx:idx + 1]
    device = next(run.model.parameters()).device
    with run.lock:
        boxes = predict_boxes(run.model, task, x.to(device), threshold)[:MAX_BOXES]
    if not boxes:
        show(boxes_figure(x[0].numpy(), _truth(ys[idx]), [], run.classes, title="no box"), "box_image_fig")
        st.info(f"The model finds no box scored ≥ {threshold:.2f} on this image. Lower the confidence threshold or "
                "pick another image.", icon=":material/crop_free:")
        return
    labels = [f"#{i + 1}: {run.classes[b.label]} {b.score:.2f}" for i, b in enumerate(boxes)]
    pick = st.radio("Explain the box", range(len(boxes)), format_func=labels.__getitem__, horizontal=True,
                    key=f"box_pick_{idx}_{threshold}")
    box = boxes[pick]
    name, layer = cam_layer(run.graph, run.model)
    with run.lock:
        cam = explain_box(run.model, x.to(device), box, layer)
    left, right = st.columns(2)
    with left:
        pred = [[b.label, b.score, *b.box] for b in boxes]
        fig = boxes_figure(x[0].numpy(), _truth(ys[idx]), pred, run.classes,
                           title=f"{len(boxes)} box{'es' if len(boxes) != 1 else ''} (truth dashed green), "
                                 f"#{pick + 1} in blue").update_layout(height=260)
        show(_outline(fig, box.box), "box_image_fig")
    with right:
        fig = plots.heat_over(x[0], cam.map, f"Grad-CAM of box #{pick + 1}'s class score ({run.classes[box.label]})",
                              height=260)
        show(_outline(fig, box.box), "box_cam_fig")
    where = (f"the class logit of grid cell (row {cam.cell[0]}, column {cam.cell[1]}), which predicted the box"
             if cam.cell is not None else "the class logit of the localiser's class output")
    st.caption(f"Grad-CAM at layer **{name}** of {where}: logit {cam.score:.2f}. Bright = the features that raise "
               "this box's class score.")

