"""What the Diff page draws: the totals, the two designs side by side with the changes marked, the list of changes
(each carried into the current design with one click, undoable on the Design page), and for two runs their curves
and final metrics."""
from __future__ import annotations

import streamlit as st

import engine
from designer.canvas import view
from designer.design.session import DesignSession
from designer.diff.canvas import view_data
from designer.diff.metrics import final_metrics, side_by_side
from designer.diff.sources import Picked
from designer.state import set_graph
from designer.train import plots
from designer.train.runs import metrics, run_dir
from engine.diff import Change, Diff, apply_all, apply_change

ICON = {"added": ":material/add_circle:", "removed": ":material/remove_circle:", "renamed": ":material/badge:",
        "changed": ":material/edit:", "rewired": ":material/share:", "outputs": ":material/output:",
        "task": ":material/flag:", "module": ":material/widgets:"}
MAX_LISTED = 60  # changes listed one by one; a diff of two different networks lists the first and counts the rest


def _count(n: int) -> str:
    sign = "+" if n > 0 else "−" if n < 0 else "±"
    n = abs(n)
    for div, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{sign}{n / div:.2f}{unit}"
    return f"{sign}{n:,}"


def totals(d: Diff) -> None:
    c1, c2, c3 = st.columns(3)
    c1.metric("Changes", len(d.changes), border=True,
              help=", ".join(f"{d.count(k)} {k}" for k in ("removed", "renamed", "added", "changed", "rewired")))
    c2.metric("Δ parameters", _count(d.d_params), border=True, help=f"{d.params[0]:,} → {d.params[1]:,}")
    c3.metric("Δ MACs / sample", _count(d.d_macs), border=True, help=f"{d.macs[0]:,} → {d.macs[1]:,}")
    for side, ok in (("A", d.a_ok), ("B", d.b_ok)):
        if not ok:
            st.warning(f"Design {side} has errors: its shapes and counts cover only the nodes that check.",
                       icon=":material/warning:")


def canvases(d: Diff, a: Picked, b: Picked) -> None:
    """The two designs side by side, read-only, each node outlined by what the diff found there."""
    marks_a, marks_b = d.highlights()
    left, right = st.columns(2)
    for col, side, p, marks in ((left, "a", a, marks_a), (right, "b", b, marks_b)):
        with col:
            view(view_data(p.graph, engine.check(p.graph), marks, name=side, title=f"{side.upper()}: {p.title}"),
                 key=f"diff_view_{side}")
    st.caption("Outlines: green added · red removed · amber changed · blue renamed · purple rewired · dashed grey "
               "reshaped by a change upstream. Pan and zoom to look around.")


def _apply(change: Change) -> None:
    ds = DesignSession(st.session_state, set_graph)  # the Design page's undo history records it
    try:
        changed = ds.commit(apply_change(ds.graph, change))
    except (ValueError, KeyError) as e:
        st.session_state.diff_notice = str(e)
        return
    if changed:
        st.toast(f"Applied: {change.text}. Undo it on the Design page (Ctrl+Z).", icon=":material/check:")


def _apply_all(d: Diff) -> None:
    ds = DesignSession(st.session_state, set_graph)
    try:
        ds.commit(apply_all(ds.graph, d))
    except (ValueError, KeyError) as e:
        st.session_state.diff_notice = str(e)
        return
    st.toast(f"Applied all {len(d.changes)} changes. Undo them on the Design page (Ctrl+Z).", icon=":material/check:")


def changes(d: Diff, a: Picked, b: Picked) -> None:
    """Each change with its Δparams; when A is the current design, a button carries it over from B."""
    notice = st.session_state.pop("diff_notice", None)
    if notice:
        st.warning(notice, icon=":material/info:")
    if d.same:
        st.success(d.summary(), icon=":material/check_circle:")
        return
    head, action = st.columns([4, 1.3], vertical_alignment="bottom")
    head.markdown(f"#### Changes from A to B\n{d.summary()}")
    if a.is_current:
        action.button(f"Apply all {len(d.changes)}", key="diff_apply_all", on_click=_apply_all, args=(d,),
                      icon=":material/done_all:", width="stretch",
                      help="Make the current design B's design (its layout and name stay). Undoable.")
    else:
        st.caption("Pick the current design as A to carry B's changes into it.")
    for i, c in enumerate(d.changes[:MAX_LISTED]):
        text, btn = st.columns([5, 1.3], vertical_alignment="center")
        text.markdown(f"{ICON.get(c.kind, '')} **{c.kind}** · {c.text.lstrip('+- ')}")
        if a.is_current:
            btn.button("Apply this change", key=f"diff_apply_{i}_{c.key}", on_click=_apply, args=(c,),
                       width="stretch")
    if len(d.changes) > MAX_LISTED:
        st.caption(f"… and {len(d.changes) - MAX_LISTED} more.")
    if d.reshaped:
        with st.expander(f"{len(d.reshaped)} node{'s' if len(d.reshaped) > 1 else ''} reshaped by a change upstream"):
            st.dataframe([{"node": r.b_id, "output A": _shape(r.shape[0]), "output B": _shape(r.shape[1]),
                           "Δ params": r.d_params, "Δ MACs": r.d_macs} for r in d.reshaped],
                         hide_index=True, width="stretch")


def _shape(s) -> str:
    return "×".join(str(x) for x in s) if s else "?"


def runs(a: Picked, b: Picked) -> None:
    """Two runs: their curves on one chart per metric (A solid-and-dashed in one colour, B in another) and their
    final numbers side by side."""
    st.markdown("#### The two runs")
    rows = {f"A: {a.title}": metrics(a.run_id), f"B: {b.title}": metrics(b.run_id)}
    cols = st.columns(2)
    cols[0].plotly_chart(plots.curves(rows, "loss", "Loss"), key="diff_loss")
    if any(r.get("val_acc") is not None or r.get("train_acc") is not None for rs in rows.values() for r in rs):
        cols[1].plotly_chart(plots.curves(rows, "acc", "Accuracy", percent=True), key="diff_acc")
    finals = []
    for p in (a, b):
        rd = run_dir(p.run_id)
        finals.append(final_metrics(metrics(p.run_id), rd.status(), rd.results(examples=False)))
    st.dataframe(side_by_side(*finals), hide_index=True, width="stretch",
                 column_config={"metric": st.column_config.TextColumn("Metric"),
                                "A": st.column_config.NumberColumn("A", format="%.4f"),
                                "B": st.column_config.NumberColumn("B", format="%.4f"),
                                "B − A": st.column_config.NumberColumn("B − A", format="%+.4f")})
