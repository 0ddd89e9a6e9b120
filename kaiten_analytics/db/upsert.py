"""INSERT … ON CONFLICT, written once for both engines."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite


def insert_for(connection: sa.Connection, table: sa.Table):
    """Return the dialect's ``insert(table)``, which has ``on_conflict_do_*``."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)
