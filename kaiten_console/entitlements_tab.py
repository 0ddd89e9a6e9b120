"""The instance page's Entitlements tab: usage against thresholds, history, recent events.

UI only: the rows come from ``kaiten.usage.summary``, the history from
``kaiten.audit.value_over_time`` and the latest entries from ``kaiten.audit.events``.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

import pandas as pd
import streamlit as st

import kaiten_analytics as ka
from kaiten_analytics import charts
from kaiten_console import session
from kaiten_console.event_log import render_event_table
from kaiten_console.refusals import show_read_error
from kaiten_console.usage_history import number_entitlements, render_usage_history

LATEST_ENTRIES = 10
USAGE_COLUMNS = {
    "Entitlement": st.column_config.TextColumn("Entitlement"),
    "Slug": st.column_config.TextColumn("Slug"),
    "Type": st.column_config.TextColumn("Type", help="NUMBER entitlements show their "
                                                     "aggregation method"),
    "Usage": st.column_config.TextColumn("Usage", help="The current aggregate of the "
                                                       "accepted reports"),
    "Limit": st.column_config.TextColumn("Limit / grant",
                                         help="The threshold of a NUMBER entitlement, or the "
                                              "value a BOOLEAN/STRING entitlement grants"),
    "Used": st.column_config.ProgressColumn("% used", min_value=0, max_value=100,
                                            format="%.1f%%", help="Share of the limit used"),
    "Status": st.column_config.TextColumn("Status"),
    "Reports": st.column_config.NumberColumn("Reports", format="localized",
                                             help="Accepted usage reports"),
}


def number_text(value: float, unit: str | None = None) -> str:
    """Format a usage number: thousands separators, at most two decimals, then the unit."""
    text = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}".rstrip("0")
    return f"{text} {unit}" if unit else text


def _unit(row: pd.Series) -> str | None:
    return None if pd.isna(row["unit"]) else str(row["unit"])


def type_text(row: pd.Series) -> str:
    """Say an entitlement's type, with the aggregation method of a NUMBER."""
    method = row["aggregation_method"]
    return row["type"] if pd.isna(method) else f"{row['type']} · {method}"


def limit_text(row: pd.Series) -> str:
    """Say what the license grants: a NUMBER's threshold or "no limit", else the value."""
    granted = row["granted"]
    if row["type"] == "NUMBER":
        return "no limit" if granted is None or pd.isna(granted) else number_text(
            float(granted), _unit(row))
    if row["type"] == "BOOLEAN":
        return "✓ included" if granted is True else "✗ not included"
    return "—" if granted is None else str(granted)


def usage_text(row: pd.Series) -> str:
    """Say the current aggregate of a NUMBER entitlement ("no reports yet" before any)."""
    if row["type"] != "NUMBER":
        return "—"
    return "no reports yet" if pd.isna(row["usage"]) else number_text(row["usage"], _unit(row))


def status_text(row: pd.Series) -> str:
    """Say a row's status: the summary's band of a NUMBER, else granted or not granted."""
    if row["type"] != "NUMBER":
        return "granted" if row["granted"] not in (False, None) else "not granted"
    return row["status"]


def usage_table(summary: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Shape ``kaiten.usage.summary(...)`` for display, one row per entitlement.

    Returns
    -------
    DataFrame
        Entitlement (name), Slug, Type (with the aggregation method of a NUMBER, e.g.
        ``NUMBER · SUM``), Usage (text with unit), Limit (text:
        threshold, "no limit", or the granted value), Used (percent of the threshold, 0–100,
        NaN without a limit), Status, Reports (accepted reports), Last report (aware, in
        ``tz``).
    """
    rows = [row for _, row in summary.iterrows()]
    return pd.DataFrame({
        "Entitlement": summary["name"].astype(str),
        "Slug": summary["entitlement"].astype(str),
        "Type": [type_text(row) for row in rows],
        "Usage": [usage_text(row) for row in rows],
        "Limit": [limit_text(row) for row in rows],
        "Used": summary["percent_used"].astype(float),
        "Status": [status_text(row) for row in rows],
        "Reports": summary["event_count"].astype(int),
        "Last report": summary["updated_at"].dt.tz_convert(ka.time_zone(tz)),
    }, columns=[*USAGE_COLUMNS, "Last report"])


def usage_columns(tz: str) -> dict[str, Any]:
    """Return the ``column_config`` of :func:`usage_table`'s columns."""
    return {**USAGE_COLUMNS, "Last report": st.column_config.DatetimeColumn(
        "Last report", format="YYYY-MM-DD HH:mm", timezone=tz,
        help=f"When the last accepted report arrived ({tz})")}


def summary_caption(summary: pd.DataFrame) -> str:
    """Say how many entitlements the license has, how many are metered and how many are full."""
    metered = summary[summary["type"] == "NUMBER"]
    full = int((metered["status"] == "at limit").sum())
    nearing = int((metered["status"] == "nearing").sum())
    count = len(summary)
    return (f"{count} entitlement{'s' if count != 1 else ''} in this license · {len(metered)} "
            f"metered · {full} at limit · {nearing} nearing it (≥ {ka.NEARING_PERCENT:.0f}%)")


def render_consumption(summary: pd.DataFrame) -> None:
    """Draw the consumption bars of the entitlements that have a limit and usage."""
    limited = summary["percent_used"].notna()
    if not limited.any():
        st.caption("No entitlement with a limit has usage yet, so there is nothing to "
                   "compare against a threshold.")
        return
    st.altair_chart(charts.consumption_chart(summary, title="Share of each limit used"),
                    width="stretch")
    if (summary["type"].eq("NUMBER") & ~limited).any():
        st.caption("Entitlements without a limit, or without reports yet, are not drawn.")


def pick_entitlement(slug: str, summary: pd.DataFrame) -> str:
    """Draw the entitlement picker (NUMBER entitlements first chosen); return the slug."""
    names = dict(zip(summary["entitlement"], summary["name"], strict=True))
    options = list(names)
    first_number = next(iter(number_entitlements(summary)), options[0])
    return st.selectbox(
        "Entitlement", options, index=options.index(first_number),
        key=f"entitlements_pick_{slug}", persist_state="page",
        format_func=lambda slug_: f"{names[slug_]} ({slug_})",
    )


def render_history(kaiten: ka.Kaiten, slug: str, row: pd.Series, tz: str) -> None:
    """Draw the usage history of the entitlement in ``row`` (a row of the summary)."""
    if row["type"] == "NUMBER":
        render_usage_history(kaiten, slug, row["entitlement"], row["name"], _unit(row), tz)
    else:
        st.caption(f"**{row['name']}** is a {row['type']} entitlement granting "
                   f"{limit_text(row)}; it has no usage history — its reads are listed below.")


def render_latest_entries(kaiten: ka.Kaiten, slug: str, row: pd.Series, tz: str) -> None:
    """Draw the newest audit entries of the entitlement in ``row``."""
    st.subheader(f"Latest audit entries — {row['name']}")
    latest = kaiten.audit.events(slug, entitlement=row["entitlement"], limit=LATEST_ENTRIES)
    if latest.empty:
        st.caption("No audit entries for this entitlement yet.")
        return
    render_event_table(latest, tz, key=f"entitlements_latest_{slug}")
    st.caption(f"The {len(latest)} newest; the Audit Trail tab has them all, with payloads.")


def end_of_day(day: date, tz: str) -> datetime:
    """The last instant of the local ``day`` in ``tz`` (aware): a report at it still counts."""
    next_midnight = datetime.combine(day + timedelta(days=1), time.min, tzinfo=ka.time_zone(tz))
    return next_midnight - timedelta(microseconds=1)


def summary_as_of(kaiten: ka.Kaiten, slug: str, summary: pd.DataFrame, when: datetime
                  ) -> pd.DataFrame:
    """Return ``summary`` with each NUMBER row's usage as it stood at ``when``.

    usage, event_count, percent_used and status come from ``kaiten.usage.at`` (its period's
    usage under a policy with a period) and the library's percent and status rules;
    updated_at is blanked (it is the current report's). Same columns as the summary.
    """
    past = summary.copy()
    usages, counts = [], []
    for _, row in past.iterrows():
        stood = (kaiten.usage.at(slug, row["entitlement"], when)
                 if row["type"] == "NUMBER" else None)
        usages.append(float("nan") if stood is None else float(stood["value"]))
        counts.append(0 if stood is None else int(stood["event_count"]))
    past["usage"] = pd.Series(usages, index=past.index, dtype="float64")
    past["event_count"] = counts
    past["percent_used"] = ka.percent_used(past["usage"], past["granted"].where(
        past["type"] == "NUMBER"))
    past["status"] = ka.limit_status(past["usage"], past["granted"].where(
        past["type"] == "NUMBER"))
    past["updated_at"] = pd.Series(pd.NaT, index=past.index, dtype=summary["updated_at"].dtype)
    return past


def pick_as_of(kaiten: ka.Kaiten, slug: str, tz: str) -> date | None:
    """Draw the "as of" date picker; return the chosen past day, or None for now."""
    today = kaiten.today(tz)
    chosen = st.date_input(
        "As of", value=None, max_value=today, key=f"entitlements_as_of_{slug}",
        format="YYYY-MM-DD",
        help=f"Show the usage as it stood at the end of a past day ({tz}); empty = now.")
    return None if chosen is None or chosen >= today else chosen


def render_entitlements_tab(kaiten: ka.Kaiten, slug: str) -> None:
    """Draw the Entitlements tab of instance ``slug``."""
    tz = session.timezone()
    try:
        summary = kaiten.usage.summary(slug)
    except ka.KaitenError as error:
        show_read_error(st, "read the entitlement usage", error)
        return
    if summary.empty:
        st.info("This instance's license grants no entitlements.", icon=":material/info:")
        return
    picker, _ = st.columns([1, 3])
    with picker:
        as_of = pick_as_of(kaiten, slug, tz)
    if as_of is not None:
        when = end_of_day(as_of, tz)
        summary = summary_as_of(kaiten, slug, summary, when)
        st.caption(f"As it stood at the end of {as_of.isoformat()} ({tz}) — the usage of "
                   "each limit's period then, against today's license.")
    st.caption(summary_caption(summary))
    st.dataframe(usage_table(summary, tz), column_config=usage_columns(tz), hide_index=True,
                 width="stretch", key=f"entitlements_table_{slug}")
    chart_col, history_col = st.columns(2, gap="medium")
    with chart_col:
        st.subheader("Consumption")
        render_consumption(summary)
    with history_col:
        st.subheader("Usage history")
        chosen = pick_entitlement(slug, summary)
        row = summary[summary["entitlement"] == chosen].iloc[0]
        render_history(kaiten, slug, row, tz)
    render_latest_entries(kaiten, slug, row, tz)
