"""Train page: settings → Start; the focused run live (Stop / Resume, progress, curves); its results; all runs."""
import streamlit as st

import engine
from designer.state import design_checked, require_app, run_queue, runs_root, runs_shown, set_graph, workspace
from designer.train.form import render_form
from designer.train.live import render_controls, render_live
from designer.train.results import render_results
from designer.train.runs import all_runs, focus_run, label, live_runs_table, run_dir
from engine.train import runs as R

require_app()

g = st.session_state.graph
report = design_checked().report  # the design's one check per revision, shared with the sidebar

st.title("Train", anchor=False)
st.caption(f"**{g.get('name', 'untitled')}** · {report.total_params:,} parameters · runs are kept in "
           f"{runs_shown()}")

if not report.ok:
    st.error("The design has problems; fix them on the Design page before training:\n\n"
             + "\n".join(f"- {e}" for e in report.errors[:10]), icon=":material/error:")

runs = all_runs()
with st.expander("New run: data and settings", icon=":material/tune:", expanded=not runs):
    submitted = render_form(g, can_start=report.ok)
if submitted is not None and submitted.problems:
    st.error(f"Training was not started: {' '.join(submitted.problems)}", icon=":material/error:")
elif submitted is not None:
    try:
        if submitted.task != g.get("task"):
            set_graph({**g, "task": submitted.task}, replace=False)
            g = st.session_state.graph
        run = R.start_run(g, submitted.config, runs_root(), queue=run_queue(), owner=workspace().id)
    except engine.GraphError as e:
        st.error(f"Training was not started: {e}", icon=":material/error:")
    else:
        st.session_state.selected_run = run.name
        st.toast(f"Started {run.name}", icon=":material/play_arrow:")
        runs = all_runs()

focus = focus_run(runs)
if focus is None:
    st.info("No runs yet. Choose the settings above and press **Start training**: the curves draw themselves "
            "here while it trains.", icon=":material/monitoring:")
    st.stop()

by_id = {r["id"]: r for r in runs}
st.divider()
ids = [r["id"] for r in runs]
c_run, c_btn = st.columns([5, 1], vertical_alignment="bottom")
picked = c_run.selectbox("Run", ids, index=ids.index(focus), format_func=lambda i: label(by_id[i]),
                         key=f"focus_{focus}")
if picked != focus:
    st.session_state.selected_run = focus = picked
with c_btn.container(key="run_buttons"):
    render_controls(focus, run_dir(focus).status().get("state"))

with st.expander(f"All runs ({len(runs)}) — select rows to compare their curves", icon=":material/stacked_line_chart:",
                 expanded=len(runs) > 1):
    compare = live_runs_table(runs, focus)

render_live(focus, by_id[focus], [by_id[c] for c in compare if c in by_id])
render_results(focus)
