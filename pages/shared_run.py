"""Shared run page (hidden from the navigation): the run a share link named, read-only."""
import streamlit as st

from designer.state import require_app
from designer.train.shared import render_shared_run
from engine.train.rundir import RunDir

require_app()

path = st.session_state.get("shared_run")
if not path:
    st.info("Open a share link of a run to see it here.", icon=":material/link:")
    st.stop()
render_shared_run(RunDir(path))
