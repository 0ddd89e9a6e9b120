"""Large batches written at the driver level: backfills and the demo generator.

For thousands of rows SQLAlchemy's per-row parameter processing, and on PostgreSQL a round
trip per upserted row, cost more than the database's own work. Here audit rows go in with
``COPY`` (PostgreSQL) or one ``executemany`` (SQLite), and rows to upsert are first copied
into a temporary staging table, so that one ``INSERT … SELECT … ON CONFLICT`` merges them all.
Values are converted exactly as the column types would: JSON text, UTC timestamps (SQLite:
naive ISO text).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from kaiten_analytics.db import json_text
from kaiten_analytics.db.types import sqlite_text

#: batches at least this large take the bulk paths
BULK_ROWS = 1_000

_AUDIT_COLUMNS = ("id", "instance_id", "entitlement_id", "event_name", "status", "payload",
                  "created_at")


def bulk_audit(connection: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """Write many ``feature_audit_trail`` rows: COPY on PostgreSQL, executemany on SQLite."""
    if connection.dialect.name == "postgresql":
        from psycopg.types.json import Jsonb

        driver = connection.connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(
                f"COPY feature_audit_trail ({', '.join(_AUDIT_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row((row["id"], row["instance_id"], row["entitlement_id"],
                                row["event_name"], row["status"], Jsonb(row["payload"]),
                                row["created_at"]))
        return
    dumps = json_text.dumps
    connection.exec_driver_sql(
        f"INSERT INTO feature_audit_trail ({', '.join(_AUDIT_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(_AUDIT_COLUMNS))})",
        [(row["id"], row["instance_id"], row["entitlement_id"], row["event_name"],
          row["status"], dumps(row["payload"]), sqlite_text(row["created_at"]))
         for row in rows],
    )


def stage_name(table: sa.Table) -> str:
    """Return the name of ``table``'s temporary staging table (see :func:`stage_rows`)."""
    return f"stage_{table.name}"


def stage_rows(connection: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """COPY ``rows`` into an empty temporary copy of ``table`` (PostgreSQL bulk upserts).

    The staging table lives until the session ends and is emptied on commit; the caller then
    upserts from it with one ``INSERT … SELECT`` (the rows' keys must already be unique).
    """
    stage = stage_name(table)
    columns = [column for column in rows[0] if column in table.c]  # rows may hold more
    connection.exec_driver_sql(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} (LIKE {table.name}) "
        "ON COMMIT DELETE ROWS")
    connection.exec_driver_sql(f"TRUNCATE {stage}")
    driver = connection.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(
            f"COPY {stage} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(tuple(row[c] for c in columns))
