"""Customers: every customer with its instance count and license mix; a new customer."""

from __future__ import annotations

import pandas as pd
import streamlit as st

import kaiten_analytics as ka
from kaiten_console import fresh_widgets, page_paths, session
from kaiten_console.customer_views import license_mix
from kaiten_console.refusals import show_refusal

#: the customer table's widget group (fresh_widgets): its key is "customers_table" at first
TABLE_GROUP = "customers"
CREATING_KEY = "customers_creating"
FLASH_KEY = "customers_flash"
SEARCH_KEY = "customers_search"
LABELS = {"slug": "Slug", "name": "Name"}
COLUMNS = {
    "name": st.column_config.TextColumn("Name"),
    "slug": st.column_config.TextColumn("Slug"),
    "instances": st.column_config.NumberColumn("Instances", help="Live (not deleted) "
                                                                 "instances"),
    "license_mix": st.column_config.TextColumn("License mix",
                                               help="Instances under each license"),
    "created": st.column_config.TextColumn("Created"),
}


def render_create() -> None:
    """Draw the New customer form with the library's error beside it."""
    form_col, error_col = st.columns([2, 1])
    with form_col, st.form("new_customer", enter_to_submit=False):
        st.subheader("New customer")
        left, right = st.columns(2)
        name = left.text_input("Name", key="new_customer_name", placeholder="e.g. Acme Corp")
        slug = right.text_input("Slug", key="new_customer_slug", placeholder="e.g. acme",
                                help="URL-safe: lowercase letters, digits and '-'.")
        submitted = st.form_submit_button("Create customer", type="primary")
    if form_col.button("Cancel", key="cancel_new_customer"):
        st.session_state[CREATING_KEY] = False
        st.rerun()
    if not submitted:
        return
    try:
        created = session.kaiten().customers.create(slug=slug or "", name=name or "")
    except ka.KaitenError as error:
        show_refusal(error_col, error, heading="Could not create the customer.", labels=LABELS)
    else:
        session.clear_reads()
        fresh_widgets.renew(TABLE_GROUP)  # a new row: the selection would point elsewhere
        st.session_state[CREATING_KEY] = False
        st.session_state[FLASH_KEY] = f"Created customer **{created.name}** (`{created.slug}`)."
        st.rerun()


def main() -> None:
    """Draw the page."""
    can_write = session.can_write()
    title_col, new_col = st.columns([5, 1], vertical_alignment="bottom")
    title_col.title("Customers")
    title_col.caption("The companies your product is deployed for: how many instances each "
                      "runs, under which licenses. Open one for its instances.")
    if can_write and new_col.button("New customer", icon=":material/add:", type="primary",
                                    width="stretch"):
        st.session_state[CREATING_KEY] = True
    if message := st.session_state.pop(FLASH_KEY, None):
        st.success(message, icon=":material/check_circle:")
    if can_write and st.session_state.get(CREATING_KEY):
        render_create()

    summary = session.customer_summary()
    if summary.empty:
        st.info("No customers yet — create one, or run `kaiten demo`.", icon=":material/info:")
        return
    licenses = session.names(session.licenses())
    customers_card, total, spread = st.columns(3)
    customers_card.metric("Customers", len(summary), border=True)
    total.metric("Live instances", int(summary["instances"].sum()), border=True)
    spread.metric("Customers without instances", int((summary["instances"] == 0).sum()),
                  border=True)

    search = st.text_input("Search", key=SEARCH_KEY, placeholder="Name or slug",
                           icon=":material/search:", on_change=fresh_widgets.renew,
                           args=(TABLE_GROUP,)) or ""
    shown = summary
    if search.strip():
        needle = search.strip().lower()
        text = (summary["name"] + " " + summary["slug"]).str.lower()
        shown = summary[text.str.contains(needle, regex=False)].reset_index(drop=True)
    if shown.empty:
        st.info("No customer matches this search.", icon=":material/filter_alt_off:")
        return
    table = pd.DataFrame({
        "name": shown["name"], "slug": shown["slug"], "instances": shown["instances"],
        "license_mix": [license_mix(mix, licenses) for mix in shown["licenses"]],
        "created": [session.local_time(moment) for moment in shown["created_at"]],
    })
    event = st.dataframe(table, column_config=COLUMNS, hide_index=True, width="stretch",
                         key=fresh_widgets.key(TABLE_GROUP, "table"), on_select="rerun",
                         selection_mode="single-row")
    rows = event.selection.rows
    selected = shown.iloc[rows[0]] if rows and rows[0] < len(shown) else None
    if selected is None:
        st.caption("Select a row to open the customer and its instances.")
    else:
        st.caption(f"Selected: **{selected['name']}** (`{selected['slug']}`)")
    if st.button("Open customer", icon=":material/open_in_new:", disabled=selected is None):
        st.switch_page(page_paths.CUSTOMER, query_params={"customer": selected["slug"]})


main()
