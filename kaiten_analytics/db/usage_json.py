"""The stored usage of an instance × entitlement (``entitlement_usage.value``), both ways.

The column holds ``{"type": "number", "value": <aggregate>, "event_count": <accepted
reports>}``, or NULL before the first accepted report. Writers build it with
:func:`encode_usage` and readers take it apart with :func:`decode_usage`; nothing else looks
inside it.
"""

from __future__ import annotations

from typing import Any


def json_number(value: float | None) -> float | int | None:
    """Return ``value`` as an int when it is a whole number that JSON can carry exactly."""
    if value is None:
        return None
    if float(value).is_integer() and abs(value) < 2**53:
        return int(value)
    return float(value)


def encode_usage(aggregate: float | None, event_count: int) -> dict[str, Any] | None:
    """Return the stored shape ``{"type": "number", "value", "event_count"}`` (None: none yet)."""
    if aggregate is None:
        return None
    return {"type": "number", "value": json_number(aggregate), "event_count": event_count}


def decode_usage(stored: dict[str, Any] | None) -> tuple[float | None, int]:
    """Return ``(aggregate, event_count)`` of a stored usage value; ``(None, 0)`` for none."""
    if not stored:
        return None, 0
    aggregate = stored.get("value")
    return (None if aggregate is None else float(aggregate)), int(stored.get("event_count", 0))
