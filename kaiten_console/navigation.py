"""The console's router and the frame every page shares: the sign-in gate, sidebar, pages."""

from __future__ import annotations

import streamlit as st

from kaiten_console import access, page_paths, session


def pages(role: str | None = access.ADMIN) -> dict[str, list[st.Page]]:
    """The console's pages by section, as ``st.navigation`` takes them.

    The Settings pages (API keys, webhooks) are an admin's only: a viewer's menu does not
    list them and their URLs do not resolve for a viewer (each page checks the role too).
    """
    sections = {
        "Admin": [
            st.Page(page_paths.CUSTOMERS, title="Customers", icon=":material/groups:",
                    url_path="customers"),
            st.Page(page_paths.CUSTOMER, title="Customer detail",
                    icon=":material/apartment:", url_path="customer"),
            st.Page(page_paths.INSTANCES, title="Instances", icon=":material/dns:",
                    default=True),
            st.Page(page_paths.INSTANCE, title="Instance detail",
                    icon=":material/info:", url_path="instance"),
            st.Page(page_paths.FLAGS, title="Flags", icon=":material/flag:"),
            st.Page(page_paths.REPORT_USAGE, title="Report usage",
                    icon=":material/add_chart:", url_path="report_usage"),
        ],
        "Product": [
            st.Page(page_paths.FLEET, title="Fleet", icon=":material/monitoring:",
                    url_path="fleet"),
        ],
    }
    if role != access.VIEWER:
        sections["Settings"] = [
            st.Page(page_paths.API_KEYS, title="API keys", icon=":material/key:",
                    url_path="api_keys"),
            st.Page(page_paths.WEBHOOKS, title="Webhooks", icon=":material/webhook:",
                    url_path="webhooks"),
        ]
    return sections


def run() -> None:
    """Draw the frame and run the page the URL asks for.

    Every page needs a role (in open mode everyone is an admin); without one the pages are
    still declared, so a deep link resolves, but none runs and no menu is drawn.
    """
    st.set_page_config(page_title="Kaiten Analytics", page_icon="📊", layout="wide")
    role = session.role()
    page = st.navigation(pages(role), position="sidebar" if role else "hidden")
    if role is None:
        access.render_gate()
        st.stop()
    if not access.sign_in_configured():
        st.caption(access.OPEN_MODE_NOTE)
    session.render_sidebar()
    with st.sidebar:
        access.render_account(role)
    page.run()
