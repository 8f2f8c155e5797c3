"""Which run the Inspect page opens on: the newest inspectable run trained from the design open in this session
(matched by engine.train.fingerprint: same ops, parameters and wiring, whatever its name or layout), else the run
this session last looked at, else the newest. A run of someone else's design, merely newer, is not the default."""
from __future__ import annotations

import streamlit as st

from engine.errors import GraphError
from engine.graph import Graph
from engine.train.fingerprint import design_fingerprint
from engine.train.rundir import RunDir


@st.cache_data(show_spinner=False, max_entries=512)
def run_design_hash(run_path: str, mtime: float) -> str | None:
    """The fingerprint hash of the design a run was trained with (its graph.json; mtime keys the cache)."""
    try:
        return design_fingerprint(RunDir(run_path).graph())["hash"]
    except (GraphError, OSError, ValueError):
        return None


def design_hash(g: Graph | None) -> str | None:
    if g is None:
        return None
    try:
        return design_fingerprint(g)["hash"]
    except (GraphError, ValueError):
        return None


def of_design(runs: list[dict], want: str | None) -> list[int]:
    """Indexes into runs of the runs trained from the design whose fingerprint hash is `want` (none for None): the
    one way a page tells a design's runs (the Inspect page's default run, the Design page's health overlay)."""
    if want is None:
        return []
    out = []
    for i, r in enumerate(runs):
        path = RunDir(r["path"]).graph_path
        if path.is_file() and run_design_hash(str(r["path"]), path.stat().st_mtime) == want:
            out.append(i)
    return out


def default_run(runs: list[dict], design: Graph | None, chosen: str | None) -> int:
    """Index into runs (newest first) of the run to open: the newest of `design`, else `chosen`, else 0."""
    mine = of_design(runs, design_hash(design))
    if mine:
        return mine[0]
    ids = [r["id"] for r in runs]
    return ids.index(chosen) if chosen in ids else 0
