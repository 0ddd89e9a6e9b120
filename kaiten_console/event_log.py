"""The audit event log: filters, one server-side page of events, a pager and a payload dialog.

The Audit Trail tab draws the whole log; the Entitlements tab reuses its table for an
entitlement's latest entries.

UI only: the rows and their number come from ``kaiten.audit.events`` / ``kaiten.audit.count``;
no page ever holds more than one page of events.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import pandas as pd
import streamlit as st

import kaiten_analytics as ka
from kaiten_analytics.charts import CATEGORY_COLOURS
from kaiten_console.refusals import show_read_error

PAGE_SIZE = 50
#: how long a text search's page stands before a live refresh reads it again
SEARCH_TTL = 30
#: the "all" choice of a filter (not None: a selectbox shows a clear button for None)
ALL = ""
#: what the console calls each event (product docs: "How it works")
EVENT_TYPES = {
    ka.VALUE_GET: "Entitlement Read",
    ka.USAGE_ACCEPTED: "Usage Accepted",
    ka.USAGE_REJECTED: "Usage Rejected",
}
# plain symbols, not emoji: they render in every font (a headless Chromium has no emoji font)
STATUS_BADGES = {ka.ACCEPTED: "✓ ACCEPTED", ka.REJECTED: "✗ REJECTED"}
STATUS_COLOURS = {ka.ACCEPTED: CATEGORY_COLOURS["Accepted"],
                  ka.REJECTED: CATEGORY_COLOURS["Rejected"]}
STATUS_LABELS = {ka.ACCEPTED: "Accepted", ka.REJECTED: "Rejected"}
#: session key of the event whose payload dialog is open (a plain dict, see ``open_payload``)
PAYLOAD_KEY = "audit_payload_event"
TABLE_COLUMNS = ["Event ID", "Event type", "Entitlement", "Status", "Time"]


@dataclass(frozen=True)
class LogFilters:
    """The event log's filters, as ``kaiten.audit.events`` / ``count`` take them."""

    entitlement: str | None = None
    event_name: str | None = None
    status: str | None = None
    search: str | None = None
    before: datetime | None = None

    def arguments(self) -> dict[str, Any]:
        """Return the keyword arguments of ``kaiten.audit.events`` and ``kaiten.audit.count``."""
        return asdict(self)


def end_of_local_day(day: date, tz: str) -> datetime:
    """Return the instant the local day after ``day`` starts in ``tz`` (an exclusive bound)."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=ka.time_zone(tz))


def event_table(events: pd.DataFrame, tz: str) -> pd.DataFrame:
    """Shape a page of ``kaiten.audit.events`` for display.

    Event type and Status hold one-item lists: :func:`table_columns` draws them as coloured
    labels (the timeline's category colours; green/red for the status).

    Returns
    -------
    DataFrame
        Event ID, Event type ([readable label]), Entitlement (slug), Status ([ACCEPTED or
        REJECTED]), Time (aware, in ``tz``) — in the order given (newest first).
    """
    return pd.DataFrame({
        "Event ID": events["id"].astype(str),
        "Event type": [[EVENT_TYPES.get(name, name)] for name in events["event_name"]],
        "Entitlement": events["entitlement"].astype(str),
        "Status": [[status] for status in events["status"]],
        "Time": events["created_at"].dt.tz_convert(ka.time_zone(tz)),
    }, columns=TABLE_COLUMNS)


def table_columns(tz: str) -> dict[str, Any]:
    """Return the ``column_config`` of :func:`event_table`'s columns."""
    return {
        "Event ID": st.column_config.TextColumn("Event ID", width="medium"),
        "Event type": st.column_config.MultiselectColumn(
            "Event type", options=list(EVENT_TYPES.values()),
            color=[CATEGORY_COLOURS[ka.EVENT_CATEGORIES[name]] for name in EVENT_TYPES]),
        "Entitlement": st.column_config.TextColumn("Entitlement"),
        "Status": st.column_config.MultiselectColumn(
            "Status", options=list(STATUS_BADGES), color=list(STATUS_COLOURS.values()),
            format_func=lambda status: STATUS_BADGES.get(status, status)),
        "Time": st.column_config.DatetimeColumn(f"Time ({tz})", format="YYYY-MM-DD HH:mm:ss",
                                                timezone=tz),
    }


def count_text(count: int, exact: bool) -> str:
    """Say how many events matched, e.g. ``1,234``, or ``10,000+`` for a capped count."""
    return f"{count:,}" if exact else f"{count:,}+"


def page_count(count: int, exact: bool, page: int, rows_on_page: int,
               size: int = PAGE_SIZE) -> int:
    """Return how many pages to offer (never fewer than the page being shown).

    An exact count gives its pages. A capped count (``kaiten.audit.count`` stops counting a
    search or a time jump at 10,000) offers one more page after every full page, so the user
    can keep going past the cap.
    """
    pages = max(1, math.ceil(count / size), page)
    if not exact and rows_on_page == size:
        pages = max(pages, page + 1)
    return pages


def log_key(name: str, slug: str) -> str:
    """Return the session key of the event log widget ``name`` for instance ``slug``.

    Widgets are keyed per instance, so another instance starts with its own filters.
    """
    return f"audit_log_{name}_{slug}"


def table_key(slug: str, ids: list[str]) -> str:
    """Return the event table's widget key for a page showing the events ``ids``.

    The key names the rows shown: when a live refresh or another page brings other rows,
    the selection starts afresh instead of pointing at whatever now sits in that row.
    """
    digest = hashlib.sha1("\n".join(ids).encode()).hexdigest()[:12]
    return f"{log_key('table', slug)}_{digest}"


def render_event_table(events: pd.DataFrame, tz: str, key: str | None = None,
                       selectable: bool = False) -> list[int]:
    """Draw a page of events; return the selected row positions (if ``selectable``)."""
    options: dict[str, Any] = {}
    if selectable:
        options = {"on_select": "rerun", "selection_mode": "single-row"}
    event = st.dataframe(event_table(events, tz), column_config=table_columns(tz),
                         hide_index=True, width="stretch", key=key, **options)
    return list(event.selection.rows) if selectable else []


# --- the payload dialog --------------------------------------------------------------------


def open_payload(slug: str, event: pd.Series) -> None:
    """Remember ``event`` (a row of ``kaiten.audit.events(slug)``) as the one to show.

    The dialog is opened from this session flag on the next full run rather than from the
    button's own run: a dialog opened by a transient button loses its own buttons
    (streamlit #9786), and the Audit Trail tab pauses its live refresh while it is open.
    """
    st.session_state[PAYLOAD_KEY] = {
        "instance": slug, "id": str(event["id"]), "event_name": str(event["event_name"]),
        "entitlement": str(event["entitlement"]), "status": str(event["status"]),
        "created_at": pd.Timestamp(event["created_at"]), "payload": event["payload"],
    }


def close_payload() -> None:
    """Close the payload dialog."""
    st.session_state.pop(PAYLOAD_KEY, None)


def payload_open() -> dict[str, Any] | None:
    """Return the event whose payload dialog is open, if any."""
    return st.session_state.get(PAYLOAD_KEY)


@st.dialog("Event payload", width="large", on_dismiss=close_payload)
def payload_dialog(event: dict[str, Any], tz: str) -> None:
    """Show one audit event's metadata and its full payload."""
    created = pd.Timestamp(event["created_at"])
    st.table(pd.DataFrame({
        "Field": ["Event ID", "Event type", "Event name", "Entitlement", "Status",
                  f"Time ({tz})", "Time (UTC)"],
        "Value": [event["id"], EVENT_TYPES.get(event["event_name"], event["event_name"]),
                  event["event_name"], event["entitlement"],
                  STATUS_BADGES.get(event["status"], event["status"]),
                  created.tz_convert(ka.time_zone(tz)).strftime("%Y-%m-%d %H:%M:%S %Z"),
                  created.tz_convert("UTC").strftime("%Y-%m-%d %H:%M:%S.%f UTC")],
    }).set_index("Field"))
    st.markdown("**Payload**")
    st.json(event["payload"], expanded=2)
    if st.button("Close", key="payload_close"):
        close_payload()
        st.rerun()


# --- the paged log -------------------------------------------------------------------------


def render_filters(slug: str, entitlement: str | None, tz: str) -> LogFilters:
    """Draw the log's filter bar; return the filters (``entitlement`` comes from the tab)."""
    search_col, type_col, status_col, before_col = st.columns([3, 2, 2, 2])
    search = search_col.text_input(
        "Search", key=log_key("search", slug), persist_state="page",
        placeholder="Event id, event name, entitlement or payload", icon=":material/search:",
    )
    event_name = type_col.selectbox(
        "Event type", [ALL, *EVENT_TYPES], key=log_key("type", slug), persist_state="page",
        format_func=lambda name: EVENT_TYPES.get(name, "All event types"),
    )
    status = status_col.selectbox(
        "Status", [ALL, *STATUS_LABELS], key=log_key("status", slug), persist_state="page",
        format_func=lambda value: STATUS_LABELS.get(value, "All statuses"),
    )
    before = before_col.date_input(
        "Up to (date)", value=None, key=log_key("before", slug), persist_state="page",
        format="YYYY-MM-DD",
        help=f"Jump to the events of this day and earlier ({tz}): the quick way to reach "
             "old events on a busy instance, where paging from the newest is slow.",
    )
    return LogFilters(entitlement=entitlement, event_name=event_name or None,
                      status=status or None,
                      search=(search or "").strip() or None,
                      before=None if before is None else end_of_local_day(before, tz))


def page_key(slug: str, filters: LogFilters) -> str:
    """Return the pagination widget's key for ``filters``.

    The key names the filters, so changing any of them starts a fresh pager on page 1
    (rather than writing to a widget's state, which Streamlit warns about).
    """
    digest = hashlib.sha1(repr(filters).encode()).hexdigest()[:12]
    return f"{log_key('page', slug)}_{digest}"


@dataclass(frozen=True)
class LogPage:
    """One page of the log: its rows, its number and how many events the filters match."""

    rows: pd.DataFrame
    page: int
    count: int
    exact: bool


def _read_page(kaiten: ka.Kaiten, slug: str, filters: LogFilters, page: int) -> LogPage:
    count = kaiten.audit.count(slug, **filters.arguments())
    rows = kaiten.audit.events(slug, **filters.arguments(), limit=PAGE_SIZE,
                               offset=(page - 1) * PAGE_SIZE)
    return LogPage(rows, page, count.count, count.exact)


@st.cache_data(ttl=SEARCH_TTL, max_entries=64, show_spinner="Searching the audit trail…")
def _searched_page(_kaiten: ka.Kaiten, url: str, slug: str, filters: LogFilters,
                   page: int) -> LogPage:
    return _read_page(_kaiten, slug, filters, page)


def fetch_page(kaiten: ka.Kaiten, slug: str, filters: LogFilters, page: int) -> LogPage:
    """Read page ``page`` (1-based) of the events matching ``filters`` and their count.

    A text search scans the instance's events (seconds on a million of them), so its page is
    kept for :data:`SEARCH_TTL` rather than read again on every live refresh; everything else
    is read afresh each time (it is served by indexes and rollups).
    """
    if filters.search is None:
        return _read_page(kaiten, slug, filters, page)
    return _searched_page(kaiten, kaiten.url, slug, filters, page)


def render_event_log(kaiten: ka.Kaiten, slug: str, entitlement: str | None, tz: str) -> None:
    """Draw the Audit Trail tab's event log: filters, one page of events, paging, payload."""
    filters = render_filters(slug, entitlement, tz)
    pager = page_key(slug, filters)
    page = st.session_state.get(pager, 1)
    try:
        shown = fetch_page(kaiten, slug, filters, page)
    except ka.KaitenError as error:
        show_read_error(st, "read the event log", error)
        return
    rows = shown.rows
    if rows.empty and page == 1:
        st.info("No events match these filters.", icon=":material/filter_alt_off:")
        return
    selected: list[int] = []
    if rows.empty:  # past a capped count's end: the page before was the last full one
        st.info("No more events: the previous page was the last.", icon=":material/last_page:")
    else:
        first = (page - 1) * PAGE_SIZE + 1
        searching = (f" Search results are read again every {SEARCH_TTL} s."
                     if filters.search else "")
        st.caption(f"Events {first:,}–{first + len(rows) - 1:,} of "
                   f"{count_text(shown.count, shown.exact)}, newest first.{searching} Select a "
                   "row, then **View payload**.")
        selected = render_event_table(rows, tz, key=table_key(slug, list(rows["id"])),
                                      selectable=True)
    actions = st.container(horizontal=True, vertical_alignment="center")
    view = actions.button("View payload", icon=":material/visibility:", disabled=not selected,
                          key=log_key("view", slug))
    actions.pagination(page_count(shown.count, shown.exact, page, len(rows)), key=pager)
    if view and selected:
        open_payload(slug, rows.iloc[selected[0]])
        st.rerun()  # a full run: it opens the dialog and pauses the live refresh
