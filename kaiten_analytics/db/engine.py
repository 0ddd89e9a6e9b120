"""Engine set-up and the dialect quirks that the service layer relies on."""

from __future__ import annotations

import sqlite3

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from kaiten_analytics.errors import ValidationError

# How long a SQLite writer waits for the lock before giving up (seconds). Normal contention
# between reporters must never surface as "database is locked".
SQLITE_BUSY_TIMEOUT = 60


def create_engine(url: str, *, pool_size: int | None = None,
                  pool_timeout: float | None = None) -> Engine:
    """Return an engine for ``url`` with the settings the service layer depends on.

    SQLite: WAL journal, a busy timeout, foreign keys on, and every transaction opened with
    ``BEGIN IMMEDIATE`` so that writers are serialised when they start, not when they first
    write (pysqlite's own deferred ``BEGIN`` would let two reporters read the same usage row
    and lose an update). PostgreSQL: psycopg 3 with a recycled pool.
    """
    try:
        parsed = make_url(url)
    except sa.exc.ArgumentError as exc:
        raise ValidationError("url", f"not a database URL: {url!r}") from exc
    backend = parsed.get_backend_name()
    in_memory = parsed.database in (None, "", ":memory:")
    pool: dict = {}
    if pool_size is not None and not (backend == "sqlite" and in_memory):
        pool.update(pool_size=pool_size, max_overflow=0)
    if pool_timeout is not None and not (backend == "sqlite" and in_memory):
        pool.update(pool_timeout=pool_timeout)
    if backend == "sqlite":
        engine = sa.create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT}, **pool)
        _configure_sqlite(engine, in_memory=in_memory)
        return engine
    if backend == "postgresql":
        if parsed.get_driver_name() in ("psycopg2", "pg8000", "asyncpg"):
            raise ValidationError("url", "use the psycopg 3 driver: postgresql+psycopg://...")
        parsed = parsed.set(drivername="postgresql+psycopg")
        # No pre-ping: it costs a round trip per transaction on the report path; a connection
        # the server dropped fails once, is discarded by the pool, and the next call reconnects.
        return sa.create_engine(parsed, **{"pool_size": 5, "max_overflow": 10, **pool},
                                pool_recycle=1800)
    raise ValidationError("url", f"unsupported database {backend!r}: use sqlite or postgresql")


def _configure_sqlite(engine: Engine, *, in_memory: bool) -> None:
    # The recipe from SQLAlchemy's SQLite dialect docs ("Serializable isolation / Savepoints /
    # Transactional DDL"): take over BEGIN from pysqlite.
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL is durable against application crashes; a power loss may drop the
            # last transactions but never corrupts the file.
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT * 1000}")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection):
        # Reads run under AUTOCOMMIT (Database.read) and must not take the write lock:
        # SQLAlchemy still fires "begin" for them.
        if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            return
        # On the driver itself: SQLAlchemy's statement bookkeeping (exec_driver_sql) costs
        # more than the BEGIN, and the part after it runs with the write lock already held.
        try:
            connection.connection.driver_connection.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as error:  # e.g. still locked after the busy timeout
            raise sa.exc.DBAPIError.instance("BEGIN IMMEDIATE", (), error, sqlite3.Error,
                                             dialect=connection.dialect) from error
