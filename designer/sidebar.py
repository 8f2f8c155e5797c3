"""The sidebar every page shares: the design's name, New / Open / Save / Share, and the device."""
from __future__ import annotations

import json

import streamlit as st

import engine
from designer import workspace as browser
from designer.state import design_checked, runs_root, set_graph, template_path, workspace, workspaces
from engine.graph import load_graph_text
from engine.starters import TITLES as NEW_TITLES
from engine.starters import new_design
from engine.totals import known_totals
from engine.verdict import verdict
from engine.workspace import WorkspaceError


@st.cache_resource
def device_name() -> str:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return "CPU (no GPU found)"


@st.cache_data
def templates() -> dict[str, dict]:
    return json.loads(template_path("index").read_text(encoding="utf-8"))


def _rename() -> None:
    name = (st.session_state.get(_name_key()) or "").strip()
    if name and name != st.session_state.graph.get("name"):
        set_graph({**st.session_state.graph, "name": name}, replace=False)  # the canvas shows no name: no redraw


def _name_key() -> str:
    return f"design_name_{st.session_state.get('graph_rev', 0)}"  # a new design gets a fresh field


def _new(kind: str) -> None:
    set_graph(new_design(kind))
    what = ("an empty canvas. Drag an Input in from the palette" if kind == "empty"
            else "Input → Flatten → Linear. Build on it")
    st.toast(f"New design: {what}.", icon=":material/note_add:")


def _open_template(name: str) -> None:
    set_graph(engine.load_graph(template_path(name)).to_dict())
    recipe = templates()[name].get("train")  # a template's training recipe (the PTB models' SGD schedule)
    if recipe:
        st.session_state.train_config = {**(st.session_state.get("train_config") or {}), **recipe}
    st.toast(f"Opened {templates()[name]['title']}.", icon=":material/folder_open:")


def _open_upload(up) -> str | None:
    """Open an uploaded graph file; the engine's message when it is refused (nothing changes then)."""
    try:
        g = load_graph_text(up.getvalue().decode("utf-8"))  # the content, never taken for a path
    except UnicodeDecodeError:
        return f"{up.name} is not a text file. Received: {len(up.getvalue()):,} bytes of binary data."
    except engine.GraphError as e:
        return f"{up.name} was not opened. {e}"
    set_graph(g.to_dict())
    st.toast(f"Opened {up.name}.", icon=":material/folder_open:")
    return None


def _share() -> None:
    """A link to a copy of the design as it is now (engine.workspace.Workspaces.share_design)."""
    try:
        st.session_state.share_link = browser.share_url(workspaces().share_design(st.session_state.graph))
    except engine.GraphError as e:
        st.session_state.share_link = None
        st.toast(f"The design cannot be shared yet: {e}", icon=":material/error:")


def _share_run(run_id: str) -> None:
    """A link to a read-only view of one of this workspace's runs."""
    try:
        token = workspaces().share_run(workspace(), run_id)
    except WorkspaceError as e:
        st.session_state.share_link = None
        st.toast(f"The run cannot be shared: {e}", icon=":material/error:")
        return
    st.session_state.share_link = browser.share_url(token, "shared_run")


def _render_share() -> None:
    with st.popover("Share…", icon=":material/share:", width="stretch"):
        st.caption("A link that opens a copy of this design, as it is now, for whoever you send it to. Your own "
                   "design and runs stay yours.")
        st.button("Create a share link", key="share_design", on_click=_share, icon=":material/link:",
                  width="stretch")
        run_id = st.session_state.get("selected_run")
        if run_id and (runs_root() / run_id).is_dir():
            st.button(f"Share the run {run_id} (read-only)", key="share_run", on_click=_share_run, args=(run_id,),
                      icon=":material/monitoring:", width="stretch")
        if st.session_state.get("share_link"):
            st.code(st.session_state.share_link, language=None, wrap_lines=True)


def design_line() -> None:
    """The design's one-line status in the sidebar. The Design page redraws the canvas and its totals in a fragment
    (the sidebar is not rerun on a canvas edit) and calls this again to keep the line current; the Save button
    reads the graph when pressed (`live_design`), not when drawn."""
    ss = st.session_state
    g = ss.graph
    if g.get("name") != ss.get("sidebar_name", g.get("name")):
        ss.sidebar_name = g.get("name")  # asked once: a rerun that finds the name unchanged must not loop
        st.rerun(scope="app")  # the name field is drawn by a full run only (a rename undone on the Design page)
    ss.setdefault("live_design", {})["graph"] = g
    r = design_checked().report  # the page reads the same report: one check per revision
    v, t = verdict(r), known_totals(r)
    state = ":green[ready to train]" if v["ok"] else f":red[{v['text']}]"
    params = f"{t.params:,} parameters" + (" (partial)" if t.partial else "")
    ss.sidebar_design_line.caption(f"{len(g.get('nodes', []))} nodes · {params} · {state}")


def render_sidebar() -> None:
    ss = st.session_state
    g = ss.graph
    with st.sidebar:
        st.text_input("Design", value=g.get("name", "untitled"), key=_name_key(), on_change=_rename,
                      help="The design's name: it names runs, downloads and the exported code.")
        with st.popover("New design", icon=":material/note_add:", width="stretch"):
            for kind, title in NEW_TITLES.items():
                st.button(title, key=f"new_{kind}", on_click=_new, args=(kind,), width="stretch")
        with st.popover("Open…", icon=":material/folder_open:", width="stretch"):
            temps = templates()
            pick = st.selectbox("A template", list(temps), key="open_template_pick",
                                format_func=lambda k: f"{temps[k]['title']} · {temps[k]['params']:,} parameters")
            st.caption(temps[pick]["description"])
            st.button("Open template", key="open_template", on_click=_open_template, args=(pick,),
                      icon=":material/file_open:", width="stretch")
            st.markdown("**A graph file**")
            up = st.file_uploader("Graph file (.json)", type=["json"], key="sidebar_upload",
                                  label_visibility="collapsed")
            if up is not None and ss.upload_seen != up.file_id:
                ss.upload_error = _open_upload(up)
                ss.upload_seen = up.file_id
                if ss.upload_error is None:
                    st.rerun()
            if up is not None and ss.get("upload_error"):
                st.error(ss.upload_error, icon=":material/error:")
        name = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in g.get("name") or "design").strip("_")
        live = ss.setdefault("live_design", {})  # the graph as of the latest run, fragment runs included
        st.download_button("Save (download)", lambda: json.dumps(live["graph"], indent=2, ensure_ascii=False) + "\n",
                               file_name=f"{name or 'design'}.json", mime="application/json",
                               icon=":material/download:", width="stretch", on_click="ignore",
                               help="Download the design as a graph file (.json)")
        _render_share()
        ss.sidebar_name = g.get("name")
        ss.sidebar_design_line = st.empty()  # the Design page refreshes it on its fragment runs
        design_line()
        st.divider()
        st.caption(f":material/memory: **Device:** {device_name()}")
        browser.remember(workspace())  # the browser keeps its workspace across reloads and tabs
