"""Design page: the canvas with its live shape check, the problems and their one-click fixes, the selected
node's properties, and the summary table with totals and the memory estimate."""
import streamlit as st

from designer.canvas import canvas
from designer.canvas.quick import offer
from designer.design.convert import canvas_data
from designer.design.form import render_properties
from designer.design.module_panel import render_inner, render_instance, render_make_module
from designer.design.session import DesignSession
from designer.design.summary import error_items, human_bytes, summary_rows, totals
from designer.design.trace import patch_streamlit, stamp
from designer.sidebar import design_line
from designer.state import autosave, require_app
from designer.train.form import batch_size, set_batch_size
from designer.train.layers import overlay, watch
from engine.verdict import verdict

require_app()
patch_streamlit()

CANVAS_KEY = "design_canvas"


def _store(g: dict, replace: bool) -> None:
    """designer.state.set_graph, with the disk write moved off the path from an edit to its redrawn shapes: the
    page autosaves once its elements are out (below), or at the start of the next run if this one was cut short."""
    st.session_state.graph = g
    if replace:
        st.session_state.graph_rev = st.session_state.get("graph_rev", 0) + 1
    st.session_state.design_unsaved = True
    st.session_state.design_edited_now = True  # by a callback of this run: the end of this run saves it


def _autosave() -> None:
    if st.session_state.get("design_unsaved"):
        autosave()  # from the run's cached parse: no second parse, no second check
        st.session_state.design_unsaved = False


ds = DesignSession(st.session_state, _store)


def _on_canvas() -> None:  # callbacks run before the script: the edit is in the graph before shapes are computed
    stamp("callback")
    ds.adopt_canvas(st.session_state[CANVAS_KEY].get("canvas"))


def _on_command() -> None:
    value = st.session_state[CANVAS_KEY]
    ds.adopt_canvas(value.get("canvas"), selection=False)  # an edit sent just before the command comes first
    ds.run_command(value.get("command"))


@st.fragment
def design_page() -> None:
    """Everything the design shows, rerun on its own when the canvas (or a widget here) changes it: the sidebar and
    the app frame are not redrawn on an edit, so its answer reaches the canvas sooner. The sidebar's status line is
    refreshed from here."""
    stamp("fragment")
    if not st.session_state.pop("design_edited_now", False):
        _autosave()  # a run cut short by the next edit may have left an edit unsaved
    ds.note_external_change()
    g = st.session_state.graph
    design = ds.checked  # parsed and checked once per revision: the sidebar already read this same report
    report = design.report

    header = st.container()  # drawn above the canvas, filled after it: the canvas's answer goes out first

    # ---- the canvas, and beside it the problems and the selected node ----
    left, right = st.columns([3.5, 1.15], gap="medium")
    with left:
        stamp("checked")
        health = overlay(g, ds.commit)  # the design's latest run, drawn on the canvas (designer.train.layers)
        stamp("overlay")
        canvas(canvas_data(g, report, rev=st.session_state.graph_rev, ack=st.session_state.design_ack,
                           selected=ds.selected, select_nonce=st.session_state.design_select_nonce,
                           selected_inner=ds.selected_inner,
                           can_undo=ds.history.can_undo, can_redo=ds.history.can_redo, health=health,
                           quick=offer(st.session_state, g, st.session_state.graph_rev)),
               key=CANVAS_KEY, on_canvas_change=_on_canvas, on_command_change=_on_command)
        stamp("canvas")

    # ---- header: the design and its totals ----
    head, m1, m2, m3, m4 = header.columns([1.5, 1, 1, 1.25, 0.85], vertical_alignment="bottom")
    head.markdown(f"## Design\n{g.get('name', 'untitled')} · {len(g['nodes'])} nodes")
    st.session_state.design_batch = batch_size(g)  # the Train page's batch size: one value for both pages
    batch = m4.number_input("Batch size", min_value=1, max_value=65536, step=8, key="design_batch",
                            on_change=lambda: set_batch_size(st.session_state.design_batch),
                            help="The batch size the memory estimate assumes; the Train page trains with the same one.")
    t = totals(report, int(batch))
    at_least = "≥ " if t["partial"] else ""  # partial totals: what is known so far (the caption below says so)
    m1.metric("Parameters", at_least + t["params_text"], help=f"{t['params']:,} trainable parameters", border=True)
    m2.metric("MACs / sample", at_least + t["macs_text"],
              help=f"{t['macs']:,} multiply-accumulates per forward pass", border=True)
    parts = t["memory_parts"]
    m3.metric("Memory to train", at_least + t["memory_text"], border=True,
              help=" · ".join(f"{k} {human_bytes(v)}" for k, v in parts.items() if k != "total")
              + f" (float32, Adam, batch {int(batch)})")
    if t["partial"]:
        header.caption(t["partial_note"])
    notice = ds.notice()
    if notice:
        header.warning(notice, icon=":material/info:")

    with right:
        errors = error_items(report)
        fixes = design.fixes
        if errors:
            st.markdown(f"**{verdict(report)['text']}**")  # the canvas badge says the same (engine.verdict)
            with st.container(height=460 if len(errors) > 3 else "content", border=False):
                for i, e in enumerate(errors):
                    where = f"**{e['node']}** · " if e["node"] else ""
                    st.error(where + e["message"], icon=":material/error:")
                    for j, fix in enumerate(fixes.get((e["node"], e["message"]), ())):  # alternatives, in order
                        st.button(fix["title"], key=f"err_fix_{i}_{j}", on_click=ds.apply_fix, args=(fix,),
                                  type="primary", icon=":material/auto_fix_high:", width="stretch")
                    if e["node"]:
                        st.button(f"Select {e['node']}", key=f"err_sel_{i}", on_click=ds.select, args=(e["node"],),
                                  icon=":material/my_location:", width="stretch")
        else:
            st.success(f"{verdict(report)['text']}.", icon=":material/check_circle:")
        st.divider()
        if ds.multi:
            render_make_module(ds)
        elif ds.selected and ds.selected_inner:
            render_inner(ds, report, ds.selected, ds.selected_inner)
        elif ds.selected and ds.selected_instance:
            render_instance(ds, report, ds.selected)
        elif ds.selected:
            render_properties(ds, report, ds.selected)
        else:
            st.markdown("#### Properties")
            st.caption("Select a node on the canvas to edit its parameters. Drag layers in from the palette; connect "
                       "an output port (bottom) to an input port (top); Delete removes the selection; Ctrl+Z undoes.")

    # ---- the summary table ----
    st.markdown("#### Layers")
    rows = summary_rows(g, report)
    st.dataframe(rows, hide_index=True, width="stretch", height=min(38 + 35 * len(rows), 420),
                 column_config={
                     "node": st.column_config.TextColumn("Node"), "op": st.column_config.TextColumn("Op"),
                     "output": st.column_config.TextColumn("Output (C×H×W)"),
                     "params": st.column_config.NumberColumn("Params", format="localized"),
                     "MACs": st.column_config.NumberColumn("MACs", format="localized")})
    st.caption(f"Total: {t['params']:,} parameters · {t['macs']:,} MACs per sample · about {t['memory_text']} to train "
               f"at batch {int(batch)} (weights, gradients, Adam state and activations, float32).")
    _autosave()
    design_line()  # the sidebar is not rerun with this fragment: keep its status line current
    stamp("end")


design_page()
watch(st.session_state.graph)  # while the design's run is live, redraw when new diagnostics arrive
