"""Inspect page, Saliency tab: Captum maps over the input with their deletion AUC, and the randomisation check."""
from __future__ import annotations

import streamlit as st
import torch

from designer.inspect import plots
from designer.inspect.cache import key, store
from designer.inspect.runs import LoadedRun, test_images
from designer.inspect.views import progress_bar, show
from engine.visualise import METHODS, ModelRandomisation
from engine.visualise.saliency import default_cam_layer

SANITY_IMAGES = 8


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
            d = r.deletion
            verdict = ":green[beats random]" if d.beats_random else ":red[no better than random]"
            st.markdown(f"Deletion AUC **{d.auc:.3f}** vs random **{d.random_auc:.3f}** — {verdict} "
                        f"(lower is better) · {r.seconds:.2f} s")
            if r.note:
                st.caption(f":warning: {r.note}")
    st.plotly_chart(plots.deletion_curves({m: (r.deletion.curve, r.deletion.random_curve)
                                           for m, r in results.items()}), key="inspect_deletion")
    st.caption("Deletion: pixels are set to black most-important first while the class probability is tracked; "
               "a map that found the evidence makes it fall fast (small area). Dotted: random orders.")
    sanity_section(run, methods, knobs)


def sanity_section(run: LoadedRun, methods: list[str], knobs: dict) -> None:
    st.subheader("Sanity check: model randomisation", anchor=False)
    st.caption(f"Adebayo et al. 2018: the same method on a copy of the network with re-initialised weights. An "
               f"explanation of the trained model should change (Spearman's |ρ| between the maps clearly low: "
               f"< 0.4 passes). Over {SANITY_IMAGES} test images.")
    images, _, _ = test_images(str(run.path), run.input_shape)
    if len(images) == 0:
        st.info("No test images for this run: the check needs some.")
        return
    keys = {m: key(run, "sanity", m, knobs[m], SANITY_IMAGES) for m in methods}
    if st.button("Run the sanity check", key="inspect_sanity_go", icon=":material/shuffle:"):
        bar, report = progress_bar("Sanity check")
        for i, m in enumerate(methods):
            def sub(f: float, msg: str, i=i) -> None:
                report((i + f) / len(methods), msg)
            with run.lock:
                method = _method(run, m, knobs[m])
                store().get_or_compute(keys[m], lambda method=method, sub=sub:
                                       ModelRandomisation(method).run(images[:SANITY_IMAGES], progress=sub))
        bar.empty()
    done = {m: store().get(k) for m, k in keys.items() if store().get(k) is not None}
    if not done:
        return
    cols = st.columns(min(3, len(done)))
    for i, (m, r) in enumerate(done.items()):
        with cols[i % len(cols)]:
            badge = ":green-badge[passes]" if r.passed else ":red-badge[fails]"
            st.markdown(f"**{m}** {badge} mean |ρ| = **{r.mean_rho:.2f}**")
            pair = torch.stack([r.maps_trained[0], r.maps_random[0]])
            show(plots.grid(pair, "trained · randomised", cols=2, colorscale=plots.HEAT, height=170,
                            labels=["trained", "randomised"]), f"inspect_sanity_{m}")
            if not r.passed and r.note:
                st.caption(f":warning: {r.note}")


