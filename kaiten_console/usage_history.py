"""A NUMBER entitlement's value over time, as drawn on the Audit Trail and Entitlements tabs.

UI only: the series comes from ``kaiten.audit.value_over_time`` (downsampled to at most
:data:`MAX_POINTS` points, so its cost follows the time span, not the number of reports) and
the chart from ``charts.value_over_time_chart``.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

import kaiten_analytics as ka
from kaiten_analytics import charts

MAX_POINTS = 2000


def number_entitlements(summary: pd.DataFrame) -> dict[str, str]:
    """Map slug → name of the NUMBER entitlements in ``kaiten.usage.summary(...)``."""
    numbers = summary[summary["type"] == "NUMBER"]
    return dict(zip(numbers["entitlement"], numbers["name"], strict=True))


def unit_of(summary: pd.DataFrame, entitlement: str) -> str | None:
    """Return the unit of ``entitlement`` in ``kaiten.usage.summary(...)``, if it has one."""
    units = summary.loc[summary["entitlement"] == entitlement, "unit"]
    return None if units.empty or pd.isna(units.iloc[0]) else str(units.iloc[0])


def render_usage_history(kaiten: ka.Kaiten, slug: str, entitlement: str, name: str,
                         unit: str | None, tz: str) -> None:
    """Draw ``entitlement``'s aggregate after each accepted report, with its threshold."""
    series = kaiten.audit.value_over_time(slug, entitlement, max_points=MAX_POINTS)
    if series.empty:
        st.caption(f"No accepted usage reports of **{name}** (`{entitlement}`) yet.")
        return
    chart = charts.value_over_time_chart(series, tz=tz, unit=unit, title=f"{name} over time")
    st.altair_chart(chart, width="stretch")
    st.caption("The line is the aggregate after each accepted report; the dashed red line is "
               "the threshold and a diamond marks the report that reached it.")
