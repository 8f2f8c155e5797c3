"""Inspect page pieces: choose the run and the input, show the prediction, and the Filters and Activations tabs."""
from __future__ import annotations

import datetime as dt
import math

import streamlit as st
import torch

from designer.inspect import plots
from designer.inspect.cache import key, store
from designer.inspect.choose import default_run
from designer.inspect.draw import SIDE, drawing_pad
from designer.inspect.inputs import UPLOAD_TYPES, InputError, decode_upload, digest, drawing_to_input
from designer.inspect.runs import LoadedRun, load_run, test_images, weights_stamp
from designer.state import design_checked
from engine.safeload import NotACheckpoint
from engine.train.headline import best_text
from engine.train.store import CheckpointMismatch
from engine.visualise import Activations, Filters


def show(fig, key: str, where=st) -> None:
    """A picture: drawn with exactly its own colours (Streamlit's chart theme would recolour heat maps), no
    toolbar."""
    where.plotly_chart(fig, key=key, theme=None, config={"displayModeBar": False})


def progress_bar(label: str):
    """An st.progress bar and the callback the engine's long methods report to."""
    bar = st.progress(0.0, text=label)

    def report(fraction: float, message: str) -> None:
        bar.progress(min(1.0, max(0.0, fraction)), text=f"{label}: {message}")
    return bar, report


def _run_label(r: dict) -> str:
    when = dt.datetime.fromtimestamp(r["created"]).strftime("%Y-%m-%d %H:%M")
    best = best_text(r)
    acc = f" · {best}" if best else ""
    return f"{r['name']} · {when}{acc}" + (" · stopped" if r["status"] == "stopped" else "")


def pick_run(runs: list[dict]) -> LoadedRun:
    ids = [r["id"] for r in runs]
    by_id = {r["id"]: r for r in runs}
    design = design_checked().graph if "graph" in st.session_state else None  # none outside the app (tests)
    start = default_run(runs, design, st.session_state.get("selected_run"))
    rid = st.selectbox("Trained run", ids, index=start,
                       format_func=lambda i: _run_label(by_id[i]), key="inspect_run")
    st.session_state.selected_run = rid
    path = by_id[rid]["path"]
    try:
        return load_run(path, weights_stamp(path))
    except (NotACheckpoint, CheckpointMismatch, FileNotFoundError) as e:  # a refused file, in our words
        st.error(f"This run's weights cannot be inspected: {e}", icon=":material/error:")
        st.stop()


def pick_input(run: LoadedRun) -> tuple[torch.Tensor | None, str]:
    """The input every tab explains, from a test image, an upload or the drawing pad."""
    sources = ["Test image", "Upload"] + (["Draw"] if run.drawable else [])
    source = st.segmented_control("Input", sources, default="Test image", key="inspect_source") or "Test image"
    if source == "Test image":
        images, labels, where = test_images(str(run.path), run.input_shape)
        if len(images) == 0:
            st.warning("No test images could be loaded for this run's data here; upload a picture instead.")
            return None, ""
        i = st.number_input(f"Test image (0–{len(images) - 1}, from {where})", 0, len(images) - 1, 0,
                            key="inspect_index")
        return images[i], f"test image #{i} · label {run.classes[int(labels[i])]}"
    if source == "Upload":
        up = st.file_uploader("Picture", type=list(UPLOAD_TYPES), key="inspect_upload",
                              help=f"Resized to {'×'.join(map(str, run.input_shape[1:]))}; at most 5 MB.")
        if up is None:
            st.caption("Upload a picture to explain.")
            return None, ""
        invert = None
        if run.input_shape[0] == 1:
            invert = {"auto": None, "yes": True, "no": False}[
                st.radio("Invert (dark ink on light paper → light on dark)", ["auto", "yes", "no"],
                         horizontal=True, key="inspect_invert")]
        try:
            x, inverted = decode_upload(up.getvalue(), up.name, run.input_shape, invert)
        except InputError as e:
            st.error(str(e), icon=":material/error:")
            return None, ""
        return x, f"upload {up.name}" + (" (inverted)" if inverted else "")
    pixels = drawing_pad("inspect_draw")
    try:
        x = drawing_to_input(pixels, SIDE, run.input_shape)
    except InputError as e:
        st.error(str(e), icon=":material/error:")
        return None, ""
    if x is None:
        st.caption("Draw a digit: the prediction follows the pen.")
        return None, ""
    return x, "your drawing (centred like MNIST)"


def show_input_and_prediction(run: LoadedRun, x: torch.Tensor, label: str, c_img, c_bar) -> int:
    """The input as the model sees it (in c_img) beside its class probabilities (in c_bar); returns the predicted
    class."""
    with run.lock:
        res = Activations(run.model, run.graph).run(x)
    show(plots.image(x, label, height=230), "inspect_input_fig", c_img)
    top = res.predicted
    c_bar.plotly_chart(plots.probabilities(res.probs, run.classes,
                                           f"Prediction: {run.classes[top]} ({res.probs[top]:.1%})"),
                       key="inspect_prob_fig", config={"displayModeBar": False})
    return top


def filters_tab(run: LoadedRun) -> None:
    if not run.conv_taps:
        st.info("This network has no 2-d convolution, so there are no filters to draw.")
        return
    names = list(run.conv_taps)
    layer = st.selectbox("Convolution", names, format_func=lambda n: run.conv_taps[n].label, key="inspect_filters")
    r = store().get_or_compute(key(run, "filters", layer), lambda: Filters(run.model, run.graph).run(layer))
    out_ch, in_ch, kh, kw = r.weights.shape
    if r.rgb:
        show(plots.rgb_grid(r.grid, f"{layer}: {min(out_ch, 64)} filters in colour"), "inspect_fgrid")
    else:
        rows = min(out_ch, 64)
        if r.shown_inputs == 1:
            title, height = f"{layer}: {rows} filters", int(min(700, max(220, 60 * math.ceil(rows / 8))))
        else:
            title = f"{layer}: {rows} filters (rows) × {r.shown_inputs} of {in_ch} input channels (columns)"
            height = int(min(900, max(220, 14 * rows)))
        fig = plots.grid(r.grid[None], title, cols=1, height=height)
        show(fig, "inspect_fgrid")
    weak = sum(1 for n in r.norms if n < 0.05 * max(r.norms))
    st.caption(f"{out_ch} filters of {in_ch}×{kh}×{kw}; each filter scaled on its own, mid-grey = 0, light = "
               f"positive. Norms {min(r.norms):.3f}–{max(r.norms):.3f}" + (f"; {weak} filters are near zero "
                                                                            f"(dead or unused)." if weak else "."))


def activations_tab(run: LoadedRun, x: torch.Tensor, x_id: str) -> None:
    names = list(run.taps)
    layer = st.selectbox("Layer", names, index=run.first_activation(names), format_func=lambda n: run.taps[n].label,
                         key="inspect_act_layer")

    def compute():
        with run.lock:
            return Activations(run.model, run.graph).run(x, [layer])
    res = store().get_or_compute(key(run, "activations", layer, x_id), compute)
    a = res.layers[layer]
    show(plots.feature_maps(a.values, f"{layer}: output {'×'.join(map(str, a.values.shape))}"), "inspect_act_fig")
    order = sorted(range(len(a.channel_mean)), key=lambda i: -a.channel_mean[i])[:5]
    st.caption(f"{a.zero_fraction:.0%} of the values are exactly 0. Strongest channels (mean activation): "
               + ", ".join(f"#{i} ({a.channel_mean[i]:.3f})" for i in order) + ". Channels share one colour scale.")


def input_id(x: torch.Tensor) -> str:
    return digest(x)
