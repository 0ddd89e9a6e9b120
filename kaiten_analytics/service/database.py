"""The handle every use-case receives: the engine, the clock, and the one transaction helper."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from kaiten_analytics.clock import Clock, utc_now
from kaiten_analytics.db.errors import translate_integrity_error


@dataclass(frozen=True)
class Database:
    """An engine and a clock, wired once by :func:`kaiten_analytics.connect`."""

    engine: Engine
    clock: Clock

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
        """
        try:
            with self.engine.begin() as connection:
                yield connection
        except IntegrityError as error:
            raise translate_integrity_error(error) from error

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """Open a read-only connection (no ``BEGIN IMMEDIATE``: readers never wait on writers)."""
        with self.engine.connect() as connection:
            if self.dialect == "sqlite":
                # the engine's "begin" hook would take the write lock; reads need no transaction
                connection = connection.execution_options(isolation_level="AUTOCOMMIT")
            yield connection
