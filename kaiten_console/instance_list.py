"""The instance list with its forms: the Instances page's, and a customer's Instances tab.

One component for both: the filter bar, the table, the metadata dialog, the buttons on the
selected row (View metadata, Open details, Edit, Delete) and the create / edit / delete forms.
A :class:`Scope` says where it is drawn: every customer (the Instances page), or one customer
(the customer detail), where the list, the filters and the forms are that customer's and the
customer field is fixed. Each scope keeps its state under its own session keys.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta

import pandas as pd
import streamlit as st

import kaiten_analytics as ka
from kaiten_console import fresh_widgets, page_paths, session
from kaiten_console.instance_form import FIELD_LABELS, InstanceInput, render_instance_form
from kaiten_console.refusals import show_refusal

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


@dataclass(frozen=True)
class Scope:
    """Where the list is drawn: its session keys' prefix and, for a customer's tab, the
    customer (fixed in the filters and the forms)."""

    prefix: str
    form_prefix: str = ""
    customer: str | None = None

    def key(self, name: str) -> str:
        """The session key ``name`` of this scope, e.g. ``instances_table``."""
        return f"{self.prefix}_{name}"

    @property
    def empty(self) -> str:
        """What an empty list says."""
        if self.customer is None:
            return EMPTY
        return "This customer has no instances yet."


EVERY_CUSTOMER = Scope("instances")
CUSTOMER_PREFIX = "customer_instances"


def customer_scope(customer: str) -> Scope:
    """The scope of ``customer``'s Instances tab."""
    return Scope(CUSTOMER_PREFIX, form_prefix="customer_", customer=customer)


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


def open_mode(scope: Scope, mode: str | None, target: str | None = None) -> None:
    """Switch the lower section: the new-instance form, an edit, a delete, or none."""
    st.session_state[scope.key("mode")] = mode
    st.session_state[scope.key("target")] = target


def after_write(scope: Scope, message: str) -> None:
    """Forget cached reads and the table selection, say what happened, and rerun."""
    session.clear_reads()
    fresh_widgets.renew(scope.prefix)  # the rows moved: no row selected (a new table key)
    open_mode(scope, None)
    st.session_state[scope.key("flash")] = message
    st.rerun()


def close_metadata() -> None:
    """Close the metadata dialog, whichever list opened it (its flag lives in session state)."""
    for prefix in (EVERY_CUSTOMER.prefix, CUSTOMER_PREFIX):
        st.session_state.pop(Scope(prefix).key("metadata_for"), None)


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


def render_filters(scope: Scope, customers: dict[str, str], licenses: dict[str, str],
                   zones: dict[str, str]) -> tuple[str | None, str, list[str], list[str]]:
    """Draw the filter bar; return (customer, search, licenses, zones).

    A customer's scope has no customer filter: its customer is the one returned. A changed
    filter starts the table afresh (its selection is a row position: it would point at
    another instance).
    """
    renew = {"on_change": fresh_widgets.renew, "args": (scope.prefix,)}
    if scope.customer is None:
        search_col, customer_col, license_col, zone_col = st.columns([3, 2, 2, 2])
        customer = customer_col.selectbox(
            "Customer", [None, *customers], key=scope.key("customer"), **renew,
            format_func=lambda slug: "All customers" if slug is None else customers[slug],
        )
    else:
        search_col, license_col, zone_col = st.columns([3, 2, 2])
        customer = scope.customer
    search = search_col.text_input("Search", key=scope.key("search"), **renew,
                                   placeholder="Name, slug or description",
                                   icon=":material/search:")
    license_filter = license_col.multiselect("License", list(licenses),
                                             key=scope.key("license"), **renew,
                                             placeholder="All licenses",
                                             format_func=lambda slug: licenses[slug])
    zone_filter = zone_col.multiselect(
        "Zone", [*zones, NO_ZONE], key=scope.key("zone"), **renew, placeholder="All zones",
        format_func=lambda slug: zones.get(slug, slug),
    )
    return customer, search or "", license_filter, zone_filter


def render_table(scope: Scope, shown: pd.DataFrame) -> pd.Series | None:
    """Draw the instance table; return the selected row, if any."""
    table = shown.assign(
        metadata=shown["metadata"].map(lambda value: json.dumps(value, ensure_ascii=False)),
        deployment_zone=shown["deployment_zone"].fillna("—"),
    )
    columns = [c for c in COLUMNS if scope.customer is None or c != "customer_name"]
    event = st.dataframe(
        table[columns], column_config=COLUMNS, hide_index=True, width="stretch",
        key=fresh_widgets.key(scope.prefix, "table"), on_select="rerun",
        selection_mode="single-row",
    )
    rows = event.selection.rows
    if rows and rows[0] < len(shown):
        return shown.iloc[rows[0]]
    return None


def render_actions(scope: Scope, selected: pd.Series | None, can_write: bool) -> None:
    """Draw the buttons acting on the selected instance (Edit and Delete for an admin)."""
    none = selected is None
    if none:
        st.caption("Select a row to view its metadata, open its details, edit or delete it."
                   if can_write else "Select a row to view its metadata or open its details.")
    else:
        st.caption(f"Selected: **{selected['name']}** (`{selected['slug']}`)")
    buttons = st.container(horizontal=True)
    if buttons.button("View metadata", icon=":material/data_object:", disabled=none):
        st.session_state[scope.key("metadata_for")] = selected["slug"]
    if buttons.button("Open details", icon=":material/open_in_new:", disabled=none):
        st.switch_page(page_paths.INSTANCE, query_params={"instance": selected["slug"]})
    if not can_write:
        return
    if buttons.button("Edit", icon=":material/edit:", disabled=none):
        open_mode(scope, "edit", selected["slug"])
    if buttons.button("Delete", icon=":material/delete:", disabled=none):
        open_mode(scope, "delete", selected["slug"])


def render_create(scope: Scope, customer: str | None, customers: dict[str, str],
                  licenses: dict[str, str], zones: dict[str, str]) -> None:
    """Draw the New instance form with the library's error beside it."""
    st.subheader("New instance")
    if not customers or not licenses:
        st.warning("An instance needs a customer and a license: create a customer on the "
                   "Customers page and a license with `kaiten.licenses.create`, or run "
                   "`kaiten demo`.")
        return
    start = session.today()
    initial = InstanceInput(
        customer=customer, name="", slug="", description="", license=None,
        deployment_zone=None, license_start=start, license_end=start + timedelta(days=365),
        metadata="{}",
    )
    form_col, error_col = st.columns([2, 1])
    with form_col:
        typed = render_instance_form(f"{scope.form_prefix}new_instance", initial,
                                     submit_label="Create", customers=customers,
                                     licenses=licenses, zones=zones,
                                     customer_fixed=scope.customer is not None)
        if st.button("Cancel", key=scope.key("cancel_create")):
            open_mode(scope, None)
            st.rerun()
    if typed is None:
        return
    try:
        created = session.kaiten().instances.create(**typed.arguments())
    except ka.KaitenError as error:
        show_refusal(error_col, error, heading="Could not create the instance.",
                     labels=FIELD_LABELS)
    else:
        after_write(scope, f"Created instance **{created.name}** (`{created.slug}`).")


def render_edit(scope: Scope, slug: str, customers: dict[str, str], licenses: dict[str, str],
                zones: dict[str, str]) -> None:
    """Draw the Edit form for ``slug`` with the library's error beside it."""
    try:
        current = session.instance(slug)
    except ka.NotFoundError as error:
        st.warning(f"Cannot edit: {error}")
        open_mode(scope, None)
        return
    if scope.customer is not None and current.customer != scope.customer:
        open_mode(scope, None)  # not this customer's: edit it from its own customer
        return
    st.subheader(f"Edit {current.name}")
    before = InstanceInput.of(current)
    form_col, error_col = st.columns([2, 1])
    with form_col:
        # the key names the instance and its last update, so another instance (or a fresh
        # version of this one) starts from its own values rather than the previous form's
        key = f"{scope.form_prefix}edit_{slug}_{current.updated_at.timestamp():.0f}"
        typed = render_instance_form(key, before, submit_label="Save changes",
                                     customers=customers, licenses=licenses, zones=zones,
                                     customer_fixed=scope.customer is not None)
        if st.button("Cancel", key=scope.key("cancel_edit")):
            open_mode(scope, None)
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
        after_write(scope, f"Saved **{updated.name}** (`{updated.slug}`): "
                           f"{', '.join(sorted(changes))} changed.")


def render_delete(scope: Scope, slug: str, name: str) -> None:
    """Ask for confirmation, then delete ``slug``."""
    with st.container(border=True):
        st.warning(
            f"Delete **{name}** (`{slug}`)? It leaves every list and takes no more usage "
            "reports. Its usage and audit trail stay queryable and its slug stays reserved.",
            icon=":material/warning:",
        )
        confirm, cancel, _ = st.columns([1, 1, 4])
        if confirm.button("Delete instance", type="primary", key=scope.key("confirm_delete")):
            try:
                session.kaiten().instances.delete(slug)
            except ka.KaitenError as error:
                show_refusal(st, error)
            else:
                after_write(scope, f"Deleted instance **{name}** (`{slug}`).")
        if cancel.button("Cancel", key=scope.key("cancel_delete")):
            open_mode(scope, None)
            st.rerun()


def render_new_button(scope: Scope, area, can_write: bool) -> None:
    """Draw the New instance button in ``area`` (for an admin): it opens the create form."""
    if can_write and area.button("New instance", icon=":material/add:", type="primary",
                                 width="stretch"):
        open_mode(scope, "create")


def render_instance_list(scope: Scope, can_write: bool) -> None:
    """Draw the list, its filters and buttons, the open form and the metadata dialog."""
    if message := st.session_state.pop(scope.key("flash"), None):
        st.success(message, icon=":material/check_circle:")

    customers = session.names(session.customers())
    if scope.customer is not None:
        customers = {scope.customer: customers.get(scope.customer, scope.customer)}
    licenses = session.names(session.licenses())
    zones = session.names(session.zones())
    everything = session.instances(scope.customer)
    selected = None
    if everything.empty:
        st.info(scope.empty, icon=":material/info:")
        customer = scope.customer
    else:
        customer, search, license_filter, zone_filter = render_filters(scope, customers,
                                                                       licenses, zones)
        listed = everything if customer == scope.customer else session.instances(customer)
        shown = filter_instances(listed, search, license_filter, zone_filter)
        st.caption(f"{len(shown)} of {len(everything)} instances")
        if shown.empty:
            st.info("No instance matches these filters.", icon=":material/filter_alt_off:")
        else:
            selected = render_table(scope, shown)
        render_actions(scope, selected, can_write)

    mode, target = st.session_state.get(scope.key("mode")), st.session_state.get(
        scope.key("target"))
    if not can_write:
        mode = None  # a viewer gets no form, whatever the session asked for
    live = dict(zip(everything["slug"], everything["name"], strict=True))
    if mode == "create":
        render_create(scope, customer, customers, licenses, zones)
    elif mode == "edit":
        render_edit(scope, target, customers, licenses, zones)
    elif mode == "delete" and target in live:
        render_delete(scope, target, live[target])

    metadata_for = st.session_state.get(scope.key("metadata_for"))
    rows = everything[everything["slug"] == metadata_for]
    if not rows.empty:
        row = rows.iloc[0]
        metadata_dialog(row["name"], row["slug"], row["metadata"])
