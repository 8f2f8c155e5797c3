import streamlit as st

st.title("Train")
st.info("Train the current design on a dataset with live loss and accuracy curves.")
