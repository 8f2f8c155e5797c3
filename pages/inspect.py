"""Inspect page: pick a trained run and an input, then look inside the network — its filters, its activations,
where it looks (saliency), what it wants to see (gradient ascent) and what a layer remembers (inversion). Every
picture comes with the number that says how good it is."""
import streamlit as st

from designer.inspect import boxes, recommender
from designer.inspect.language import is_language_model, language_model_tabs
from designer.inspect.optim import ascent_tab, inversion_tab
from designer.inspect.runs import inspectable_runs
from designer.inspect.saliency import saliency_tab
from designer.inspect.views import (
    activations_tab,
    filters_tab,
    input_id,
    pick_input,
    pick_run,
    show_input_and_prediction,
)
from designer.state import require_app, runs_root

require_app()

st.title("Inspect", anchor=False)

runs = inspectable_runs(runs_root())
if not runs:
    st.info("No finished run yet. Train a network first, then come back here to look inside it.",
            icon=":material/search:")
    st.page_link("pages/train.py", label="Go to the Train page", icon=":material/monitoring:")
    st.stop()

run = pick_run(runs)
if run.graph.task is not None and run.graph.task.kind == "recommendation":
    recommender.render(str(run.path), run.stamp)
    st.stop()
if is_language_model(run):  # token models get their own tabs: generate, next word, surprise, neighbours
    language_model_tabs(run)
    st.stop()
if boxes.is_box_run(run):  # localisation / detection: the boxes on an image, Grad-CAM of one box's class score
    boxes.render(run)
    st.stop()
if not run.is_image_model:
    st.warning(f"Inspect draws pictures of image models (1 or 3 channels × H × W). This run's input is "
               f"{'×'.join(map(str, run.input_shape))}.", icon=":material/image_not_supported:")
    st.stop()
c_input, c_seen, c_pred = st.columns([2, 1.4, 2.4], vertical_alignment="top")
with c_input:
    x, label = pick_input(run)
predicted = show_input_and_prediction(run, x, label, c_seen, c_pred) if x is not None else None

# only the open tab computes (on_change="rerun" tells the script which one is open): saliency, ascent and
# inversion take seconds and are not worked out for a tab nobody looks at
t_filters, t_acts, t_sal, t_asc, t_inv = st.tabs(["Filters", "Activations", "Saliency", "Gradient ascent",
                                                   "Inversion"], key="inspect_tab", on_change="rerun")
if t_filters.open:
    with t_filters:
        filters_tab(run)
if t_asc.open:
    with t_asc:
        ascent_tab(run)
if x is None:
    for tab in (t_acts, t_sal, t_inv):
        if tab.open:
            tab.info("Choose an input above to see this.", icon=":material/touch_app:")
    st.stop()
x_id = input_id(x)
if t_acts.open:
    with t_acts:
        activations_tab(run, x, x_id)
if t_sal.open:
    with t_sal:
        saliency_tab(run, x, x_id, predicted)
if t_inv.open:
    with t_inv:
        inversion_tab(run, x, x_id)
