"""Field rules, checked where input enters the library (once, for every caller).

Both the write path (``service``) and the reads (``analytics``) import them from here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from numbers import Real
from typing import Any

from kaiten_analytics import policy
from kaiten_analytics.enumerations import AGGREGATION_METHODS, ENTITLEMENT_TYPES
from kaiten_analytics.errors import ValidationError

SLUG_MAX = 63
NAME_MAX = 200
#: the most rows one page of a list may ask for (the audit trail, the instance list)
PAGE_MAX = 200
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
#: An address as identity providers hand them out: one ``@``, no spaces, a dotted domain.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_EMAIL_MAX = 254  # RFC 5321's limit on a forward path


def slug(value: Any, field: str = "slug") -> str:
    """Return ``value`` if it is URL-safe: lowercase letters, digits and single inner ``-``."""
    if not isinstance(value, str) or not value:
        raise ValidationError(field, "is required")
    if len(value) > SLUG_MAX:
        raise ValidationError(field, f"must be at most {SLUG_MAX} characters")
    if not _SLUG.match(value):
        raise ValidationError(
            field, "must be URL-safe: lowercase letters, digits and '-' (e.g. 'acme-prod')"
        )
    return value


def lookup_slug(value: Any, field: str) -> str:
    """Return ``value`` if it can name something to look up by slug (or key), else refuse it.

    Every lookup (an instance, an entitlement, a customer … a flag key) checks its argument
    here before it reaches the database; a string that names nothing is then not found.
    """
    if not isinstance(value, str) or not value:
        raise ValidationError(field, "must be a slug")
    return value


def name(value: Any, field: str = "name") -> str:
    """Return ``value`` stripped; it must be a non-empty string of at most 200 characters."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, "must not be empty")
    value = value.strip()
    if len(value) > NAME_MAX:
        raise ValidationError(field, f"must be at most {NAME_MAX} characters")
    return value


def text(value: Any, field: str = "description", max_length: int = 10_000) -> str:
    """Return ``value`` (None becomes ""), a string of at most ``max_length`` characters."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError(field, "must be text")
    if len(value) > max_length:
        raise ValidationError(field, f"must be at most {max_length} characters")
    return value


def optional_date(value: Any, field: str) -> date | None:
    """Return a ``date`` from a date or an ISO ``YYYY-MM-DD`` string (None stays None)."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        raise ValidationError(field, "must be a date (YYYY-MM-DD), not a date and time")
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise ValidationError(field, f"{value!r} is not a date (YYYY-MM-DD)") from exc
    raise ValidationError(field, "must be a date (YYYY-MM-DD)")


def date_range(start: date | None, end: date | None) -> None:
    """Refuse an end date before the start date."""
    if start is not None and end is not None and end < start:
        raise ValidationError("license_end", f"{end} is before license_start {start}")


def json_object(value: Any, field: str = "metadata") -> dict[str, Any]:
    """Return a JSON object (a dict with string keys) from a mapping or JSON text."""
    if value is None or value == "":
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValidationError(field, f"is not valid JSON ({exc.msg} at line "
                                         f"{exc.lineno} column {exc.colno})") from exc
    if not isinstance(value, Mapping):
        raise ValidationError(field, f"must be a JSON object, got {type(value).__name__}")
    value = dict(value)
    if not all(isinstance(key, str) for key in value):
        raise ValidationError(field, "keys must be strings")
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValidationError(field, f"must hold only JSON values ({exc})") from exc
    return value


def finite_number(value: Any, field: str = "value") -> float:
    """Return ``value`` as a float; refuse NaN, infinities, booleans, strings and containers."""
    if value is None:
        raise ValidationError(field, "is required: a finite number")
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValidationError(field, f"must be a finite number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise ValidationError(field, f"must be a finite number, got {value!r}")
    return number


def entitlement_type(value: Any) -> str:
    """Return a valid entitlement type (case-insensitive input)."""
    upper = value.upper() if isinstance(value, str) else value
    if upper not in ENTITLEMENT_TYPES:
        raise ValidationError("type", f"must be one of {', '.join(ENTITLEMENT_TYPES)}")
    return upper


def aggregation_method(value: Any, type_: str) -> str | None:
    """Return the aggregation method; only NUMBER entitlements have one."""
    if type_ != "NUMBER":
        if value not in (None, ""):
            raise ValidationError(
                "aggregation_method", f"only NUMBER entitlements aggregate; {type_} takes none"
            )
        return None
    upper = value.upper() if isinstance(value, str) else value
    if upper not in AGGREGATION_METHODS:
        raise ValidationError(
            "aggregation_method", f"must be one of {', '.join(AGGREGATION_METHODS)}"
        )
    return upper


def entitlement_value(type_: str, value: Any, field: str) -> Any:
    """Check a license's value for an entitlement of ``type_``.

    NUMBER: a threshold, None (no limit) or a metering policy object
    (:func:`kaiten_analytics.policy.license_value`).
    """
    if type_ == "NUMBER":
        return policy.license_value(value, field)
    if type_ == "BOOLEAN":
        if not isinstance(value, bool):
            raise ValidationError(field, "a BOOLEAN entitlement takes true or false")
        return value
    if not isinstance(value, str):
        raise ValidationError(field, "a STRING entitlement takes a text value")
    return value


def email(value: Any, field: str = "email") -> str:
    """Return the email address ``value`` trimmed and in lower case.

    Identity providers differ in how they case the same address, so addresses are compared
    in this form. A malformed one (not one ``@``, spaces, an undotted domain, over 254
    characters) raises ``ValidationError``.
    """
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, "is required: an email address such as ada@example.com")
    normal = value.strip().lower()
    if len(normal) > _EMAIL_MAX or not _EMAIL.fullmatch(normal):
        raise ValidationError(field, f"{value.strip()!r} is not an email address")
    return normal


def instant(value: Any, field: str) -> datetime | None:
    """Return an aware UTC datetime from an RFC 3339 string or an aware datetime (None stays).

    A string without an offset, or a naive datetime, is refused: it names no instant.
    """
    if value is None:
        return None
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise ValidationError(field, f"{value!r} is not an RFC 3339 timestamp "
                                         "(e.g. 2026-03-10T12:00:00Z)") from exc
        if parsed.tzinfo is None:
            raise ValidationError(field, f"{value!r} has no UTC offset (add Z or +hh:mm)")
        return parsed.astimezone(UTC)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValidationError(field, "must be an aware datetime (with a time zone)")
        return value.astimezone(UTC)
    raise ValidationError(field, "must be an RFC 3339 string or an aware datetime")


def bounded_int(value: Any, field: str, low: int, high: int | None = None) -> int:
    """Return ``value`` if it is an int within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, f"must be a whole number, got {value!r}")
    if value < low or (high is not None and value > high):
        span = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise ValidationError(field, f"must be {span}, got {value}")
    return value
