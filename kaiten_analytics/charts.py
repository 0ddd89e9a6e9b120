"""Altair chart builders: each takes the DataFrame of one analytics call and returns a chart.

They touch no database, so the console, a notebook and a test draw the same chart. Inputs are
pre-aggregated (a timeline is days × 3 rows, value over time is downsampled), so specs stay
small. Timestamps are drawn as wall-clock time of the ``tz`` given.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from kaiten_analytics.config import zone
from kaiten_analytics.events import CATEGORIES
from kaiten_analytics.limit_status import (
    AT_LIMIT,
    AT_LIMIT_PERCENT,
    IN_OVERAGE,
    NEARING,
    NO_LIMIT,
    OK,
    UNUSED,
    UTILISATION_BANDS,
    limit_status,
)

CATEGORY_COLOURS = {"Read": "#4C78A8", "Accepted": "#54A24B", "Rejected": "#E45756"}
STATUS_COLOURS = {OK: "#54A24B", NEARING: "#F58518", AT_LIMIT: "#E45756",
                  IN_OVERAGE: "#B279A2",
                  UNUSED: "#BAB0AC", NO_LIMIT: "#4C78A8"}
#: the statuses a bar of the consumption chart can have (it draws limited, used pairs only)
_BAR_STATUSES = (OK, NEARING, AT_LIMIT, IN_OVERAGE)


def activity_timeline_chart(timeline: pd.DataFrame, title: str = "Activity") -> alt.Chart:
    """Stack a timeline's events per local day by category; click the legend to toggle.

    ``timeline`` is ``kaiten.audit.timeline(...)``: day, category, events.
    """
    days = pd.to_datetime(timeline["day"])
    data = timeline.assign(day=days.dt.strftime("%Y-%m-%d"), label=days.dt.strftime("%b %d"))
    legend = alt.selection_point(fields=["category"], bind="legend")
    return (
        alt.Chart(data, title=title)
        .mark_bar()
        .encode(
            x=alt.X("label:O", title="Day", axis=alt.Axis(labelAngle=-45),
                    sort=alt.EncodingSortField(field="day", op="min")),
            y=alt.Y("sum(events):Q", title="Events", stack="zero"),
            color=alt.Color("category:N", title="Category",
                            scale=alt.Scale(domain=list(CATEGORIES),
                                            range=[CATEGORY_COLOURS[c] for c in CATEGORIES]),
                            sort=list(CATEGORIES)),
            order=alt.Order("category_order:Q"),
            opacity=alt.when(legend).then(alt.value(1.0)).otherwise(alt.value(0.08)),
            tooltip=[alt.Tooltip("day:N", title="Day"),
                     "category:N", alt.Tooltip("sum(events):Q", title="Events")],
        )
        .transform_calculate(category_order="indexof(['Read','Accepted','Rejected'], "
                                            "datum.category)")
        .add_params(legend)
    )


def value_over_time_chart(series: pd.DataFrame, tz: str = "UTC", title: str = "Value over time",
                          unit: str | None = None) -> alt.LayerChart:
    """Draw the aggregate over time, the threshold as a dashed rule and crossings as points.

    ``series`` is ``kaiten.audit.value_over_time(...)``: created_at, value, threshold,
    crossing. A threshold that changed over time (a license change) is drawn as a step line.
    """
    data = series.assign(
        time=series["created_at"].dt.tz_convert(zone(tz)).dt.tz_localize(None)
        .dt.strftime("%Y-%m-%dT%H:%M:%S")
    )[["time", "value", "threshold", "crossing"]]
    y_title = f"Value ({unit})" if unit else "Value"
    base = alt.Chart(data, title=title)
    line = base.mark_line(interpolate="step-after").encode(
        x=alt.X("time:T", title=f"Time ({tz})"),
        y=alt.Y("value:Q", title=y_title),
        tooltip=[alt.Tooltip("time:T", format="%Y-%m-%d %H:%M"), "value:Q", "threshold:Q"],
    )
    layers: list[alt.Chart] = [line]
    thresholds = data["threshold"].dropna().unique()
    if len(thresholds) == 1:
        layers.append(alt.Chart(data).mark_rule(color="#E45756", strokeDash=[6, 4]).encode(
            y=alt.datum(float(thresholds[0]))))
    elif len(thresholds) > 1:
        layers.append(base.mark_line(color="#E45756", strokeDash=[6, 4],
                                     interpolate="step-after").encode(
            x="time:T", y="threshold:Q"))
    layers.append(base.transform_filter("datum.crossing").mark_point(
        color="#E45756", filled=True, size=80, shape="diamond").encode(
        x="time:T", y="value:Q",
        tooltip=[alt.Tooltip("time:T", title="Reached at", format="%Y-%m-%d %H:%M:%S"),
                 "value:Q"]))
    return alt.layer(*layers)


def consumption_chart(consumption: pd.DataFrame, title: str = "Consumption vs threshold"
                      ) -> alt.LayerChart:
    """Draw percent of threshold used per entitlement (or instance × entitlement).

    ``consumption`` is ``kaiten.usage.summary(...)`` or ``kaiten.fleet.consumption(...)``:
    rows without a limit or usage are left out; the 100 % line is the threshold.
    """
    data = consumption[consumption["percent_used"].notna()].copy()
    threshold = data["threshold"] if "threshold" in data else data["granted"]
    data["threshold"] = threshold.astype(float)
    data["label"] = (data["instance"] + " · " + data["entitlement"]
                     if "instance" in data else data["entitlement"])
    data["status"] = limit_status(data["usage"], data["threshold"])
    data = data[["label", "percent_used", "usage", "threshold", "status"]]
    bars = alt.Chart(data, title=title).mark_bar().encode(
        y=alt.Y("label:N", title=None, sort="-x"),
        x=alt.X("percent_used:Q", title="% of threshold used",
                scale=alt.Scale(domain=[0, max(AT_LIMIT_PERCENT, float(
                    data["percent_used"].max() if len(data) else AT_LIMIT_PERCENT))])),
        color=alt.Color("status:N", title="Status",
                        scale=alt.Scale(domain=list(_BAR_STATUSES),
                                        range=[STATUS_COLOURS[s] for s in _BAR_STATUSES])),
        tooltip=["label:N", alt.Tooltip("percent_used:Q", format=".1f"), "usage:Q",
                 "threshold:Q"],
    )
    limit = alt.Chart(data).mark_rule(color="#E45756", strokeDash=[6, 4]).encode(
        x=alt.datum(AT_LIMIT_PERCENT))
    return alt.layer(bars, limit)


def utilisation_heatmap(bands: pd.DataFrame, title: str = "Fleet utilisation") -> alt.LayerChart:
    """Draw licenses × utilisation bands, coloured by how many pairs fall in each.

    ``bands`` is ``kaiten.fleet.utilisation_bands(...)``: license, band, pairs.
    """
    base = alt.Chart(bands, title=title).encode(
        x=alt.X("band:O", title="Share of threshold used", sort=list(UTILISATION_BANDS)),
        y=alt.Y("license:N", title="License"),
    )
    cells = base.mark_rect().encode(
        color=alt.Color("pairs:Q", title="Instance × entitlement",
                        scale=alt.Scale(scheme="orangered")),
        tooltip=["license:N", "band:O", "pairs:Q"],
    )
    text = base.mark_text(baseline="middle").encode(text="pairs:Q")
    return alt.layer(cells, text)
