"""Instance detail, deep-linkable as ``/instance?instance=<slug>``: overview and the tabs."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

import kaiten_analytics as ka
from kaiten_console import page_paths, session
from kaiten_console.audit_tab import render_audit_tab
from kaiten_console.entitlements_tab import render_entitlements_tab
from kaiten_console.flags_tab import render_flags_tab
from kaiten_console.instance_picker import pick_instance
from kaiten_console.refusals import show_read_error

TABS = ("Overview", "Feature Flags", "Entitlements", "Audit Trail")
PICKER_KEY = "instance_picker"


def license_remaining(end: date | None, today: date) -> tuple[str, str]:
    """Return (value, note) for the days-remaining card of a license ending on ``end``."""
    if end is None:
        return "—", "no end date"
    days = (end - today).days
    if days < 0:
        return "Expired", f"ended {-days} day{'s' if days != -1 else ''} ago, on {end}"
    return f"{days} day{'s' if days != 1 else ''}", f"ends {end}" if days else "ends today"


def render_overview(instance: ka.Instance, tz: str) -> None:
    """Draw the Overview tab: the instance's fields, license period and metadata."""
    customers = session.names(session.customers())
    licenses = session.names(session.licenses())
    zones = session.names(session.zones())
    today = session.today(tz)
    remaining, note = license_remaining(instance.license_end, today)
    if instance.license_start and instance.license_start > today:
        note += f"; starts {instance.license_start}"

    # each card carries a grey chip (the slug, the end date, the zone's name) so all four
    # are the same height
    chip = {"delta_color": "off", "delta_arrow": "off", "border": True}
    customer_card, license_card, days_card, zone_card = st.columns(4)
    customer_card.metric("Customer", customers.get(instance.customer, instance.customer),
                    instance.customer, **chip)
    license_card.metric("License", licenses.get(instance.license, instance.license),
                   instance.license, **chip)
    days_card.metric("Days remaining", remaining, note,
                **{**chip, "delta_color": "inverse" if remaining == "Expired" else "off"})
    zone = instance.deployment_zone
    # the slug as the value: names such as "Asia Pacific (Mumbai)" do not fit a card
    zone_card.metric("Deployment zone", zone or "—",
                     zones.get(zone, zone) if zone else "no deployment zone", **chip)

    details, metadata = st.columns([3, 2])
    with details:
        st.subheader("Details")
        st.table(
            pd.DataFrame(
                {
                    "Field": ["Name", "Slug", "Description", "Customer", "License",
                              "License start", "License end", "Days remaining",
                              "Deployment zone", "Created", "Updated"],
                    "Value": [
                        instance.name, instance.slug, instance.description or "—",
                        f"{customers.get(instance.customer, '')} ({instance.customer})",
                        f"{licenses.get(instance.license, '')} ({instance.license})",
                        str(instance.license_start or "—"), str(instance.license_end or "—"),
                        f"{remaining} ({note})",
                        f"{zones[zone]} ({zone})" if zone in zones else "—",
                        session.local_time(instance.created_at, tz),
                        session.local_time(instance.updated_at, tz),
                    ],
                }
            ).set_index("Field"),
        )
    with metadata:
        st.subheader("Metadata")
        if instance.metadata:
            st.json(instance.metadata, expanded=True)
        else:
            st.caption("This instance has no metadata.")


def main() -> None:
    """Draw the page."""
    st.page_link(page_paths.INSTANCES, label="All instances", icon=":material/arrow_back:")
    picker, _ = st.columns([2, 3])
    with picker:
        slug = pick_instance(PICKER_KEY, "show this instance")
    if slug is None:
        return
    try:
        instance = session.instance(slug)
    except ka.NotFoundError as error:
        show_read_error(st, "show this instance", error)
        return
    st.title(instance.name)
    st.caption(f"`{instance.slug}` · {instance.description}" if instance.description
               else f"`{instance.slug}`")
    customer_name = session.names(session.customers()).get(instance.customer,
                                                            instance.customer)
    st.page_link(page_paths.CUSTOMER, label=f"{customer_name}'s instances",
                 icon=":material/apartment:", query_params={"customer": instance.customer})
    tz = session.timezone()
    kaiten = session.kaiten()
    overview, flags, entitlements, audit = st.tabs(TABS, key="tab", bind="query-params",
                                                   on_change="rerun")
    # only the open tab runs: the usage and audit tabs query more than the overview
    if overview.open:
        with overview:
            render_overview(instance, tz)
    if flags.open:
        with flags:
            render_flags_tab(kaiten, slug)
    if entitlements.open:
        with entitlements:
            render_entitlements_tab(kaiten, slug)
    if audit.open:
        with audit:
            render_audit_tab(kaiten, slug, tz)


main()
