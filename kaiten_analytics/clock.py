"""The injectable clock: every timestamp the library writes comes from one of these."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from ulid import LaxMonotonicPolicy, ULIDGenerator

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """Return the current time as an aware UTC datetime."""
    return datetime.now(UTC)


def utc_now(clock: Clock) -> datetime:
    """Call ``clock`` and return its time in UTC; a naive answer is a programming error."""
    now = clock()
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise TypeError(f"clock must return an aware datetime, returned {now!r}")
    return now.astimezone(UTC)


# Monotonic within a millisecond, so events written in one process in the same millisecond
# keep their order when sorted by id.
_ids = ULIDGenerator(policy=LaxMonotonicPolicy())


def new_id(at: datetime) -> str:
    """Return a new ULID string whose time part is ``at`` (so ids sort with their timestamps)."""
    return str(_ids.generate(at))
