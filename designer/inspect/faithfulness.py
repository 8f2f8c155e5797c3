"""Inspect page, Saliency tab: the faithfulness lab. Every chosen method over 100 test images — deletion and
insertion against random orders, cascading model randomisation, and (once trained) the data-randomisation test
against the same design trained on shuffled labels — each score with its 95% interval and one verdict line per
method. Heavy, so it runs on a button with a progress bar; results are cached per run, method and settings."""
from __future__ import annotations

import pandas as pd
import streamlit as st
import torch

from designer.inspect import lab_plots, plots
from designer.inspect.cache import key, store
from designer.inspect.runs import LoadedRun, load_run, test_images, weights_stamp
from designer.inspect.views import progress_bar, show
from designer.state import run_queue, workspace
from engine.train.rundir import RunDir
from engine.train.twin import shuffled_twins, start_shuffled_twin
from engine.visualise import METHODS, FaithfulnessLab
from engine.visualise.faithfulness import MIN_IMAGES
from engine.visualise.sanity import THRESHOLD

LAB_IMAGES = MIN_IMAGES


def _shuffled_twin(run: LoadedRun) -> LoadedRun | None:
    """The finished shuffled-label twin of this run (loaded), or None after offering to train one."""
    try:
        if RunDir(run.path).config().shuffle_labels:
            st.caption("This run was trained on shuffled labels: it is the control of a data-randomisation test.")
            return None
    except (OSError, ValueError):
        return None
    twins = shuffled_twins(run.path)  # beside the run, in its workspace's runs folder
    for t in twins:
        if RunDir(t).status().get("state") == "finished" and RunDir(t).weights("best") is not None:
            st.caption(f"Data randomisation: compared with **{t.name}**, the same design trained on shuffled "
                       f"labels (Adebayo et al. 2018): a method that explains the model gives different maps.")
            return load_run(str(t), weights_stamp(t))
    if twins:
        state = RunDir(twins[0]).status()
        st.info(f"The shuffled-label twin {twins[0].name} is {state.get('state', 'queued')} "
                f"({state.get('message', '')}). Its comparison appears here once it has finished.",
                icon=":material/hourglass_top:")
        return None
    c1, c2 = st.columns([1, 3], vertical_alignment="center")
    if c1.button("Train on shuffled labels", key="lab_twin_go", icon=":material/shuffle:"):
        try:
            path = start_shuffled_twin(run.path, queue=run_queue(), owner=workspace().id)
        except (OSError, ValueError) as e:
            st.error(f"The shuffled-label run could not start: {e}", icon=":material/error:")
            return None
        st.toast(f"Training {path.name} on shuffled labels")
        st.rerun()
    c2.caption("Data-randomisation test: train this design with the same settings on randomly permuted labels "
               "(a real run on the Train page's queue), then compare the maps.")
    return None


def lab_section(run: LoadedRun, methods: list[str], knobs: dict) -> None:
    st.subheader("Faithfulness lab", anchor=False)
    images, _, where = test_images(str(run.path), run.input_shape)
    n = min(LAB_IMAGES, len(images))
    if n < 2:
        st.info("No test images for this run: the lab needs some.")
        return
    st.caption(f"Over {n} test images ({where}), each score with its 95% interval. Deletion and insertion "
               f"(Petsiuk et al. 2018) against random pixel orders: a method beats random only when the intervals "
               f"separate. Cascading randomisation (Adebayo et al. 2018): the maps must stop resembling the trained "
               f"model's (mean |ρ| below {THRESHOLD}) once the layers are re-initialised; a blank map makes it "
               f"undefined.")
    twin = _shuffled_twin(run)
    twin_id = (twin.id, twin.stamp) if twin is not None else None
    keys = {m: key(run, "lab", m, knobs[m], n, twin_id) for m in methods}
    missing = [m for m in methods if store().get(keys[m]) is None]
    if st.button(f"Run the faithfulness lab ({n} images)", key="lab_go", icon=":material/science:",
                 disabled=not missing, type="primary"):
        bar, report = progress_bar("Faithfulness lab")
        for i, m in enumerate(missing):
            def sub(f: float, msg: str, i=i) -> None:
                report((i + f) / len(missing), msg)
            with run.lock:
                lab = FaithfulnessLab(run.model, run.graph, shuffled=twin.model if twin is not None else None)
                method = METHODS[m](run.model, run.graph, **knobs[m])
                store().put(keys[m], lab.run(images[:n], [method], progress=sub)[method.name])
        bar.empty()
    done = {m: store().get(k) for m, k in keys.items() if store().get(k) is not None}
    if not done:
        return
    for r in done.values():
        colour = {"good": "green", "bad": "red"}.get(r.standing, "orange")
        st.markdown(f":{colour}[{r.verdict}]")
    rows = []
    for m, r in done.items():
        row = {"method": m, "deletion AUC ↓": r.deletion.text(), "random": r.deletion_random.text(),
               "deletion": r.deletion_verdict, "insertion AUC ↑": r.insertion.text(),
               "random ": r.insertion_random.text(), "insertion": r.insertion_verdict,
               "|ρ| all layers random": r.cascade.final.interval.text(2), "model rand.": r.cascade.verdict}
        if r.data is not None:
            row["|ρ| shuffled labels"] = r.data.interval.text(2) if r.data.interval else "undefined"
            row["data rand."] = r.data.verdict
        rows.append(row)
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="lab_table")
    for m, r in done.items():
        for why in [r.cascade.final.reason] + ([r.data.reason] if r.data is not None else []):
            st.caption(f"{m}: {why}.")
    st.plotly_chart(lab_plots.perturbation_curves(
        {m: (r.curves["deletion"], r.curves["deletion_random"]) for m, r in done.items()},
        {m: (r.curves["insertion"], r.curves["insertion_random"]) for m, r in done.items()},
        f"Mean curves over {n} images"), key="lab_curves")
    st.plotly_chart(lab_plots.cascade({m: r.cascade for m, r in done.items()}, THRESHOLD), key="lab_cascade")
    cols = st.columns(min(3, len(done)))
    for i, (m, r) in enumerate(done.items()):
        with cols[i % len(cols)]:
            labels = ["trained"] + [f"+ {layer}" for layer in r.cascade.layers]
            show(plots.grid(r.cascade.maps, f"{m}: the first image through the cascade", cols=len(labels),
                            colorscale=plots.HEAT, height=150, labels=labels), f"lab_maps_{m}")
            if r.data is not None:
                pair = torch.stack([r.data.maps_trained[0], r.data.maps_random[0]])
                show(plots.grid(pair, f"{m}: trained · shuffled labels", cols=2, colorscale=plots.HEAT, height=150,
                                labels=["trained", "shuffled labels"]), f"lab_data_{m}")
            if r.note and r.cascade.verdict != "passes":
                st.caption(f":warning: {r.note}")
