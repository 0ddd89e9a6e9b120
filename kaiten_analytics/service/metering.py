"""The metering decision: what one report does under a license's policy, as a pure function.

:func:`decide` takes the stored usage row (aggregate, event count, the period it belongs to,
the warning levels already sent in it), the policy and the report, and says:

* **periods** — the stored aggregate counts only when it belongs to the period holding the
  report (same start and end, :func:`kaiten_analytics.periods.period_bounds`); otherwise the
  report starts from no aggregate. A policy whose period changed (or a threshold that became a
  policy) therefore starts a new period at its next report;
* **soft limit** — a report is accepted while the candidate aggregate is at most threshold ×
  (1 + overage / 100); equal is accepted;
* **REACHED** — an accepted report takes the period's aggregate from below the threshold (or
  none) to it or above;
* **WARNING** — each ``warn_at`` level the aggregate reaches for the first time in the period
  (one per level per period, several at once when a report jumps past them);
* **RECOVERED** — an accepted report leaves the aggregate below the threshold while the
  stored one was at or over it: a LATEST, MIN or AVERAGE report that falls, or the first report
  of a new period after a period that ended at or over it.

:func:`kaiten_analytics.periods.current_usage` applies the same period rule to reads, so a
read right after a boundary shows no usage, exactly as the next report would start from none.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kaiten_analytics.db.usage_json import json_number as number
from kaiten_analytics.periods import period_bounds
from kaiten_analytics.policy import Policy
from kaiten_analytics.service.aggregation import candidate


@dataclass(slots=True)
class Stored:
    """A usage row as stored: the aggregate, its event count, its period, levels warned."""

    aggregate: float | None = None
    count: int = 0
    period_start: datetime | None = None
    period_end: datetime | None = None
    warned: tuple[float, ...] = ()


@dataclass(slots=True)
class Decision:
    """What a report does: the period's aggregate before and after, and the events it emits."""

    accepted: bool
    candidate: float
    before: float | None  # the period's aggregate before the report (None: none yet)
    after: float | None  # the period's aggregate after (unchanged when rejected)
    count_before: int
    event_count: int  # the period's accepted reports after this one
    period_start: datetime | None
    period_end: datetime | None
    warned: tuple[float, ...]  # levels warned in the period after this report
    warnings: tuple[float, ...] = ()  # levels this report reached first
    reached: bool = False
    recovered: bool = False
    reason: str | None = None


def in_period(stored: Stored, policy: Policy | None, now: datetime
              ) -> tuple[datetime | None, datetime | None, bool]:
    """Return the bounds of the period holding ``now`` and whether ``stored`` belongs to it."""
    start, end = period_bounds(policy.period if policy is not None else None, now)
    return start, end, stored.period_start == start and stored.period_end == end


def decide(method: str, policy: Policy | None, stored: Stored, value: float, now: datetime
           ) -> Decision:
    """Decide one report of ``value`` at ``now`` (see the module docstring for the rules)."""
    start, end, same = in_period(stored, policy, now)
    current, count, warned = ((stored.aggregate, stored.count, stored.warned) if same
                              else (None, 0, ()))
    new = candidate(method, current, count, value)
    if policy is None:
        return Decision(True, new, current, new, count, count + 1, start, end, warned)
    threshold, limit = policy.threshold, policy.limit
    if new > limit:
        if policy.overage_percent:
            reason = (f"the aggregate would be {number(new)}, above the limit {number(limit)} "
                      f"(threshold {number(threshold)} + {number(policy.overage_percent)} % "
                      f"overage) ({method})")
        else:
            reason = (f"the aggregate would be {number(new)}, above the threshold "
                      f"{number(threshold)} ({method})")
        return Decision(False, new, current, current, count, count, start, end, warned,
                        reason=reason)
    reached = new >= threshold and (current is None or current < threshold)
    recovered = (new < threshold and stored.aggregate is not None
                 and stored.aggregate >= threshold)
    warnings = tuple(level for level in policy.warn_at
                     if level not in warned and new >= threshold * level / 100)
    if warnings:
        warned = tuple(sorted({*warned, *warnings}))
    return Decision(True, new, current, new, count, count + 1, start, end, warned, warnings,
                    reached, recovered)


def rejected(stored: Stored, policy: Policy | None, now: datetime, reason: str) -> Decision:
    """A rejection for a reason outside the policy (the license term): nothing changes."""
    start, end, same = in_period(stored, policy, now)
    current, count, warned = ((stored.aggregate, stored.count, stored.warned) if same
                              else (None, 0, ()))
    return Decision(False, current if current is not None else 0.0, current, current, count,
                    count, start, end, warned, reason=reason)
