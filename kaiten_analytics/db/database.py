"""The handle every use-case receives: the engine, the clock, and the one transaction helper."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from kaiten_analytics.clock import Clock, utc_now
from kaiten_analytics.db.errors import (
    UNAVAILABLE,
    translate_integrity_error,
    translate_unavailable,
)
from kaiten_analytics.errors import ReadOnlyError

if TYPE_CHECKING:
    from kaiten_analytics.db.engine import SQLiteWriters
    from kaiten_analytics.db.warehouse import Warehouse


@dataclass(frozen=True)
class Database:
    """An engine and a clock, wired once by :func:`kaiten_analytics.connect`.

    ``read_only`` handles refuse to open a write transaction: every write use-case opens one
    through :meth:`transaction`, so this one check covers them all (the console gives a
    viewer such a handle; hiding its forms is not the only defence).

    ``warehouse`` (the ClickHouse mirror of the audit trail) is set when a warehouse URL is:
    the audit analytics and fleet views then read the trail, rollups and usage rows from it.
    """

    engine: Engine
    clock: Clock
    read_only: bool = False
    warehouse: Warehouse | None = None
    #: a SQLite file: each thread's own write connection (``engine.sqlite_writers``)
    writers: SQLiteWriters | None = field(default=None, compare=False, repr=False)

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.engine.dialect.name

    def now(self) -> datetime:
        """Return the clock's current time in UTC."""
        return utc_now(self.clock)

    @contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """Open one write transaction; integrity errors leave it as library errors.

        Everything inside commits together or not at all; helpers called inside never commit.
        A read-only handle raises ``ReadOnlyError`` before touching the database.
        A database that cannot be reached raises ``UnavailableError`` (nothing committed).
        """
        if self.read_only:
            raise ReadOnlyError("this handle is read-only (Kaiten.read_only()): "
                                "it changes nothing")
        try:
            writer = self.writers.connection() if self.writers is not None else None
            if writer is None:
                with self.engine.begin() as connection:
                    yield connection
            else:
                with self.writers.transaction(writer):
                    yield writer
        except IntegrityError as error:
            raise translate_integrity_error(error) from error
        except UNAVAILABLE as error:
            raise translate_unavailable(error) from error

    def close(self) -> None:
        """Close the write connections and release the connection pool."""
        if self.writers is not None:
            self.writers.close()
        self.engine.dispose()

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """Open a connection for reads, outside any transaction.

        Under READ COMMITTED each statement sees its own snapshot anyway, so a read loses
        nothing without a transaction and saves its BEGIN/ROLLBACK round trips on PostgreSQL;
        on SQLite it takes no ``BEGIN IMMEDIATE`` (the engine's hook skips AUTOCOMMIT):
        readers and writers never wait on each other. A database that cannot be reached
        raises ``UnavailableError``.
        """
        try:
            with self.engine.connect() as connection:
                yield connection.execution_options(isolation_level="AUTOCOMMIT")
        except UNAVAILABLE as error:
            raise translate_unavailable(error) from error
