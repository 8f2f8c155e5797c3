"""Per-layer diagnostics on the pages: the Train page's small multiples, the warnings with their one-click remedies
(from engine.train.advice; a design remedy is one undoable edit, a settings remedy fills the next run's form), and
the Design page's choice of run and quantity for the canvas overlay (designer.design.health builds what it draws).
"""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from designer.inspect.choose import design_hash
from designer.state import runs_root
from designer.train.runs import run_dir
from engine.graph import parse
from engine.train.advice import Advice, advise, apply_design_remedy, apply_settings_remedy
from engine.train.diagnostics import LABELS, QUANTITIES, series
from engine.train.run_index import index_for
from engine.train.rundir import ACTIVE, RunDir

COLS = 4
LOG = ("grad_norm", "update_ratio")
FORM_KEYS = {"lr": "tf_lr", "clip_grad_norm": "tf_clip"}  # the Train form's widgets a settings remedy changes


def rows_of(run: RunDir) -> list[dict]:
    """The run's diagnostics rows so far, reading only what was appended since the last call (a resume's rewrite,
    a new file, is read again from its start)."""
    cache = st.session_state.setdefault("run_diagnostics", {})
    try:
        s = run.diagnostics_path.stat()
    except OSError:
        return []
    rows, offset, ino = cache.get(str(run.path), ([], 0, None))
    if ino != s.st_ino or s.st_size < offset:
        rows, offset = [], 0
    new, offset = run.diagnostics(offset)
    rows = rows + new
    cache[str(run.path)] = (rows, offset, s.st_ino)
    return rows


def run_advice(run: RunDir, rows: list[dict]) -> list[Advice]:
    try:
        return advise(rows, run.graph(), run.config_dict() or {})
    except Exception:  # a run directory being written or damaged: no advice rather than a broken page
        return []


def figure(rows: list[dict], quantity: str) -> go.Figure | None:
    """Small multiples: one panel per node with values, its quantity over the steps."""
    data = series(rows, quantity)
    if not data:
        return None
    names = list(data)
    n_rows = math.ceil(len(names) / COLS)
    fig = make_subplots(rows=n_rows, cols=min(COLS, len(names)), subplot_titles=names, vertical_spacing=0.12 / n_rows
                        + 0.06, horizontal_spacing=0.06)
    for i, nid in enumerate(names):
        steps, vals = data[nid]
        pts = [(s, v) for s, v in zip(steps, vals) if v is not None and (quantity not in LOG or v > 0)]
        fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines+markers", name=nid,
                                 line=dict(width=1.6, color="#4f46e5"), marker=dict(size=3), showlegend=False),
                      row=i // COLS + 1, col=i % COLS + 1)
    if quantity in LOG:
        fig.update_yaxes(type="log", exponentformat="power")
    if quantity == "dead":
        fig.update_yaxes(tickformat=".0%", range=[0, 1])
    fig.update_annotations(font_size=12)
    fig.update_layout(height=170 * n_rows + 40, margin=dict(l=10, r=10, t=40, b=10),
                      title=dict(text=f"{LABELS[quantity]} per layer, by step", font_size=14))
    return fig


def apply_remedy(remedy: dict[str, Any], run: RunDir, commit: Callable[[dict], bool]) -> None:
    """A button's callback: a design remedy goes through `commit` (DesignSession.commit: one undoable step); a
    settings remedy becomes the Train form's next settings (the run's settings with the change)."""
    if remedy["kind"] == "design":
        try:
            new = apply_design_remedy(st.session_state.graph, remedy)
        except (KeyError, IndexError, ValueError) as e:
            st.session_state.remedy_notice = f"That remedy no longer fits the design (it changed meanwhile: {e})."
            return
        commit(new)
        st.session_state.remedy_notice = f"Applied to the design: {remedy['label']}. Undo takes it back."
        return
    base = run.config_dict() or st.session_state.get("train_config") or {}
    st.session_state.train_config = apply_settings_remedy(base, remedy)
    for k in remedy["settings"]:
        st.session_state.pop(FORM_KEYS.get(k, ""), None)  # the widget redraws from the new settings
    st.session_state.remedy_notice = f"The next run's settings changed: {remedy['label']}."


def render_warnings(advice: list[Advice], run: RunDir, commit: Callable[[dict], bool], key: str) -> None:
    for i, a in enumerate(advice):
        st.warning(a.message, icon=":material/warning:")
        cols = st.columns(max(1, len(a.remedies)))
        for j, r in enumerate(a.remedies):
            cols[j].button(r["label"], key=f"{key}_remedy_{i}_{j}", on_click=apply_remedy, args=(r, run, commit),
                           icon=":material/healing:", width="stretch",
                           help="changes the design (undoable)" if r["kind"] == "design" else
                                "changes the settings of the next run")
    notice = st.session_state.pop("remedy_notice", None)
    if notice:
        st.toast(notice, icon=":material/healing:")


def session_commit(g: dict) -> bool:
    """Store a remedied design as the Design page would: one undoable step (DesignSession.commit)."""
    from designer.design.session import DesignSession
    from designer.state import set_graph

    return DesignSession(st.session_state, set_graph).commit(g)


def render_layers(run_id: str, commit: Callable[[dict], bool] = session_commit) -> None:
    """The Train page's per-layer diagnostics of a run: warnings with remedies, then the small multiples."""
    run = run_dir(run_id)
    rows = rows_of(run)
    if not rows:
        return
    with st.expander(f"Per-layer diagnostics (step {rows[-1]['step']})", icon=":material/monitor_heart:",
                     expanded=True):
        render_warnings(run_advice(run, rows), run, commit, key=f"train_{run_id}")
        q = st.segmented_control("Quantity", QUANTITIES, default=QUANTITIES[1], format_func=LABELS.get,
                                 key="layers_quantity") or QUANTITIES[1]
        fig = figure(rows, q)
        if fig is None:
            st.caption(f"No layer of this run has a {LABELS[q]}.")
        else:
            st.plotly_chart(fig, key="chart_layers", config={"displayModeBar": False})


def design_key(graph: dict) -> str | None:
    """The design's fingerprint hash (designer.inspect.choose), worked out once per revision of the session's
    design: the overlay asks on every edit, and fingerprinting checks the whole graph."""
    hit = st.session_state.get("design_fingerprint")
    if hit is None or hit[0] is not graph:  # each revision is a new dict (designer.design.checked relies on it too)
        hit = (graph, design_hash(parse(graph)[0]))
        st.session_state.design_fingerprint = hit
    return hit[1]


def design_run(graph: dict) -> tuple[RunDir, dict] | None:
    """The latest run of this design that has diagnostics, with its id, name and status now. A run is this
    design's when it trained the same network (engine.train.fingerprint: ops, parameters and wiring; name and
    layout aside), the match the Inspect page opens on: another design of the same name is not this one, a renamed
    copy is. Asked on every canvas edit: engine.train.run_index lists the runs folder again only when it changed
    (a run made or deleted), and reads the status of this design's run alone."""
    found = index_for(runs_root()).latest(design_key(graph))
    if found is None:
        return None
    rd = RunDir(found.path)
    return rd, {"id": found.id, "name": found.name, "status": rd.status().get("state"), "created": found.created,
                "path": str(found.path)}


def overlay(graph: dict, commit: Callable[[dict], bool]) -> dict | None:
    """The Design page's overlay controls (the quantity, the run, its warnings with remedies); the canvas's health
    data, or None when no run of this design has diagnostics."""
    from designer.design.health import health_data

    found = design_run(graph)
    if found is None:
        return None
    run, entry = found
    rows = rows_of(run)
    if not rows:
        return None
    live = entry["status"] in ACTIVE
    c1, c2 = st.columns([1.3, 3], vertical_alignment="bottom")
    q = c1.selectbox("Training health", QUANTITIES, index=QUANTITIES.index("update_ratio"), format_func=LABELS.get,
                     key="health_quantity", help="the quantity the badges on the canvas show, from the design's "
                                                  "latest run; hover a badge for its history")
    c2.caption(f"Run **{entry['name']}** ({entry['status']}{', live' if live else ''}), step {rows[-1]['step']}.")
    advice = run_advice(run, rows)
    if advice:
        with st.expander(f"{len(advice)} training warning{'s' if len(advice) > 1 else ''}",
                         icon=":material/warning:", expanded=False):  # folded: the canvas stays in view
            render_warnings(advice, run, commit, key="design")
    return health_data(rows, q, entry["name"], live, advice, {n["id"] for n in graph["nodes"]})


def watch(graph: dict, every_s: float = 2.0) -> None:
    """While the design's latest run is live: a fragment that reruns the page when new diagnostics arrive."""
    found = design_run(graph)
    if found is None or found[1]["status"] not in ACTIVE:
        return
    run = found[0]

    @st.fragment(run_every=every_s)
    def poll() -> None:
        try:
            size = run.diagnostics_path.stat().st_size
        except OSError:
            return
        seen = st.session_state.get("health_seen")
        st.session_state.health_seen = size
        alive = run.status().get("state") in ACTIVE
        if seen is not None and (size != seen or not alive):
            st.rerun(scope="app")

    poll()

