"""Instances: every customer's instances — search, filter, view metadata, create, edit, delete."""

from __future__ import annotations

import streamlit as st

from kaiten_console import session
from kaiten_console.instance_list import EVERY_CUSTOMER, render_instance_list, render_new_button


def main() -> None:
    """Draw the page."""
    can_write = session.can_write()
    title_col, new_col = st.columns([5, 1], vertical_alignment="bottom")
    title_col.title("Instances")
    title_col.caption("Deployments of your product for each customer: their license, dates, "
                      "zone and metadata.")
    render_new_button(EVERY_CUSTOMER, new_col, can_write)
    render_instance_list(EVERY_CUSTOMER, can_write)


main()
