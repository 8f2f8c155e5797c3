"""The Export page's download cards: one card per format, what it is for, and its button (built on click)."""
from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from designer.export.sources import FILES, Source, artifact, settings_json, verify_bundle

CARDS = [  # format, title, icon, what it is for
    ("py", "PyTorch code", ":material/code:", "`model.py`: the design as a readable nn.Module (torch only)."),
    ("safetensors", "Weights", ":material/scale:", "`.safetensors`: the weights, loadable with no pickle."),
    ("graph", "Graph file", ":material/schema:", "`.json`: the design itself, to open again in Convas."),
    ("torchscript", "TorchScript", ":material/bolt:", "`.pt`: runs from C++ or Python without this code."),
    ("pt2", "torch.export", ":material/deployed_code:", "`.pt2` (dynamic batch): torch.export.load, ExecuTorch, "
     "Model Explorer."),
    ("onnx", "ONNX", ":material/hub:", "`.onnx` (opset 17, dynamic batch) for ONNX Runtime and friends."),
]


def _lazy(src: Source, fmt: str) -> Callable[[], bytes]:
    settings = settings_json(src) if fmt == "bundle" else ""
    return lambda: artifact(src, fmt, settings)  # built when the button is clicked, then cached


def render_cards(src: Source, ok: bool) -> None:
    cols = st.columns(len(CARDS))
    for col, (fmt, title, icon, text) in zip(cols, CARDS):
        with col.container(border=True, height="stretch", key=f"card_{fmt}"):
            st.markdown(f"**{title}**")
            needs_check = fmt != "graph"
            st.download_button(
                "Download", _lazy(src, fmt), file_name=src.file_name(fmt), mime=FILES[fmt][1], icon=icon,
                key=f"dl_{fmt}", width="stretch", on_click="ignore", disabled=needs_check and not ok,
                help=None if src.trained or fmt in ("py", "graph") else "untrained: fresh random weights")
            st.caption(text)


def render_bundle(src: Source, ok: bool) -> None:
    with st.container(border=True, key="card_bundle"):
        left, right = st.columns([3, 1], vertical_alignment="center")
        with left:
            st.markdown("**:material/verified: Verified bundle**")
            st.caption("A .zip to take away: `model.py`, the weights, a sample batch with the outputs this app "
                       "computed, `test_model.py` that checks the exported model reproduces them "
                       "(`python test_model.py` or `pytest`), and `train.py`, which retrains it with the run's "
                       "settings and runs unchanged under `torchrun --nproc_per_node=N` (DistributedDataParallel).")
        with right:
            st.download_button("Download bundle", _lazy(src, "bundle"), file_name=src.file_name("bundle"),
                               mime=FILES["bundle"][1], icon=":material/folder_zip:", type="primary", key="dl_bundle",
                               width="stretch", on_click="ignore", disabled=not ok)
            verify = st.button("Verify here", icon=":material/fact_check:", key="verify_bundle", width="stretch",
                               disabled=not ok, help="Build the bundle and run its test_model.py in a fresh Python")
        if verify:
            with st.spinner("Building the bundle and running its test_model.py…"):
                passed, out = verify_bundle(src, settings_json(src))
            summary = next((ln for ln in out.splitlines() if "checks passed" in ln), out[-300:])
            if passed:
                st.success(f"test_model.py passed in a fresh Python: {summary}", icon=":material/check_circle:")
            else:
                st.error(f"test_model.py failed: {summary}", icon=":material/error:")
            with st.expander("Its output"):
                st.code(out, language="text")
