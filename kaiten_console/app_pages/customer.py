"""Customer detail, deep-linkable as ``/customer?customer=<slug>``: its Instances tab.

The tab is the Instances page's list and forms (``console.instance_list``) scoped to this
customer: the same table, filters, metadata dialog, links to the instance detail and create /
edit / delete forms, with the customer fixed.
"""

from __future__ import annotations

import streamlit as st

import kaiten_analytics as ka
from kaiten_console import page_paths, session
from kaiten_console.customer_views import license_mix
from kaiten_console.instance_list import customer_scope, render_instance_list, render_new_button
from kaiten_console.refusals import show_read_error

PARAM = "customer"  # the query parameter naming the customer
PICKER_KEY = "customer_picker"


def _follow() -> None:
    """Put the picked customer in the URL."""
    picked = st.session_state[PICKER_KEY]
    if picked is None:
        st.query_params.pop(PARAM, None)
    else:
        st.query_params[PARAM] = picked


def pick_customer() -> str | None:
    """Draw the customer picker; return the customer ``?customer=`` names, if it exists."""
    requested = st.query_params.get(PARAM)
    names = session.names(session.customers())
    if requested and requested not in names:
        try:  # created since the list was cached?
            found = session.customer_summary(requested)
            names[requested] = found["name"].iloc[0]
        except ka.KaitenError as error:
            show_read_error(st, "show this customer", error, hint="Pick another one below.")
            requested = None
    if not names:
        st.info("No customers yet — create one on the Customers page, or run `kaiten demo`.",
                icon=":material/info:")
        return None
    st.session_state[PICKER_KEY] = requested
    st.selectbox("Customer", list(names), index=None, key=PICKER_KEY, on_change=_follow,
                 placeholder="Choose a customer",
                 format_func=lambda slug: f"{names[slug]} ({slug})")
    return requested


def main() -> None:
    """Draw the page."""
    st.page_link(page_paths.CUSTOMERS, label="All customers", icon=":material/arrow_back:")
    picker, _ = st.columns([2, 3])
    with picker:
        slug = pick_customer()
    if slug is None:
        return
    try:
        customer = session.customer_summary(slug).iloc[0]
    except ka.NotFoundError as error:
        show_read_error(st, "show this customer", error)
        return
    can_write = session.can_write()
    licenses = session.names(session.licenses())
    title_col, new_col = st.columns([5, 1], vertical_alignment="bottom")
    title_col.title(customer["name"])
    title_col.caption(f"`{customer['slug']}` · customer since "
                      f"{session.local_time(customer['created_at'])}")
    chip = {"border": True}
    count_card, mix_card = st.columns([1, 3])
    count_card.metric("Live instances", int(customer["instances"]), **chip)
    mix_card.metric("License mix", license_mix(customer["licenses"], licenses), **chip)
    (instances_tab,) = st.tabs(["Instances"])
    with instances_tab:
        scope = customer_scope(slug)
        render_new_button(scope, new_col, can_write)
        render_instance_list(scope, can_write)


main()
