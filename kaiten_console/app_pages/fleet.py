"""Fleet: every instance × metered entitlement at once, for product managers.

Who is near or at a limit, whose demand the license blocks, which metering went quiet, who
burns through the allowance faster than the term, and when each limit will be reached. UI
only: every table is one ``kaiten.fleet`` view (cached in ``console.fleet_views``).
"""

from __future__ import annotations

from functools import partial

import altair as alt
import pandas as pd
import streamlit as st

import kaiten_analytics as ka
from kaiten_analytics import charts
from kaiten_console import session
from kaiten_console.fleet_views import FleetFilters, fleet_view, render_table
from kaiten_console.refusals import show_read_error

VIEW_KEY = "view"  # the open tab, also the URL's ?view=
TOP_CONSUMERS = 20
EMPTY = "No instances yet — create one on the Instances page, or run `kaiten demo`."
NO_MATCH = "No metered instance matches these filters — set one of them back to All."


def _days(days: int) -> str:
    return f"{days} day{'s' if days != 1 else ''}"


def render_filters() -> FleetFilters:
    """Draw the customer, license and zone filters ("All" = no filter); return them."""
    columns = st.columns(3)
    choices = []
    for column, label, frame, key in zip(
            columns, ("Customer", "License", "Zone"),
            (session.customers(), session.licenses(), session.zones()),
            ("fleet_customer", "fleet_license", "fleet_zone"), strict=True):
        names = session.names(frame)
        if label == "Zone":
            names[ka.NO_ZONE] = "No deployment zone"
        everything = f"All {label.lower()}s"
        choices.append(column.selectbox(
            label, [None, *names], key=key, persist_state="session",
            format_func=lambda slug, names=names, everything=everything:
                everything if slug is None else names[slug] if slug == ka.NO_ZONE
                else f"{names[slug]} ({slug})",
        ))
    return FleetFilters(*choices)


def window(label: str, options: list[int], default: int, key: str) -> int:
    """Draw a row of day windows (one always chosen); return the number of days."""
    return st.segmented_control(label, options, default=default, required=True, key=key,
                                format_func=_days, persist_state="session")


def render_overview(filters: FleetFilters, consumption: pd.DataFrame, tz: str) -> None:
    """Draw the headline numbers, the utilisation heatmap, the fullest pairs and the table."""
    status = consumption["status"].value_counts()
    instances, pairs, nearing, at_limit = st.columns(4)
    instances.metric("Instances", f"{consumption['instance'].nunique():,}", border=True)
    pairs.metric("Metered entitlements", f"{len(consumption):,}", border=True,
                 help="Instance × NUMBER entitlement pairs")
    nearing.metric("Nearing a limit", f"{int(status.get('nearing', 0)):,}", border=True,
                   help=f"At {ka.NEARING_PERCENT:.0f} % of the threshold or more, not yet at "
                        "it")
    reached = int(consumption["status"].isin(ka.REACHED_STATUSES).sum())
    at_limit.metric("At the limit", f"{reached:,}", border=True,
                    help="At the threshold, or past it in a policy's overage allowance")

    heatmap, fullest = st.columns(2)
    with heatmap:
        bands = fleet_view("utilisation_bands", filters)
        if bands.empty:
            st.info("No instance has used an entitlement with a limit yet.",
                    icon=":material/grid_off:")
        else:
            # cells big enough for their counts; the legend below leaves room for them
            chart = (charts.utilisation_heatmap(bands)
                     .properties(width=alt.Step(64), height=alt.Step(44))
                     .configure_axisX(labelAngle=0)
                     .configure_legend(orient="bottom"))
            st.altair_chart(chart, width="stretch")
            st.caption("How many instance × entitlement pairs of each license sit in each "
                       "band of their threshold.")
    with fullest:
        top = (consumption[consumption["percent_used"].notna()]
               .sort_values("percent_used", ascending=False, kind="stable")
               .head(TOP_CONSUMERS))
        if not top.empty:
            chart = charts.consumption_chart(top, title=f"The {len(top)} fullest")
            chart = (chart.properties(width="container", height=alt.Step(22))
                     .configure_axisY(labelLimit=260))
            st.altair_chart(chart, width="stretch")

    st.subheader("Consumption")
    render_table(consumption, ["instance", "customer", "license", "deployment_zone",
                               "entitlement", "aggregation_method", "usage", "threshold", "unit",
                               "percent_used", "status", "event_count", "updated_at"],
                 name="consumption", filters=filters, tz=tz, empty=NO_MATCH)


def render_nearing(filters: FleetFilters, tz: str) -> None:
    """Draw the pairs at or above a chosen share of their limit, fullest first."""
    percent = st.slider("At or above", 50, 100, int(ka.NEARING_PERCENT), step=5, format="%d%%",
                        key="fleet_nearing_percent", persist_state="session",
                        help="Share of the threshold used")
    frame = fleet_view("nearing_limits", filters, percent=float(percent))
    render_table(frame, ["instance", "customer", "license", "deployment_zone", "entitlement",
                         "usage", "threshold", "unit", "percent_used", "status", "updated_at"],
                 name="nearing-limits", filters=filters, tz=tz,
                 empty=f"No instance is at or above {percent}% of a limit.")


def render_blocked(filters: FleetFilters, tz: str) -> None:
    """Draw the rejected reports per pair over a chosen window: demand the license blocked."""
    days = window("Window", [7, 30, 90], 30, "fleet_blocked_days")
    st.caption("Usage reports rejected because they would pass the threshold (or fell "
               "outside the license term): demand the license blocked, the clearest upsell "
               "signal. Days are UTC.")
    frame = fleet_view("blocked_demand", filters, days=days)
    render_table(frame, ["instance", "customer", "license", "deployment_zone", "entitlement",
                         "rejected", "accepted", "rejection_rate", "usage", "threshold",
                         "last_rejected_day"],
                 name="blocked-demand", filters=filters, tz=tz,
                 empty=f"No usage report was rejected in the last {_days(days)}.")


def render_silent(filters: FleetFilters, tz: str) -> None:
    """Draw the entitlements read but never reported, or not reported for a while."""
    days = window("Silent for at least", [1, 3, 7, 14, 30], 7, "fleet_silent_days")
    st.caption("Entitlements an instance reads but has never reported, or has not reported "
               f"for {_days(days)} or more: its metering may be broken or switched off.")
    frame = fleet_view("silent_metering", filters, days=days)
    render_table(frame, ["instance", "customer", "license", "deployment_zone", "entitlement",
                         "status", "days_silent", "last_report_day", "last_read_day",
                         "reports", "reads"],
                 name="silent-metering", filters=filters, tz=tz,
                 empty=f"Every entitlement that is read is reported, and none has been silent "
                       f"for {_days(days)}.")


def render_burn_down(filters: FleetFilters, tz: str) -> None:
    """Draw the share of each limit used against the share of the license term elapsed."""
    st.caption("Share of each limit used against the share of the license term elapsed. A "
               "burn ratio above 1.1 (**ahead**) means the allowance runs out before the term "
               "does. Needs a threshold and both license dates.")
    frame = fleet_view("burn_down", filters)
    render_table(frame, ["instance", "customer", "license", "entitlement",
                         "aggregation_method", "percent_used", "percent_term_elapsed",
                         "burn_ratio", "pace", "projected_percent_at_end", "usage",
                         "threshold", "license_start", "license_end"],
                 name="burn-down", filters=filters, tz=tz,
                 empty="No instance here has a limited entitlement and a license with both "
                       "a start and an end date.")


def render_forecast(filters: FleetFilters, tz: str) -> None:
    """Draw the date each limit will be reached at the recent trend, soonest first."""
    days = window("Trend window", [14, 30, 60, 90], 30, "fleet_forecast_days")
    st.caption(
        f"**Method**: a linear least-squares line through each day's closing usage (the "
        f"value after the day's last accepted report) over the last {_days(days)} (UTC). "
        "The limit is reached on today + headroom ÷ slope. Needs reports on at least 3 days "
        "of the window; a flat or falling trend never reaches the limit."
    )
    frame = fleet_view("forecast", filters, window_days=days)
    coming = frame["forecast_date"].notna().sum() if not frame.empty else 0
    if coming:
        st.caption(f"{coming:,} of {len(frame):,} limited entitlements have a forecast date.")
    render_table(frame, ["instance", "customer", "license", "deployment_zone", "entitlement",
                         "forecast_date", "days_to_limit", "reason", "percent_used", "usage",
                         "threshold", "slope_per_day", "days_of_data"],
                 name="forecast", filters=filters, tz=tz,
                 empty="No entitlement with a limit in this selection.")


def main() -> None:
    """Draw the page."""
    st.title("Fleet")
    st.caption("Every instance's metered entitlements at once: who is near a limit, whose "
               "demand is blocked, whose metering went quiet and when limits will be reached.")
    if session.instances().empty:
        st.info(EMPTY, icon=":material/info:")
        return
    filters = render_filters()
    tz = session.timezone()
    try:
        consumption = fleet_view("consumption", filters)
    except ka.KaitenError as error:
        show_read_error(st, "read the fleet", error)
        return
    if consumption.empty:
        st.info(NO_MATCH, icon=":material/filter_alt_off:")
        return
    renderers = {
        "Overview": partial(render_overview, filters, consumption, tz),
        "Nearing limits": partial(render_nearing, filters, tz),
        "Blocked demand": partial(render_blocked, filters, tz),
        "Silent metering": partial(render_silent, filters, tz),
        "Burn-down": partial(render_burn_down, filters, tz),
        "Forecast": partial(render_forecast, filters, tz),
    }
    tabs = st.tabs(list(renderers), key=VIEW_KEY, bind="query-params", on_change="rerun")
    for tab, render in zip(tabs, renderers.values(), strict=True):
        if tab.open:  # only the open tab runs its query
            with tab:
                render()

main()
