"""Kaiten Analytics console: the router and the shared frame of every page."""

import streamlit as st

from console.session import render_sidebar

st.set_page_config(page_title="Kaiten Analytics", page_icon="📊", layout="wide")

pages = {
    "Admin": [
        st.Page("app_pages/instances.py", title="Instances", icon=":material/dns:",
                default=True),
        st.Page("app_pages/instance.py", title="Instance detail", icon=":material/info:",
                url_path="instance"),
        st.Page("app_pages/flags.py", title="Flags", icon=":material/flag:"),
        st.Page("app_pages/report_usage.py", title="Report usage", icon=":material/add_chart:",
                url_path="report_usage"),
    ],
    "Product": [
        st.Page("app_pages/fleet.py", title="Fleet", icon=":material/monitoring:",
                url_path="fleet"),
    ],
}
page = st.navigation(pages)
render_sidebar()
page.run()
