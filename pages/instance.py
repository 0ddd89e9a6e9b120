"""Instance detail, deep-linkable as ``/instance?instance=<slug>``: overview and the tabs."""

from __future__ import annotations

import importlib.util
from datetime import date

import pandas as pd
import streamlit as st

import kaiten_analytics as ka
from console import session
from console.audit_tab import render_audit_tab
from console.entitlements_tab import render_entitlements_tab

TABS = ("Overview", "Feature Flags", "Entitlements", "Audit Trail")
PARAM = "instance"  # the query parameter naming the instance
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


def render_flags(kaiten: ka.Kaiten, slug: str) -> None:
    """Draw the Feature Flags tab, once its module exists."""
    # find_spec rather than try/except ImportError: a broken flags module must show its error,
    # not pass for a missing one
    if importlib.util.find_spec("console.flags_tab") is None:
        st.info("Feature flags are not available yet.", icon=":material/flag:")
        return
    from console.flags_tab import render_flags_tab

    render_flags_tab(kaiten, slug)


def follow_picker() -> None:
    """Put the picked instance in the URL, so the page can be bookmarked and shared."""
    picked = st.session_state[PICKER_KEY]
    if picked is None:
        st.query_params.pop(PARAM, None)
    else:
        st.query_params[PARAM] = picked


def pick_instance() -> str | None:
    """Draw the instance picker; return the slug named by ``?instance=``, if it is live.

    The URL is the source of truth: the picker shows what it names (so back/forward and
    shared links work) and changing the picker changes it. A slug that names no live
    instance is reported, not shown.
    """
    requested = st.query_params.get(PARAM)
    listed = session.instances()
    names = dict(zip(listed["slug"], listed["name"], strict=True))
    if requested and requested not in names:
        try:  # created since the list was cached, or gone?
            names[requested] = session.instance(requested).name
        except ka.NotFoundError as error:
            st.error(f"Cannot show this instance: {error}. Pick another one below.",
                     icon=":material/error:")
            requested = None
    if not names:
        st.info("No instances yet — create one on the Instances page, or run `kaiten demo`.")
        return None
    st.session_state[PICKER_KEY] = requested
    st.selectbox(
        "Instance", list(names), index=None, key=PICKER_KEY, on_change=follow_picker,
        placeholder="Choose an instance", format_func=lambda slug: f"{names[slug]} ({slug})",
    )
    return requested


def main() -> None:
    """Draw the page."""
    st.page_link("pages/instances.py", label="All instances", icon=":material/arrow_back:")
    picker, _ = st.columns([2, 3])
    with picker:
        slug = pick_instance()
    if slug is None:
        return
    try:
        instance = session.instance(slug)
    except ka.NotFoundError as error:
        st.error(f"Cannot show this instance: {error}.", icon=":material/error:")
        return
    st.title(instance.name)
    st.caption(f"`{instance.slug}` · {instance.description}" if instance.description
               else f"`{instance.slug}`")
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
            render_flags(kaiten, slug)
    if entitlements.open:
        with entitlements:
            render_entitlements_tab(kaiten, slug)
    if audit.open:
        with audit:
            render_audit_tab(kaiten, slug, tz)


main()
