"""What a finished run shows: its headline numbers, the confusion matrix, accuracy (or IoU) per class, and the
examples it gets most wrong as pictures with their true and predicted labels."""
from __future__ import annotations

import numpy as np
import streamlit as st

from designer.train import plots, recommend, splits
from designer.train.boxes import BOX_TASKS, render_box_results
from designer.train.runs import run_dir

CHART = {"displayModeBar": False}


@st.cache_data(show_spinner=False, max_entries=16)
def _results(run_id: str, stamp: str) -> dict | None:
    return run_dir(run_id).results()


def results_of(run_id: str) -> dict | None:
    """The run's results, read again only when they are rewritten (the stamp is part of the cache key)."""
    stamp = run_dir(run_id).results_stamp()
    return _results(run_id, stamp) if stamp else None


def render_results(run_id: str) -> None:
    res = results_of(run_id)
    if res is None:
        return
    if res.get("task") == "recommendation":
        recommend.render_results(res)
        return
    if res.get("task") == "language_model":
        _lm_results(res)
        return
    if res.get("task") in BOX_TASKS:
        st.subheader("Results", anchor=False)
        st.caption(splits.note(res))
        render_box_results(res, run_id)
        return
    classes = res.get("classes") or [str(i) for i in range(len(res["confusion"]))]
    st.subheader("Results", anchor=False)
    st.caption(splits.note(res))
    seg = res.get("task") == "segmentation"
    c = st.columns(4)
    split = splits.prefix(res)
    if seg:
        c[0].metric(f"{split} mean IoU", f"{res['miou']:.2%}", border=True)
        c[1].metric("Pixel accuracy", f"{res['pixel_accuracy']:.2%}", border=True)
    else:
        c[0].metric(f"{split} accuracy", f"{res['accuracy']:.2%}", border=True)
        c[1].metric("Errors", f"{round((1 - res['accuracy']) * res['n']):,} of {res['n']:,}", border=True)
    c[2].metric("Loss", f"{res['loss']:.4f}", border=True)
    c[3].metric("Weights of epoch", f"{res.get('epoch')}", border=True,
                help=f"the {res.get('weights', 'best')} weights, evaluated on the {res.get('split', 'validation')} split "
                     f"of {res.get('data')}")
    left, right = st.columns(2)
    left.plotly_chart(plots.confusion(res["confusion"], classes), key=f"cm_{run_id}", config=CHART)
    if seg:
        right.plotly_chart(plots.per_class(res["iou"], classes, "IoU per class"), key=f"pc_{run_id}", config=CHART)
        _seg_examples(res, len(classes))
    else:
        right.plotly_chart(plots.per_class(res["per_class_accuracy"], classes), key=f"pc_{run_id}", config=CHART)
        _mistakes(res, classes)


def _lm_results(res: dict) -> None:
    st.subheader("Results", anchor=False)
    c = st.columns(4)
    c[0].metric("Test perplexity", f"{res['perplexity']:,.2f}", border=True,
                help=f"exp(mean loss per word) over the {res['n']:,} words of the test text of {res.get('data')}")
    c[1].metric("Validation perplexity", f"{res['val_perplexity']:,.2f}", border=True)
    c[2].metric("Test loss", f"{res['loss']:.4f}", border=True)
    c[3].metric("Weights of epoch", f"{res.get('epoch')}", border=True,
                help=f"the {res.get('weights', 'best')} weights (lowest validation perplexity)")


def _mistakes(res: dict, classes: list[str]) -> None:
    wrong = [e for e in res.get("misclassified", []) if "image" in e][:24]
    if not wrong:
        st.success(f"No mistakes on the {res.get('split', 'validation split')}.", icon=":material/check_circle:")
        return
    caps = [f"{classes[e['true']]} → {classes[e['pred']]}" for e in wrong]
    st.plotly_chart(plots.image_grid([e["image"] for e in wrong], caps, cols=min(12, len(wrong)),
                                     title="Its most confident mistakes (true → predicted)"),
                    key="mistakes", config=CHART)


def _seg_examples(res: dict, k: int) -> None:
    ex = [e for e in res.get("examples", []) if "image" in e][:6]
    if not ex:
        return
    images, caps = [], []
    for e in ex:
        img = plots.to_rgb(e["image"])
        images += [np.moveaxis(img, -1, 0), np.moveaxis(plots.mask_rgb(e["true_mask"], k), -1, 0),
                   np.moveaxis(plots.mask_rgb(e["pred_mask"], k), -1, 0)]
        caps += ["image", "true mask", f"predicted ({e['pixel_error']:.1%} wrong)"]
    st.plotly_chart(plots.image_grid(images, caps, cols=6, title="Hardest examples: image, true and predicted "
                                                                    "masks"), key="seg_examples", config=CHART)
