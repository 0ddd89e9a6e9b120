"""The ten condition operators: what value each takes, and when a condition holds.

Comparisons never coerce: an attribute and a value of different JSON kinds (a number and a
string, a boolean and a number) do not compare, and such a condition is false — for the
negative operators (``not_equals``, ``not_in``) too, as it is for a missing attribute.

=============  =======================================  ===========================================
operator       value                                    holds when the attribute…
=============  =======================================  ===========================================
equals         any JSON value                           is equal (same kind; 1 equals 1.0)
not_equals     any JSON value                           is of the same kind and not equal
in             non-empty list of strings/numbers/bools  equals one of them
not_in         non-empty list of strings/numbers/bools  is of a kind in the list, equals none
contains       string, number or boolean                is a string containing the (string) value,
                                                        or a list with an element equal to it
starts_with    string                                   is a string starting with it
gt gte lt lte  number or string                         compares so: numbers numerically, strings
                                                        by code point (ISO dates order correctly)
=============  =======================================  ===========================================

String comparisons are case-sensitive.
"""

from __future__ import annotations

import operator as op
from collections.abc import Callable
from typing import Any, Final

from kaiten_analytics.flags.values import finite_number

OPERATORS: Final = ("equals", "not_equals", "in", "not_in", "contains", "starts_with",
                    "gt", "gte", "lt", "lte")

_ORDER: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "gt": op.gt, "gte": op.ge, "lt": op.lt, "lte": op.le,
}


def kind(value: Any) -> str:
    """Return the JSON kind of ``value``: null, boolean, number, string, array, object, other."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "other"


def same(left: Any, right: Any) -> bool:
    """Return True when two JSON values are equal and of the same kind (``True`` is not 1)."""
    left_kind = kind(left)
    if left_kind != kind(right) or left_kind == "other":
        return False
    if left_kind == "array":
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right,
                                                                            strict=True))
    if left_kind == "object":
        return left.keys() == right.keys() and all(same(left[k], right[k]) for k in left)
    return bool(left == right)


def operand_problem(operator: str, value: Any) -> str | None:
    """Return why ``value`` cannot be the value of a condition with ``operator`` (None if ok).

    ``operator`` must be one of :data:`OPERATORS`.
    """
    value_kind = kind(value)
    if operator in ("equals", "not_equals"):
        if value_kind == "other" or (value_kind == "number" and not finite_number(value)):
            return "must be a JSON value"
        if value_kind in ("array", "object") and not all(
            operand_problem("equals", item) is None
            for item in (value if value_kind == "array" else value.values())
        ):
            return "must be a JSON value"
        return None
    if operator in ("in", "not_in"):
        if value_kind != "array" or not value:
            return f"{operator} takes a non-empty list of strings, numbers or booleans"
        if not all(_scalar(item) for item in value):
            return f"{operator} takes a list of strings, numbers or booleans only"
        return None
    if operator == "contains":
        return None if _scalar(value) else "contains takes a string, number or boolean"
    if operator == "starts_with":
        return None if value_kind == "string" else "starts_with takes a string"
    if value_kind == "string" or finite_number(value):
        return None
    return f"{operator} takes a number or a string"


def holds(operator: str, actual: Any, expected: Any) -> bool:
    """Return True when ``actual`` (an attribute's value) satisfies ``operator expected``.

    The operand must be valid (see :func:`operand_problem`). Attributes of another kind, and
    anything that is not a JSON value (such as the context's MISSING marker), never satisfy.
    """
    actual_kind = kind(actual)
    if actual_kind == "other":
        return False
    if operator == "equals":
        return same(actual, expected)
    if operator == "not_equals":
        return actual_kind == kind(expected) and not same(actual, expected)
    if operator == "in":
        return any(same(actual, item) for item in expected)
    if operator == "not_in":
        kinds = {kind(item) for item in expected}
        return actual_kind in kinds and not any(same(actual, item) for item in expected)
    if operator == "contains":
        if actual_kind == "string":
            return isinstance(expected, str) and expected in actual
        return actual_kind == "array" and any(same(item, expected) for item in actual)
    if operator == "starts_with":
        return actual_kind == "string" and actual.startswith(expected)
    if actual_kind not in ("number", "string") or actual_kind != kind(expected):
        return False
    return _ORDER[operator](actual, expected)


def _scalar(value: Any) -> bool:
    return kind(value) in ("string", "boolean") or finite_number(value)
