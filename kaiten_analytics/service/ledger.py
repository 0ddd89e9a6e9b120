"""Write audit events, their rollups, usage rows, outbox events and idempotency keys.

The ledger is the single write path of metering: ``usage.report`` uses it for one report,
``usage.report_many`` and the demo generator for thousands. It caches what it resolved and
locked inside the transaction and writes in batches when flushed:

* audit rows with one ``executemany`` (large batches: :mod:`kaiten_analytics.db.bulk_writes`);
* rollup rows (``audit_rollup_15m``, ``audit_rollup_day``) merged in memory first, then
  upserted once per key, adding to what is stored (:mod:`kaiten_analytics.service.rollups`);
* each usage row updated once with its final value;
* on PostgreSQL, the writes of a single event (one row each) as one statement.

Its statements are built once per dialect and run on the driver's cursor
(:mod:`kaiten_analytics.db.driver_statements`), since they run while the write lock is held.

It never commits: the caller's ``with db.transaction()`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import Any

import sqlalchemy as sa

from kaiten_analytics.clock import new_id
from kaiten_analytics.db.bulk_writes import BULK_ROWS, bulk_audit, stage_rows
from kaiten_analytics.db.driver_statements import (
    StatementCache,
    combined_parameters,
    row_values,
)
from kaiten_analytics.db.models import (
    BUCKET_SECONDS,
    DAY_SECONDS,
    entitlement_usage,
    entitlements,
    feature_audit_trail,
    idempotency_keys,
    instances,
    license_entitlements,
)
from kaiten_analytics.db.upsert import insert_for
from kaiten_analytics.db.usage_json import decode_usage, encode_usage
from kaiten_analytics.errors import NotFoundError
from kaiten_analytics.events import EVENTS
from kaiten_analytics.fields import lookup_slug
from kaiten_analytics.policy import Policy, granted_value, policy_of
from kaiten_analytics.service import rollups
from kaiten_analytics.service.metering import Stored
from kaiten_analytics.service.outbox import INSERT_OUTBOX, outbox_row
from kaiten_analytics.service.rollups import ROLLUPS, Rollup, RollupKey


@dataclass(slots=True)
class Target:
    """An instance × entitlement pair, resolved and checked for metering.

    Read-only by convention: :meth:`Ledger.resolve` builds one per pair and transaction and
    nothing changes it (not ``frozen``: a frozen dataclass's ``__init__`` costs three times as
    much, and a report builds one while holding the write lock).
    """

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
    policy: Policy | None = None  # NUMBER: the limit (a plain threshold is a policy too)
    # the license's policy object, if it has one
    stored_policy: dict[str, Any] | None = None

    @property
    def key(self) -> tuple[int, int]:
        return (self.instance_id, self.entitlement_id)

    @property
    def threshold(self) -> float | None:
        return None if self.policy is None else self.policy.threshold


@dataclass
class _UsageState:
    aggregate: float | None
    count: int
    period_start: datetime | None = None
    period_end: datetime | None = None
    warned: tuple[float, ...] = ()
    dirty: bool = False
    updated_at: datetime | None = None

    def stored(self) -> Stored:
        return Stored(self.aggregate, self.count, self.period_start, self.period_end,
                      self.warned)


_IID, _EID = sa.bindparam("k_instance_id"), sa.bindparam("k_entitlement_id")
_le, _eu = license_entitlements, entitlement_usage
_TARGET_COLUMNS = (
    instances.c.id, instances.c.deleted_at, instances.c.license_start,
    instances.c.license_end, entitlements.c.id.label("entitlement_id"), entitlements.c.type,
    entitlements.c.aggregation_method, _le.c.license_id.label("on_license"), _le.c.value,
)
# Statements on the report path are built once, at import, not per report; they run through
# _STATEMENTS, compiled once per dialect.
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
    sa.select(*_TARGET_COLUMNS, _eu.c.value.label("usage"), _eu.c.period_start,
              _eu.c.period_end, _eu.c.warned)
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
_LOCK = (sa.select(_eu.c.value.label("usage"), _eu.c.period_start, _eu.c.period_end,
                   _eu.c.warned)
         .where(_eu.c.instance_id == _IID, _eu.c.entitlement_id == _EID).with_for_update())
_UPDATE_USAGE = (_eu.update()
                 .where(_eu.c.instance_id == _IID, _eu.c.entitlement_id == _EID)
                 .values(value=sa.bindparam("k_value"), updated_at=sa.bindparam("k_at"),
                         period_start=sa.bindparam("k_period_start"),
                         period_end=sa.bindparam("k_period_end"),
                         warned=sa.bindparam("k_warned")))
_INSERT_AUDIT = feature_audit_trail.insert().values(row_values(feature_audit_trail))
_keys = idempotency_keys
_READ_KEY = sa.select(_keys.c.request_hash, _keys.c.response).where(
    _keys.c.key == sa.bindparam("k_key"))
_STORE_RESPONSE = (_keys.update().where(_keys.c.key == sa.bindparam("k_key"))
                   .values(response=sa.bindparam("k_response")))


def _claim_key(connection: sa.Connection) -> sa.Executable:
    """A new key is inserted, an expired one taken over, a live one left alone."""
    statement = insert_for(connection, _keys).values(row_values(_keys))
    return statement.on_conflict_do_update(
        index_elements=[_keys.c.key],
        set_={column: statement.excluded[column]
              for column in ("request_hash", "response", "created_at")},
        where=_keys.c.created_at < sa.bindparam("k_expired_before"),
    ).returning(_keys.c.key)


def _create_usage(connection: sa.Connection) -> sa.Executable:
    return (
        insert_for(connection, _eu)
        .values(instance_id=_IID, entitlement_id=_EID, value=None,
                updated_at=sa.func.current_timestamp())
        .on_conflict_do_nothing(index_elements=[_eu.c.instance_id, _eu.c.entitlement_id])
    )


def _fixed(statement: sa.Executable) -> Callable[[sa.Connection], sa.Executable]:
    return lambda _connection: statement


_STATEMENTS = StatementCache({
    "resolve": _fixed(_RESOLVE), "resolve_and_lock": _fixed(_RESOLVE_AND_LOCK),
    "lock": _fixed(_LOCK), "update_usage": _fixed(_UPDATE_USAGE),
    "insert_audit": _fixed(_INSERT_AUDIT), "insert_outbox": _fixed(INSERT_OUTBOX),
    "read_key": _fixed(_READ_KEY), "store_response": _fixed(_STORE_RESPONSE),
    "claim_key": _claim_key, "create_usage": _create_usage,
    **{name: partial(rollups.upsert, name=name) for name in ROLLUPS},
    **{f"{name}_staged": partial(rollups.upsert, name=name, staged=True) for name in ROLLUPS},
})


class Ledger:
    """Collects one transaction's metering writes; see the module docstring."""

    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection
        self._targets: dict[tuple[str, str], Target] = {}
        self._usage: dict[tuple[int, int], _UsageState] = {}
        self._audit: list[dict[str, Any]] = []
        self._outbox: list[dict[str, Any]] = []
        self._responses: list[dict[str, Any]] = []
        self._rollup_15m: dict[RollupKey, Rollup] = {}
        self._rollup_day: dict[RollupKey, Rollup] = {}

    # --- reads ------------------------------------------------------------------------------
    def resolve(self, instance: str, entitlement: str, lock: bool = False,
                checked: bool = False) -> Target:
        """Return the checked target; unknown or deleted names raise ``NotFoundError``.

        With ``lock`` the target's usage row is locked in the same round trip when it exists
        (a single report's steady state); otherwise call :meth:`lock_usage` or
        :meth:`lock_many`. ``checked``: the caller has passed both names through
        :func:`~kaiten_analytics.fields.lookup_slug` already.
        """
        if not checked:  # before the cache: a dict or a list must be refused, not hashed
            lookup_slug(instance, "instance")
            lookup_slug(entitlement, "entitlement")
        cache_key = (instance, entitlement)
        if cache_key in self._targets:
            return self._targets[cache_key]
        params = {"k_instance": instance, "k_entitlement": entitlement}
        connection = self.connection
        row = (_STATEMENTS.driver(connection, "resolve_and_lock").first(connection, params)
               if lock else None)
        locked = row is not None
        if row is None:
            row = _STATEMENTS.driver(connection, "resolve").first(connection, params)
        if row is None:
            self._raise_not_found(instance, entitlement)
        if row["deleted_at"] is not None:
            raise NotFoundError.deleted("instance", instance)
        value = row["value"]
        number = row["type"] == "NUMBER"
        target = Target(
            instance_id=row["id"], instance=instance, entitlement_id=row["entitlement_id"],
            entitlement=entitlement, type=row["type"], method=row["aggregation_method"],
            on_license=row["on_license"] is not None, granted=granted_value(value),
            license_start=row["license_start"], license_end=row["license_end"],
            policy=policy_of(value) if number else None,
            stored_policy=value if number and isinstance(value, dict) else None,
        )
        self._targets[cache_key] = target
        if locked:
            self._usage[target.key] = _state(row)
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
        state = self.usage_state(target)
        return state.aggregate, state.count

    def usage_state(self, target: Target) -> _UsageState:
        """Lock the usage row of ``target`` (as :meth:`lock_usage`) and return its state."""
        state = self._usage.get(target.key)
        if state is None:
            state = self._lock_row(target)
            self._usage[target.key] = state
        return state

    def lock_many(self, targets: list[Target]) -> None:
        """Lock several usage rows in a fixed order (ids), so batches cannot deadlock."""
        for _, target in sorted({target.key: target for target in targets}.items()):
            self.lock_usage(target)

    def _lock_row(self, target: Target) -> _UsageState:
        ids = {"k_instance_id": target.instance_id, "k_entitlement_id": target.entitlement_id}
        lock = _STATEMENTS.driver(self.connection, "lock")
        row = lock.first(self.connection, ids)
        if row is None:
            self.connection.execute(_STATEMENTS.statement(self.connection, "create_usage"), ids)
            row = lock.first(self.connection, ids)
        return _state(row)

    def claim_key(self, key: str, request_hash: str, now: datetime, expired_before: datetime
                  ) -> dict[str, Any] | None:
        """Claim idempotency ``key`` for this transaction, or return the row that holds it.

        A key created before ``expired_before`` counts as new and is taken over. Returns None
        when claimed, else the stored ``request_hash`` and ``response``. A concurrent claim of
        the same key waits on the unique index until the first commits (PostgreSQL) or on the
        write lock (SQLite), then sees it.
        """
        connection = self.connection
        claimed = _STATEMENTS.driver(connection, "claim_key").first(connection, {
            "key": key, "request_hash": request_hash, "response": None, "created_at": now,
            "k_expired_before": expired_before,
        })
        if claimed is not None:
            return None
        return _STATEMENTS.driver(connection, "read_key").first(connection, {"k_key": key})

    # --- writes -----------------------------------------------------------------------------
    def store_response(self, key: str, response: dict[str, Any]) -> None:
        """Record the outcome a claimed idempotency key stands for (written by :meth:`flush`)."""
        self._responses.append({"k_key": key, "k_response": response})

    def set_usage(self, target: Target, aggregate: float, count: int, at: datetime,
                  period_start: datetime | None = None, period_end: datetime | None = None,
                  warned: tuple[float, ...] = ()) -> None:
        """Record the usage row's new value and its period (written by :meth:`flush`)."""
        state = self._usage[target.key]
        state.aggregate, state.count, state.dirty, state.updated_at = aggregate, count, True, at
        state.period_start, state.period_end, state.warned = period_start, period_end, warned

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
        self._rollup_15m.setdefault(bucket_key, Rollup()).add(column, value_after, threshold,
                                                              reached)
        day_key = (target.instance_id, target.entitlement_id, seconds // DAY_SECONDS)
        self._rollup_day.setdefault(day_key, Rollup()).add(column, value_after, threshold)
        return event_id

    def outbox(self, at: datetime, aggregate_type: str, aggregate_id: str, event_type: str,
               payload: dict[str, Any]) -> str:
        """Queue one outbox event (:func:`~kaiten_analytics.service.outbox.outbox_row`)."""
        row = outbox_row(at, aggregate_type, aggregate_id, event_type, payload)
        self._outbox.append(row)
        return row["id"]

    def flush(self) -> None:
        """Write everything queued so far (still inside the caller's transaction)."""
        connection = self.connection
        writes = [
            ("insert_audit", self._audit),
            ("update_usage", [
                {"k_instance_id": instance_id, "k_entitlement_id": entitlement_id,
                 "k_value": encode_usage(state.aggregate, state.count),
                 "k_at": state.updated_at, "k_period_start": state.period_start,
                 "k_period_end": state.period_end,
                 "k_warned": list(state.warned) if state.warned else sa.null()}
                for (instance_id, entitlement_id), state in self._usage.items() if state.dirty
            ]),
            ("insert_outbox", self._outbox),
            ("rollup_15m", rollups.rows("rollup_15m", self._rollup_15m)),
            ("rollup_day", rollups.rows("rollup_day", self._rollup_day)),
            ("store_response", self._responses),
        ]
        writes = [(name, rows) for name, rows in writes if rows]
        if (connection.dialect.name == "postgresql" and len(writes) > 1
                and all(len(rows) == 1 for _, rows in writes)):
            # one event (a single report or read): all its writes in one round trip
            names = tuple(name for name, _ in writes)
            _STATEMENTS.combined(connection, names).execute(
                connection, [combined_parameters([rows[0] for _, rows in writes])])
        else:
            for name, rows in writes:
                _write(connection, name, rows)
        for state in self._usage.values():
            state.dirty = False
        self._audit, self._outbox, self._responses = [], [], []
        self._rollup_15m, self._rollup_day = {}, {}


def _write(connection: sa.Connection, name: str, rows: list[dict[str, Any]]) -> None:
    """Write ``rows`` with the statement ``name``; large batches take the bulk paths."""
    if len(rows) >= BULK_ROWS and name == "insert_audit":
        bulk_audit(connection, rows)
    elif len(rows) >= BULK_ROWS and name in ROLLUPS and connection.dialect.name == "postgresql":
        stage_rows(connection, ROLLUPS[name][0], rows)
        connection.execute(_STATEMENTS.statement(connection, f"{name}_staged"))
    else:
        _STATEMENTS.driver(connection, name).execute(connection, rows)


def _state(row: dict[str, Any]) -> _UsageState:
    """The state of a locked usage row (its value, period and levels warned)."""
    aggregate, count = decode_usage(row["usage"])
    return _UsageState(aggregate, count, row["period_start"], row["period_end"],
                       tuple(row["warned"] or ()))
