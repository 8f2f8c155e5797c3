"""Convas: design convolutional networks by hand. Entry point: `streamlit run app.py`."""
from __future__ import annotations

import streamlit as st

from designer.state import init_session
from designer.sidebar import render_sidebar

st.set_page_config(page_title="Convas", page_icon="🧠", layout="wide")
init_session()

pages = st.navigation([
    st.Page("pages/design.py", title="Design", icon="🧩", default=True),
    st.Page("pages/train.py", title="Train", icon="📈"),
    st.Page("pages/inspect.py", title="Inspect", icon="🔍"),
    st.Page("pages/export.py", title="Export", icon="📦"),
])
render_sidebar()
pages.run()
