"""The sidebar every page shares: the design's name, New / Open / Save, and the device."""
from __future__ import annotations

import json

import streamlit as st

import engine
from designer.state import set_graph, template_path


@st.cache_resource
def device_name() -> str:
    import torch

    if torch.cuda.is_available():
        return f"GPU: {torch.cuda.get_device_name(0)}"
    return "CPU (no GPU found)"


def _templates() -> dict[str, dict]:
    return json.loads((template_path("index").read_text(encoding="utf-8")))


def render_sidebar() -> None:
    g = st.session_state.graph
    with st.sidebar:
        st.markdown(f"**Design:** {g.get('name', 'untitled')}")
        temps = _templates()
        choice = st.selectbox("Open a template", list(temps), format_func=lambda k: temps[k]["title"],
                              index=None, placeholder="Choose a template…", key="sidebar_template")
        if choice and st.button("Open template", use_container_width=True):
            set_graph(engine.load_graph(template_path(choice)).to_dict())
            st.rerun()
        up = st.file_uploader("Open a graph file", type=["json"], key="sidebar_upload")
        if up is not None and st.button("Open file", use_container_width=True):
            try:
                set_graph(engine.load_graph(up.getvalue().decode("utf-8")).to_dict())
                st.rerun()
            except (engine.GraphError, UnicodeDecodeError) as e:
                st.error(str(e))
        name = (g.get("name") or "design").replace(" ", "_")
        st.download_button("Save (download)", json.dumps(g, indent=2, ensure_ascii=False),
                           file_name=f"{name}.json", mime="application/json", use_container_width=True)
        st.caption(f"Device: {device_name()}")
