"""The aggregate of one NUMBER entitlement over time, whole or downsampled for charts."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa

from kaiten_analytics.analytics._frames import frame
from kaiten_analytics.db.models import audit_rollup_15m, entitlements, feature_audit_trail
from kaiten_analytics.errors import NotFoundError, ValidationError
from kaiten_analytics.events import USAGE_ACCEPTED
from kaiten_analytics.service import fields
from kaiten_analytics.service.database import Database
from kaiten_analytics.service.ledger import BUCKET_SECONDS
from kaiten_analytics.service.lookup import instance_row

COLUMNS = ["created_at", "value", "threshold", "crossing"]
#: beyond this many crossing buckets, crossings are placed at their bucket, not looked up
MAX_EXACT_CROSSING_BUCKETS = 500


def value_over_time(db: Database, instance: str, entitlement: str,
                    max_points: int | None = None) -> pd.DataFrame:
    """Return the aggregate after each accepted report, with the threshold at that time.

    With ``max_points`` (e.g. 2000) the series is downsampled for charts from the 15-minute
    rollups — its cost then follows the time span, not the number of reports: each window
    keeps its first, lowest, highest and last value, and every report that reached the
    threshold is kept as an exact point.

    Returns
    -------
    DataFrame
        created_at (aware UTC), value (float), threshold (float, NaN without a limit),
        crossing (bool: this report took the aggregate to the threshold) — oldest first.
    """
    if max_points is not None:
        max_points = fields.bounded_int(max_points, "max_points", 10)
    with db.read() as connection:
        instance_id = instance_row(connection, instance).id
        row = connection.execute(
            sa.select(entitlements.c.id, entitlements.c.type)
            .where(entitlements.c.slug == entitlement)
        ).first()
        if row is None:
            raise NotFoundError("entitlement", entitlement)
        if row.type != "NUMBER":
            raise ValidationError("entitlement", f"{entitlement!r} is {row.type}; only NUMBER "
                                                 "entitlements have a value over time")
        if max_points is None:
            df = _all_points(connection, instance_id, row.id)
        else:
            df = _downsampled(connection, instance_id, row.id, max_points)
    return df


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


def _all_points(connection: sa.Connection, instance_id: int, entitlement_id: int
                ) -> pd.DataFrame:
    t = feature_audit_trail
    return _accepted_points(connection, (t.c.instance_id == instance_id)
                            & (t.c.entitlement_id == entitlement_id))


def _downsampled(connection: sa.Connection, instance_id: int, entitlement_id: int,
                 max_points: int) -> pd.DataFrame:
    r = audit_rollup_15m
    rows = connection.execute(
        sa.select(r.c.bucket, r.c.value_first, r.c.value_min, r.c.value_max, r.c.value_last,
                  r.c.threshold_last, r.c.reached)
        .where(r.c.instance_id == instance_id, r.c.entitlement_id == entitlement_id,
               r.c.accepted > 0)
        .order_by(r.c.bucket)
    ).all()
    if not rows:
        return _typed(frame([], COLUMNS, times=("created_at",)))
    buckets = pd.DataFrame(rows, columns=["bucket", "first", "low", "high", "last",
                                          "threshold", "reached"])
    crossing_buckets = buckets.loc[buckets["reached"] > 0, "bucket"].tolist()
    crossings = _crossings(connection, instance_id, entitlement_id, crossing_buckets)
    budget = max(max_points - len(crossings), 4)
    windows = max(1, budget // 4)  # up to four points per window
    size = max(1, -(-len(buckets) // windows))  # buckets per window, rounded up
    buckets["window"] = np.arange(len(buckets)) // size
    grouped = buckets.groupby("window").agg(
        start=("bucket", "first"), end=("bucket", "last"), first=("first", "first"),
        low=("low", "min"), high=("high", "max"), last=("last", "last"),
        threshold=("threshold", "last"),
    )
    points = []
    for window in grouped.itertuples():
        # points stay between the start of the window's first and last buckets, so none is
        # drawn later than the report it stands for; within a window the order of the
        # extremes is unknown: they go between the first and last values, keeping the envelope
        start = window.start * BUCKET_SECONDS
        span = (window.end - window.start) * BUCKET_SECONDS
        for offset, value in ((0, window.first), (span // 3, window.low),
                              (2 * span // 3, window.high), (span, window.last)):
            points.append((start + offset, value, window.threshold))
    df = pd.DataFrame(points, columns=["seconds", "value", "threshold"]).drop_duplicates()
    df["created_at"] = pd.to_datetime(df["seconds"], unit="s", utc=True)
    df["crossing"] = False
    df = df[COLUMNS]
    if len(crossings):
        df = pd.concat([df, crossings], ignore_index=True)
    df = df.sort_values("created_at", kind="stable")
    return _typed(df)


def _crossings(connection: sa.Connection, instance_id: int, entitlement_id: int,
               buckets: list[int]) -> pd.DataFrame:
    """Return the exact reports that reached the threshold, from their buckets' events."""
    if not buckets:
        return _typed(frame([], COLUMNS, times=("created_at",)))
    if len(buckets) > MAX_EXACT_CROSSING_BUCKETS:
        buckets = buckets[:: -(-len(buckets) // MAX_EXACT_CROSSING_BUCKETS)]
    t = feature_audit_trail
    ranges = sa.or_(*(
        (t.c.created_at >= datetime.fromtimestamp(b * BUCKET_SECONDS, UTC))
        & (t.c.created_at < datetime.fromtimestamp((b + 1) * BUCKET_SECONDS, UTC))
        for b in buckets
    ))
    points = _accepted_points(connection, (t.c.instance_id == instance_id)
                              & (t.c.entitlement_id == entitlement_id) & ranges)
    return points[points["crossing"]].reset_index(drop=True)
