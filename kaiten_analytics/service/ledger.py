"""Write audit events, their rollups, usage rows, outbox events and idempotency keys.

The ledger is the single write path of metering: ``usage.report`` uses it for one report,
``usage.report_many`` and the demo generator for thousands. It caches what it resolved and
locked inside the transaction and writes in batches when flushed:

* audit rows with one ``executemany``;
* rollup rows (``audit_rollup_15m``, ``audit_rollup_day``) merged in memory first, then
  upserted once per key, adding to what is stored;
* each usage row updated once with its final value;
* on PostgreSQL, the writes of a single event (one row each) as one statement.

Its statements are SQLAlchemy constructs, built once and compiled once per dialect, and run
on the driver's cursor (:class:`_DriverStatement`): on the single-report path SQLAlchemy's
per-execution bookkeeping cost more than the database's work, while the write lock was held.

It never commits: the caller's ``with db.transaction()`` does.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql import visitors

from kaiten_analytics.clock import new_id
from kaiten_analytics.db.models import (
    audit_rollup_15m,
    audit_rollup_day,
    entitlement_usage,
    entitlements,
    feature_audit_trail,
    idempotency_keys,
    instances,
    license_entitlements,
    outbox_events,
)
from kaiten_analytics.db.upsert import insert_for
from kaiten_analytics.errors import NotFoundError, ValidationError
from kaiten_analytics.events import EVENTS
from kaiten_analytics.service.aggregation import usage_value

BUCKET_SECONDS = 900  # 15 minutes: every real UTC offset is a multiple of it
DAY_SECONDS = 86_400
VALUES_15M = ("value_first", "value_last", "value_min", "value_max", "threshold_last", "reached")
VALUES_DAY = ("value_last", "value_max")
BULK_ROWS = 1_000  # audit batches at least this large are written at the driver level


@dataclass(frozen=True)
class Target:
    """An instance × entitlement pair, resolved and checked for metering."""

    instance_id: int
    instance: str
    entitlement_id: int
    entitlement: str
    type: str
    method: str | None
    on_license: bool
    granted: Any  # the license value: threshold for NUMBER (None = no limit)
    license_start: date | None
    license_end: date | None

    @property
    def key(self) -> tuple[int, int]:
        return (self.instance_id, self.entitlement_id)

    @property
    def threshold(self) -> float | None:
        return None if self.granted is None else float(self.granted)


@dataclass
class _UsageState:
    aggregate: float | None
    count: int
    dirty: bool = False
    updated_at: datetime | None = None


@dataclass
class _Rollup:
    reads: int = 0
    accepted: int = 0
    rejected: int = 0
    value_first: float | None = None
    value_last: float | None = None
    value_min: float | None = None
    value_max: float | None = None
    threshold_last: float | None = None
    reached: int = 0
    has_value: bool = field(default=False)

    def add(self, column: str, value: float | None, threshold: float | None,
            reached: bool = False) -> None:
        setattr(self, column, getattr(self, column) + 1)
        self.reached += reached
        if value is None:
            return
        if not self.has_value:
            self.value_first = self.value_min = self.value_max = value
            self.has_value = True
        self.value_min = min(self.value_min, value)
        self.value_max = max(self.value_max, value)
        self.value_last = value
        self.threshold_last = threshold


_IID, _EID = sa.bindparam("k_instance_id"), sa.bindparam("k_entitlement_id")
_le, _eu = license_entitlements, entitlement_usage
_TARGET_COLUMNS = (
    instances.c.id, instances.c.deleted_at, instances.c.license_start,
    instances.c.license_end, entitlements.c.id.label("entitlement_id"), entitlements.c.type,
    entitlements.c.aggregation_method, _le.c.license_id.label("on_license"), _le.c.value,
)
# Statements on the report path are built once: building SQLAlchemy constructs (and their
# cache keys) per report cost several times more than executing them. They run through
# _statement(), compiled once per dialect.
_RESOLVE = (
    sa.select(*_TARGET_COLUMNS)
    .select_from(instances)
    .join(entitlements, entitlements.c.slug == sa.bindparam("k_entitlement"))
    .outerjoin(_le, (_le.c.license_id == instances.c.license_id)
               & (_le.c.entitlement_id == entitlements.c.id))
    .where(instances.c.slug == sa.bindparam("k_instance"))
)
# The steady state in one round trip: resolve and lock an existing usage row together.
_RESOLVE_AND_LOCK = (
    sa.select(*_TARGET_COLUMNS, _eu.c.value.label("usage"))
    .select_from(instances)
    .join(entitlements, entitlements.c.slug == sa.bindparam("k_entitlement"))
    .outerjoin(_le, (_le.c.license_id == instances.c.license_id)
               & (_le.c.entitlement_id == entitlements.c.id))
    .join(_eu, (_eu.c.instance_id == instances.c.id)
          & (_eu.c.entitlement_id == entitlements.c.id))
    .where(instances.c.slug == sa.bindparam("k_instance"))
    .with_for_update(of=_eu)
)
_INSTANCE_EXISTS = sa.select(sa.func.count()).where(
    instances.c.slug == sa.bindparam("k_instance"))
_LOCK = (sa.select(_eu.c.value)
         .where(_eu.c.instance_id == _IID, _eu.c.entitlement_id == _EID).with_for_update())
_UPDATE_USAGE = (_eu.update()
                 .where(_eu.c.instance_id == _IID, _eu.c.entitlement_id == _EID)
                 .values(value=sa.bindparam("k_value"), updated_at=sa.bindparam("k_at")))


def _row_values(table: sa.Table) -> dict[str, sa.BindParameter]:
    """A bind parameter per column, named after it (explicit, so that they can be renamed)."""
    return {column.name: sa.bindparam(column.name, type_=column.type) for column in table.c}


_INSERT_AUDIT = feature_audit_trail.insert().values(_row_values(feature_audit_trail))
_INSERT_OUTBOX = outbox_events.insert().values(_row_values(outbox_events))
_keys = idempotency_keys
_READ_KEY = sa.select(_keys.c.request_hash, _keys.c.response).where(
    _keys.c.key == sa.bindparam("k_key"))
_STORE_RESPONSE = (_keys.update().where(_keys.c.key == sa.bindparam("k_key"))
                   .values(response=sa.bindparam("k_response")))


class _DriverStatement:
    """A statement compiled once per dialect and executed with the driver's own cursor.

    ``connection.execute()`` spends tens of µs per statement on bookkeeping (cache key,
    execution context, generic parameter and row processing): several times SQLite's own work
    for these one-row statements, and all of it while ``BEGIN IMMEDIATE`` holds the database's
    write lock. Parameters and rows still go through the column types' own processors, so
    values are written and read exactly as ``connection.execute()`` would.
    """

    def __init__(self, statement: sa.Executable, dialect: sa.Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        self._positional = compiled.positional
        names = compiled.positiontup if compiled.positional else list(compiled.binds)
        self._binds = [
            (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in names
        ]
        columns = statement.exported_columns  # a SELECT's columns, or RETURNING's
        self._columns = [
            (column.name, column.type.dialect_impl(dialect).result_processor(dialect, None))
            for column in columns
        ]

    def parameters(self, row: dict[str, Any]) -> tuple | dict[str, Any]:
        """Return ``row`` (values by parameter name) as the driver takes it."""
        values = [row[name] if process is None else process(row[name])
                  for name, process in self._binds]
        if self._positional:
            return tuple(values)
        return dict(zip((name for name, _ in self._binds), values, strict=True))

    def execute(self, connection: sa.Connection, rows: list[dict[str, Any]]) -> None:
        """Execute for each of ``rows`` (one: ``execute``, several: ``executemany``)."""
        parameters: Any = None
        cursor = connection.connection.driver_connection.cursor()
        try:
            if len(rows) == 1:
                parameters = self.parameters(rows[0])
                cursor.execute(self.sql, parameters)
            else:
                parameters = [self.parameters(row) for row in rows]
                cursor.executemany(self.sql, parameters)
        except connection.dialect.loaded_dbapi.Error as error:
            raise _translated(connection, error, self.sql, parameters) from error
        finally:
            cursor.close()

    def first(self, connection: sa.Connection, row: dict[str, Any]) -> dict[str, Any] | None:
        """Return the first result row as a dict of processed values, or None."""
        parameters = self.parameters(row)
        cursor = connection.connection.driver_connection.cursor()
        try:
            cursor.execute(self.sql, parameters)
            values = cursor.fetchone()
        except connection.dialect.loaded_dbapi.Error as error:
            raise _translated(connection, error, self.sql, parameters) from error
        finally:
            cursor.close()
        if values is None:
            return None
        return {name: value if process is None or value is None else process(value)
                for (name, process), value in zip(self._columns, values, strict=True)}


def _translated(connection: sa.Connection, error: Exception, sql: str, parameters: Any
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


_STATIC: dict[str, sa.Executable] = {
    "resolve": _RESOLVE, "resolve_and_lock": _RESOLVE_AND_LOCK, "lock": _LOCK,
    "update_usage": _UPDATE_USAGE, "insert_audit": _INSERT_AUDIT,
    "insert_outbox": _INSERT_OUTBOX, "read_key": _READ_KEY, "store_response": _STORE_RESPONSE,
}
_per_dialect: dict[tuple[str, str], sa.Executable] = {}
_driver: dict[tuple[str, str], _DriverStatement] = {}


def _dialect_statement(connection: sa.Connection, name: str) -> sa.Executable:
    """Return the statement ``name`` for this connection's dialect, built once per dialect."""
    key = (connection.dialect.name, name)
    if key not in _per_dialect:
        if name in _STATIC:
            _per_dialect[key] = _STATIC[name]
        elif name == "claim_key":
            # a new key is inserted, an expired one taken over, a live one left alone
            statement = insert_for(connection, _keys).values(_row_values(_keys))
            _per_dialect[key] = statement.on_conflict_do_update(
                index_elements=[_keys.c.key],
                set_={column: statement.excluded[column]
                      for column in ("request_hash", "response", "created_at")},
                where=_keys.c.created_at < sa.bindparam("k_expired_before"),
            ).returning(_keys.c.key)
        elif name == "create_usage":
            _per_dialect[key] = (
                insert_for(connection, _eu)
                .values(instance_id=_IID, entitlement_id=_EID, value=None,
                        updated_at=sa.func.current_timestamp())
                .on_conflict_do_nothing(index_elements=[_eu.c.instance_id,
                                                        _eu.c.entitlement_id])
            )
        else:
            staged = name.endswith("_staged")
            table, period, values = _ROLLUPS[name.removesuffix("_staged")]
            _per_dialect[key] = _rollup_upsert(connection, table, period, values, staged)
    return _per_dialect[key]


def _statement(connection: sa.Connection, name: str) -> _DriverStatement:
    """Return the statement ``name`` compiled for this connection's driver, built once."""
    key = (connection.dialect.name, name)
    if key not in _driver:
        _driver[key] = _DriverStatement(_dialect_statement(connection, name),
                                        connection.dialect)
    return _driver[key]


def _combined(connection: sa.Connection, names: tuple[str, ...]) -> _DriverStatement:
    """Return the one-row statements ``names`` as one PostgreSQL statement, built once.

    Each but the last becomes a data-modifying CTE (``WITH p0 AS (INSERT …), p1 AS (UPDATE
    …) INSERT …``); part ``i``'s parameters are renamed ``p{i}_<name>`` (see
    :func:`_combined_row`). The parts write different tables, so running them as one
    statement changes nothing but the cost: one round trip and one execution instead of one
    per statement.
    """
    key = (connection.dialect.name, "+".join(names))
    if key not in _driver:
        parts = [_renamed(_dialect_statement(connection, name), f"p{index}_")
                 for index, name in enumerate(names)]
        statement = parts[-1].add_cte(*(part.cte(f"p{index}")
                                        for index, part in enumerate(parts[:-1])))
        _driver[key] = _DriverStatement(statement, connection.dialect)
    return _driver[key]


def _renamed(statement: sa.Executable, prefix: str) -> sa.Executable:
    def rename(element):
        if isinstance(element, sa.BindParameter):
            return sa.bindparam(prefix + element.key, type_=element.type)
        return None

    return visitors.replacement_traverse(statement, {}, rename)


def _combined_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The parameters of :func:`_combined` from one row per part."""
    return {f"p{index}_{name}": value
            for index, row in enumerate(rows) for name, value in row.items()}


class Ledger:
    """Collects one transaction's metering writes; see the module docstring."""

    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection
        self._targets: dict[tuple[str, str], Target] = {}
        self._usage: dict[tuple[int, int], _UsageState] = {}
        self._audit: list[dict[str, Any]] = []
        self._outbox: list[dict[str, Any]] = []
        self._responses: list[dict[str, Any]] = []
        self._rollup_15m: dict[tuple[int, int, int], _Rollup] = {}
        self._rollup_day: dict[tuple[int, int, int], _Rollup] = {}

    # --- reads ------------------------------------------------------------------------------
    def resolve(self, instance: str, entitlement: str, lock: bool = False) -> Target:
        """Return the checked target; unknown or deleted names raise ``NotFoundError``.

        With ``lock`` the target's usage row is locked in the same round trip when it exists
        (a single report's steady state); otherwise call :meth:`lock_usage` or
        :meth:`lock_many`.
        """
        cache_key = (instance, entitlement)
        if cache_key in self._targets:
            return self._targets[cache_key]
        for name, value in (("instance", instance), ("entitlement", entitlement)):
            if not isinstance(value, str) or not value:
                raise ValidationError(name, "must be a slug")
        params = {"k_instance": instance, "k_entitlement": entitlement}
        connection = self.connection
        row = (_statement(connection, "resolve_and_lock").first(connection, params) if lock
               else None)
        locked = row is not None
        if row is None:
            row = _statement(connection, "resolve").first(connection, params)
        if row is None:
            self._raise_not_found(instance, entitlement)
        if row["deleted_at"] is not None:
            raise NotFoundError("instance", instance, f"instance {instance!r} was deleted")
        target = Target(
            instance_id=row["id"], instance=instance, entitlement_id=row["entitlement_id"],
            entitlement=entitlement, type=row["type"], method=row["aggregation_method"],
            on_license=row["on_license"] is not None, granted=row["value"],
            license_start=row["license_start"], license_end=row["license_end"],
        )
        self._targets[cache_key] = target
        if locked:
            self._usage[target.key] = _state(row["usage"])
        return target

    def _raise_not_found(self, instance: str, entitlement: str) -> None:
        if not self.connection.execute(_INSTANCE_EXISTS, {"k_instance": instance}).scalar():
            raise NotFoundError("instance", instance)
        raise NotFoundError("entitlement", entitlement)

    def lock_usage(self, target: Target) -> tuple[float | None, int]:
        """Lock the usage row of ``target`` for this transaction; return (aggregate, count).

        PostgreSQL: ``SELECT … FOR UPDATE``, the row first created with ``ON CONFLICT DO
        NOTHING`` so two first reports cannot race. SQLite: the transaction already holds the
        write lock (``BEGIN IMMEDIATE``), and ``FOR UPDATE`` is dropped by its compiler.
        """
        state = self._usage.get(target.key)
        if state is None:
            state = self._lock_row(target)
            self._usage[target.key] = state
        return state.aggregate, state.count

    def lock_many(self, targets: list[Target]) -> None:
        """Lock several usage rows in a fixed order (ids), so batches cannot deadlock."""
        for target in sorted(set(targets), key=lambda t: t.key):
            self.lock_usage(target)

    def _lock_row(self, target: Target) -> _UsageState:
        ids = {"k_instance_id": target.instance_id, "k_entitlement_id": target.entitlement_id}
        lock = _statement(self.connection, "lock")
        row = lock.first(self.connection, ids)
        if row is None:
            self.connection.execute(_dialect_statement(self.connection, "create_usage"), ids)
            row = lock.first(self.connection, ids)
        return _state(row["value"])

    def claim_key(self, key: str, request_hash: str, now: datetime, expired_before: datetime
                  ) -> dict[str, Any] | None:
        """Claim idempotency ``key`` for this transaction, or return the row that holds it.

        A key created before ``expired_before`` counts as new and is taken over. Returns None
        when claimed, else the stored ``request_hash`` and ``response``. A concurrent claim of
        the same key waits on the unique index until the first commits (PostgreSQL) or on the
        write lock (SQLite), then sees it.
        """
        connection = self.connection
        claimed = _statement(connection, "claim_key").first(connection, {
            "key": key, "request_hash": request_hash, "response": None, "created_at": now,
            "k_expired_before": expired_before,
        })
        if claimed is not None:
            return None
        return _statement(connection, "read_key").first(connection, {"k_key": key})

    # --- writes -----------------------------------------------------------------------------
    def store_response(self, key: str, response: dict[str, Any]) -> None:
        """Record the outcome a claimed idempotency key stands for (written by :meth:`flush`)."""
        self._responses.append({"k_key": key, "k_response": response})

    def set_usage(self, target: Target, aggregate: float, count: int, at: datetime) -> None:
        """Record the usage row's new value (written by :meth:`flush`)."""
        state = self._usage[target.key]
        state.aggregate, state.count, state.dirty, state.updated_at = aggregate, count, True, at

    def append(self, target: Target, event_name: str, at: datetime, payload: dict[str, Any],
               value_after: float | None = None, reached: bool = False) -> str:
        """Queue one audit event (and its rollup counts); return its id."""
        status, _category, column = EVENTS[event_name]
        event_id = new_id(at)
        self._audit.append({
            "id": event_id, "instance_id": target.instance_id,
            "entitlement_id": target.entitlement_id, "event_name": event_name,
            "status": status, "payload": payload, "created_at": at,
        })
        seconds = int(at.timestamp())
        threshold = target.threshold if value_after is not None else None
        bucket_key = (target.instance_id, target.entitlement_id, seconds // BUCKET_SECONDS)
        self._rollup_15m.setdefault(bucket_key, _Rollup()).add(column, value_after, threshold,
                                                               reached)
        day_key = (target.instance_id, target.entitlement_id, seconds // DAY_SECONDS)
        self._rollup_day.setdefault(day_key, _Rollup()).add(column, value_after, threshold)
        return event_id

    def outbox(self, at: datetime, aggregate_type: str, aggregate_id: str, event_type: str,
               payload: dict[str, Any]) -> str:
        """Queue one outbox event; return its id."""
        event_id = new_id(at)
        self._outbox.append({
            "id": event_id, "aggregate_type": aggregate_type, "aggregate_id": aggregate_id,
            "event_type": event_type, "payload": payload, "created_at": at,
        })
        return event_id

    def flush(self) -> None:
        """Write everything queued so far (still inside the caller's transaction)."""
        connection = self.connection
        writes = [
            ("insert_audit", self._audit),
            ("update_usage", [
                {"k_instance_id": instance_id, "k_entitlement_id": entitlement_id,
                 "k_value": usage_value(state.aggregate, state.count),
                 "k_at": state.updated_at}
                for (instance_id, entitlement_id), state in self._usage.items() if state.dirty
            ]),
            ("insert_outbox", self._outbox),
            ("rollup_15m", _rollup_rows("rollup_15m", self._rollup_15m)),
            ("rollup_day", _rollup_rows("rollup_day", self._rollup_day)),
            ("store_response", self._responses),
        ]
        writes = [(name, rows) for name, rows in writes if rows]
        if (connection.dialect.name == "postgresql" and len(writes) > 1
                and all(len(rows) == 1 for _, rows in writes)):
            # one event (a single report or read): all its writes in one round trip
            names = tuple(name for name, _ in writes)
            _combined(connection, names).execute(
                connection, [_combined_row([rows[0] for _, rows in writes])])
        else:
            for name, rows in writes:
                _write(connection, name, rows)
        for state in self._usage.values():
            state.dirty = False
        self._audit, self._outbox, self._responses = [], [], []
        self._rollup_15m, self._rollup_day = {}, {}


def _rollup_rows(name: str, rollups: dict[tuple[int, int, int], _Rollup]
                 ) -> list[dict[str, Any]]:
    _, period, values = _ROLLUPS[name]
    return [
        {"instance_id": instance_id, "entitlement_id": entitlement_id, period: period_value,
         **{column: getattr(rollup, column) for column in (*_COUNTS, *values)}}
        for (instance_id, entitlement_id, period_value), rollup in rollups.items()
    ]


def _write(connection: sa.Connection, name: str, rows: list[dict[str, Any]]) -> None:
    """Write ``rows`` with the statement ``name``; large batches take the bulk paths."""
    if len(rows) >= BULK_ROWS and name == "insert_audit":
        _bulk_audit(connection, rows)
    elif len(rows) >= BULK_ROWS and name in _ROLLUPS and connection.dialect.name == "postgresql":
        _stage_rows(connection, _ROLLUPS[name][0], rows)
        connection.execute(_dialect_statement(connection, f"{name}_staged"))
    else:
        _statement(connection, name).execute(connection, rows)


_AUDIT_COLUMNS = ("id", "instance_id", "entitlement_id", "event_name", "status", "payload",
                  "created_at")


def _bulk_audit(connection: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """Write many audit rows at the driver level: COPY on PostgreSQL, executemany on SQLite.

    Used for large batches (backfills, the demo generator), where SQLAlchemy's per-row
    parameter processing would cost more than the database's work. Values are converted
    exactly as the column types would: JSON text, UTC timestamps (SQLite: naive ISO text).
    """
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
    dumps = json.dumps
    connection.exec_driver_sql(
        f"INSERT INTO feature_audit_trail ({', '.join(_AUDIT_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(_AUDIT_COLUMNS))})",
        [(row["id"], row["instance_id"], row["entitlement_id"], row["event_name"],
          row["status"], dumps(row["payload"]),
          row["created_at"].astimezone(UTC).replace(tzinfo=None).isoformat(
              sep=" ", timespec="microseconds"))
         for row in rows],
    )


def _stage_name(table: sa.Table) -> str:
    return f"stage_{table.name}"


def _stage_rows(connection: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """COPY ``rows`` into an empty temporary copy of ``table`` (PostgreSQL bulk upserts).

    Upserting thousands of rows one statement at a time costs a round trip each; staging them
    makes it one ``INSERT … SELECT … ON CONFLICT`` (the ledger's keys are already unique).
    """
    stage = _stage_name(table)
    columns = list(rows[0])
    connection.exec_driver_sql(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} (LIKE {table.name}) "
        "ON COMMIT DELETE ROWS")
    connection.exec_driver_sql(f"TRUNCATE {stage}")
    driver = connection.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(
            f"COPY {stage} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(tuple(row[c] for c in columns))


def _state(usage: dict | None) -> _UsageState:
    value = usage or {}
    aggregate = value.get("value")
    return _UsageState(None if aggregate is None else float(aggregate),
                       int(value.get("event_count", 0)))


_COUNTS = ("reads", "accepted", "rejected")


def _rollup_upsert(connection: sa.Connection, table: sa.Table, period: str,
                   values: tuple[str, ...], staged: bool = False) -> sa.Executable:
    """INSERT a rollup row, or add its counts to the stored one and merge its values.

    ``staged``: insert every row of the temporary staging table instead (PostgreSQL bulk).
    """
    statement = insert_for(connection, table)
    if staged:
        columns = ["instance_id", "entitlement_id", period, *_COUNTS, *values]
        stage = sa.table(_stage_name(table), *(sa.column(c) for c in columns))
        statement = statement.from_select(columns, sa.select(*stage.c))
    else:
        statement = statement.values(_row_values(table))
    new, old = statement.excluded, table.c
    update = {column: old[column] + new[column] for column in _COUNTS}
    update.update({column: _MERGE[column](old, new) for column in values})
    return statement.on_conflict_do_update(
        index_elements=[old.instance_id, old.entitlement_id, old[period]], set_=update
    )


def _keep_better(column: str, new_is_better) -> Callable:
    """Merge rule: keep the stored value unless the new one is better (NULL = none yet)."""
    def merge(old, new) -> sa.ColumnElement:
        return sa.case((old[column].is_(None), new[column]),
                       (new[column].is_(None), old[column]),
                       (new_is_better(old[column], new[column]), new[column]),
                       else_=old[column])
    return merge


#: how an upsert merges a rollup row's value columns with the stored row
_MERGE: dict[str, Callable] = {
    "reached": lambda old, new: old.reached + new.reached,
    "value_first": lambda old, new: sa.func.coalesce(old.value_first, new.value_first),
    "value_last": lambda old, new: sa.func.coalesce(new.value_last, old.value_last),
    "value_min": _keep_better("value_min", lambda stored, incoming: incoming < stored),
    "value_max": _keep_better("value_max", lambda stored, incoming: incoming > stored),
    "threshold_last": lambda old, new: sa.case((new.value_last.is_(None), old.threshold_last),
                                               else_=new.threshold_last),
}

_ROLLUPS = {
    "rollup_15m": (audit_rollup_15m, "bucket", VALUES_15M),
    "rollup_day": (audit_rollup_day, "day", VALUES_DAY),
}
