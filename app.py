"""Convas: design convolutional networks by hand. Entry point: `streamlit run app.py`."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from designer.sidebar import render_sidebar
from designer.state import init_session

# the favicon is a file served by the app itself: a ":material/...:" page icon is fetched from a font CDN
ICON = Path(__file__).resolve().parent / "assets" / "icon.png"
st.set_page_config(page_title="Convas", page_icon=str(ICON), layout="wide")
init_session()

pages = st.navigation([
    st.Page("pages/design.py", title="Design", icon=":material/schema:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/monitoring:"),
    st.Page("pages/inspect.py", title="Inspect", icon=":material/visibility:"),
    st.Page("pages/export.py", title="Export", icon=":material/ios_share:"),
])
render_sidebar()
pages.run()
