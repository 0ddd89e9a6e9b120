"""Portable SQL for time arithmetic the two dialects spell differently."""

from __future__ import annotations

import sqlalchemy as sa


def epoch_seconds(column: sa.ColumnElement, dialect: str) -> sa.ColumnElement[int]:
    """Return whole seconds since the epoch of a UTC timestamp column."""
    if dialect == "sqlite":  # stored as 'YYYY-MM-DD HH:MM:SS.ffffff' UTC text
        return sa.cast(sa.func.strftime("%s", column), sa.Integer)
    return sa.cast(sa.func.floor(sa.extract("epoch", column)), sa.BigInteger)
