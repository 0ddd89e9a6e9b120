"""Fleet views for product managers: every instance × NUMBER entitlement at once.

Each view returns one row per instance × entitlement (a few thousand rows on a 1,000-instance
fleet) computed from ``entitlement_usage`` and the daily rollups — never from raw events.
All accept the same filters: ``customer``, ``license`` and ``zone`` (slugs; ``zone=NO_ZONE``
keeps the instances without a deployment zone). With a warehouse, the usage rows and the
rollups are read from it (as of its last sync) and the catalogue from the system of record.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pandas as pd
import sqlalchemy as sa

from kaiten_analytics import fields
from kaiten_analytics.db.database import Database
from kaiten_analytics.db.lookup import id_for
from kaiten_analytics.db.models import (
    audit_rollup_day,
    customers,
    deployment_zones,
    entitlement_usage,
    entitlements,
    instances,
    instances_in_context,
    license_entitlements,
    licenses,
)
from kaiten_analytics.db.warehouse import reads as warehouse_reads
from kaiten_analytics.errors import ValidationError
from kaiten_analytics.limit_status import (
    NEARING_PERCENT,
    REACHED_STATUSES,
    UTILISATION_BANDS,
    limit_status,
    percent_used,
    utilisation_band,
)
from kaiten_analytics.periods import current_usage, period_bounds
from kaiten_analytics.policy import policy_of

PAIR_COLUMNS = ["instance", "customer", "license", "deployment_zone", "entitlement",
                "aggregation_method", "unit", "threshold", "usage", "event_count",
                "updated_at", "license_start", "license_end"]
MIN_FORECAST_DAYS = 3
#: the forecast's reason when the current period ends before its limit would be reached
NOT_THIS_PERIOD = "not within this period"
#: the ``zone`` filter for instances without a deployment zone (never a valid slug)
NO_ZONE = "(none)"


def _pairs(db: Database, customer: str | None, license: str | None, zone: str | None
           ) -> pd.DataFrame:
    """Live instances × the NUMBER entitlements of their license, with the stored usage."""
    le, eu = license_entitlements, entitlement_usage
    query = (
        sa.select(instances.c.slug, customers.c.slug, licenses.c.slug,
                  deployment_zones.c.slug, entitlements.c.slug,
                  entitlements.c.aggregation_method, entitlements.c.unit, le.c.value,
                  eu.c.value, eu.c.updated_at, instances.c.license_start,
                  instances.c.license_end, instances.c.id, entitlements.c.id,
                  eu.c.period_start, eu.c.period_end)
        .select_from(instances_in_context())
        .join(le, le.c.license_id == instances.c.license_id)
        .join(entitlements, entitlements.c.id == le.c.entitlement_id)
        .outerjoin(eu, (eu.c.instance_id == instances.c.id)
                   & (eu.c.entitlement_id == le.c.entitlement_id))
        .where(instances.c.deleted_at.is_(None), entitlements.c.type == "NUMBER")
        .order_by(instances.c.slug, entitlements.c.slug)
    )
    with db.read() as connection:
        for entity, slug, column in (("customer", customer, instances.c.customer_id),
                                     ("license", license, instances.c.license_id),
                                     ("deployment_zone", zone,
                                      instances.c.deployment_zone_id)):
            if entity == "deployment_zone" and slug == NO_ZONE:
                query = query.where(column.is_(None))
            elif slug is not None:
                query = query.where(column == id_for(connection, entity, slug))
        rows = connection.execute(query).all()
    if db.warehouse is not None:  # the usage and its period as of the warehouse's sync
        usage_rows = warehouse_reads.usage_rows(db.warehouse)
        rows = [(*row[:8], *value[:2], *row[10:14], *value[2:])
                for row in rows
                for value in [usage_rows.get((row[12], row[13]), (None, None, None, None))]]
    now = db.now()
    records = []
    for (inst, cust, lic, zn, ent, method, unit, stored, usage, updated, start, end,
         instance_id, entitlement_id, period_start, period_end) in rows:
        policy = policy_of(stored)
        current, event_count = current_usage(usage, period_start, period_end, policy, now)
        records.append((inst, cust, lic, zn, ent, method, unit,
                        np.nan if policy is None else policy.threshold,
                        np.nan if current is None else current, event_count,
                        updated if current is not None else None, start, end, instance_id,
                        entitlement_id,
                        np.nan if policy is None else policy.limit,
                        None if policy is None else policy.period,
                        period_bounds(None if policy is None else policy.period, now)[0]))
    df = pd.DataFrame(records, columns=[*PAIR_COLUMNS, "instance_id", "entitlement_id",
                                        "limit", "period", "period_start"])
    df["updated_at"] = pd.to_datetime(df["updated_at"], utc=True)
    for column in ("threshold", "usage"):
        df[column] = df[column].astype("float64")
    df["event_count"] = df["event_count"].astype("int64")
    return df


#: the columns of :func:`_pairs` the views use but do not show
_INTERNAL = ["instance_id", "entitlement_id", "limit", "period", "period_start"]


def consumption(db: Database, customer: str | None = None, license: str | None = None,
                zone: str | None = None) -> pd.DataFrame:
    """Consumption vs threshold for every live instance × NUMBER entitlement.

    Returns
    -------
    DataFrame
        instance, customer, license, deployment_zone, entitlement, aggregation_method, unit,
        threshold (NaN = no limit), usage (NaN before the first report), event_count,
        updated_at (aware UTC), license_start, license_end, percent_used (NaN without a limit
        or usage), band (:func:`kaiten_analytics.limit_status.utilisation_band`; None without a
        percentage),
        status (:func:`kaiten_analytics.limit_status`: ``no limit``, ``unused``, ``ok``,
        ``nearing`` (≥ ``NEARING_PERCENT``), ``at limit``).
    """
    df = _pairs(db, customer, license, zone).drop(columns=_INTERNAL)
    df["percent_used"] = percent_used(df["usage"], df["threshold"])
    df["band"] = df["percent_used"].map(utilisation_band).astype("object")
    df["status"] = limit_status(df["usage"], df["threshold"])
    return df


def nearing_limits(db: Database, percent: float = NEARING_PERCENT, customer: str | None = None,
                   license: str | None = None, zone: str | None = None) -> pd.DataFrame:
    """Instances at or above ``percent`` of a limit, fullest first.

    Returns
    -------
    DataFrame
        The columns of :func:`consumption`, only rows with percent_used ≥ ``percent``, plus
        at_limit (bool) — ordered by percent_used descending.
    """
    if isinstance(percent, bool) or not isinstance(percent, int | float) or percent < 0:
        raise ValidationError("percent", "must be a number ≥ 0")
    df = consumption(db, customer, license, zone)
    df = df[df["percent_used"] >= percent].copy()
    df["at_limit"] = df["status"].isin(REACHED_STATUSES)
    return df.sort_values(["percent_used", "instance"], ascending=[False, True],
                          kind="stable").reset_index(drop=True)


def _day_totals(db: Database, since_day: int | None) -> pd.DataFrame:
    r = audit_rollup_day
    reported = r.c.accepted + r.c.rejected
    query = sa.select(
        r.c.instance_id, r.c.entitlement_id, sa.func.sum(r.c.reads), sa.func.sum(r.c.accepted),
        sa.func.sum(r.c.rejected),
        sa.func.max(sa.case((reported > 0, r.c.day), else_=None)),
        sa.func.max(sa.case((r.c.reads > 0, r.c.day), else_=None)),
        sa.func.max(sa.case((r.c.rejected > 0, r.c.day), else_=None)),
    ).group_by(r.c.instance_id, r.c.entitlement_id)
    if since_day is not None:
        query = query.where(r.c.day >= since_day)
    if db.warehouse is not None:
        rows = warehouse_reads.day_totals(db.warehouse, since_day)
    else:
        with db.read() as connection:
            rows = connection.execute(query).all()
    df = pd.DataFrame(rows, columns=["instance_id", "entitlement_id", "reads", "accepted",
                                     "rejected", "last_report_day", "last_read_day",
                                     "last_rejected_day"])
    for column in ("reads", "accepted", "rejected"):
        df[column] = df[column].fillna(0).astype("int64")
    return df


def _epoch_day(day: date) -> int:
    return (day - date(1970, 1, 1)).days


def _day_of(number) -> date | None:
    if number is None or (isinstance(number, float) and math.isnan(number)) or pd.isna(number):
        return None
    return date(1970, 1, 1) + timedelta(days=int(number))


def blocked_demand(db: Database, days: int = 30, customer: str | None = None,
                   license: str | None = None, zone: str | None = None) -> pd.DataFrame:
    """Rejected usage reports per instance × entitlement over the last ``days`` UTC days.

    Rejections are demand the license blocked: the clearest upsell signal.

    Returns
    -------
    DataFrame
        instance, customer, license, deployment_zone, entitlement, threshold, usage,
        rejected, accepted, rejection_rate (rejected / reports, 0–1), last_rejected_day (UTC
        date) — only pairs with rejections, most rejected first.
    """
    days = fields.bounded_int(days, "days", 1, 3660)
    since = _epoch_day(db.now().date()) - days + 1
    pairs = _pairs(db, customer, license, zone)
    totals = _day_totals(db, since)
    df = pairs.merge(totals, on=["instance_id", "entitlement_id"], how="inner")
    df = df[df["rejected"] > 0].copy()
    df["rejection_rate"] = (df["rejected"] / (df["rejected"] + df["accepted"])).astype(float)
    df["last_rejected_day"] = df["last_rejected_day"].map(_day_of).astype("object")
    columns = ["instance", "customer", "license", "deployment_zone", "entitlement",
               "threshold", "usage", "rejected", "accepted", "rejection_rate",
               "last_rejected_day"]
    return df.sort_values(["rejected", "instance"], ascending=[False, True],
                          kind="stable")[columns].reset_index(drop=True)


def silent_metering(db: Database, days: int = 7, customer: str | None = None,
                    license: str | None = None, zone: str | None = None) -> pd.DataFrame:
    """Entitlements that are read but never reported, or not reported for ``days`` days.

    Returns
    -------
    DataFrame
        instance, customer, license, deployment_zone, entitlement, reads (all time),
        reports (all time), last_read_day, last_report_day (UTC dates or None), days_silent
        (days since the last report; NaN when never reported), status (``never reported`` or
        ``silent``) — never-reported first, then the longest silent.
    """
    days = fields.bounded_int(days, "days", 1, 3660)
    today = _epoch_day(db.now().date())
    pairs = _pairs(db, customer, license, zone)
    totals = _day_totals(db, None)
    df = pairs.merge(totals, on=["instance_id", "entitlement_id"], how="left")
    for column in ("reads", "accepted", "rejected"):
        df[column] = df[column].fillna(0).astype("int64")
    df["reports"] = df["accepted"] + df["rejected"]
    df["days_silent"] = (today - df["last_report_day"]).astype("float64")
    never = (df["reports"] == 0) & (df["reads"] > 0)
    silent = (df["reports"] > 0) & (df["days_silent"] >= days)
    df = df[never | silent].copy()
    df["status"] = np.where(df["reports"] == 0, "never reported", "silent")
    df["last_read_day"] = df["last_read_day"].map(_day_of).astype("object")
    df["last_report_day"] = df["last_report_day"].map(_day_of).astype("object")
    columns = ["instance", "customer", "license", "deployment_zone", "entitlement", "reads",
               "reports", "last_read_day", "last_report_day", "days_silent", "status"]
    df["order"] = df["days_silent"].fillna(np.inf)
    return df.sort_values(["order", "instance"], ascending=[False, True],
                          kind="stable")[columns].reset_index(drop=True)


def burn_down(db: Database, customer: str | None = None, license: str | None = None,
              zone: str | None = None) -> pd.DataFrame:
    """Percent of each limit used against percent of the license term elapsed.

    A burn ratio above 1 means the instance uses its allowance faster than its term runs.
    Rows need a threshold and both license dates.

    Returns
    -------
    DataFrame
        instance, customer, license, entitlement, aggregation_method, usage, threshold,
        percent_used, license_start, license_end, percent_term_elapsed (0–100),
        burn_ratio (percent_used / percent_term_elapsed), projected_percent_at_end
        (SUM/COUNT only: the percentage reached at the end of the term at the pace so far),
        pace (``ahead`` > 1.1, ``on pace``, ``behind`` < 0.9) — highest burn ratio first.
    """
    df = consumption(db, customer, license, zone)
    df = df[df["threshold"].notna() & df["license_start"].notna()
            & df["license_end"].notna()].copy()
    today = db.now().date()
    term = (df["license_end"] - df["license_start"]).map(lambda d: max(d.days, 1))
    elapsed = df["license_start"].map(lambda start: (today - start).days)
    df["percent_term_elapsed"] = (elapsed / term * 100.0).clip(0.0, 100.0).astype(float)
    usage = df["usage"].fillna(0.0)
    df["percent_used"] = df["percent_used"].where(df["usage"].notna(), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        df["burn_ratio"] = (df["percent_used"] / df["percent_term_elapsed"]).replace(
            [np.inf, -np.inf], np.nan).astype(float)
        cumulative = df["aggregation_method"].isin(["SUM", "COUNT"])
        projected = usage / df["threshold"] * 100.0 / (df["percent_term_elapsed"] / 100.0)
    df["projected_percent_at_end"] = projected.where(cumulative).replace(
        [np.inf, -np.inf], np.nan).astype(float)
    df["pace"] = np.select([df["burn_ratio"] > 1.1, df["burn_ratio"] < 0.9],
                           ["ahead", "behind"], default="on pace")
    columns = ["instance", "customer", "license", "entitlement", "aggregation_method",
               "usage", "threshold", "percent_used", "license_start", "license_end",
               "percent_term_elapsed", "burn_ratio", "projected_percent_at_end", "pace"]
    return df.sort_values(["burn_ratio", "instance"], ascending=[False, True],
                          kind="stable", na_position="last")[columns].reset_index(drop=True)


def forecast(db: Database, window_days: int = 30, customer: str | None = None,
             license: str | None = None, zone: str | None = None) -> pd.DataFrame:
    """Forecast the date each instance reaches each limit from its recent trend.

    Method: an ordinary least-squares line through the daily closing aggregate (the value
    after the day's last accepted report) over the last ``window_days`` UTC days, computed
    in SQL from the daily rollups. The date is today plus the remaining headroom divided by
    the fitted slope. With fewer than 3 days of reports in the window there is no forecast
    (reason ``not enough data``); a flat or falling trend never reaches the limit (reason
    ``flat or falling``); an aggregate already at (or over) its threshold gets today
    (``at limit``). Under a policy with a period the line runs through the current period's
    days only, and a date on or after the period's end is none: the limit is ``not within
    this period`` (the aggregate restarts first).

    Returns
    -------
    DataFrame
        instance, customer, license, deployment_zone, entitlement, aggregation_method,
        usage, threshold, percent_used, slope_per_day, days_of_data, forecast_date (date or
        None), days_to_limit (float, NaN without a forecast), reason (``forecast``,
        ``at limit``, ``not enough data``, ``flat or falling``, ``unused``, ``not within this
        period``) — soonest first.
    """
    window_days = fields.bounded_int(window_days, "window_days", MIN_FORECAST_DAYS, 3660)
    now = db.now()
    today = now.date()
    window_start = _epoch_day(today) - window_days + 1
    pairs = _pairs(db, customer, license, zone)
    df = pairs[pairs["threshold"].notna()].copy()
    # under a policy with a period only the current period's days count: its trend started
    # from none at the period's start
    df["since"] = [window_start if pd.isna(start) else max(window_start, _epoch_day(start.date()))
                   for start in df["period_start"]]
    sums = pd.concat([_trend_sums(db, since) for since in sorted(set(df["since"]))]
                     or [_trend_sums(db, window_start)], ignore_index=True)
    df = df.merge(sums, on=["instance_id", "entitlement_id", "since"], how="left")
    df["n"] = df["n"].fillna(0).astype("int64")
    n = df["n"].astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        denominator = n * df["sxx"] - df["sx"] ** 2
        slope = (n * df["sxy"] - df["sx"] * df["sy"]) / denominator
    df["slope_per_day"] = slope.where(df["n"] >= MIN_FORECAST_DAYS).astype(float)
    df["percent_used"] = percent_used(df["usage"], df["threshold"])
    headroom = df["threshold"] - df["usage"]
    days_to = (headroom / df["slope_per_day"]).where(df["slope_per_day"] > 0)
    ends = [period_bounds(period if isinstance(period, str) else None, now)[1]
            for period in df["period"]]
    beyond = pd.Series([end is not None and today + timedelta(days=math.ceil(d)) >= end.date()
                        if not math.isnan(d) else False
                        for d, end in zip(days_to.astype(float), ends, strict=True)],
                       index=df.index, dtype=bool)
    reason = np.select(
        [df["usage"].isna(), limit_status(df["usage"], df["threshold"]).isin(REACHED_STATUSES),
         df["n"] < MIN_FORECAST_DAYS,
         ~(df["slope_per_day"] > 0), beyond],
        ["unused", "at limit", "not enough data", "flat or falling", NOT_THIS_PERIOD],
        default="forecast")
    df["reason"] = reason
    df["days_to_limit"] = np.where(reason == "at limit", 0.0,
                                   np.where(reason == "forecast", days_to, np.nan))
    df["days_to_limit"] = df["days_to_limit"].astype(float)
    df["forecast_date"] = df["days_to_limit"].map(
        lambda d: None if math.isnan(d) else today + timedelta(days=math.ceil(d))
    ).astype("object")
    df = df.rename(columns={"n": "days_of_data"})
    columns = ["instance", "customer", "license", "deployment_zone", "entitlement",
               "aggregation_method", "usage", "threshold", "percent_used", "slope_per_day",
               "days_of_data", "forecast_date", "days_to_limit", "reason"]
    return df.sort_values(["days_to_limit", "instance"], na_position="last",
                          kind="stable")[columns].reset_index(drop=True)


def _trend_sums(db: Database, since: int) -> pd.DataFrame:
    """Per pair: n, Σx, Σy, Σxy, Σx² of (day - since, the day's closing value), days ≥ since."""
    r = audit_rollup_day
    x = sa.cast(r.c.day - since, sa.Float)
    y = r.c.value_last
    if db.warehouse is not None:
        rows = warehouse_reads.trend_sums(db.warehouse, since)
    else:
        with db.read() as connection:
            rows = connection.execute(
                sa.select(r.c.instance_id, r.c.entitlement_id, sa.func.count(),
                          sa.func.sum(x), sa.func.sum(y), sa.func.sum(x * y),
                          sa.func.sum(x * x))
                .where(r.c.day >= since, r.c.value_last.is_not(None))
                .group_by(r.c.instance_id, r.c.entitlement_id)
            ).all()
    sums = pd.DataFrame(rows, columns=["instance_id", "entitlement_id", "n", "sx", "sy", "sxy",
                                       "sxx"])
    sums["since"] = since
    return sums


def utilisation_bands(db: Database, customer: str | None = None, license: str | None = None,
                      zone: str | None = None) -> pd.DataFrame:
    """Count instance × entitlement pairs per license and utilisation band (for a heatmap).

    Returns
    -------
    DataFrame
        license, band (one of ``UTILISATION_BANDS``), pairs (int) — every license ×
        band combination present, zeros included.
    """
    df = consumption(db, customer, license, zone)
    df = df[df["band"].notna()]
    licenses_seen = sorted(set(df["license"]))
    counts = df.groupby(["license", "band"]).size()
    records = [(lic, band, int(counts.get((lic, band), 0)))
               for lic in licenses_seen for band in UTILISATION_BANDS]
    out = pd.DataFrame(records, columns=["license", "band", "pairs"])
    out["pairs"] = out["pairs"].astype("int64")
    return out

