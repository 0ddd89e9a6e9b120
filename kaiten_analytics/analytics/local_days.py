"""Local days in any IANA zone, as ranges of 15-minute UTC buckets.

Every current UTC offset is a multiple of 15 minutes (+05:30 Kolkata, +05:45 Kathmandu,
-09:30 Marquesas), so a local midnight always falls on a bucket boundary and a local day —
23, 24 or 25 hours long around a DST change — is a whole number of buckets.
"""

from __future__ import annotations

import json
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from kaiten_analytics.config import zone
from kaiten_analytics.db.models import BUCKET_SECONDS, DAY_SECONDS


@dataclass(frozen=True)
class LocalDay:
    """One local day and its ``[start, end)`` range of 15-minute UTC buckets."""

    day: date
    start: datetime
    end: datetime

    @property
    def first_bucket(self) -> int:
        return int(self.start.timestamp()) // BUCKET_SECONDS

    @property
    def end_bucket(self) -> int:
        return int(self.end.timestamp()) // BUCKET_SECONDS


def local_midnight(day: date, tz: str) -> datetime:
    """Return the UTC instant at which local ``day`` begins in ``tz``."""
    # A midnight skipped by DST (fold=0) resolves to the transition instant: where the day
    # really starts.
    return datetime.combine(day, time(0), tzinfo=zone(tz)).astimezone(UTC)


def local_today(now: datetime, tz: str) -> date:
    """Return the local date of the instant ``now`` in ``tz``."""
    return now.astimezone(zone(tz)).date()


def last_days(now: datetime, tz: str, days: int) -> list[LocalDay]:
    """Return the ``days`` local days ending with today (in ``tz``), oldest first."""
    today = local_today(now, tz)
    first = today - timedelta(days=days - 1)
    dates = [first + timedelta(days=n) for n in range(days + 1)]
    bounds = [local_midnight(d, tz) for d in dates]
    return [LocalDay(dates[n], bounds[n], bounds[n + 1]) for n in range(days)]


BUCKETS_PER_DAY = DAY_SECONDS // BUCKET_SECONDS


@dataclass(frozen=True)
class Shift:
    """Buckets ``[first_bucket, end_bucket)`` of one UTC day that belong to another local day."""

    first_bucket: int
    end_bucket: int
    source: int  # the local day credited with the whole UTC day
    target: int  # the local day these buckets belong to


@dataclass(frozen=True)
class DayPlan:
    """How to sum local days from whole UTC days of ``audit_rollup_day`` plus a few buckets.

    A UTC day's daily row is credited to the local day holding most of it (``owners``: UTC
    day -> index into the local days, -1 or ``len(days)`` when that part lies outside them);
    each other part of that UTC day is a ``Shift``: its buckets' counts, read from
    ``audit_rollup_15m``, move from the owner to the local day they belong to. In UTC there is
    no shift at all; Europe/Berlin shifts 1–2 hours a day, Asia/Kolkata 5.5 — instead of
    summing all 96 buckets of every day.
    """

    owners: dict[int, int]
    shifts: list[Shift]

    @property
    def bucket_ranges(self) -> list[tuple[int, int]]:
        """The ``[first, end)`` bucket ranges whose counts the shifts need."""
        return [(s.first_bucket, s.end_bucket) for s in self.shifts]

    def totals(self, day_counts: dict[int, Sequence[int]], bucket_counts: dict[int, Sequence[int]],
               days: int, width: int) -> list[list[int]]:
        """Return each local day's counts (``width`` columns) from the rollups' counts.

        ``day_counts`` maps a UTC day to its daily row's counts, ``bucket_counts`` a bucket of
        the shifts' ranges to its counts; missing keys count zero.
        """
        sums = {n: [0] * width for n in range(-1, days + 1)}
        for utc_day, owner in self.owners.items():
            _add(sums[owner], day_counts.get(utc_day), 1)
        moves = {bucket: shift for shift in self.shifts
                 for bucket in range(shift.first_bucket, shift.end_bucket)}
        for bucket, counts in bucket_counts.items():
            shift = moves[bucket]
            _add(sums[shift.source], counts, -1)
            _add(sums[shift.target], counts, 1)
        return [sums[n] for n in range(days)]


def _add(total: list[int], counts: Sequence[int] | None, sign: int) -> None:
    for n, count in enumerate(counts or ()):
        total[n] += sign * int(count or 0)


def day_plan(days: Sequence[LocalDay]) -> DayPlan:
    """Plan the local ``days`` (consecutive, oldest first) as UTC days plus shifted buckets."""
    bounds = [d.first_bucket for d in days] + [days[-1].end_bucket]

    def local_index(bucket: int) -> int:  # -1 before the days, len(days) after them
        return bisect_right(bounds, bucket) - 1

    owners: dict[int, int] = {}
    shifts: list[Shift] = []
    for utc_day in range(bounds[0] // BUCKETS_PER_DAY, (bounds[-1] - 1) // BUCKETS_PER_DAY + 1):
        first, end = utc_day * BUCKETS_PER_DAY, (utc_day + 1) * BUCKETS_PER_DAY
        cuts = [first, *(b for b in bounds if first < b < end), end]
        parts = list(pairwise(cuts))
        # the longest part takes the daily row; the others move their buckets (fewest reads)
        owner = max(parts, key=lambda part: part[1] - part[0])
        owners[utc_day] = local_index(owner[0])
        shifts += [Shift(a, b, owners[utc_day], local_index(a)) for a, b in parts
                   if (a, b) != owner]
    return DayPlan(owners, shifts)


def in_buckets(connection: sa.Connection, column: sa.ColumnElement[int], buckets: list[int]
               ) -> sa.ColumnElement[bool]:
    """Return ``column IN buckets`` as one bound parameter, whatever the number of buckets.

    An expanding ``IN`` sends one parameter per bucket, and binding and planning a thousand
    parameters costs PostgreSQL more than running the query. PostgreSQL gets an array
    (``= ANY(:buckets)``), SQLite a JSON list (``IN (SELECT value FROM json_each(:buckets))``).
    """
    if connection.dialect.name == "postgresql":
        return column == sa.any_(sa.bindparam("buckets", list(buckets), unique=True,
                                              type_=postgresql.ARRAY(sa.Integer)))
    listed = sa.func.json_each(sa.bindparam("buckets", json.dumps(list(buckets)), unique=True,
                                            type_=sa.String)).table_valued("value")
    return column.in_(sa.select(listed.c.value))
