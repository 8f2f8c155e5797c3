"""The runs the Train page shows: which one is in focus, their metrics read incrementally, and the runs table.

Metrics are tailed from each run's metrics file (RunDir.follow_metrics): session state keeps a MetricsTail (the
rows read so far and where they end) per run, so a refresh reads only the new lines, and a resume's rewrite is
followed.
"""
from __future__ import annotations

import datetime as dt

import streamlit as st

from designer.state import run_queue, runs_root
from engine.train import runs as R
from engine.train.headline import headline
from engine.train.queue import Place, Queue
from engine.train.rundir import ACTIVE, MetricsTail, RunDir

TABLE_KEY = "runs_table"  # the runs table's widget (its selection: row positions)
TABLE_IDS = "runs_table_ids"  # the run ids of its rows, in the order last drawn
TABLE_REFRESH_S = 2.0  # the runs table's refresh while a run is live (it reads every run's status)
STATE_COLOR = {"queued": "gray", "running": "blue", "stopped": "orange", "finished": "green", "failed": "red"}
STATE_ICON = {"queued": ":material/hourglass_top:", "running": ":material/autorenew:",
              "stopped": ":material/pause_circle:", "finished": ":material/check_circle:",
              "failed": ":material/error:"}


def run_dir(run_id: str) -> RunDir:
    return RunDir(runs_root() / run_id)


def all_runs() -> list[dict]:
    return R.list_runs(runs_root())


def focus_run(runs: list[dict]) -> str | None:
    """The run the page looks at: the one chosen in this session, else the newest live one (so a reloaded page
    finds its running run again), else the newest."""
    ids = [r["id"] for r in runs]
    chosen = st.session_state.get("selected_run")
    if chosen in ids:
        return chosen
    live = [r["id"] for r in runs if r["status"] in ACTIVE]
    return (live or ids or [None])[0]


def metrics(run_id: str) -> list[dict]:
    """All metric rows of a run so far, reading only what was appended since the last call."""
    tail = st.session_state.run_metrics.setdefault(run_id, MetricsTail())
    return run_dir(run_id).follow_metrics(tail).rows


def label(run: dict) -> str:
    when = dt.datetime.fromtimestamp(run["created"]).strftime("%H:%M:%S")
    return f"{run['name']} · {when}"


def best_text_of(run: dict) -> str | None:
    """The run's headline number as engine.train.headline names it ('mAP@0.5 0.734', 'perplexity 112.35'); a run
    that keeps none in its status (an RBM) is read from its metric rows (tailed, so a refresh reads only new lines)."""
    h = headline(run)
    if h is None and run["status"] != "queued":
        h = headline(run, metrics(run["id"]))
    return h.text if h else None


def keep_selection(ids: list[str]) -> None:
    """Keep the table's selected runs selected by run id. The dataframe remembers its selection as row positions:
    when a new run appears (the newest is the first row) or the order changes, the same positions would be other
    runs. The rows selected are read against the ids the table showed when they were picked, and moved to where
    those runs are now (a run that is gone drops out). Called before the table is drawn."""
    shown = st.session_state.get(TABLE_IDS)
    st.session_state[TABLE_IDS] = ids
    state = st.session_state.get(TABLE_KEY)
    if not shown or shown == ids or state is None:
        return
    rows = list(state["selection"]["rows"])
    picked = [shown[i] for i in rows if 0 <= i < len(shown)]
    moved = [ids.index(rid) for rid in picked if rid in ids]
    if moved != rows:
        st.session_state[TABLE_KEY] = {"selection": {"rows": moved, "columns": [], "cells": []}}


def runs_table(runs: list[dict], focus: str | None) -> list[str]:
    """The runs list with status and progress; rows the user selects are overlaid on the charts."""
    table = [{"run": label(r), "state": r["status"],
              "progress": min(1.0, (r.get("step") or 0) / r["total_steps"]) if r.get("total_steps") else 0.0,
              "best val": best_text_of(r), "data": r.get("dataset"), "epochs": r.get("epochs"),
              "id": r["id"]} for r in runs]
    keep_selection([row["id"] for row in table])
    ev = st.dataframe(
        table, key=TABLE_KEY, on_select="rerun", selection_mode="multi-row", hide_index=True, width="stretch",
        placeholder="–",  # no number yet (a queued run; before the first validation)
        column_order=["run", "state", "progress", "best val", "data", "epochs"],
        column_config={
            "run": st.column_config.TextColumn("Run", width="medium"),
            "state": st.column_config.TextColumn("State", width="small"),
            "progress": st.column_config.ProgressColumn("Progress", min_value=0.0, max_value=1.0, format="percent"),
            "best val": st.column_config.TextColumn(
                "Best validation", help="each run's best validation number, named as its task measures it "
                                        "(accuracy, mAP@0.5, NDCG@10, perplexity: lower is better)"),
            "data": st.column_config.TextColumn("Data", width="small"),
            "epochs": st.column_config.NumberColumn("Epochs", width="small"),
        })
    picked = [table[i]["id"] for i in ev.selection.rows if i < len(table)]
    return [rid for rid in picked if rid != focus]


def live_runs_table(runs: list[dict], focus: str | None) -> list[str]:
    """The runs table as a fragment that re-reads every run's status.json (the file the focused run's live view
    reads) every TABLE_REFRESH_S while any run is queued or running, so a running run's state and progress move
    here as they do below. Returns the rows selected for comparison; a change of selection reruns the page so
    the charts overlay them."""
    active = any(r["status"] in ACTIVE for r in runs)

    @st.fragment(run_every=TABLE_REFRESH_S if active else None)
    def table() -> None:
        fresh = all_runs() if st.session_state.get("runs_table_drawn") else runs  # the page's own list first
        st.session_state.runs_table_drawn = True
        picked = runs_table(fresh, focus)
        before = st.session_state.get("compare_runs")
        st.session_state.compare_runs = picked
        if active and not any(r["status"] in ACTIVE for r in fresh):
            st.rerun(scope="app")  # the last live run ended: the page shows it and the table stops refreshing
        if before is not None and picked != before and st.session_state.get("runs_table_fragment"):
            st.rerun(scope="app")  # a selection made inside the fragment: redraw the charts with it

    st.session_state.runs_table_drawn = False
    st.session_state.runs_table_fragment = False
    table()
    st.session_state.runs_table_fragment = True  # from now on, table() runs on its own (a fragment rerun)
    return st.session_state.compare_runs


def queue_place(run_id: str) -> Place | None:
    """Where a waiting run stands in the server's queue (None when it is not waiting). Asking also lets the queue
    start what fits: a trainer that was killed frees its slot here, with no daemon."""
    R.pump_queue(run_queue())
    return Queue(run_queue()).place(run_dir(run_id).path)
