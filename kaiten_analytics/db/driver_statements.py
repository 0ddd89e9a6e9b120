"""Statements compiled once per dialect and executed on the driver's own cursor.

The metering write path runs the same few one-row statements for every report, while the
database's write lock is held (SQLite's ``BEGIN IMMEDIATE``, PostgreSQL's row lock). A
:class:`DriverStatement` skips ``connection.execute()``'s per-execution work (cache key,
execution context, generic parameter and row processing) but keeps what matters: parameters
and result values go through the column types' own processors, so values are written and read
exactly as ``connection.execute()`` would, and driver errors become the same SQLAlchemy
exceptions (see :func:`translated`).

A :class:`StatementCache` holds such statements by name, each built once per dialect from a
builder function, and can join several one-row statements into one PostgreSQL statement
(:meth:`StatementCache.combined`).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import visitors

#: builds a statement for a connection's dialect (called once per dialect)
Builder = Callable[[sa.Connection], sa.Executable]


class DriverStatement:
    """A statement compiled once for a dialect and executed with the driver's cursor."""

    def __init__(self, statement: sa.Executable, dialect: sa.Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self._positional = compiled.positional
        self._names = list(compiled.positiontup if compiled.positional else compiled.binds)
        processors = [compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
                      for name in self._names]
        #: the values of a row in parameter order, fetched in one call
        self._values = _getter(self._names)
        self._processed = [(index, process) for index, process in enumerate(processors)
                           if process is not None]
        columns = statement.exported_columns  # a SELECT's columns, or RETURNING's
        self._columns = [column.name for column in columns]
        self._results = [
            (index, process) for index, process in enumerate(
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in columns)
            if process is not None
        ]

    def parameters(self, row: Mapping[str, Any]) -> tuple | dict[str, Any]:
        """Return ``row`` (values by parameter name) as the driver takes it."""
        values = self._values(row)
        if self._processed:
            values = list(values)
            for index, process in self._processed:
                values[index] = process(values[index])
        if self._positional:
            return tuple(values)
        return dict(zip(self._names, values, strict=True))

    def execute(self, connection: sa.Connection, rows: list[dict[str, Any]]) -> None:
        """Execute for each of ``rows`` (one: ``execute``, several: ``executemany``)."""
        parameters: Any = None
        driver = driver_of(connection)
        try:
            if len(rows) == 1:
                parameters = self.parameters(rows[0])
                driver.execute(self.sql, parameters).close()
            else:
                parameters = [self.parameters(row) for row in rows]
                cursor = driver.cursor()
                try:
                    cursor.executemany(self.sql, parameters)
                finally:
                    cursor.close()
        except connection.dialect.loaded_dbapi.Error as error:
            raise translated(connection, error, self.sql, parameters) from error

    def first(self, connection: sa.Connection, row: Mapping[str, Any]
              ) -> dict[str, Any] | None:
        """Return the first result row as a dict of processed values, or None."""
        parameters = self.parameters(row)
        try:
            cursor = driver_of(connection).execute(self.sql, parameters)
            try:
                values = cursor.fetchone()
            finally:
                cursor.close()
        except connection.dialect.loaded_dbapi.Error as error:
            raise translated(connection, error, self.sql, parameters) from error
        if values is None:
            return None
        if self._results:
            values = list(values)
            for index, process in self._results:
                if values[index] is not None:
                    values[index] = process(values[index])
        return dict(zip(self._columns, values, strict=True))


def driver_of(connection: sa.Connection) -> Any:
    """The driver's connection under ``connection`` (sqlite3's or psycopg's).

    ``dbapi_connection`` is a plain attribute; ``driver_connection`` is the same object for
    these synchronous drivers but goes through two properties and a dialect call to get it.
    """
    return connection.connection.dbapi_connection


def _getter(names: list[str]) -> Callable[[Mapping[str, Any]], tuple]:
    """A function returning a mapping's values of ``names`` as a tuple (in C: itemgetter)."""
    if not names:
        return lambda _row: ()
    if len(names) == 1:
        get = operator.itemgetter(names[0])
        return lambda row: (get(row),)
    return operator.itemgetter(*names)


def translated(connection: sa.Connection, error: Exception, sql: str, parameters: Any
               ) -> Exception:
    """Return the SQLAlchemy exception ``connection.execute()`` would raise for ``error``.

    Callers translate SQLAlchemy's ``IntegrityError`` (``Database.transaction``). When the
    server dropped the connection, it is invalidated and, as ``connection.execute()`` would,
    the pool's other connections are let go too (a restarted server dropped them all).
    """
    dialect = connection.dialect
    dropped = dialect.is_disconnect(error, connection.connection.dbapi_connection, None)
    if dropped:
        connection.invalidate(error)
        connection.engine.dispose()
    return sa.exc.DBAPIError.instance(sql, parameters, error, dialect.loaded_dbapi.Error,
                                      connection_invalidated=dropped, dialect=dialect)


def row_values(table: sa.Table) -> dict[str, sa.BindParameter]:
    """A bind parameter per column, named after it (explicit, so that they can be renamed)."""
    return {column.name: sa.bindparam(column.name, type_=column.type) for column in table.c}


class StatementCache:
    """Named statements, each built once per dialect and compiled once for its driver.

    ``builders`` maps a name to a function of the connection returning the SQLAlchemy
    statement (``insert … on_conflict`` differs by dialect, so a builder may look at it).
    """

    def __init__(self, builders: Mapping[str, Builder]) -> None:
        self._builders = builders
        self._statements: dict[tuple[str, str], sa.Executable] = {}
        self._driver: dict[tuple[str, str], DriverStatement] = {}

    def statement(self, connection: sa.Connection, name: str) -> sa.Executable:
        """Return the SQLAlchemy statement ``name`` for this connection's dialect."""
        key = (connection.dialect.name, name)
        if key not in self._statements:
            self._statements[key] = self._builders[name](connection)
        return self._statements[key]

    def driver(self, connection: sa.Connection, name: str) -> DriverStatement:
        """Return the statement ``name`` compiled for this connection's driver."""
        key = (connection.dialect.name, name)
        if key not in self._driver:
            self._driver[key] = DriverStatement(self.statement(connection, name),
                                                connection.dialect)
        return self._driver[key]

    def combined(self, connection: sa.Connection, names: tuple[str, ...]) -> DriverStatement:
        """Return the one-row statements ``names`` as one PostgreSQL statement.

        Each but the last becomes a data-modifying CTE (``WITH p0 AS (INSERT …), p1 AS
        (UPDATE …) INSERT …``); part ``i``'s parameters are renamed ``p{i}_<name>`` (see
        :func:`combined_parameters`). Parts that write different tables run as one statement
        with the same effect as one after the other, in one round trip.
        """
        key = (connection.dialect.name, "+".join(names))
        if key not in self._driver:
            parts = [_renamed(self.statement(connection, name), f"p{index}_")
                     for index, name in enumerate(names)]
            statement = parts[-1].add_cte(*(part.cte(f"p{index}")
                                            for index, part in enumerate(parts[:-1])))
            self._driver[key] = DriverStatement(statement, connection.dialect)
        return self._driver[key]


def combined_parameters(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The parameters of :meth:`StatementCache.combined` from one row per part."""
    return {f"p{index}_{name}": value
            for index, row in enumerate(rows) for name, value in row.items()}


def _renamed(statement: sa.Executable, prefix: str) -> sa.Executable:
    def rename(element):
        if isinstance(element, sa.BindParameter):
            return sa.bindparam(prefix + element.key, type_=element.type)
        return None

    return visitors.replacement_traverse(statement, {}, rename)
