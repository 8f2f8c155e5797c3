"""Convas: design convolutional networks by hand. Entry point: `streamlit run app.py`."""
from __future__ import annotations

import streamlit as st

from designer.access import gate
from designer.sidebar import render_sidebar
from designer.state import init_session

st.set_page_config(page_title="Convas", page_icon=":material/hub:", layout="wide")
gate()  # optional access control (a shared token, or an OIDC login): off unless configured
init_session()

pages = st.navigation([
    st.Page("pages/design.py", title="Design", icon=":material/schema:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/monitoring:"),
    st.Page("pages/inspect.py", title="Inspect", icon=":material/visibility:"),
    st.Page("pages/export.py", title="Export", icon=":material/ios_share:"),
    st.Page("pages/shared_run.py", title="Shared run", icon=":material/share:", visibility="hidden"),
])
render_sidebar()
pages.run()
