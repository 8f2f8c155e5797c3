"""The runs the Train page shows: which one is in focus, their metrics read incrementally, and the runs table.

Metrics are tailed from each run's metrics.jsonl: session state keeps the byte offset and the rows read so far
per run, so a refresh reads only the new lines. A resume rewrites the file (it drops the lines after its
checkpoint); then the cache starts over.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import streamlit as st

from designer.state import runs_root
from engine.train import runs as R

ACTIVE = ("queued", "running")
STATE_COLOR = {"queued": "gray", "running": "blue", "stopped": "orange", "finished": "green", "failed": "red"}
STATE_ICON = {"queued": ":material/hourglass_top:", "running": ":material/autorenew:",
              "stopped": ":material/pause_circle:", "finished": ":material/check_circle:",
              "failed": ":material/error:"}


def run_dir(run_id: str) -> Path:
    return runs_root() / run_id


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
    cache = st.session_state.run_metrics.setdefault(run_id, {"offset": 0, "rows": []})
    path = run_dir(run_id) / "metrics.jsonl"
    try:
        size = path.stat().st_size
    except OSError:
        return cache["rows"]
    if size < cache["offset"]:  # rewritten by a resume
        cache.update(offset=0, rows=[])
    if size == cache["offset"]:
        return cache["rows"]
    rows, cache["offset"] = R.read_metrics(run_dir(run_id), cache["offset"])
    if rows and cache["rows"] and _order(rows[0]) <= _order(cache["rows"][-1]):
        first = _order(rows[0])  # lines re-logged after a resume replace the ones they repeat
        cache["rows"] = [r for r in cache["rows"] if _order(r) < first]
    cache["rows"].extend(rows)
    return cache["rows"]


def _order(row: dict) -> tuple[int, int]:
    """Where a line sits in a run's history: by step, and a step's line before its epoch's line."""
    return (row.get("step") or 0, 0 if row.get("kind") == "step" else 1)


def label(run: dict) -> str:
    when = dt.datetime.fromtimestamp(run["created"]).strftime("%H:%M:%S")
    return f"{run['name']} · {when}"


def runs_table(runs: list[dict], focus: str | None) -> list[str]:
    """The runs list with status and progress; rows the user selects are overlaid on the charts."""
    table = [{"run": label(r), "state": r["status"],
              "progress": min(1.0, (r.get("step") or 0) / r["total_steps"]) if r.get("total_steps") else 0.0,
              "best val": r.get("best_val_acc"), "data": r.get("dataset"), "epochs": r.get("epochs"),
              "id": r["id"]} for r in runs]
    ev = st.dataframe(
        table, key="runs_table", on_select="rerun", selection_mode="multi-row", hide_index=True, width="stretch",
        column_order=["run", "state", "progress", "best val", "data", "epochs"],
        column_config={
            "run": st.column_config.TextColumn("Run", width="medium"),
            "state": st.column_config.TextColumn("State", width="small"),
            "progress": st.column_config.ProgressColumn("Progress", min_value=0.0, max_value=1.0, format="percent"),
            "best val": st.column_config.ProgressColumn("Best validation", min_value=0.0, max_value=1.0,
                                                        format="percent"),
            "data": st.column_config.TextColumn("Data", width="small"),
            "epochs": st.column_config.NumberColumn("Epochs", width="small"),
        })
    picked = [table[i]["id"] for i in ev.selection.rows if i < len(table)]
    return [rid for rid in picked if rid != focus]
