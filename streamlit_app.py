"""Kaiten Analytics console: the router and the shared frame of every page."""

import streamlit as st

st.set_page_config(page_title="Kaiten Analytics", page_icon="📊", layout="wide")

pages = {
    "Admin": [
        st.Page("pages/instances.py", title="Instances", icon="🖥️", default=True),
    ],
}
st.navigation(pages).run()
