"""When a failed delivery is tried again (the schedule Svix uses)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

#: the wait after the 1st, 2nd, … failed attempt; after the last one the delivery is failed
RETRY_DELAYS = (
    timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
    timedelta(hours=5), timedelta(hours=10), timedelta(hours=10),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
JITTER = 0.10
#: a Retry-After longer than this is taken as this (a receiver cannot park a delivery forever)
MAX_RETRY_AFTER = timedelta(hours=24)
MIN_RETRY_AFTER = timedelta(seconds=1)


def next_attempt(attempts: int, now: datetime, retry_after: str | None = None,
                 rng: random.Random | None = None) -> datetime | None:
    """Return when to try again after ``attempts`` failed attempts, or None: give up.

    The schedule's delay is stretched by up to 10 % at random (so receivers coming back are
    not hit by every relay at once); a ``Retry-After`` header (seconds or an HTTP date), when
    present and valid, replaces it, clamped to 1 s – 24 h.
    """
    if attempts >= MAX_ATTEMPTS:
        return None
    wait = _retry_after(retry_after, now)
    if wait is None:
        base = RETRY_DELAYS[max(attempts, 1) - 1]
        wait = base * (1 + (rng or random).uniform(0, JITTER))
    return now + wait


def _retry_after(header: str | None, now: datetime) -> timedelta | None:
    if not header:
        return None
    header = header.strip()
    try:
        wait = timedelta(seconds=float(header))
    except ValueError:
        try:
            at = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return None
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        wait = at - now
    return min(max(wait, MIN_RETRY_AFTER), MAX_RETRY_AFTER)
