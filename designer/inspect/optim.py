"""Inspect page, the optimisation tabs: gradient ascent (class and channel) and feature inversion. Both are long,
so they run on a button with a progress bar; their results are cached and shown again on every rerun."""
from __future__ import annotations

import streamlit as st
import torch

from designer.inspect import plots
from designer.inspect.cache import key, store
from designer.inspect.runs import LoadedRun, test_images
from designer.inspect.views import progress_bar, show
from engine.visualise import AscentConfig, ChannelVisualisation, ClassVisualisation, InversionConfig, invert_depths


def _ascent_settings(kind: str) -> AscentConfig:
    """The settings form; `kind` 'class' or 'channel' picks its defaults and keeps each mode's own values."""
    d = AscentConfig() if kind == "class" else AscentConfig.for_channels()
    with st.expander("Optimisation settings", icon=":material/tune:"):
        c1, c2, c3 = st.columns(3)
        steps = c1.slider("Steps", 16, 1024, d.steps, step=16, key=f"asc_steps_{kind}")
        lr = c1.select_slider("Learning rate", [0.01, 0.02, 0.05, 0.1, 0.2], d.lr, key=f"asc_lr_{kind}")
        param = c1.radio("Parameterisation", ["pixel", "fourier"], horizontal=True, key=f"asc_param_{kind}",
                         help="fourier: a decorrelated spectrum (Lucent-style); smoother images")
        l2 = c2.slider("L2 λ (‖x‖²)", 0.0, 1.0, d.l2, step=0.05, key=f"asc_l2_{kind}")
        tv = c2.slider("Total variation λ", 0.0, 2.0, d.tv, step=0.1, key=f"asc_tv_{kind}")
        blur = c2.slider("Blur every n steps (0 = off)", 0, 16, d.blur_every, key=f"asc_blur_{kind}")
        jitter = c3.slider("Jitter (pixels)", 0, 8, d.jitter, key=f"asc_jitter_{kind}")
        zoom = c3.slider("Random scale ±", 0.0, 0.3, round(d.scale[1] - 1.0, 2), step=0.05, key=f"asc_scale_{kind}")
        seed = c3.number_input("Seed", 0, 10_000, d.seed, key=f"asc_seed_{kind}")
    return AscentConfig(steps=steps, lr=lr, param=param, l2=l2, tv=tv, blur_every=blur, jitter=jitter,
                        scale=(1.0 - zoom, 1.0 + zoom), seed=int(seed))


def ascent_tab(run: LoadedRun) -> None:
    mode = st.radio("Maximise", ["a class", "a channel"], horizontal=True, key="asc_mode")
    cfg = _ascent_settings("class" if mode == "a class" else "channel")
    if mode == "a class":
        classes = st.multiselect("Classes", list(range(len(run.classes))), default=list(range(min(10, len(run.classes)))),
                                 format_func=lambda c: run.classes[c], key="asc_classes")
        k = key(run, "class_ascent", cfg, tuple(classes))
        if st.button("Run class visualisation", key="asc_go_class", icon=":material/play_arrow:", type="primary",
                     disabled=not classes):
            bar, report = progress_bar("Class visualisation")
            with run.lock:
                store().put(k, ClassVisualisation(run.model, cfg, graph=run.graph).run_many(classes, report))
            bar.empty()
        results = store().get(k)
        if results is None:
            st.caption("Simonyan et al. 2013: the input that maximises a class logit minus λ‖x‖². Press Run.")
            return
        cols = st.columns(min(5, len(results)))
        for i, r in enumerate(results):
            with cols[i % len(cols)]:
                show(plots.image(r.image, run.classes[r.target], height=170), f"asc_c_{i}")
                st.markdown(f"softmax **{r.prob:.3f}** · logit {r.logit:.1f}")
        st.caption(f"{cfg.steps} steps in {results[0].seconds:.1f} s. Softmax = the network's confidence that the "
                   f"synthetic image is that class.")
        return
    layers = [n for n, t in run.taps.items() if t.shape]
    layer = st.selectbox("Layer", layers, index=run.first_activation(layers), format_func=lambda n: run.taps[n].label,
                         key="asc_layer")
    shape = run.taps[layer].shape
    n_channels = shape[0] if len(shape) in (1, 3) else shape[-1]
    channels = st.multiselect("Channels", list(range(n_channels)), default=list(range(min(4, n_channels))),
                              key=f"asc_channels_{layer}")
    images, _, where = test_images(str(run.path), run.input_shape)
    k = key(run, "channel_ascent", cfg, layer, tuple(channels))
    if st.button("Run channel visualisation", key="asc_go_channel", icon=":material/play_arrow:", type="primary",
                 disabled=not channels):
        bar, report = progress_bar("Channel visualisation")
        out = []
        with run.lock:
            vis = ChannelVisualisation(run.model, layer, cfg, graph=run.graph)
            for i, c in enumerate(channels):
                def sub(f: float, msg: str, i=i, c=c) -> None:
                    report((i + f) / len(channels), f"channel {c}: {msg}")
                out.append(vis.run(c, dataset=images if len(images) else None, top_k=5, progress=sub))
        store().put(k, out)
        bar.empty()
    results = store().get(k)
    if results is None:
        st.caption("The input that maximises a channel's mean activation, beside the test images that excite it "
                   "most. Press Run.")
        return
    for r in results:
        c_img, c_ex = st.columns([1, 3])
        show(plots.image(r.image, f"channel {r.channel}", height=200), f"asc_ch_{r.channel}", c_img)
        c_img.markdown(r.summary())
        if r.exemplars is not None:
            title = f"top test images ({where}): " + ", ".join(f"{s:.3f}" for s in r.exemplar_scores)
            show(plots.exemplars(r.exemplars, title, height=200), f"asc_ex_{r.channel}", c_ex)


def inversion_tab(run: LoadedRun, x: torch.Tensor, x_id: str) -> None:
    layers = list(run.taps)
    picks = _default_depths(run)
    chosen = st.multiselect("Layers (shallow to deep)", layers, default=picks, key="inv_layers")
    d = InversionConfig()
    with st.expander("Optimisation settings", icon=":material/tune:"):
        c1, c2 = st.columns(2)
        steps = c1.slider("Steps", 20, 1000, d.steps, step=20, key="inv_steps")
        alpha = c1.slider("α (α-norm exponent)", 1.0, 8.0, d.alpha, step=0.5, key="inv_alpha")
        beta = c1.slider("β (TV exponent)", 1.0, 3.0, d.beta, step=0.5, key="inv_beta")
        la = c2.select_slider("λ_α", [0.0, 1e-4, 1e-3, 1e-2, 1e-1], d.lambda_alpha, key="inv_la")
        ltv = c2.select_slider("λ_TV", [0.0, 1e-4, 1e-3, 1e-2, 1e-1], d.lambda_tv, key="inv_ltv")
        jitter = c2.slider("Jitter (pixels)", 0, 4, d.jitter, key="inv_jitter")
    cfg = InversionConfig(steps=steps, alpha=alpha, beta=beta, lambda_alpha=la, lambda_tv=ltv, jitter=jitter)
    ordered = [n for n in layers if n in chosen]
    k = key(run, "inversion", cfg, tuple(ordered), x_id)
    if st.button("Invert", key="inv_go", icon=":material/play_arrow:", type="primary", disabled=not ordered):
        bar, report = progress_bar("Feature inversion")
        with run.lock:
            store().put(k, invert_depths(run.model, x, ordered, run.graph, cfg, report))
        bar.empty()
    results = store().get(k)
    if results is None:
        st.caption("Mahendran & Vedaldi 2015: the image whose representation at a layer matches this input's, "
                   "with an α-norm and a total-variation prior. Press Invert.")
        return
    cols = st.columns(len(results) + 1)
    show(plots.image(x, "original", height=190), "inv_orig", cols[0])
    for i, r in enumerate(results):
        with cols[i + 1]:
            show(plots.image(r.image, r.layer, height=190), f"inv_{i}")
            kept = ":green[class kept]" if r.class_kept else f":red[class → {run.classes[r.reconstructed_class]}]"
            st.markdown(f"feature error **{r.feature_error:.3f}**  \nPSNR {r.psnr:.1f} dB · SSIM {r.ssim:.2f}  \n"
                        f"{kept}")
    st.caption("Feature error = ‖Φ(x*) − Φ₀‖ / ‖Φ₀‖ (how well the reconstruction matches the layer); PSNR and "
               "SSIM compare it with the original: deep layers keep the class, not the pixels.")


def _default_depths(run: LoadedRun) -> list[str]:
    """Up to four layers spread from the first to the last: the first conv, two in between, the last hidden one."""
    # a Dropout or Flatten output equals its input at inference: showing both would repeat a picture; the logits
    # are the class itself: the layers before them tell the story
    names = [n for n, t in run.taps.items() if t.op not in ("Dropout", "Flatten")]
    hidden = names[:-1] if len(names) > 1 else names
    if len(hidden) <= 4:
        return hidden
    idx = sorted({0, len(hidden) // 3, 2 * len(hidden) // 3, len(hidden) - 1})
    return [hidden[i] for i in idx]
