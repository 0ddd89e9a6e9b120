"""Audit statistics and the daily activity timeline, summed from the rollups (SPEC §3).

Neither query touches ``feature_audit_trail``: totals read the daily rollup (one row per
instance × entitlement × UTC day), "Today" and the timeline read the 15-minute rollup within
the local days asked for. Their cost follows the time span, not the number of events.
"""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa

from kaiten_analytics.analytics.local_days import last_days
from kaiten_analytics.config import zone
from kaiten_analytics.db.models import audit_rollup_15m, audit_rollup_day
from kaiten_analytics.entities import AuditStats
from kaiten_analytics.events import CATEGORIES, ROLLUP_COLUMNS
from kaiten_analytics.service import fields
from kaiten_analytics.service.database import Database
from kaiten_analytics.service.lookup import id_for, instance_row

MAX_DAYS = 366


def _scope(connection: sa.Connection, table: sa.Table, instance: str,
           entitlement: str | None) -> sa.ColumnElement[bool]:
    condition = table.c.instance_id == instance_row(connection, instance).id
    if entitlement is not None:
        condition &= table.c.entitlement_id == id_for(connection, "entitlement", entitlement)
    return condition


def audit_stats(db: Database, instance: str, entitlement: str | None = None,
                tz: str = "UTC") -> AuditStats:
    """Return the four stats cards: Total, Accepted, Rejected and Today (since local midnight).

    ``Accepted`` and ``Rejected`` count usage reports; ``Total`` also counts reads.
    """
    zone(tz)
    today = last_days(db.now(), tz, 1)[0]
    day, q15 = audit_rollup_day, audit_rollup_15m
    with db.read() as connection:
        totals = connection.execute(
            sa.select(*(sa.func.coalesce(sa.func.sum(day.c[c]), 0)
                        for c in ("reads", "accepted", "rejected")))
            .where(_scope(connection, day, instance, entitlement))
        ).one()
        today_count = connection.execute(
            sa.select(sa.func.coalesce(
                sa.func.sum(q15.c.reads + q15.c.accepted + q15.c.rejected), 0))
            .where(_scope(connection, q15, instance, entitlement))
            .where(q15.c.bucket >= today.first_bucket, q15.c.bucket < today.end_bucket)
        ).scalar()
    reads, accepted, rejected = (int(v) for v in totals)
    return AuditStats(total=reads + accepted + rejected, accepted=accepted,
                      rejected=rejected, today=int(today_count))


def audit_timeline(db: Database, instance: str, entitlement: str | None = None,
                   tz: str = "UTC", days: int = 30) -> pd.DataFrame:
    """Count events per local day and category, for the ``days`` days ending today in ``tz``.

    Days with no events are present with zero, so the result always has ``days`` × 3 rows.

    Returns
    -------
    DataFrame
        day (local date, ``datetime.date``), category (``Read``/``Accepted``/``Rejected``),
        events (int) — ordered by day, then category in that order.
    """
    days = fields.bounded_int(days, "days", 1, MAX_DAYS)
    zone(tz)
    local = last_days(db.now(), tz, days)
    q15 = audit_rollup_15m
    # one CASE maps each bucket to its local day: DST days are 23 or 25 hours long
    day_index = sa.case(
        *((q15.c.bucket < d.end_bucket, n) for n, d in enumerate(local)), else_=None
    ).label("day_index")
    with db.read() as connection:
        rows = connection.execute(
            sa.select(day_index, *(sa.func.sum(q15.c[ROLLUP_COLUMNS[c]]) for c in CATEGORIES))
            .where(_scope(connection, q15, instance, entitlement))
            .where(q15.c.bucket >= local[0].first_bucket, q15.c.bucket < local[-1].end_bucket)
            .group_by(day_index)
        ).all()
    counts = {row[0]: row[1:] for row in rows}
    records = [
        (d.day, category, int((counts.get(n) or (0, 0, 0))[k] or 0))
        for n, d in enumerate(local)
        for k, category in enumerate(CATEGORIES)
    ]
    df = pd.DataFrame(records, columns=["day", "category", "events"])
    df["events"] = df["events"].astype("int64")
    return df
