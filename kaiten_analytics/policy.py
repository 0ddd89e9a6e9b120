"""Metering policies: what a license's NUMBER entitlement value says about its limit.

A NUMBER value is either a number (the threshold, "at most N, forever"), None (no limit), or
an object ``{"threshold": 1000, "period": "month", "overage_percent": 20, "warn_at": [50,
80]}`` (every key but ``threshold`` optional):

* ``period`` (``day``, ``week`` = ISO week, ``month``, ``year``; absent = never): the
  aggregate and its event count restart at each UTC period boundary;
* ``overage_percent``: a soft limit, reports are accepted up to threshold × (1 + p / 100);
* ``warn_at``: percentages of the threshold, each warned about once per period.

:func:`license_value` checks a value when a license is saved (a ``ValidationError`` naming the
key at fault) and returns what is stored; :func:`policy_of` and :func:`threshold_of` read a
stored value back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from kaiten_analytics.errors import ValidationError

#: the periods a policy can restart its aggregate at (UTC; week = ISO week from Monday)
PERIODS: Final = ("day", "week", "month", "year")
POLICY_KEYS: Final = ("threshold", "period", "overage_percent", "warn_at")


@dataclass(frozen=True)
class Policy:
    """A NUMBER entitlement's limit: threshold, period, overage and warning levels."""

    threshold: float
    period: str | None = None
    overage_percent: float = 0.0
    warn_at: tuple[float, ...] = ()

    @property
    def limit(self) -> float:
        """The highest aggregate a report may leave: threshold × (1 + overage / 100)."""
        if not self.overage_percent:
            return self.threshold
        return self.threshold * (1 + self.overage_percent / 100)


def _number(value: Any, field: str) -> float:
    # the one rule for numbers (fields imports this module, so it is looked up when called)
    from kaiten_analytics.fields import finite_number

    return finite_number(value, field)


def _plain(number: float) -> int | float:
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def license_value(value: Any, field: str) -> int | float | dict[str, Any] | None:
    """Check a NUMBER entitlement's license value; return what is stored.

    A number is the threshold (≥ 0); None is no limit; a mapping is a policy whose keys are
    checked one by one (an unknown key, a missing or negative ``threshold``, an unknown
    ``period``, a negative ``overage_percent``, ``warn_at`` levels that are not distinct
    percentages above 0 and at most 100 + ``overage_percent``). The stored policy keeps only
    the keys given, ``warn_at`` sorted.
    """
    if value is None:
        return None
    if not isinstance(value, Mapping):
        threshold = _number(value, field)
        if threshold < 0:
            raise ValidationError(field, "a threshold must not be negative")
        return _plain(threshold)
    for key in value:
        if key not in POLICY_KEYS:
            raise ValidationError(f"{field}.{key}", "is not a policy key (one of "
                                                    f"{', '.join(POLICY_KEYS)})")
    if value.get("threshold") is None:
        raise ValidationError(f"{field}.threshold", "is required in a policy")
    threshold = _number(value["threshold"], f"{field}.threshold")
    if threshold < 0:
        raise ValidationError(f"{field}.threshold", "must not be negative")
    stored: dict[str, Any] = {"threshold": _plain(threshold)}
    period = value.get("period")
    if period is not None:
        if period not in PERIODS:
            raise ValidationError(f"{field}.period", f"must be one of {', '.join(PERIODS)} "
                                                     f"(or absent: never), got {period!r}")
        stored["period"] = period
    overage = 0.0
    if value.get("overage_percent") is not None:
        overage = _number(value["overage_percent"], f"{field}.overage_percent")
        if overage < 0:
            raise ValidationError(f"{field}.overage_percent", "must not be negative")
        stored["overage_percent"] = _plain(overage)
    levels = value.get("warn_at")
    if levels is not None:
        if isinstance(levels, str | bytes) or not isinstance(levels, Sequence):
            raise ValidationError(f"{field}.warn_at", "must be a list of percentages")
        checked = []
        for index, level in enumerate(levels):
            percent = _number(level, f"{field}.warn_at[{index}]")
            if not 0 < percent <= 100 + overage:
                raise ValidationError(f"{field}.warn_at[{index}]",
                                      f"must be above 0 and at most {_plain(100 + overage)} "
                                      f"(percent of the threshold), got {level!r}")
            checked.append(percent)
        if len(set(checked)) != len(checked):
            raise ValidationError(f"{field}.warn_at", "levels must be distinct")
        stored["warn_at"] = [_plain(level) for level in sorted(checked)]
    return stored


def policy_of(stored: Any) -> Policy | None:
    """Return the :class:`Policy` of a stored NUMBER value (a plain threshold is one too).

    None means no limit. The value was checked when it was saved.
    """
    if stored is None:
        return None
    if not isinstance(stored, Mapping):
        return Policy(float(stored))
    return Policy(float(stored["threshold"]), stored.get("period"),
                  float(stored.get("overage_percent") or 0),
                  tuple(float(level) for level in stored.get("warn_at") or ()))


def threshold_of(stored: Any) -> float | None:
    """Return the threshold of a stored NUMBER value (None: no limit)."""
    if stored is None:
        return None
    if isinstance(stored, Mapping):
        return float(stored["threshold"])
    return float(stored)


def granted_value(stored: Any) -> Any:
    """The value ``get_value`` and ``summary`` grant: the threshold of a policy, else as is."""
    if isinstance(stored, Mapping):
        return stored["threshold"]
    return stored
