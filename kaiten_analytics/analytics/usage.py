"""Current usage of an instance against its license."""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa

from kaiten_analytics.analytics._frames import frame
from kaiten_analytics.db.database import Database
from kaiten_analytics.db.lookup import instance_row
from kaiten_analytics.db.models import entitlement_usage, entitlements, license_entitlements
from kaiten_analytics.db.usage_json import decode_usage
from kaiten_analytics.limit_status import limit_status, percent_used
from kaiten_analytics.periods import current_usage
from kaiten_analytics.policy import granted_value, policy_of

SUMMARY_COLUMNS = [
    "entitlement", "type", "aggregation_method", "granted", "usage", "event_count",
    "percent_used", "updated_at", "name", "unit", "status",
]


def usage_summary(db: Database, instance: str) -> pd.DataFrame:
    """Summarise an instance's usage: one row per entitlement of its license.

    Returns
    -------
    DataFrame
        entitlement (slug), type, aggregation_method, granted (the license value: the
        threshold for NUMBER, None = no limit), usage (current aggregate, NaN before the
        first accepted report or for non-NUMBER), event_count (accepted reports, 0 before
        the first), percent_used (0–100 of the threshold, NaN without a limit or usage:
        :func:`kaiten_analytics.percent_used`), updated_at (aware UTC, NaT before the first
        report), name, unit, status (NUMBER: ``no limit``, ``unused``, ``ok``, ``nearing``,
        ``at limit`` as :func:`kaiten_analytics.limit_status` and ``fleet.consumption`` say;
        None for BOOLEAN and STRING) — ordered by entitlement.
    """
    eu, le = entitlement_usage, license_entitlements
    with db.read() as connection:
        row = instance_row(connection, instance)
        rows = connection.execute(
            sa.select(entitlements.c.slug, entitlements.c.type,
                      entitlements.c.aggregation_method, le.c.value, eu.c.value,
                      eu.c.updated_at, entitlements.c.name, entitlements.c.unit,
                      eu.c.period_start, eu.c.period_end)
            .select_from(le)
            .join(entitlements, entitlements.c.id == le.c.entitlement_id)
            .outerjoin(eu, (eu.c.entitlement_id == le.c.entitlement_id)
                       & (eu.c.instance_id == row.id))
            .where(le.c.license_id == row.license_id)
            .order_by(entitlements.c.slug)
        ).all()
    now = db.now()
    records = []
    for (slug, type_, method, stored, usage, updated_at, name, unit, period_start,
         period_end) in rows:
        metered = type_ == "NUMBER"
        granted = granted_value(stored)
        current, event_count = (
            current_usage(usage, period_start, period_end, policy_of(stored), now) if metered
            else decode_usage(usage))
        records.append((slug, type_, method, granted,
                        np.nan if current is None else current, event_count,
                        percent_used(current, granted) if metered else np.nan,
                        updated_at if current is not None else None, name, unit,
                        limit_status(current, granted) if metered else None))
    df = frame(records, SUMMARY_COLUMNS, times=("updated_at",))
    df["usage"] = df["usage"].astype("float64")
    df["percent_used"] = df["percent_used"].astype("float64")
    df["event_count"] = df["event_count"].astype("int64")
    return df

