"""Translate the database's integrity errors into the library's errors, in one place."""

from __future__ import annotations

import re

from sqlalchemy.exc import IntegrityError

from kaiten_analytics.errors import ConflictError, KaitenError, ValidationError

# unique constraint names (see models.NAMING) or SQLite's "UNIQUE constraint failed: t.col"
_UNIQUE = re.compile(r"(?:uq_(?P<table>[a-z_]+?)_(?P<column>slug|key)\b|"
                     r"UNIQUE constraint failed: (?P<stable>\w+)\.(?P<scolumn>\w+))")


def translate_integrity_error(error: IntegrityError) -> KaitenError:
    """Return the ``ConflictError``/``ValidationError`` that ``error`` means for a caller."""
    text = str(error.orig)
    match = _UNIQUE.search(text)
    if match:
        column = match.group("column") or match.group("scolumn")
        return ConflictError(column, f"{column} is already taken")
    if "license_dates" in text:
        return ValidationError("license_end", "must not be before license_start")
    return ValidationError("input", f"refused by the database: {text.splitlines()[0]}")
