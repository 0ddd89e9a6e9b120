"""Metering periods in UTC: where the period holding a moment starts and ends.

``day`` starts at 00:00 UTC, ``week`` on the ISO week's Monday 00:00 UTC, ``month`` on the
1st, ``year`` on 1 January; each ends where the next starts (the end is exclusive). Every
boundary is a UTC midnight, so a period is a whole number of the rollups' 15-minute buckets
and UTC days.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import pandas as pd
from dateutil.relativedelta import MO, relativedelta

from kaiten_analytics.db.usage_json import decode_usage
from kaiten_analytics.policy import Policy

#: the step from a period's start to the next one's
_STEP = {
    "day": relativedelta(days=1),
    "week": relativedelta(weeks=1),
    "month": relativedelta(months=1),
    "year": relativedelta(years=1),
}
#: from a UTC midnight back to the period's start
_BACK = {
    "day": relativedelta(),
    "week": relativedelta(weekday=MO(-1)),
    "month": relativedelta(day=1),
    "year": relativedelta(month=1, day=1),
}

#: the bounds last computed per period: nearly every report falls in the same one
_LAST: dict[str, tuple[datetime, datetime]] = {}


def period_bounds(period: str | None, at: datetime) -> tuple[datetime | None, datetime | None]:
    """Return ``(start, end)`` of the ``period`` holding ``at`` (aware UTC; end exclusive).

    ``(None, None)`` when ``period`` is None (the aggregate never restarts).

    >>> period_bounds("month", datetime(2024, 2, 29, 23, 59, tzinfo=UTC))[1].isoformat()
    '2024-03-01T00:00:00+00:00'
    """
    if period is None:
        return None, None
    known = _LAST.get(period)
    if known is not None and known[0] <= at < known[1]:
        return known
    midnight = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = midnight + _BACK[period]
    bounds = _LAST[period] = (start, start + _STEP[period])
    return bounds


@lru_cache(maxsize=64)  # a report's period bounds are nearly always the last ones
def rfc3339(moment: datetime | None) -> str | None:
    """Return ``moment`` as RFC 3339 text in UTC (``2026-03-01T00:00:00Z``), None as None."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")



def current_usage(stored_value: Any, period_start: datetime | None,
                  period_end: datetime | None, policy: Policy | None, now: datetime
                  ) -> tuple[float | None, int]:
    """Return ``(aggregate, event_count)`` of a usage row in the period holding ``now``.

    A row stored for another period (one that ended, or before the policy's period changed)
    is no current usage: ``(None, 0)``, exactly as the next report starts from none.
    """
    aggregate, count = decode_usage(stored_value)
    if aggregate is None:
        return None, 0
    if (period_start, period_end) != period_bounds(
            policy.period if policy is not None else None, now):
        return None, 0
    return aggregate, count


def period_starts(period: str | None, times: pd.Series) -> pd.Series:
    """Return the start of the ``period`` holding each of ``times`` (aware UTC; NaT: none)."""
    if period is None:
        return pd.Series(pd.NaT, index=times.index, dtype="datetime64[us, UTC]")
    utc = pd.to_datetime(times, utc=True)
    days = utc.dt.floor("D")
    if period == "day":
        return days
    if period == "week":
        return days - pd.to_timedelta(days.dt.day_of_week, unit="D")
    naive = utc.dt.tz_localize(None)
    frequency = {"month": "M", "year": "Y"}[period]
    return naive.dt.to_period(frequency).dt.start_time.dt.tz_localize(UTC)
