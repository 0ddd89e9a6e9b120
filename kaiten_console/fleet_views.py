"""The Fleet page's reads and tables: ``kaiten.fleet`` views cached by their filters.

UI glue only: every row comes from one ``kaiten.fleet.*`` call. Reads are cached for a short
while (``session.READ_TTL``) keyed by the database URL, the filters and the view's option;
the console's writes clear them (``session.clear_reads``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import pandas as pd
import streamlit as st

import kaiten_analytics as ka
from kaiten_console import session

INSTANCE_LINK = r"instance\?instance=(.*)"  # LinkColumn shows the captured slug


@dataclass(frozen=True)
class FleetFilters:
    """The page's filters, as slugs; None means all."""

    customer: str | None = None
    license: str | None = None
    zone: str | None = None

    def suffix(self) -> str:
        """Return the chosen slugs joined for a file name, e.g. ``-acme-pro``."""
        zone = "no-zone" if self.zone == ka.NO_ZONE else self.zone
        return "".join(f"-{slug}" for slug in (self.customer, self.license, zone) if slug)


@st.cache_data(show_spinner=False, ttl=session.READ_TTL, max_entries=200)
def _view(url: str, view: str, customer: str | None, license: str | None, zone: str | None,
          options: tuple[tuple[str, Any], ...]) -> pd.DataFrame:
    # ``url`` keys the cache per database; the handle is the session's (same URL)
    read = getattr(session.kaiten().fleet, view)
    return read(**dict(options), customer=customer, license=license, zone=zone)


def fleet_view(view: str, filters: FleetFilters, **options: Any) -> pd.DataFrame:
    """Return ``kaiten.fleet.<view>(**options, customer=…, license=…, zone=…)`` (cached).

    ``view`` is one of consumption, nearing_limits, blocked_demand, silent_metering,
    burn_down, forecast, utilisation_bands; the columns are that view's (see
    ``help(kaiten.fleet.<view>)``).
    """
    return _view(ka.database_url(), view, filters.customer, filters.license, filters.zone,
                 tuple(sorted(options.items())))


def instance_link(slug: str) -> str:
    """Return the relative URL of an instance's detail page: ``instance?instance=<slug>``.

    Relative, so it also works when the console is served under a base path.
    """
    return f"instance?instance={quote(slug)}"


def percent_column(label: str, help: str | None = None) -> Any:
    """A 0–100 percentage drawn as a bar with its value, e.g. ``87%``."""
    return st.column_config.ProgressColumn(label, help=help, format="%.0f%%", min_value=0,
                                           max_value=100)


def number_column(label: str, fmt: str = "localized", help: str | None = None) -> Any:
    """A number column with a printf-style or named format."""
    return st.column_config.NumberColumn(label, format=fmt, help=help)


def text_column(label: str, help: str | None = None) -> Any:
    """A plain text column."""
    return st.column_config.TextColumn(label, help=help)


#: shared column labels and formats; each table picks the ones it shows, in order
COLUMNS: dict[str, Any] = {
    "instance": st.column_config.LinkColumn("Instance", display_text=INSTANCE_LINK,
                                            help="Opens the instance's detail page"),
    "customer": text_column("Customer"),
    "license": text_column("License"),
    "deployment_zone": text_column("Zone"),
    "entitlement": text_column("Entitlement"),
    "aggregation_method": text_column("Method"),
    "unit": text_column("Unit"),
    "usage": number_column("Usage"),
    "threshold": number_column("Threshold", help="Empty: no limit"),
    "percent_used": percent_column("Used", "Usage as a share of the threshold"),
    "status": text_column("Status"),
    "event_count": number_column("Reports", help="Accepted usage reports"),
    "updated_at": st.column_config.DatetimeColumn("Last report", format="YYYY-MM-DD HH:mm"),
    "rejected": number_column("Rejected"),
    "accepted": number_column("Accepted"),
    "rejection_rate": percent_column("Rejected share",
                                     "Rejected reports / all reports in the window"),
    "last_rejected_day": st.column_config.DateColumn("Last rejection (UTC)"),
    "reads": number_column("Reads", help="Entitlement reads, all time"),
    "reports": number_column("Reports", help="Usage reports, all time"),
    "last_read_day": st.column_config.DateColumn("Last read (UTC)"),
    "last_report_day": st.column_config.DateColumn("Last report (UTC)"),
    "days_silent": number_column("Days silent", "%.0f"),
    "license_start": st.column_config.DateColumn("License start"),
    "license_end": st.column_config.DateColumn("License end"),
    "percent_term_elapsed": percent_column("Term elapsed"),
    "burn_ratio": number_column("Burn ratio", "%.2f×",
                                "Share of limit used ÷ share of term elapsed"),
    "projected_percent_at_end": number_column(
        "Projected at term end", "%.0f%%", "SUM and COUNT only: the share of the limit "
                                           "reached at the end of the term at this pace"),
    "pace": text_column("Pace"),
    "forecast_date": st.column_config.DateColumn("Reaches limit on"),
    "days_to_limit": number_column("Days to limit", "%.0f"),
    "reason": text_column("Forecast status"),
    "slope_per_day": number_column("Trend per day", "%.2f"),
    "days_of_data": number_column("Days of data"),
}


def display_frame(frame: pd.DataFrame, columns: list[str], tz: str) -> pd.DataFrame:
    """Shape a fleet view for ``st.dataframe``: the columns shown, links, local times.

    Only the display changes: the CSV download is the view itself.
    """
    shown = frame[columns].copy()
    if "instance" in shown:
        shown["instance"] = shown["instance"].map(instance_link)
    if "deployment_zone" in shown:
        shown["deployment_zone"] = shown["deployment_zone"].fillna("—")
    if "rejection_rate" in shown:  # 0–1 in the view; shown like the other percentages
        shown["rejection_rate"] = shown["rejection_rate"] * 100.0
    if "updated_at" in shown:
        shown["updated_at"] = shown["updated_at"].dt.tz_convert(tz).dt.tz_localize(None)
    return shown


def render_table(frame: pd.DataFrame, columns: list[str], *, name: str,
                 filters: FleetFilters, tz: str, empty: str) -> None:
    """Draw one fleet view as a table with a CSV download of the whole view, or ``empty``."""
    if frame.empty:
        st.info(empty, icon=":material/check_circle:")
        return
    config = {column: COLUMNS[column] for column in columns}
    if "updated_at" in config:
        config["updated_at"] = st.column_config.DatetimeColumn(
            f"Last report ({tz})", format="YYYY-MM-DD HH:mm")
    st.dataframe(display_frame(frame, columns, tz), column_config=config, hide_index=True,
                 width="stretch", key=f"fleet_table_{name}")
    count, download = st.columns([4, 1], vertical_alignment="center")
    count.caption(f"{len(frame):,} row{'s' if len(frame) != 1 else ''}")
    download.download_button(
        "Download CSV", frame.to_csv(index=False), file_name=f"kaiten-{name}"
        f"{filters.suffix()}.csv", mime="text/csv", icon=":material/download:",
        key=f"fleet_download_{name}", on_click="ignore", width="stretch",
    )
