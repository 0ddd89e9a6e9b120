"""Kaiten Analytics console: the router and the shared frame of every page."""

import streamlit as st

from console import access, session

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
# every page needs a role (in open mode everyone is an admin); without one the pages are
# still declared, so a deep link resolves, but none runs and no menu is drawn
role = session.role()
page = st.navigation(pages, position="sidebar" if role else "hidden")
if role is None:
    access.render_gate()
    st.stop()
if not access.sign_in_configured():
    st.caption(access.OPEN_MODE_NOTE)
session.render_sidebar()
with st.sidebar:
    access.render_account(role)
page.run()
