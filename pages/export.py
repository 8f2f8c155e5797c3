import streamlit as st

st.title("Export")
st.info("Take the design away as PyTorch code, weights, TorchScript, ONNX, or a verified bundle.")
