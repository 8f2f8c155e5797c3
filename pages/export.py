"""Export page: pick what to export (the design or a trained run), download it in any format, read the code."""
import streamlit as st

import engine
from designer.export.downloads import render_bundle, render_cards
from designer.export.sources import sources
from designer.state import require_app

require_app()

st.title("Export", anchor=False)
st.caption("Take the design away as PyTorch code, weights, TorchScript, ONNX, or a verified bundle.")

options = sources(st.session_state.graph)
by_key = {s.key: s for s in options}
default = next((i for i, s in enumerate(options) if s.run_id == st.session_state.get("selected_run")), 0)
key = st.selectbox("Export", list(by_key), index=default, format_func=lambda k: by_key[k].label,
                   help="A trained run exports its own graph with its best weights.")
src = by_key[key]
report = engine.check(src.graph)
inputs = [n for n in report.nodes.values() if n.op == "Input" and n.shape]
c = st.columns(3)
c[0].metric("Parameters", f"{report.total_params:,}", border=True)
c[1].metric("Input", " , ".join("×".join(map(str, n.shape)) for n in inputs) or "–", border=True)
c[2].metric("Weights", "trained" if src.trained else "untrained", border=True)
if not report.ok:
    st.error("The design has problems, so only the graph file can be exported:\n\n"
             + "\n".join(f"- {e}" for e in report.errors[:10]), icon=":material/error:")

render_bundle(src, report.ok)
render_cards(src, report.ok)

if report.ok:
    st.subheader("The generated code", anchor=False)
    st.caption("Exactly the source the app builds and trains (`engine.build_module` runs this text).")
    st.code(engine.to_python(src.graph), language="python", line_numbers=True, height=520)
