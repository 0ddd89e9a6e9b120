"""Translate the database's integrity errors into the library's errors, in one place."""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from kaiten_analytics.errors import ConflictError, KaitenError, UnavailableError, ValidationError

# unique constraint names (see models.NAMING) or SQLite's "UNIQUE constraint failed: t.col"
_UNIQUE = re.compile(r"(?:uq_(?P<table>[a-z_]+?)_(?P<column>slug|key|name)\b|"
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


#: what the engine raises when the database cannot serve a call at all: no connection (server
#: stopped, refused, dropped mid-transaction), or no free connection in the pool in time.
UNAVAILABLE = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError)


def translate_unavailable(error: Exception) -> UnavailableError:
    """Return the ``UnavailableError`` for an engine error from :data:`UNAVAILABLE`."""
    if isinstance(error, sa.exc.TimeoutError):
        return UnavailableError("the database is busy: no free connection in the pool")
    orig = getattr(error, "orig", None) or error
    first = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    return UnavailableError(f"the database is unavailable: {first}")
