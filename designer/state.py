"""Session state, set up in one place, and where Convas keeps files on this machine.

CONVAS_HOME (default ./.convas) holds the workspaces (engine.workspace): each browser works in its own, with its
autosaved design and its runs (designer.workspace picks it); the first one, the home workspace, keeps them at the
top of CONVAS_HOME as before (CONVAS_RUNS relocates its runs). The run queue is CONVAS_HOME/queue.
"""
from __future__ import annotations

import os
from pathlib import Path

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

import engine
from designer import workspace as browser
from designer.design.checked import Checked, checked
from engine.graph import save_graph
from engine.workspace import Workspace, Workspaces

DEFAULT_TEMPLATE = "mnist_cnn"
ROOT = Path(__file__).resolve().parents[1]


def home() -> Path:
    d = Path(os.environ.get("CONVAS_HOME", ".convas")).resolve()
    d.mkdir(parents=True, exist_ok=True)
    return d


def workspaces() -> Workspaces:
    return Workspaces(home(), os.environ.get("CONVAS_RUNS") or None)


def workspace() -> Workspace:
    """This session's workspace (chosen once per session, in init_session)."""
    if get_script_run_ctx(suppress_warning=True) is None:  # e.g. a deferred download, built outside the session
        raise RuntimeError("workspace() needs a session: read the paths while the page runs and pass them on.")
    ws = st.session_state.get("workspace")
    if ws is None:
        ws = st.session_state.workspace = browser.choose(workspaces())
    return ws


def runs_root() -> Path:
    d = workspace().runs
    d.mkdir(parents=True, exist_ok=True)
    return d


def runs_shown() -> str:
    """Where the runs are, as the page says it: the folder for the home workspace; for any other only that it is
    this browser's own (its path holds the workspace id, a secret that must not be seen on a projected screen)."""
    ws = workspace()
    return f"`{runs_root()}`" if ws.is_home else "this browser's own workspace (on the server)"


def run_queue() -> Path:
    """The server's run queue (engine.train.queue): one for every workspace."""
    return workspaces().queue_dir


def autosave_path() -> Path:
    return workspace().autosave


def template_path(name: str) -> Path:
    return ROOT / "assets" / "templates" / f"{name}.json"


def _initial_graph() -> dict:
    """The autosaved design if there is a readable one, else the seed MNIST CNN."""
    p = autosave_path()
    if p.exists():
        try:
            return engine.load_graph(p).to_dict()
        except engine.GraphError:
            pass  # a broken autosave must not lock the user out; it stays on disk for inspection
    return engine.load_graph(template_path(DEFAULT_TEMPLATE)).to_dict()


def init_session() -> None:
    """Every session key the pages share, with its default. Called once per script run from app.py."""
    ss = st.session_state
    workspace()  # before anything reads or writes a file
    if "graph" not in ss:
        ss.graph = _initial_graph()  # the current design (a graph-file dict); the only source of truth
        ss.graph_rev = 0  # bumped when the graph is replaced wholesale (template, open, undo, fix)
    ss.setdefault("selected_run", None)  # run directory name the Train/Inspect/Export pages look at
    ss.setdefault("run_metrics", {})  # run id -> engine.train.rundir.MetricsTail (the rows read so far)
    ss.setdefault("upload_seen", None)  # file id of the last graph file opened from the sidebar uploader
    shared, problem = browser.shared_item(workspaces())  # a ?share= link: a copy of a design, or a run to look at
    if shared is not None and shared["kind"] == "design":
        set_graph(shared["graph"])
        st.toast(f"Opened a copy of the shared design “{shared['graph'].get('name', 'untitled')}”. Your changes "
                 f"stay yours.", icon=":material/share:")
    elif shared is not None:
        ss.shared_run = str(shared["run_dir"])  # read by the Shared run page, read-only
    elif problem:
        st.toast(f"The share link was not opened: {problem}", icon=":material/link_off:")


def set_graph(graph: dict, replace: bool = True) -> None:
    """Store a new design (a new dict: the old one is never changed in place) and autosave it. `replace` bumps the
    revision so the canvas redraws from it."""
    st.session_state.graph = graph
    if replace:
        st.session_state.graph_rev = st.session_state.get("graph_rev", 0) + 1
    autosave()


def design_checked() -> Checked:
    """The session's design parsed and checked, once per revision (designer.design.checked): the sidebar, the
    pages and the fixes all read this one report."""
    return checked(st.session_state)


def autosave() -> None:
    """Atomic write of the session's design, from its cached parse (no second parse). A graph whose structure the
    parser refuses is not written: the last design that parsed stays on disk and opens next time."""
    g = design_checked().graph
    if g is not None:
        save_graph(g, autosave_path())


def require_app() -> None:
    """Pages run inside app.py's st.navigation. Because this project has a pages/ folder, Streamlit's legacy
    multipage mode runs a page file directly when the very first session of a fresh server opens a page URL
    (e.g. /train) — without app.py's set-up. Send such a run through app.py, which switches Streamlit to
    st.navigation for good."""
    if "graph" not in st.session_state:
        st.switch_page("app.py")
