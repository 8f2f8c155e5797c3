"""Convas's server: `streamlit run serve.py`. The app itself is app.py; this wraps it in an `st.App` to mount the
canvas's quick-check route (designer/canvas/quick.py), which draws an edit's shapes without waiting for the
page's rerun. `streamlit run app.py` still runs the whole app, with the canvas answered by reruns only."""
import streamlit as st
from streamlit import config

from designer.canvas.quick import routes

app = st.App("app.py", routes=routes(config.get_option("server.baseUrlPath") or ""))
