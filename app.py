"""Convas: design convolutional networks by hand. The app's script: `make app` serves it through serve.py (which adds
the canvas's quick-check route); `streamlit run app.py` runs it alone."""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from designer.access import gate
from designer.gcfreeze import freeze_startup_objects
from designer.sidebar import render_sidebar
from designer.state import init_session

# the favicon is a file served by the app itself: a ":material/...:" page icon is fetched from a font CDN
ICON = Path(__file__).resolve().parent / "assets" / "icon.png"
st.set_page_config(page_title="Convas", page_icon=str(ICON), layout="wide", menu_items={"About": (
    "**Convas**: design, train, inspect and export PyTorch networks.\n\n"
    "The recommendation task uses the MovieLens data sets of GroupLens Research, University of Minnesota "
    "(F. Maxwell Harper and Joseph A. Konstan. 2015. The MovieLens Datasets: History and Context. ACM TiiS 5, 4). "
    "Terms: research use only, with this acknowledgement; no commercial use without GroupLens' permission; "
    "redistribution only under the same terms; no endorsement by the University of Minnesota or GroupLens is "
    "stated or implied.")})
gate()  # optional access control (a shared token, or an OIDC login): off unless configured
init_session()

pages = st.navigation([
    st.Page("pages/design.py", title="Design", icon=":material/schema:", default=True),
    st.Page("pages/train.py", title="Train", icon=":material/monitoring:"),
    st.Page("pages/inspect.py", title="Inspect", icon=":material/visibility:"),
    st.Page("pages/export.py", title="Export", icon=":material/ios_share:"),
    st.Page("pages/diff.py", title="Diff", icon=":material/compare_arrows:"),
    st.Page("pages/shared_run.py", title="Shared run", icon=":material/share:", visibility="hidden"),
])
render_sidebar()
pages.run()
freeze_startup_objects()  # once per process: the first run's imports leave the full collections' scan
