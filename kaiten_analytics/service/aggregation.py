"""The metering rules (what a report does to an aggregate) as pure functions, one place each."""

from __future__ import annotations

from dataclasses import dataclass

from kaiten_analytics.db.usage_json import json_number as number


@dataclass(frozen=True)
class Outcome:
    """What a report does to an aggregate: accepted or not, and the aggregate after it."""

    accepted: bool
    candidate: float
    after: float | None  # the stored aggregate after the report (unchanged when rejected)
    event_count: int  # accepted reports after this one
    reached: bool  # this report took the aggregate from below the threshold to it or above
    reason: str | None


def candidate(method: str, current: float | None, count: int, value: float) -> float:
    """Return the aggregate a report of ``value`` would produce.

    ``current`` is the stored aggregate (None before the first accepted report) and
    ``count`` the number of accepted reports so far.
    """
    if current is None:
        return 1.0 if method == "COUNT" else value
    if method == "SUM":
        return current + value
    if method == "COUNT":
        return current + 1
    if method == "AVERAGE":
        return (current * count + value) / (count + 1)
    if method == "MAX":
        return max(current, value)
    if method == "MIN":
        return min(current, value)
    if method == "LATEST":
        return value
    raise ValueError(f"unknown aggregation method {method!r}")


def apply_report(method: str, current: float | None, count: int, value: float,
                 threshold: float | None) -> Outcome:
    """Decide one report: reject when the candidate *exceeds* the threshold (equal is fine).

    An accepted report ``reached`` the threshold when the candidate is at or above it while the
    previous aggregate was below it (or absent).
    """
    new = candidate(method, current, count, value)
    if threshold is not None and new > threshold:
        return Outcome(False, new, current, count, False,
                       f"the aggregate would be {number(new)}, above the threshold "
                       f"{number(threshold)} ({method})")
    reached = threshold is not None and new >= threshold and (current is None
                                                                or current < threshold)
    return Outcome(True, new, new, count + 1, reached, None)

