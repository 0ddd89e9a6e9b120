"""The four flag types and the values each takes."""

from __future__ import annotations

import json
import math
from typing import Any

from kaiten_analytics.enumerations import FLAG_TYPES
from kaiten_analytics.errors import ValidationError

_EXAMPLES = {"boolean": "true", "string": '"csv"', "number": "10", "json": '{"limit": 5}'}


def flag_type(value: Any) -> str:
    """Return a valid flag type (``boolean``, ``string``, ``number``, ``json``; any case)."""
    lower = value.lower() if isinstance(value, str) else value
    if lower not in FLAG_TYPES:
        raise ValidationError("type", f"must be one of {', '.join(FLAG_TYPES)}")
    return lower


def finite_number(value: Any) -> bool:
    """Return True for an int or a finite float (booleans are not numbers here)."""
    if isinstance(value, bool):
        return False
    # an int is always finite (math.isfinite would overflow on a huge one)
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def value_problem(type_: str, value: Any) -> str | None:
    """Return why ``value`` cannot be served by a flag of ``type_`` (None when it can).

    A ``json`` flag serves a JSON object or array (what OpenFeature calls an object value).
    """
    if type_ == "boolean":
        return None if isinstance(value, bool) else "a boolean flag takes true or false"
    if type_ == "string":
        return None if isinstance(value, str) else "a string flag takes a text value"
    if type_ == "number":
        return None if finite_number(value) else "a number flag takes a finite number"
    if type_ == "json":
        if not isinstance(value, dict | list):
            return "a json flag takes a JSON object or array"
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            return f"must hold only JSON values ({exc})"
        return None
    return f"the flag's type {type_!r} is not one of {', '.join(FLAG_TYPES)}"


def flag_value(type_: str, value: Any, field: str) -> Any:
    """Return ``value`` if a flag of ``type_`` can serve it, else raise ``ValidationError``."""
    problem = value_problem(type_, value)
    if problem:
        raise ValidationError(field, f"{problem}, got {json_text(value)}")
    return value


def parse_json(text: Any, field: str, type_: str | None = None) -> Any:
    """Return the JSON value written in ``text`` (a form's input); bad JSON is a ValidationError.

    ``type_`` only improves the message with an example of a value of that type.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValidationError(field, "is required (JSON)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        hint = f"; e.g. {_EXAMPLES[type_]}" if type_ in _EXAMPLES else ""
        raise ValidationError(
            field, f"is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}){hint}"
        ) from exc


def json_text(value: Any) -> str:
    """Return ``value`` as compact JSON text (``repr`` for what JSON cannot hold)."""
    try:
        return json.dumps(value, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError):
        return repr(value)
