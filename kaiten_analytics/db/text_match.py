"""Case-insensitive "contains" that folds every letter, on both engines.

PostgreSQL's ``ILIKE`` lowers every letter (``É`` matches ``é``); on SQLite SQLAlchemy's
``ilike`` becomes ``lower(x) LIKE lower(y)`` and SQLite's ``lower`` knows ASCII letters only.
A search with a non-ASCII character therefore compares ``unicode_lower(x)`` with the lowered
pattern: PostgreSQL's own ``lower`` there, on SQLite the function :func:`register` adds to each
connection (Python's ``str.lower``). An ASCII search keeps the engines' native ``ILIKE``: the
function costs a Python call per row and value, which an ASCII pattern does not need.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import GenericFunction

#: the SQLite function :func:`register` defines
SQLITE_LOWER = "kaiten_lower"


class unicode_lower(GenericFunction):
    """``lower(text)`` folding every letter (SQLite: :data:`SQLITE_LOWER`)."""

    type = sa.Text()
    inherit_cache = True


@compiles(unicode_lower)
def _lower(element: unicode_lower, compiler: Any, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(unicode_lower, "sqlite")
def _sqlite_lower(element: unicode_lower, compiler: Any, **kw: Any) -> str:
    return f"{SQLITE_LOWER}({compiler.process(element.clauses, **kw)})"


def _python_lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def register(connection: sqlite3.Connection) -> None:
    """Define :data:`SQLITE_LOWER` on a new SQLite connection."""
    connection.create_function(SQLITE_LOWER, 1, _python_lower, deterministic=True)


def like_pattern(search: str) -> str:
    """The LIKE pattern matching ``search`` anywhere (``\\`` escapes ``%``, ``_``, ``\\``)."""
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def contains_folded(expression: sa.ColumnElement[Any], search: str) -> sa.ColumnElement[bool]:
    """``expression`` contains ``search``, case folded for every letter (see the module)."""
    pattern = like_pattern(search)
    if search.isascii():
        return expression.ilike(pattern, escape="\\")
    return unicode_lower(expression).like(pattern.lower(), escape="\\")
