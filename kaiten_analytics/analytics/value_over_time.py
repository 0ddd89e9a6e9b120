"""The aggregate of one NUMBER entitlement over time, whole or downsampled for charts.

With a warehouse the points, windows and crossings come from it (as of its last sync).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import sqlalchemy as sa

from kaiten_analytics import fields
from kaiten_analytics.analytics._frames import frame
from kaiten_analytics.analytics.local_days import BUCKETS_PER_DAY
from kaiten_analytics.db.database import Database
from kaiten_analytics.db.lookup import instance_row
from kaiten_analytics.db.models import (
    BUCKET_SECONDS,
    audit_rollup_15m,
    audit_rollup_day,
    entitlements,
    feature_audit_trail,
    instances,
    license_entitlements,
)
from kaiten_analytics.db.warehouse import reads as warehouse_reads
from kaiten_analytics.errors import NotFoundError, ValidationError
from kaiten_analytics.events import USAGE_ACCEPTED
from kaiten_analytics.periods import period_starts
from kaiten_analytics.policy import policy_of

COLUMNS = ["created_at", "value", "threshold", "crossing"]
#: beyond this many crossing buckets, crossings are placed at their bucket, not looked up
MAX_EXACT_CROSSING_BUCKETS = 500


def value_over_time(db: Database, instance: str, entitlement: str,
                    max_points: int | None = None) -> pd.DataFrame:
    """Return the aggregate after each accepted report, with the threshold at that time.

    With ``max_points`` (e.g. 2000) the series is downsampled for charts from the 15-minute
    rollups — its cost then follows the time span, not the number of reports: each window
    keeps its first, lowest, highest and last value, and every report that reached the
    threshold is kept as an exact point. Under a policy with a period each period's run
    starts from its first report (the value drops where the period reset), and
    ``period_start`` says which period a point belongs to.

    Returns
    -------
    DataFrame
        created_at (aware UTC), value (float), threshold (float, NaN without a limit),
        crossing (bool: this report took the aggregate to the threshold), period_start (aware
        UTC: the start of the point's period under the license's current policy; NaT for a
        limit that never restarts) — oldest first.
    """
    if max_points is not None:
        max_points = fields.bounded_int(max_points, "max_points", 10)
    fields.lookup_slug(instance, "instance")
    fields.lookup_slug(entitlement, "entitlement")
    with db.read() as connection:
        # both ids in one round trip; a missing one is looked up again for its error
        row = connection.execute(
            sa.select(entitlements.c.id, entitlements.c.type,
                      sa.select(instances.c.id).where(instances.c.slug == instance)
                      .scalar_subquery().label("instance_id"))
            .where(entitlements.c.slug == entitlement)
        ).first()
        instance_id = row.instance_id if row is not None else None
        if instance_id is None:
            instance_id = instance_row(connection, instance).id
        if row is None:
            raise NotFoundError("entitlement", entitlement)
        if row.type != "NUMBER":
            raise ValidationError("entitlement", f"{entitlement!r} is {row.type}; only NUMBER "
                                                 "entitlements have a value over time")
        source = _Source(connection, instance_id, row.id, db.warehouse)
        df = _all_points(source) if max_points is None else _downsampled(source, max_points)
        policy = policy_of(connection.execute(
            sa.select(license_entitlements.c.value)
            .join(instances, instances.c.license_id == license_entitlements.c.license_id)
            .where(instances.c.id == instance_id,
                   license_entitlements.c.entitlement_id == row.id)).scalar())
    df["period_start"] = period_starts(policy.period if policy else None, df["created_at"])
    return df


class _Source(NamedTuple):
    """Where one series is read: the system of record, or the warehouse when one is set."""

    connection: sa.Connection
    instance_id: int
    entitlement_id: int
    warehouse: Any

    @property
    def scope(self) -> warehouse_reads.Scope:
        return warehouse_reads.Scope(self.instance_id, self.entitlement_id)


def _accepted_points(connection: sa.Connection, condition: sa.ColumnElement[bool]
                     ) -> pd.DataFrame:
    t = feature_audit_trail
    rows = connection.execute(
        sa.select(t.c.created_at, t.c.payload["aggregate_after"].as_float(),
                  t.c.payload["threshold"].as_float(), t.c.payload["reached"].as_boolean())
        .where(t.c.event_name == USAGE_ACCEPTED, condition)
        .order_by(t.c.created_at, t.c.id)
    ).all()
    df = frame(rows, COLUMNS, times=("created_at",))
    return _typed(df)


def _typed(df: pd.DataFrame) -> pd.DataFrame:
    df["value"] = df["value"].astype("float64")
    df["threshold"] = df["threshold"].astype("float64")
    df["crossing"] = df["crossing"].fillna(False).astype(bool)
    return df.reset_index(drop=True)


def _all_points(source: _Source) -> pd.DataFrame:
    if source.warehouse is not None:
        return _typed(frame(warehouse_reads.accepted_points(source.warehouse, source.scope),
                            COLUMNS, times=("created_at",)))
    t = feature_audit_trail
    return _accepted_points(source.connection, (t.c.instance_id == source.instance_id)
                            & (t.c.entitlement_id == source.entitlement_id))


def _downsampled(source: _Source, max_points: int) -> pd.DataFrame:
    windows = _windows(source, max_points)
    if not windows:
        return _typed(frame([], COLUMNS, times=("created_at",)))
    crossings = None
    if any(w.reached for w in windows):
        crossings = _crossings(source, _reached_buckets(source))
        budget = max_points - len(crossings)
        if budget < 4 * len(windows):  # fewer, wider windows leave room for every crossing
            windows = _windows(source, budget)
    df = _window_points(windows)
    if crossings is None or crossings.empty:
        return df
    df = pd.concat([df, crossings], ignore_index=True).sort_values("created_at", kind="stable")
    return _typed(df)


class _Window(NamedTuple):
    """One window of buckets: its first and last bucket, values and the crossings in it."""

    start: int
    end: int
    first: float
    low: float
    high: float
    last: float
    threshold: float | None
    reached: int


def _window_points(windows: list[_Window]) -> pd.DataFrame:
    """Return each window's first, lowest, highest and last value as points (no crossings).

    Points stay between the start of the window's first and last buckets, so none is drawn
    later than the report it stands for; within a window the order of the extremes is
    unknown: they go between the first and last values, keeping the envelope. A point equal
    to an earlier one of its window (same time and value) is left out. (In numpy: a Python
    loop over 500 windows was a third of the call.)
    """
    start, end, first, low, high, last, threshold, _ = zip(*windows, strict=True)
    at = np.array(start, dtype="int64") * BUCKET_SECONDS
    span = (np.array(end, dtype="int64") * BUCKET_SECONDS) - at
    times = np.stack([at, at + span // 3, at + 2 * span // 3, at + span], axis=1)
    values = np.array([first, low, high, last], dtype="float64").T
    keep = np.ones(times.shape, dtype=bool)
    for k in range(1, 4):
        for j in range(k):
            keep[:, k] &= (times[:, j] != times[:, k]) | (values[:, j] != values[:, k])
    thresholds = np.array([np.nan if t is None else t for t in threshold], dtype="float64")
    kept = keep.ravel()
    return pd.DataFrame({
        "created_at": pd.to_datetime(times.ravel()[kept], unit="s", utc=True),
        "value": values.ravel()[kept],
        "threshold": np.repeat(thresholds, 4)[kept],
        "crossing": np.zeros(int(kept.sum()), dtype=bool),
    })


def _bucket_scope(table: sa.Table | sa.Alias, instance_id: int, entitlement_id: int
                  ) -> tuple[sa.ColumnElement[bool], ...]:
    return (table.c.instance_id == instance_id, table.c.entitlement_id == entitlement_id,
            table.c.accepted > 0)


def _reached_buckets(source: _Source) -> list[int]:
    """The buckets holding a report that reached the threshold, in order."""
    if source.warehouse is not None:
        return warehouse_reads.reached_buckets(source.warehouse, source.scope)
    r = audit_rollup_15m
    return list(source.connection.execute(
        sa.select(r.c.bucket)
        .where(*_bucket_scope(r, source.instance_id, source.entitlement_id), r.c.reached > 0)
        .order_by(r.c.bucket)
    ).scalars().all())


def _windows(source: _Source, budget: int) -> list[_Window]:
    """Return up to ``budget // 4`` windows of equal time span over the accepted reports.

    One statement: the span from the daily rollup (its first and last day with an accepted
    report, some 90 rows), then one scan of the entitlement's 15-minute buckets grouped by
    window — each window's first and last bucket, lowest and highest value — and the first
    and last values of those two buckets by primary key (correlated lookups: a join back let
    PostgreSQL misjudge the window count and hash the whole range twice). Integer division
    is floor division on both engines here: nothing divided is negative.
    """
    count = max(1, budget // 4)
    if source.warehouse is not None:
        rows = warehouse_reads.value_windows(source.warehouse, source.scope, count)
        return [_Window(*row[:7], int(row[7] or 0)) for row in rows]
    connection, instance_id, entitlement_id = source[:3]
    r, day = audit_rollup_15m, audit_rollup_day
    span = (
        sa.select((sa.func.min(day.c.day) * BUCKETS_PER_DAY).label("first"),
                  ((sa.func.max(day.c.day) + 1 - sa.func.min(day.c.day)) * BUCKETS_PER_DAY)
                  .label("length"))
        .where(*_bucket_scope(day, instance_id, entitlement_id))
        .subquery("span")
    )
    size = (span.c.length + (count - 1)) // count  # buckets per window, rounded up
    grouped = (
        sa.select(sa.func.min(r.c.bucket).label("start"), sa.func.max(r.c.bucket).label("end"),
                  sa.func.min(r.c.value_min).label("low"),
                  sa.func.max(r.c.value_max).label("high"),
                  sa.func.sum(r.c.reached).label("reached"))
        .select_from(r.join(span, sa.true()))
        .where(*_bucket_scope(r, instance_id, entitlement_id))
        .group_by((r.c.bucket - span.c.first) // size)
        # never more than ``count`` windows; saying so keeps PostgreSQL's estimate of the
        # lookups below small (else the estimate passes jit_above_cost and the query is
        # JIT-compiled, which takes longer than running it)
        .limit(count)
        .subquery("w")
    )

    def at_bucket(column: str, bucket: sa.ColumnElement[int]) -> sa.ScalarSelect:
        edge = r.alias()
        return (sa.select(edge.c[column])
                .where(edge.c.instance_id == instance_id,
                       edge.c.entitlement_id == entitlement_id, edge.c.bucket == bucket)
                .scalar_subquery())

    rows = connection.execute(
        sa.select(grouped.c.start, grouped.c.end, at_bucket("value_first", grouped.c.start),
                  grouped.c.low, grouped.c.high, at_bucket("value_last", grouped.c.end),
                  at_bucket("threshold_last", grouped.c.end), grouped.c.reached)
        .order_by(grouped.c.start)
    ).all()
    return [_Window(*row[:7], int(row[7] or 0)) for row in rows]


def _crossings(source: _Source, buckets: list[int]) -> pd.DataFrame:
    """Return the exact reports that reached the threshold, from their buckets' events."""
    if not buckets:
        return _typed(frame([], COLUMNS, times=("created_at",)))
    if len(buckets) > MAX_EXACT_CROSSING_BUCKETS:
        buckets = buckets[:: -(-len(buckets) // MAX_EXACT_CROSSING_BUCKETS)]
    if source.warehouse is not None:
        points = _typed(frame(warehouse_reads.accepted_points(source.warehouse, source.scope,
                                                              buckets),
                              COLUMNS, times=("created_at",)))
        return points[points["crossing"]].reset_index(drop=True)
    connection, instance_id, entitlement_id = source[:3]
    t = feature_audit_trail
    ranges = sa.or_(*(
        (t.c.created_at >= datetime.fromtimestamp(b * BUCKET_SECONDS, UTC))
        & (t.c.created_at < datetime.fromtimestamp((b + 1) * BUCKET_SECONDS, UTC))
        for b in buckets
    ))
    points = _accepted_points(connection, (t.c.instance_id == instance_id)
                              & (t.c.entitlement_id == entitlement_id) & ranges)
    return points[points["crossing"]].reset_index(drop=True)
