import streamlit as st

st.title("Inspect")
st.info("Look inside a trained network: filters, activations, saliency, gradient ascent and feature inversion.")
