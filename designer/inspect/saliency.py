"""Inspect page, Saliency tab: Captum maps over the input with their deletion AUC, and the randomisation check."""
from __future__ import annotations

import streamlit as st
import torch

from designer.inspect import lab_plots, plots
from designer.inspect.cache import key, store
from designer.inspect.faithfulness import lab_section
from designer.inspect.runs import LoadedRun
from designer.inspect.views import progress_bar, show
from engine.visualise import METHODS
from engine.visualise.saliency import default_cam_layer

VERDICT_COLOUR = {"beats random": "green", "worse than random": "red", "not distinguishable from random": "orange"}


def _settings(run: LoadedRun, methods: list[str]) -> dict[str, dict]:
    """Each chosen method's knobs, asked for only when that method is chosen."""
    knobs: dict[str, dict] = {m: {} for m in methods}
    cols = st.columns(3)
    if "Grad-CAM" in methods:
        spatial = [n for n, t in run.taps.items() if t.shape and len(t.shape) == 3 and t.shape[1] * t.shape[2] > 1]
        default = default_cam_layer(run.model, run.graph).node
        knobs["Grad-CAM"]["layer"] = cols[0].selectbox("Grad-CAM layer", spatial, index=spatial.index(default),
                                                       key="inspect_cam_layer")
    if "Occlusion" in methods:
        side = run.input_shape[-1]
        knobs["Occlusion"]["window"] = cols[1].slider("Occlusion window", 1, max(2, side // 2), max(2, side // 5),
                                                      key="inspect_occ_window")
        knobs["Occlusion"]["stride"] = cols[1].slider("Occlusion stride", 1, max(1, side // 4), max(1, side // 14),
                                                      key="inspect_occ_stride")
    if "SmoothGrad" in methods:
        knobs["SmoothGrad"]["samples"] = cols[2].slider("SmoothGrad samples", 4, 64, 16, key="inspect_sg_n")
        knobs["SmoothGrad"]["noise"] = cols[2].slider("SmoothGrad noise σ", 0.05, 0.5, 0.15, key="inspect_sg_sigma")
    if "Integrated Gradients" in methods:
        knobs["Integrated Gradients"]["n_steps"] = cols[2].slider("IG steps", 8, 128, 32, key="inspect_ig_steps")
    return knobs


def _method(run: LoadedRun, name: str, knobs: dict):
    return METHODS[name](run.model, run.graph, **knobs)


def saliency_tab(run: LoadedRun, x: torch.Tensor, x_id: str, predicted: int) -> None:
    methods = st.multiselect("Methods", list(METHODS), default=["Saliency", "Grad-CAM", "Guided Backprop"],
                             key="inspect_methods")
    if not methods:
        st.info("Choose at least one method.")
        return
    target = st.selectbox("Explain the class", list(range(len(run.classes))), index=predicted,
                          format_func=lambda c: f"{run.classes[c]}" + (" (predicted)" if c == predicted else ""),
                          key=f"inspect_target_{x_id}")
    knobs = _settings(run, methods)
    results = {}
    missing = [m for m in methods if store().get(key(run, "saliency", m, knobs[m], target, x_id)) is None]
    bar, report = progress_bar("Attribution") if missing else (None, None)
    for i, m in enumerate(methods):
        k = key(run, "saliency", m, knobs[m], target, x_id)

        def compute(m=m, i=i):
            def sub(f: float, msg: str) -> None:
                report((i + f) / len(methods), msg)
            with run.lock:
                return _method(run, m, knobs[m]).run(x, target, progress=sub)
        results[m] = store().get_or_compute(k, compute)
    if bar is not None:
        bar.empty()
    cols = st.columns(min(3, len(methods)))
    for i, (m, r) in enumerate(results.items()):
        with cols[i % len(cols)]:
            show(plots.heat_over(x, r.map, m, height=260), f"inspect_sal_{m}")
            for c, what in ((r.deletion, "Deletion AUC"), (r.insertion, "Insertion AUC")):
                rng = f"[{c.random.lo:.3f}, {c.random.hi:.3f}]" if c.random is not None else "(one order)"
                st.markdown(f"{what} **{c.auc:.3f}** vs random {rng} — :{VERDICT_COLOUR[c.verdict]}[{c.verdict}] "
                            f"({'lower' if c.lower_is_better else 'higher'} is better)")
            st.caption(f"{r.seconds:.2f} s")
            if r.note:
                st.caption(f":warning: {r.note}")
    st.plotly_chart(lab_plots.perturbation_curves(
        {m: (r.deletion.curve, r.deletion.random_curve) for m, r in results.items()},
        {m: (r.insertion.curve, r.insertion.random_curve) for m, r in results.items()}), key="inspect_deletion")
    n_orders = len(next(iter(results.values())).deletion.random_aucs or [])
    st.caption(f"Deletion: pixels are set to black most-important first and the class probability should fall "
               f"fast; insertion: they are put back into a blurred copy and it should rise fast. Dotted: the mean "
               f"of {n_orders} random orders; a map beats random only outside the range [lo, hi] where 95% of random "
               f"orders fall.")
    lab_section(run, methods, knobs)
