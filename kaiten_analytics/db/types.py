"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.postgresql import JSONB

#: JSON on SQLite, JSONB on PostgreSQL (indexable, compact).
JSONType = sa.JSON().with_variant(JSONB(), "postgresql")


#: the last datetime formatted and its text: a report writes the same ``now`` into several
#: columns (the audit row, the usage row), and formatting costs more than this check
_last_text: tuple[datetime | None, str] = (None, "")


def sqlite_text(value: datetime) -> str:
    """An aware ``datetime`` as SQLite stores it: UTC ``YYYY-MM-DD HH:MM:SS.ffffff``."""
    global _last_text
    last = _last_text
    if last[0] is value:
        return last[1]
    text = value.astimezone(UTC).isoformat(" ", "microseconds")[:-6]  # without "+00:00"
    _last_text = (value, text)
    return text


class _SQLiteUTCText(sqlite.DATETIME):
    """SQLite's ``DATETIME`` column holding the text :class:`UTCDateTime` has formatted."""

    def bind_processor(self, dialect):
        return None

    def result_processor(self, dialect, coltype):
        return None


class UTCDateTime(sa.types.TypeDecorator):
    """An aware UTC ``datetime`` on both engines.

    SQLite's ``DateTime(timezone=True)`` silently drops the offset, so values are converted to
    UTC on the way in (naive values are refused: they are ambiguous) and UTC is attached on the
    way out. On SQLite the value is the text SQLAlchemy's ``DATETIME`` writes
    (``YYYY-MM-DD HH:MM:SS.ffffff``, microseconds always), formatted and parsed here in one
    step. PostgreSQL stores ``timestamptz``.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return _SQLiteUTCText()
        return dialect.type_descriptor(self.impl)

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"UTCDateTime needs an aware datetime, got {value!r}")
        if dialect.name == "sqlite":
            return sqlite_text(value)
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):  # SQLite's text
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
