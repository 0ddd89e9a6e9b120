"""Field rules, checked where input enters the library (once, for every caller).

Both the write path (``service``) and the reads (``analytics``) import them from here. Every
public argument is type-checked and bounded by one of these before any database work, so
hostile input (a dict where a slug goes, a NUL byte, a lone surrogate, a 10,000-character time
zone, a float for a page size) is refused with ``ValidationError(field, message)`` — or, for a
lookup, is simply not found — and never reaches a driver as a foreign exception:

- a slug is a ``str`` of the slug shape; in a lookup, a string that is not slug-shaped names
  nothing (``NotFoundError``) and a non-string is a ``ValidationError``;
- names, descriptions and other text are ``str`` of bounded length, valid Unicode (no lone
  surrogates) and without control characters (free text keeps tab and line breaks);
- a time zone is a short IANA-shaped name that ``zoneinfo`` knows;
- numbers are real numbers (a bool is not one), finite, and in range; counts, pages and ids
  are bounded ints.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from numbers import Real
from typing import Any

from kaiten_analytics import policy
from kaiten_analytics.enumerations import AGGREGATION_METHODS, ENTITLEMENT_TYPES
from kaiten_analytics.errors import NotFoundError, ValidationError

SLUG_MAX = 63
NAME_MAX = 200
#: the most rows one page of a list may ask for (the audit trail, the instance list)
PAGE_MAX = 200
#: An address as identity providers hand them out: one ``@``, no spaces, a dotted domain.
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_EMAIL_MAX = 254  # RFC 5321's limit on a forward path
#: the largest whole number an argument may be (a PostgreSQL ``integer``: ids, pages, counts)
INT_MAX = 2**31 - 1
#: longer than any IANA zone name (the longest is 32 characters)
TZ_MAX = 64
_SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_TZ = re.compile(r"[A-Za-z0-9_+\-]+(?:/[A-Za-z0-9_+\-]+)*")
#: C0 and C1 control characters and DEL; free text may keep tab, line feed and carriage return
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_IN_FREE_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SHOWN_MAX = 40


def shown(value: object) -> str:
    """``repr(value)`` cut to about 40 characters, for a message about hostile input."""
    text = repr(value)
    return text if len(text) <= _SHOWN_MAX else text[:_SHOWN_MAX] + "…"


def storable(value: str, field: str, *, line_breaks: bool = False) -> str:
    """Return ``value`` if every database can store it and a screen can show it.

    Refuses lone surrogates (not valid Unicode: no driver can encode them) and control
    characters — NUL among them, which PostgreSQL cannot store in text; ``line_breaks``
    keeps tab, line feed and carriage return (free text).
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(field, "is not valid Unicode text (it holds a lone surrogate)"
                              ) from exc
    if (_CONTROL_IN_FREE_TEXT if line_breaks else _CONTROL).search(value):
        raise ValidationError(field, "must not contain control characters (such as NUL)")
    return value


def slug(value: Any, field: str = "slug") -> str:
    """Return ``value`` if it is URL-safe: lowercase letters, digits and single inner ``-``."""
    if not isinstance(value, str) or not value:
        raise ValidationError(field, "is required")
    if len(value) > SLUG_MAX:
        raise ValidationError(field, f"must be at most {SLUG_MAX} characters")
    if not _SLUG.fullmatch(value):
        raise ValidationError(
            field, "must be URL-safe: lowercase letters, digits and '-' (e.g. 'acme-prod')"
        )
    return value


def lookup_slug(value: Any, field: str, entity: str | None = None) -> str:
    """Return ``value`` if it can name something to look up by slug (or key), else refuse it.

    Every lookup (an instance, an entitlement, a customer … a flag key) checks its argument
    here before it reaches the database. A non-string (or an empty one) is a
    ``ValidationError(field)``; a string that is not slug-shaped — too long, a NUL byte, upper
    case, a space — can name nothing, so it is ``NotFoundError(entity)`` (``entity`` defaults
    to ``field``) without a query; a slug-shaped string that names nothing is then not found
    by the query.
    """
    if not isinstance(value, str) or not value:
        raise ValidationError(field, "must be a slug")
    if len(value) > SLUG_MAX or not _SLUG.fullmatch(value):
        entity = entity or field
        raise NotFoundError(entity, value, f"{entity} {shown(value)} does not exist")
    return value


def lookup_text(value: Any, field: str, max_length: int) -> str:
    """Return ``value`` if it is a non-empty, storable string of at most ``max_length``."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, "must be a non-empty string")
    if len(value) > max_length:
        raise ValidationError(field, f"must be at most {max_length} characters")
    return storable(value, field)


def time_zone_name(value: Any, field: str = "tz") -> str:
    """Return ``value`` if it has the shape of an IANA zone name (``Europe/Berlin``).

    Checked before ``zoneinfo`` looks for the file: a non-string, an over-long name, or one
    with dots, spaces, NUL or empty parts (a path) is refused here.
    """
    if not isinstance(value, str) or not value:
        raise ValidationError(field, "must be an IANA time zone name such as 'Europe/Berlin'")
    if len(value) > TZ_MAX or not _TZ.fullmatch(value):
        raise ValidationError(field, f"unknown time zone {shown(value)}")
    return value


def items(value: Any, field: str) -> list[Any]:
    """Return the items of a list, tuple or other iterable (not text, bytes or a mapping)."""
    if isinstance(value, str | bytes | bytearray | Mapping) or not isinstance(value, Iterable):
        raise ValidationError(field, f"must be a list, got {type(value).__name__}")
    return list(value)


def name(value: Any, field: str = "name") -> str:
    """Return ``value`` stripped; it must be a non-empty string of at most 200 characters."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(field, "must not be empty")
    value = value.strip()
    if len(value) > NAME_MAX:
        raise ValidationError(field, f"must be at most {NAME_MAX} characters")
    return storable(value, field)


def text(value: Any, field: str = "description", max_length: int = 10_000) -> str:
    """Return ``value`` (None becomes ""), a string of at most ``max_length`` characters.

    Free text: tab and line breaks are kept, other control characters are refused.
    """
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValidationError(field, "must be text")
    if len(value) > max_length:
        raise ValidationError(field, f"must be at most {max_length} characters")
    return storable(value, field, line_breaks=True)


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
    return storable_json(value, field)


def storable_json(value: Any, field: str) -> Any:
    """Return ``value`` if it is plain JSON every database can store.

    Refuses what JSON cannot hold (NaN, infinities, sets, bytes …), lone surrogates and NUL
    (PostgreSQL's ``jsonb`` refuses ``\\u0000``); other control characters are JSON-escaped.
    """
    try:
        encoded = json.dumps(value, allow_nan=False, ensure_ascii=False)
        encoded.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValidationError(field, "is not valid Unicode text (it holds a lone surrogate)"
                              ) from exc
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValidationError(field, f"must hold only JSON values ({shown(exc)})") from exc
    if "\\u0000" in encoded:
        raise ValidationError(field, "must not contain NUL characters")
    return value


def finite_number(value: Any, field: str = "value") -> float:
    """Return ``value`` as a float; refuse NaN, infinities, booleans, strings and containers."""
    if type(value) not in (int, float):  # the common two skip the ABC check (a bool is neither)
        if value is None:
            raise ValidationError(field, "is required: a finite number")
        if isinstance(value, bool) or not isinstance(value, Real):
            raise ValidationError(field, f"must be a finite number, got {type(value).__name__}")
    try:
        number = float(value)
    except (OverflowError, ValueError) as exc:  # an int beyond a float's range
        raise ValidationError(field, f"must be a finite number, got {shown(value)}") from exc
    if not math.isfinite(number):
        raise ValidationError(field, f"must be a finite number, got {value!r}")
    return number


def number_between(value: Any, field: str, low: float, high: float) -> float:
    """Return ``value`` as a float if it is a finite number within [low, high]."""
    number = finite_number(value, field)
    if not low <= number <= high:
        raise ValidationError(field, f"must be between {low:g} and {high:g}, got {number:g}")
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
    return storable(value, field, line_breaks=True)


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
        raise ValidationError(field, f"{shown(value.strip())} is not an email address")
    return storable(normal, field)


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


def record_id(value: Any, field: str, high: int = INT_MAX) -> int:
    """Return the id ``value``: an int from 1 to ``high``, or its decimal digits as text.

    Only ASCII digits count (``"²".isdigit()`` is true, but it is no number).
    """
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value)
    return bounded_int(value, field, 1, high)


def bounded_int(value: Any, field: str, low: int, high: int | None = None) -> int:
    """Return ``value`` if it is an int within [low, high] (``high`` None: :data:`INT_MAX`)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, f"must be a whole number, got {shown(value)}")
    if value < low or value > (INT_MAX if high is None else high):
        span = f"between {low} and {high}" if high is not None else f"at least {low}"
        if high is None and value > INT_MAX:
            span = f"at most {INT_MAX}"
        raise ValidationError(field, f"must be {span}, got {shown(value)}")
    return value
