"""Audit statistics and the daily activity timeline, summed from the rollups.

Neither query touches ``feature_audit_trail``: totals read the daily rollup (one row per
instance × entitlement × UTC day); "Today" and the timeline read the daily rollup for whole
UTC days and the 15-minute rollup only for the hours a local day takes from a neighbouring
UTC day. Their cost follows the time span, not the number of events. With a warehouse the
same rollups are read from it (as of its last sync), by the same rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from kaiten_analytics import fields
from kaiten_analytics.analytics.local_days import (
    DayPlan,
    LocalDay,
    day_plan,
    in_buckets,
    last_days,
)
from kaiten_analytics.config import zone
from kaiten_analytics.db.database import Database
from kaiten_analytics.db.lookup import id_for, instance_row
from kaiten_analytics.db.models import audit_rollup_15m, audit_rollup_day
from kaiten_analytics.db.warehouse import reads as warehouse_reads
from kaiten_analytics.entities import AuditStats
from kaiten_analytics.events import CATEGORIES, ROLLUP_COLUMNS

MAX_DAYS = 366
COUNTS = tuple(ROLLUP_COLUMNS[c] for c in CATEGORIES)  # reads, accepted, rejected


@dataclass(frozen=True)
class _Scope:
    """One instance (and maybe one entitlement), resolved once per call."""

    instance_id: int
    entitlement_id: int | None

    def of(self, table: sa.Table) -> sa.ColumnElement[bool]:
        condition = table.c.instance_id == self.instance_id
        if self.entitlement_id is not None:
            condition &= table.c.entitlement_id == self.entitlement_id
        return condition


def _scope(connection: sa.Connection, instance: str, entitlement: str | None) -> _Scope:
    return _Scope(instance_row(connection, instance).id,
                  None if entitlement is None else id_for(connection, "entitlement", entitlement))


def _local_day_counts(db: Database, connection: sa.Connection, scope: _Scope,
                      days: list[LocalDay]) -> list[list[int]]:
    """Return (reads, accepted, rejected) of each local day, exactly, from both rollups.

    Whole UTC days come from ``audit_rollup_day`` and only the parts of UTC days that belong
    to a neighbouring local day from ``audit_rollup_15m`` (see ``local_days.day_plan``): a
    30-day timeline in Europe/Berlin reads some 31 daily and 180 quarter-hour rows per
    entitlement instead of 2,880 quarter-hour rows.
    """
    plan = day_plan(days)
    # the shifted buckets as one list: an index lookup each on (instance_id, bucket) or
    # (instance_id, entitlement_id, bucket)
    buckets = [b for first, end in plan.bucket_ranges for b in range(first, end)]
    if db.warehouse is not None:
        rows = warehouse_reads.day_and_bucket_counts(
            db.warehouse, warehouse_reads.Scope(scope.instance_id, scope.entitlement_id),
            min(plan.owners), max(plan.owners), buckets)
        return _totals(plan, rows, len(days))
    day, q15 = audit_rollup_day, audit_rollup_15m
    parts = [
        sa.select(sa.literal("day"), day.c.day, *(sa.func.sum(day.c[c]) for c in COUNTS))
        .where(scope.of(day), day.c.day >= min(plan.owners), day.c.day <= max(plan.owners))
        .group_by(day.c.day)
    ]
    if plan.shifts:
        parts.append(
            sa.select(sa.literal("bucket"), q15.c.bucket,
                      *(sa.func.sum(q15.c[c]) for c in COUNTS))
            .where(scope.of(q15), in_buckets(connection, q15.c.bucket, buckets))
            .group_by(q15.c.bucket)
        )
    return _totals(plan, connection.execute(sa.union_all(*parts)).all(), len(days))


def _totals(plan: DayPlan, rows: Sequence[Sequence], days: int) -> list[list[int]]:
    """Each local day's counts from rows of (``day``/``bucket``, period, *counts)."""
    counts: dict[str, dict[int, Sequence[int]]] = {"day": {}, "bucket": {}}
    for kind, period, *row in rows:
        counts[kind][period] = row
    return plan.totals(counts["day"], counts["bucket"], days, len(COUNTS))


def audit_stats(db: Database, instance: str, entitlement: str | None = None,
                tz: str = "UTC") -> AuditStats:
    """Return the four stats cards: Total, Accepted, Rejected and Today (since local midnight).

    ``Accepted`` and ``Rejected`` count usage reports; ``Total`` also counts reads.
    """
    zone(tz)
    today = last_days(db.now(), tz, 1)[0]
    with db.read() as connection:
        scope = _scope(connection, instance, entitlement)
        if db.warehouse is not None:
            rows = warehouse_reads.stats(
                db.warehouse, warehouse_reads.Scope(scope.instance_id, scope.entitlement_id),
                today.first_bucket, today.end_bucket)
        else:
            rows = _stats_rows(connection, scope, today)
    reads, accepted, rejected = (int(v or 0) for v in rows["total"])
    return AuditStats(total=reads + accepted + rejected, accepted=accepted,
                      rejected=rejected, today=int(rows["today"][0] or 0))


def _stats_rows(connection: sa.Connection, scope: _Scope, today: LocalDay
                ) -> dict[str, Sequence]:
    """The all-time totals and today's events, from the system of record's rollups."""
    day, q15 = audit_rollup_day, audit_rollup_15m
    # one statement: all-time totals from the daily rollup, "Today" from the (at most 100)
    # quarter-hours since local midnight
    return {row[0]: row[1:] for row in connection.execute(sa.union_all(
        sa.select(sa.literal("total"), *(sa.func.sum(day.c[c]) for c in COUNTS))
        .where(scope.of(day)),
        sa.select(sa.literal("today"), sa.func.sum(q15.c.reads + q15.c.accepted
                                                   + q15.c.rejected), sa.null(), sa.null())
        .where(scope.of(q15), q15.c.bucket >= today.first_bucket,
               q15.c.bucket < today.end_bucket),
    ))}


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
    with db.read() as connection:
        counts = _local_day_counts(db, connection, _scope(connection, instance, entitlement), local)
    records = [(d.day, category, counts[n][k])
               for n, d in enumerate(local) for k, category in enumerate(CATEGORIES)]
    df = pd.DataFrame(records, columns=["day", "category", "events"])
    df["events"] = df["events"].astype("int64")
    return df
