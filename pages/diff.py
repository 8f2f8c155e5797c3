"""Diff page: two designs side by side (the current one, a template, a run's design, a file): what was added,
removed, renamed, changed or rewired, with Δparams and ΔMACs, marked on two read-only canvases; each change carried
into the current design with one click (undoable on the Design page); for two runs, their curves and final
metrics."""
import streamlit as st

import engine
from designer.diff import show
from designer.diff.sources import default_b, options, pick
from designer.state import require_app

require_app()


def _swap() -> None:
    st.session_state.diff_pick_A, st.session_state.diff_pick_B = (st.session_state.diff_pick_B,
                                                                   st.session_state.diff_pick_A)


st.markdown("## Diff\nCompare two designs, or the designs of two runs, and carry changes into the current design.")
keys, labels = options()
left, mid, right = st.columns([1, 0.12, 1], vertical_alignment="bottom")
with left:
    a = pick("A", keys, labels, default="current")
mid.button("", icon=":material/swap_horiz:", key="diff_swap", on_click=_swap, help="Swap A and B")
with right:
    b = pick("B", keys, labels, default=default_b(keys))
if a is None or b is None:
    st.stop()

d = engine.diff(a.graph, b.graph)
show.totals(d)
show.canvases(d, a, b)
show.changes(d, a, b)
if a.run_id and b.run_id:
    show.runs(a, b)
