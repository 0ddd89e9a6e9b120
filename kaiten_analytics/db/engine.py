"""Engine set-up and the dialect quirks that the service layer relies on."""

from __future__ import annotations

import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from kaiten_analytics.db import json_text, text_match
from kaiten_analytics.db.driver_statements import driver_of
from kaiten_analytics.errors import ValidationError

#: every engine encodes and decodes JSON columns with :mod:`kaiten_analytics.db.json_text`
JSON_CODEC = {"json_serializer": json_text.dumps, "json_deserializer": json_text.loads}
# How long a SQLite writer waits for the lock before giving up (seconds). Normal contention
# between reporters must never surface as "database is locked".
SQLITE_BUSY_TIMEOUT = 60
#: at most this many threads keep a SQLite writer connection (see :class:`SQLiteWriters`)
SQLITE_WRITERS_MAX = 16
#: WAL frames (pages) before a commit checkpoints them into the database file. SQLite's
#: default is 1,000; a report writes ten or so pages, most of them the same hot pages again
#: (the usage row, the rollup rows, the indexes' last leaves), so a 10,000-frame WAL (about
#: 40 MB at most) copies each hot page once per ten times as many commits.
SQLITE_WAL_AUTOCHECKPOINT = 10_000
#: the settings of every connection to a SQLite file: WAL + NORMAL is durable against
#: application crashes (a power loss may drop the last transactions but never corrupts the
#: file); benchmarks open their baseline connections with the same list
SQLITE_FILE_PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL",
                       f"wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT}")


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
        engine = sa.create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT},
                                  **JSON_CODEC, **pool)
        _configure_sqlite(engine, in_memory=in_memory)
        return engine
    if backend == "postgresql":
        if parsed.get_driver_name() in ("psycopg2", "pg8000", "asyncpg"):
            raise ValidationError("url", "use the psycopg 3 driver: postgresql+psycopg://...")
        parsed = parsed.set(drivername="postgresql+psycopg")
        # No pre-ping: it costs a round trip per transaction on the report path; a connection
        # the server dropped fails once, is discarded by the pool, and the next call reconnects.
        return sa.create_engine(parsed, **{"pool_size": 5, "max_overflow": 10, **pool},
                                pool_recycle=1800, **JSON_CODEC)
    raise ValidationError("url", f"unsupported database {backend!r}: use sqlite or postgresql")


def _configure_sqlite(engine: Engine, *, in_memory: bool) -> None:
    # The recipe from SQLAlchemy's SQLite dialect docs ("Serializable isolation / Savepoints /
    # Transactional DDL"): take over BEGIN from pysqlite.
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        text_match.register(dbapi_connection)
        cursor = dbapi_connection.cursor()
        if not in_memory:
            for pragma in SQLITE_FILE_PRAGMAS:
                cursor.execute(f"PRAGMA {pragma}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT * 1000}")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection):
        # Reads run under AUTOCOMMIT (Database.read) and must not take the write lock:
        # SQLAlchemy still fires "begin" for them.
        if connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            return
        driver = driver_of(connection)
        if not driver.in_transaction:  # else a writer's transaction is open (see below)
            _on_driver(connection, driver, "BEGIN IMMEDIATE")


def _on_driver(connection: sa.Connection, driver: sqlite3.Connection, sql: str) -> None:
    """Run ``BEGIN IMMEDIATE`` or ``COMMIT`` on the driver; its errors as SQLAlchemy's.

    On the driver itself: SQLAlchemy's statement bookkeeping (``exec_driver_sql``) costs more
    than the statement, and what follows a ``BEGIN IMMEDIATE`` runs with the write lock held.
    """
    try:
        driver.execute(sql)
    except sqlite3.Error as error:  # e.g. still locked after the busy timeout
        raise sa.exc.DBAPIError.instance(sql, (), error, sqlite3.Error,
                                         dialect=connection.dialect) from error


class SQLiteWriters:
    """One long-lived write connection per thread for a SQLite file.

    A write transaction on SQLite is short and the database serialises writers anyway, so a
    thread keeps its own connection between transactions instead of taking one from the pool
    and handing it back each time. The connections come from an engine of their own (no pool:
    the handle's pool stays whole for reads), configured like the handle's engine: WAL, the
    same ``synchronous`` setting, the busy timeout and ``BEGIN IMMEDIATE``. At most
    :data:`SQLITE_WRITERS_MAX` threads keep one; other threads, and a transaction opened
    while the thread's own is still open, use the pool as before. A thread's connection is
    closed when the thread ends or the handle is closed.
    """

    def __init__(self, url: sa.URL) -> None:
        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool,
                                       connect_args={"timeout": SQLITE_BUSY_TIMEOUT},
                                       **JSON_CODEC)
        _configure_sqlite(self.engine, in_memory=False)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: weakref.WeakSet[sa.Connection] = weakref.WeakSet()
        self._closed = False

    def connection(self) -> sa.Connection | None:
        """Return this thread's idle write connection, or None: use the pool."""
        if getattr(self._local, "busy", False):  # a transaction of this thread is still open
            return None
        connection: sa.Connection | None = getattr(self._local, "connection", None)
        if connection is not None and (connection.closed or connection.invalidated
                                       or connection.in_transaction()
                                       or driver_of(connection).in_transaction):
            connection.close()  # unusable: left mid-transaction, or dropped
            connection = self._local.connection = None
        if connection is None:
            with self._lock:
                if self._closed or len(self._open) >= SQLITE_WRITERS_MAX:
                    return None
                connection = self.engine.connect()
                self._open.add(connection)
            self._local.connection = connection
        return connection

    @contextmanager
    def transaction(self, connection: sa.Connection) -> Iterator[sa.Connection]:
        """One write transaction on ``connection`` (from :meth:`connection`), commit or roll back.

        ``BEGIN IMMEDIATE`` and ``COMMIT`` go to the driver directly: a metering report runs
        its statements on the driver's cursor and never opens SQLAlchemy's transaction, which
        would cost as much as the report's own statements. A statement run through
        ``connection.execute()`` inside opens SQLAlchemy's (the engine's ``begin`` hook sees
        the driver's transaction and issues no second ``BEGIN``); it is then committed or
        rolled back through SQLAlchemy, which ends the driver's transaction with it.
        """
        driver = driver_of(connection)
        _on_driver(connection, driver, "BEGIN IMMEDIATE")
        self._local.busy = True
        try:
            yield connection
        except BaseException:
            if connection.in_transaction():
                connection.rollback()
            elif driver.in_transaction:
                driver.rollback()
            raise
        else:
            if connection.in_transaction():
                connection.commit()
            else:
                _on_driver(connection, driver, "COMMIT")
        finally:
            self._local.busy = False

    @property
    def open_count(self) -> int:
        """How many threads keep a connection now."""
        return len(self._open)

    def close(self) -> None:
        """Close every thread's connection; later transactions use the pool."""
        with self._lock:
            self._closed = True
            connections = list(self._open)
        for connection in connections:
            connection.close()
        self.engine.dispose()


def sqlite_writers(engine: Engine) -> SQLiteWriters | None:
    """Return the per-thread writers of a SQLite file ``engine`` (None for other engines)."""
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None
    return SQLiteWriters(engine.url)
