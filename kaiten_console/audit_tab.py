"""The instance page's Audit Trail tab: stats cards, activity timeline, value over time, log.

Everything below the tab's controls sits in one fragment that reruns every few seconds while
**Live** is on, so a new usage report shows up without a click. Reads are not cached: each
refresh asks the library again. They stay cheap on an instance with millions of events: the
cards, the timeline, the value series and the log's count come from rollups, and the log
reads one indexed page (deep pages cost more, hence the log's jump-to-a-date filter). The
exception is a text search, which scans the events: its page is kept for 30 seconds.

UI only: every number comes from a ``kaiten.usage`` / ``kaiten.audit`` call and every chart
from ``kaiten_analytics.charts``.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

import kaiten_analytics as ka
from kaiten_analytics import charts
from kaiten_console.event_log import (
    ALL,
    EVENT_TYPES,
    payload_dialog,
    payload_open,
    render_event_log,
)
from kaiten_console.refusals import show_read_error
from kaiten_console.usage_history import number_entitlements, render_usage_history, unit_of

LIVE_SECONDS = 5
DAYS = (7, 30, 90)
DEFAULT_DAYS = 30
STATS_LABELS = ("Total Events", "Accepted", "Rejected", "Today")
HOW_IT_WORKS = (
    (ka.VALUE_GET, "blue", "A client asked for an entitlement's value (`get_value`). Reads "
                           "are always accepted; they show which features a customer checks."),
    (ka.USAGE_ACCEPTED, "green", "A usage report was recorded: the new aggregate stays "
                                 "within the threshold, so the stored usage moved."),
    (ka.USAGE_REJECTED, "red", "A usage report was refused because the new aggregate would "
                               "exceed the threshold; the stored usage is unchanged."),
)


def tab_key(name: str, slug: str) -> str:
    """Return the session key of the tab's control ``name`` for instance ``slug``."""
    return f"audit_{name}_{slug}"


def share(part: int, whole: int) -> str:
    """Say what share of the usage reports ``part`` is, e.g. ``93.1% of reports``."""
    return f"{part / whole:.1%} of reports" if whole else "no usage reports"


def render_stats_cards(stats: ka.AuditStats, tz: str) -> None:
    """Draw the four stats cards: Total Events, Accepted, Rejected, Today."""
    reports = stats.accepted + stats.rejected
    # each card carries a grey chip, as on the Overview tab, so the four are the same height
    chip = {"delta_color": "off", "delta_arrow": "off", "border": True}
    total, accepted, rejected, today = st.columns(4)
    total.metric(STATS_LABELS[0], f"{stats.total:,}", "reads and usage reports", **chip)
    accepted.metric(STATS_LABELS[1], f"{stats.accepted:,}", share(stats.accepted, reports),
                    help="Usage reports accepted (within quota)", **chip)
    rejected.metric(STATS_LABELS[2], f"{stats.rejected:,}", share(stats.rejected, reports),
                    help="Usage reports rejected (quota exceeded)", **chip)
    today.metric(STATS_LABELS[3], f"{stats.today:,}", f"since midnight, {tz}", **chip)


def render_timeline(kaiten: ka.Kaiten, slug: str, entitlement: str | None, tz: str,
                    days: int) -> None:
    """Draw the activity timeline: events per local day, stacked by category."""
    timeline = kaiten.audit.timeline(slug, entitlement, tz, days)
    title = f"Activity, last {days} days" + (f" · {entitlement}" if entitlement else "")
    st.altair_chart(charts.activity_timeline_chart(timeline, title=title), width="stretch")
    st.caption("Click a category in the legend to show only that series (shift-click to add "
               "another); double-click the chart to show all of them again.")


def render_value_section(kaiten: ka.Kaiten, slug: str, entitlement: str | None,
                         summary: pd.DataFrame, tz: str) -> None:
    """Draw value over time for a NUMBER entitlement; nothing but a note for other types."""
    numbers = number_entitlements(summary)
    if entitlement is not None and entitlement not in numbers:
        kind = summary.loc[summary["entitlement"] == entitlement, "type"].iloc[0]
        st.caption(f"Value over time is drawn for NUMBER entitlements; `{entitlement}` is "
                   f"{kind}, so it has reads but no usage values.")
        return
    if not numbers:
        st.caption("This license has no NUMBER entitlements, so there is no value over time.")
        return
    chosen = entitlement
    if chosen is None:
        chosen = st.selectbox("Value over time of", list(numbers), key=tab_key("value", slug),
                              persist_state="page",
                              format_func=lambda slug_: f"{numbers[slug_]} ({slug_})")
    render_usage_history(kaiten, slug, chosen, numbers[chosen], unit_of(summary, chosen), tz)


def render_live_panel(kaiten: ka.Kaiten, slug: str, tz: str, entitlement: str | None,
                      days: int, summary: pd.DataFrame) -> None:
    """Draw what the live refresh redraws: the cards, the two charts and the event log."""
    try:
        stats = kaiten.audit.stats(slug, entitlement, tz)
    except ka.KaitenError as error:
        show_read_error(st, "read the audit trail", error)
        return
    render_stats_cards(stats, tz)
    timeline_col, value_col = st.columns([3, 2], gap="medium")
    with timeline_col:
        render_timeline(kaiten, slug, entitlement, tz, days)
    with value_col:
        render_value_section(kaiten, slug, entitlement, summary, tz)
    st.subheader("Event log")
    render_event_log(kaiten, slug, entitlement, tz)
    st.caption(f"Read at {datetime.now(ka.time_zone(tz)):%H:%M:%S %Z}.")


def render_how_it_works() -> None:
    """Draw the card explaining the three event types."""
    with st.container(border=True):
        st.markdown("**How it works**")
        for column, (name, colour, text) in zip(st.columns(3), HOW_IT_WORKS, strict=True):
            with column:
                st.markdown(f":{colour}[**{EVENT_TYPES[name]}**]")
                st.caption(name)
                st.markdown(text)


def render_controls(slug: str, summary: pd.DataFrame) -> tuple[str | None, int, bool]:
    """Draw the tab's controls; return (entitlement or None for all, days, live)."""
    names = dict(zip(summary["entitlement"], summary["name"], strict=True))
    entitlement_col, days_col, live_col = st.columns([3, 2, 2], vertical_alignment="bottom")
    entitlement = entitlement_col.selectbox(
        "Entitlement", [ALL, *names], key=tab_key("entitlement", slug), persist_state="page",
        format_func=lambda slug_: f"{names[slug_]} ({slug_})" if slug_ else "All entitlements",
        help="Filters the cards, the charts and the event log.",
    )
    days = days_col.segmented_control(
        "Timeline", DAYS, default=DEFAULT_DAYS, required=True, key=tab_key("days", slug),
        persist_state="page", format_func=lambda count: f"{count} days",
    )
    live = live_col.toggle(
        "Live", value=True, key=tab_key("live", slug), persist_state="page",
        help=f"Refresh the cards, charts and log every {LIVE_SECONDS} seconds. Turn off to "
             "pause.",
    )
    return entitlement or None, days or DEFAULT_DAYS, live


def render_audit_tab(kaiten: ka.Kaiten, slug: str, tz: str) -> None:
    """Draw the Audit Trail tab of instance ``slug``, timestamps in the zone ``tz``."""
    try:
        summary = kaiten.usage.summary(slug)
    except ka.KaitenError as error:
        show_read_error(st, "read the audit trail", error)
        return
    entitlement, days, live = render_controls(slug, summary)
    event = payload_open()
    if event is not None and event.get("instance") != slug:
        event = None  # opened on another instance's page
    # paused while a payload is open, so the dialog is not redrawn under the reader
    refresh = LIVE_SECONDS if live and event is None else None
    panel = st.fragment(render_live_panel, run_every=refresh)
    panel(kaiten, slug, tz, entitlement, days, summary)
    render_how_it_works()
    if event is not None:
        payload_dialog(event, tz)
