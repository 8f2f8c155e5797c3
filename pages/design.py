"""Design page: the canvas (being built) — for now the live check table of the current design."""
import streamlit as st

import engine

st.title("Design")
r = engine.check(st.session_state.graph)
st.dataframe([{"node": n.id, "op": n.op, "output": "×".join(map(str, n.shape)) if n.shape else n.error,
               "params": n.params} for n in r.nodes.values()], use_container_width=True)
st.metric("Parameters", f"{r.total_params:,}")
