"""Local days in any IANA zone, as ranges of 15-minute UTC buckets.

Every current UTC offset is a multiple of 15 minutes (+05:30 Kolkata, +05:45 Kathmandu,
-09:30 Marquesas), so a local midnight always falls on a bucket boundary and a local day —
23, 24 or 25 hours long around a DST change — is a whole number of buckets.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from kaiten_analytics.config import zone
from kaiten_analytics.service.ledger import BUCKET_SECONDS


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
