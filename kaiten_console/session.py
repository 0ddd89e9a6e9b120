"""The console's cached library handle, cached reads, the shared sidebar and the viewer's zone.

UI glue only: every number and list comes from a ``kaiten.*`` call. Reads are cached with
``st.cache_data`` keyed by the database URL and their filters; any write through the console
must call :func:`clear_reads` afterwards so the next run shows it.
"""

from __future__ import annotations

import os
from datetime import date, datetime
from zoneinfo import available_timezones

import pandas as pd
import streamlit as st

import kaiten_analytics as ka
from kaiten_console import access

TIMEZONE_KEY = "timezone"
_ZONE_PICKER_KEY = "timezone_picker"
# Reads may also change behind the console's back (the CLI, a notebook, the API), so a
# cached list is trusted for a short while only; the console's own writes clear it at once.
READ_TTL = "30s"


@st.cache_resource(show_spinner=False, on_release=lambda handle: handle.close())
def _connect(url: str) -> ka.Kaiten:
    return ka.connect(url)


def kaiten() -> ka.Kaiten:
    """Return this session's library handle: the full one for an admin, else ``read_only()``.

    Every console write goes through this handle, so a viewer's write is refused by the
    library (``ReadOnlyError``) even if a page drew a widget it should not have. The role is
    looked up on each call: a role changed meanwhile applies to the very next write.
    """
    handle = _connect(ka.database_url())
    return handle if access.role(handle) == access.ADMIN else handle.read_only()


def role() -> str | None:
    """Return the session's role: ``admin``, ``viewer`` or None; see :mod:`console.access`."""
    return access.role(_connect(ka.database_url()))


def can_write() -> bool:
    """True when this session may change things (an admin, or anyone in open mode)."""
    return role() == access.ADMIN


# --- cached reads --------------------------------------------------------------------------


@st.cache_data(show_spinner=False, ttl=READ_TTL)
def _instances(url: str, customer: str | None) -> pd.DataFrame:
    return _connect(url).instances.list(customer)


@st.cache_data(show_spinner=False, ttl=READ_TTL)
def _instance(url: str, slug: str) -> ka.Instance:
    return _connect(url).instances.get(slug)


@st.cache_data(show_spinner=False, ttl=READ_TTL)
def _customers(url: str) -> pd.DataFrame:
    return _connect(url).customers.list()


@st.cache_data(show_spinner=False, ttl=READ_TTL)
def _customer_summary(url: str, customer: str | None) -> pd.DataFrame:
    return _connect(url).customers.summary(customer)


@st.cache_data(show_spinner=False, ttl=READ_TTL)
def _licenses(url: str) -> pd.DataFrame:
    return _connect(url).licenses.list()


@st.cache_data(show_spinner=False, ttl=READ_TTL)
def _zones(url: str) -> pd.DataFrame:
    return _connect(url).zones.list()


def instances(customer: str | None = None) -> pd.DataFrame:
    """Return ``kaiten.instances.list(customer)`` (cached)."""
    return _instances(ka.database_url(), customer)


def instance(slug: str) -> ka.Instance:
    """Return ``kaiten.instances.get(slug)`` (cached); raises ``NotFoundError`` like it."""
    return _instance(ka.database_url(), slug)


def customers() -> pd.DataFrame:
    """Return ``kaiten.customers.list()`` (cached): slug, name, created_at."""
    return _customers(ka.database_url())


def customer_summary(customer: str | None = None) -> pd.DataFrame:
    """Return ``kaiten.customers.summary(customer)`` (cached): slug, name, created_at,
    instances, licenses; raises ``NotFoundError`` like it."""
    return _customer_summary(ka.database_url(), customer)


def licenses() -> pd.DataFrame:
    """Return ``kaiten.licenses.list()`` (cached): slug, name, description."""
    return _licenses(ka.database_url())


def zones() -> pd.DataFrame:
    """Return ``kaiten.zones.list()`` (cached): slug, name."""
    return _zones(ka.database_url())


def clear_reads() -> None:
    """Forget every cached read; call it after any write.

    This clears all ``st.cache_data`` entries, not only the ones above: a write to an instance
    can change what any page shows (its flags' evaluation, its audit trail), and every
    ``st.cache_data`` function in the console is a read.
    """
    st.cache_data.clear()


def names(frame: pd.DataFrame) -> dict[str, str]:
    """Map slug → name of a catalogue list (customers, licenses, zones)."""
    return dict(zip(frame["slug"], frame["name"], strict=True))


# --- time zone -----------------------------------------------------------------------------


def _default_timezone() -> str:
    """``$KAITEN_TIMEZONE``, else the browser's zone, else UTC."""
    if os.environ.get("KAITEN_TIMEZONE"):
        try:
            return ka.default_timezone()
        except ka.ValidationError:
            pass  # a misspelt setting must not take the console down; fall through
    browser = st.context.timezone
    if browser:
        try:
            ka.time_zone(browser)
            return browser
        except ka.ValidationError:
            pass
    return "UTC"


def timezone() -> str:
    """Return the viewer's IANA time zone (chosen in the sidebar, shared by all pages)."""
    if TIMEZONE_KEY not in st.session_state:
        st.session_state[TIMEZONE_KEY] = _default_timezone()
    return st.session_state[TIMEZONE_KEY]


@st.cache_data(show_spinner=False)
def _zone_names() -> list[str]:
    return sorted(available_timezones() | {"UTC"})


def _follow_zone_picker() -> None:
    st.session_state[TIMEZONE_KEY] = st.session_state[_ZONE_PICKER_KEY]


def render_sidebar() -> None:
    """Draw the sidebar every page shares: the time zone selector and the database."""
    chosen, names = timezone(), _zone_names()
    if chosen not in names:  # a valid zone the tz database lists under another name
        names = [chosen, *names]
    with st.sidebar:
        # the choice lives under its own key, not the widget's: a widget's state is dropped
        # on any run that does not draw it, a plain session value is kept for the session
        st.selectbox(
            "Time zone", names, index=names.index(chosen), key=_ZONE_PICKER_KEY,
            on_change=_follow_zone_picker,
            help="Every timestamp in the console is shown in this zone. Default: "
                 "$KAITEN_TIMEZONE, else your browser's zone, else UTC.",
        )
        st.caption(f"Database: `{kaiten().url}`")
        if st.button("Reload data", icon=":material/refresh:",
                     help="Read everything from the database again"):
            clear_reads()


def local_time(value: datetime | pd.Timestamp | None, tz: str | None = None) -> str:
    """Format an aware timestamp in the viewer's zone, e.g. ``2026-03-10 13:00:00 CET``."""
    if value is None or pd.isna(value):
        return "—"
    moment = pd.Timestamp(value)
    if moment.tzinfo is None:  # the library hands out aware UTC; be explicit if it did not
        moment = moment.tz_localize("UTC")
    return moment.tz_convert(ka.time_zone(tz or timezone())).strftime("%Y-%m-%d %H:%M:%S %Z")


def today(tz: str | None = None) -> date:
    """Return today's date in the viewer's zone, by the library's clock."""
    return kaiten().today(tz or timezone())
