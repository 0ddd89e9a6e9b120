"""Instances: every customer's instances — search, filter, view metadata, create, edit, delete."""

from __future__ import annotations

import json
from datetime import timedelta

import pandas as pd
import streamlit as st

import kaiten_analytics as ka
from kaiten_console import page_paths, session
from kaiten_console.instance_form import FIELD_LABELS, InstanceInput, render_instance_form
from kaiten_console.refusals import show_refusal

TABLE_KEY = "instances_table"
MODE_KEY = "instances_mode"  # None, "create", "edit" or "delete"
TARGET_KEY = "instances_target"  # the slug being edited or deleted
METADATA_KEY = "instances_metadata_for"  # the slug whose metadata dialog is open
FLASH_KEY = "instances_flash"
NO_ZONE = "(no zone)"
EMPTY = "No instances yet — create one, or run `kaiten demo`."
COLUMNS = {
    "name": st.column_config.TextColumn("Name"),
    "slug": st.column_config.TextColumn("Slug"),
    "description": st.column_config.TextColumn("Description"),
    "customer_name": st.column_config.TextColumn("Customer"),
    "license": st.column_config.TextColumn("License"),
    "license_start": st.column_config.DateColumn("License start"),
    "license_end": st.column_config.DateColumn("License end"),
    "deployment_zone": st.column_config.TextColumn("Zone"),
    "metadata": st.column_config.TextColumn("Metadata", help="Select the row, then "
                                                             "View metadata"),
}


def filter_instances(frame: pd.DataFrame, search: str, licenses: list[str],
                     zones: list[str]) -> pd.DataFrame:
    """Keep the rows matching the search text (name, slug, description) and the filters."""
    keep = pd.Series(True, index=frame.index)
    if search.strip():
        needle = search.strip().lower()
        text = frame["name"] + " " + frame["slug"] + " " + frame["description"]
        keep &= text.str.lower().str.contains(needle, regex=False)
    if licenses:
        keep &= frame["license"].isin(licenses)
    if zones:
        keep &= frame["deployment_zone"].fillna(NO_ZONE).isin(zones)
    return frame[keep].reset_index(drop=True)


def open_mode(mode: str | None, target: str | None = None) -> None:
    """Switch the page's lower section: the new-instance form, an edit, a delete, or none."""
    st.session_state[MODE_KEY] = mode
    st.session_state[TARGET_KEY] = target


def after_write(message: str) -> None:
    """Forget cached reads and the table selection, say what happened, and rerun."""
    session.clear_reads()
    st.session_state.pop(TABLE_KEY, None)
    open_mode(None)
    st.session_state[FLASH_KEY] = message
    st.rerun()


def close_metadata() -> None:
    """Close the metadata dialog (its flag lives in session state)."""
    st.session_state.pop(METADATA_KEY, None)


@st.dialog("Instance metadata", width="large", on_dismiss=close_metadata)
def metadata_dialog(name: str, slug: str, metadata: dict) -> None:
    """Show one instance's metadata as formatted JSON."""
    st.markdown(f"**{name}** · `{slug}`")
    if metadata:
        st.json(metadata, expanded=True)
    else:
        st.caption("This instance has no metadata.")
    if st.button("Close"):
        close_metadata()
        st.rerun()


def render_filters(customers: dict[str, str], licenses: dict[str, str],
                   zones: dict[str, str]) -> tuple[str | None, str, list[str], list[str]]:
    """Draw the filter bar; return (customer, search, licenses, zones)."""
    search_col, customer_col, license_col, zone_col = st.columns([3, 2, 2, 2])
    search = search_col.text_input("Search", key="instances_search",
                                   placeholder="Name, slug or description",
                                   icon=":material/search:")
    customer = customer_col.selectbox(
        "Customer", [None, *customers], key="instances_customer",
        format_func=lambda slug: "All customers" if slug is None else customers[slug],
    )
    license_filter = license_col.multiselect("License", list(licenses), key="instances_license",
                                             placeholder="All licenses",
                                             format_func=lambda slug: licenses[slug])
    zone_filter = zone_col.multiselect(
        "Zone", [*zones, NO_ZONE], key="instances_zone", placeholder="All zones",
        format_func=lambda slug: zones.get(slug, slug),
    )
    return customer, search or "", license_filter, zone_filter


def render_table(shown: pd.DataFrame) -> pd.Series | None:
    """Draw the instance table; return the selected row, if any."""
    table = shown.assign(
        metadata=shown["metadata"].map(lambda value: json.dumps(value, ensure_ascii=False)),
        deployment_zone=shown["deployment_zone"].fillna("—"),
    )
    event = st.dataframe(
        table[list(COLUMNS)], column_config=COLUMNS, hide_index=True, width="stretch",
        key=TABLE_KEY, on_select="rerun", selection_mode="single-row",
    )
    rows = event.selection.rows
    if rows and rows[0] < len(shown):
        return shown.iloc[rows[0]]
    return None


def render_actions(selected: pd.Series | None, can_write: bool) -> None:
    """Draw the buttons acting on the selected instance (Edit and Delete for an admin)."""
    none = selected is None
    if none:
        st.caption("Select a row to view its metadata, open its details, edit or delete it."
                   if can_write else "Select a row to view its metadata or open its details.")
    else:
        st.caption(f"Selected: **{selected['name']}** (`{selected['slug']}`)")
    buttons = st.container(horizontal=True)
    if buttons.button("View metadata", icon=":material/data_object:", disabled=none):
        st.session_state[METADATA_KEY] = selected["slug"]
    if buttons.button("Open details", icon=":material/open_in_new:", disabled=none):
        st.switch_page(page_paths.INSTANCE, query_params={"instance": selected["slug"]})
    if not can_write:
        return
    if buttons.button("Edit", icon=":material/edit:", disabled=none):
        open_mode("edit", selected["slug"])
    if buttons.button("Delete", icon=":material/delete:", disabled=none):
        open_mode("delete", selected["slug"])


def render_create(customer: str | None, customers: dict[str, str], licenses: dict[str, str],
                  zones: dict[str, str]) -> None:
    """Draw the New instance form with the library's error beside it."""
    st.subheader("New instance")
    if not customers or not licenses:
        st.warning("An instance needs a customer and a license: create them with "
                   "`kaiten.customers.create` / `kaiten.licenses.create`, or run `kaiten demo`.")
        return
    start = session.today()
    initial = InstanceInput(
        customer=customer, name="", slug="", description="", license=None,
        deployment_zone=None, license_start=start, license_end=start + timedelta(days=365),
        metadata="{}",
    )
    form_col, error_col = st.columns([2, 1])
    with form_col:
        typed = render_instance_form("new_instance", initial, submit_label="Create",
                                     customers=customers, licenses=licenses, zones=zones)
        if st.button("Cancel", key="cancel_create"):
            open_mode(None)
            st.rerun()
    if typed is None:
        return
    try:
        created = session.kaiten().instances.create(**typed.arguments())
    except ka.KaitenError as error:
        show_refusal(error_col, error, heading="Could not create the instance.",
                     labels=FIELD_LABELS)
    else:
        after_write(f"Created instance **{created.name}** (`{created.slug}`).")


def render_edit(slug: str, customers: dict[str, str], licenses: dict[str, str],
                zones: dict[str, str]) -> None:
    """Draw the Edit form for ``slug`` with the library's error beside it."""
    try:
        current = session.instance(slug)
    except ka.NotFoundError as error:
        st.warning(f"Cannot edit: {error}")
        open_mode(None)
        return
    st.subheader(f"Edit {current.name}")
    before = InstanceInput.of(current)
    form_col, error_col = st.columns([2, 1])
    with form_col:
        # the key names the instance and its last update, so another instance (or a fresh
        # version of this one) starts from its own values rather than the previous form's
        key = f"edit_{slug}_{current.updated_at.timestamp():.0f}"
        typed = render_instance_form(key, before, submit_label="Save changes",
                                     customers=customers, licenses=licenses, zones=zones)
        if st.button("Cancel", key="cancel_edit"):
            open_mode(None)
            st.rerun()
    if typed is None:
        return
    changes = typed.changes(before)
    if not changes:
        error_col.info("Nothing changed.")
        return
    try:
        updated = session.kaiten().instances.update(slug, **changes)
    except ka.KaitenError as error:
        show_refusal(error_col, error, heading="Could not save the changes.",
                     labels=FIELD_LABELS)
    else:
        after_write(f"Saved **{updated.name}** (`{updated.slug}`): "
                    f"{', '.join(sorted(changes))} changed.")


def render_delete(slug: str, name: str) -> None:
    """Ask for confirmation, then delete ``slug``."""
    with st.container(border=True):
        st.warning(
            f"Delete **{name}** (`{slug}`)? It leaves every list and takes no more usage "
            "reports. Its usage and audit trail stay queryable and its slug stays reserved.",
            icon=":material/warning:",
        )
        confirm, cancel, _ = st.columns([1, 1, 4])
        if confirm.button("Delete instance", type="primary", key="confirm_delete"):
            try:
                session.kaiten().instances.delete(slug)
            except ka.KaitenError as error:
                show_refusal(st, error)
            else:
                after_write(f"Deleted instance **{name}** (`{slug}`).")
        if cancel.button("Cancel", key="cancel_delete"):
            open_mode(None)
            st.rerun()


def main() -> None:
    """Draw the page."""
    can_write = session.can_write()
    title_col, new_col = st.columns([5, 1], vertical_alignment="bottom")
    title_col.title("Instances")
    title_col.caption("Deployments of your product for each customer: their license, dates, "
                      "zone and metadata.")
    if can_write and new_col.button("New instance", icon=":material/add:", type="primary",
                                    width="stretch"):
        open_mode("create")
    if message := st.session_state.pop(FLASH_KEY, None):
        st.success(message, icon=":material/check_circle:")

    customers = session.names(session.customers())
    licenses = session.names(session.licenses())
    zones = session.names(session.zones())
    everything = session.instances()
    selected = None
    if everything.empty:
        st.info(EMPTY, icon=":material/info:")
        customer = None
    else:
        customer, search, license_filter, zone_filter = render_filters(customers, licenses,
                                                                       zones)
        listed = everything if customer is None else session.instances(customer)
        shown = filter_instances(listed, search, license_filter, zone_filter)
        st.caption(f"{len(shown)} of {len(everything)} instances")
        if shown.empty:
            st.info("No instance matches these filters.", icon=":material/filter_alt_off:")
        else:
            selected = render_table(shown)
        render_actions(selected, can_write)

    mode, target = st.session_state.get(MODE_KEY), st.session_state.get(TARGET_KEY)
    if not can_write:
        mode = None  # a viewer gets no form, whatever the session asked for
    live = dict(zip(everything["slug"], everything["name"], strict=True))
    if mode == "create":
        render_create(customer, customers, licenses, zones)
    elif mode == "edit":
        render_edit(target, customers, licenses, zones)
    elif mode == "delete" and target in live:
        render_delete(target, live[target])

    metadata_for = st.session_state.get(METADATA_KEY)
    rows = everything[everything["slug"] == metadata_for]
    if not rows.empty:
        row = rows.iloc[0]
        metadata_dialog(row["name"], row["slug"], row["metadata"])


main()
