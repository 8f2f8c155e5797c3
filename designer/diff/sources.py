"""The two designs the Diff page compares: the current design, a template, the design a run trained, or a graph file
the user uploads. Each side is picked with one select box; a file is read as content, never as a path."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import streamlit as st

import engine
from designer.sidebar import templates
from designer.state import template_path
from designer.train.runs import all_runs, label, run_dir
from engine.graph import load_graph_text

CURRENT, FILE = "current", "file"


@dataclass
class Picked:
    """One side of the diff."""

    key: str  # "current", "template:<name>", "run:<id>" or "file"
    title: str  # how the page names it
    graph: dict[str, Any]  # the graph-file dict
    run_id: str | None = None  # the run whose design this is

    @property
    def is_current(self) -> bool:
        return self.key == CURRENT


def options() -> tuple[list[str], dict[str, str]]:
    """The choices (keys) and their labels: the current design, each run (newest first), each template, a file."""
    labels = {CURRENT: "Current design"}
    for r in all_runs():
        labels[f"run:{r['id']}"] = f"Run: {label(r)} ({r['status']})"
    for name, t in templates().items():
        labels[f"template:{name}"] = f"Template: {t['title']}"
    labels[FILE] = "A graph file…"
    return list(labels), labels


def default_b(keys: list[str]) -> str:
    """Side B starts on the newest run (what the current design became, or came from), else on a template."""
    runs = [k for k in keys if k.startswith("run:")]
    return runs[0] if runs else next((k for k in keys if k.startswith("template:")), CURRENT)


def pick(side: str, keys: list[str], labels: dict[str, str], default: str) -> Picked | None:
    """The select box (and for a file, the uploader) of one side; None with a message when nothing is readable."""
    state_key = f"diff_pick_{side}"
    if st.session_state.get(state_key) not in keys:
        st.session_state[state_key] = default
    key = st.selectbox(f"Design {side}", keys, format_func=labels.__getitem__, key=state_key)
    try:
        return _load(side, key, labels[key])
    except engine.GraphError as e:
        st.error(f"{labels[key]} cannot be read. {e}", icon=":material/error:")
    return None


def _load(side: str, key: str, title: str) -> Picked | None:
    if key == CURRENT:
        g = st.session_state.graph
        return Picked(key, f"Current design: {g.get('name', 'untitled')}", g)
    if key.startswith("template:"):
        name = key.split(":", 1)[1]
        return Picked(key, title.removeprefix("Template: "), engine.load_graph(template_path(name)).to_dict())
    if key.startswith("run:"):
        run_id = key.split(":", 1)[1]
        return Picked(key, title.removeprefix("Run: "), run_dir(run_id).graph().to_dict(), run_id=run_id)
    up = st.file_uploader(f"Graph file for {side}", type=["json"], key=f"diff_file_{side}")
    if up is None:
        st.caption("Upload a Convas graph file (.json).")
        return None
    try:
        g = load_graph_text(up.getvalue().decode("utf-8"))  # the content, never taken for a path
    except UnicodeDecodeError:
        st.error(f"{up.name} is not a text file. Received: {len(up.getvalue()):,} bytes of binary data.",
                 icon=":material/error:")
        return None
    return Picked(key, up.name, json.loads(g.to_json()))
