"""A run someone shared (a ?share= link naming a run, engine.workspace.Workspaces.share_run), shown read-only: its
state, curves and results, and a button that opens a copy of its design. No Stop, no Resume, no path: the viewer
sees the run, not the workspace it lives in."""
from __future__ import annotations

import streamlit as st

from designer.state import set_graph
from designer.train import plots
from designer.train.runs import STATE_COLOR, STATE_ICON
from engine.train.rundir import RunDir

CHART = {"displayModeBar": False}


def _open_copy(run: RunDir) -> None:
    set_graph(run.graph().to_dict())
    st.toast("Opened a copy of the shared run's design: it is yours to change.", icon=":material/content_copy:")


def render_shared_run(run: RunDir) -> None:
    status, meta, cfg = run.status(), run.meta(), run.config_dict() or {}
    name = meta.get("name", "a shared run")
    st.title(f"Shared run: {name}", anchor=False)
    state = status.get("state")
    st.badge(state or "unknown", icon=STATE_ICON.get(state), color=STATE_COLOR.get(state, "gray"))
    st.caption(f"Read-only. Trained on {cfg.get('data', '–')} for {cfg.get('epochs', '–')} epoch(s); "
               f"step {status.get('step') or 0:,} of {status.get('total_steps') or '–'}.")
    st.button("Open a copy of its design", icon=":material/content_copy:", on_click=_open_copy, args=(run,),
              help="Replaces your current design with a copy of this run's network.")
    rows, _ = run.metrics()
    if rows:
        left, right = st.columns(2)
        left.plotly_chart(plots.curves({name: rows}, "loss", "Loss", epochs=cfg.get("epochs")), key="shared_loss",
                          config=CHART)
        right.plotly_chart(plots.curves({name: rows}, "acc", "Accuracy", percent=True, epochs=cfg.get("epochs")),
                           key="shared_acc", config=CHART)
    res = run.results(examples=False)
    if res and "confusion" in res:
        classes = res.get("classes") or [str(i) for i in range(len(res["confusion"]))]
        st.subheader("Results", anchor=False)
        if "accuracy" in res:
            st.metric("Accuracy", f"{res['accuracy']:.2%}", border=True)
        st.plotly_chart(plots.confusion(res["confusion"], classes), key="shared_cm", config=CHART)
