"""Write audit events, their rollups, usage rows and outbox events for one transaction.

The ledger is the single write path of metering: ``usage.report`` uses it for one report,
``usage.report_many`` and the demo generator for thousands. It caches what it resolved and
locked inside the transaction and writes in batches when flushed:

* audit rows with one ``executemany``;
* rollup rows (``audit_rollup_15m``, ``audit_rollup_day``) merged in memory first, then
  upserted once per key, adding to what is stored;
* each usage row updated once with its final value.

It never commits: the caller's ``with db.transaction()`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from kaiten_analytics.clock import new_id
from kaiten_analytics.db.models import (
    audit_rollup_15m,
    audit_rollup_day,
    entitlement_usage,
    entitlements,
    feature_audit_trail,
    instances,
    license_entitlements,
    outbox_events,
)
from kaiten_analytics.db.upsert import insert_for
from kaiten_analytics.errors import NotFoundError, ValidationError
from kaiten_analytics.events import EVENTS

BUCKET_SECONDS = 900  # 15 minutes: every real UTC offset is a multiple of it
DAY_SECONDS = 86_400
VALUES_15M = ("value_first", "value_last", "value_min", "value_max", "threshold_last", "reached")
VALUES_DAY = ("value_last", "value_max")


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


class Ledger:
    """Collects one transaction's metering writes; see the module docstring."""

    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection
        self._targets: dict[tuple[str, str], Target] = {}
        self._usage: dict[tuple[int, int], _UsageState] = {}
        self._audit: list[dict[str, Any]] = []
        self._outbox: list[dict[str, Any]] = []
        self._rollup_15m: dict[tuple[int, int, int], _Rollup] = {}
        self._rollup_day: dict[tuple[int, int, int], _Rollup] = {}

    # --- reads ------------------------------------------------------------------------------
    def resolve(self, instance: str, entitlement: str) -> Target:
        """Return the checked target; unknown or deleted names raise ``NotFoundError``."""
        cache_key = (instance, entitlement)
        if cache_key in self._targets:
            return self._targets[cache_key]
        for name, value in (("instance", instance), ("entitlement", entitlement)):
            if not isinstance(value, str) or not value:
                raise ValidationError(name, "must be a slug")
        le = license_entitlements
        row = self.connection.execute(
            sa.select(
                instances.c.id, instances.c.deleted_at, instances.c.license_start,
                instances.c.license_end, entitlements.c.id.label("entitlement_id"),
                entitlements.c.type, entitlements.c.aggregation_method,
                le.c.license_id.label("on_license"), le.c.value,
            )
            .select_from(instances)
            .join(entitlements, entitlements.c.slug == entitlement)
            .outerjoin(le, (le.c.license_id == instances.c.license_id)
                       & (le.c.entitlement_id == entitlements.c.id))
            .where(instances.c.slug == instance)
        ).first()
        if row is None:
            self._raise_not_found(instance, entitlement)
        if row.deleted_at is not None:
            raise NotFoundError("instance", instance, f"instance {instance!r} was deleted")
        target = Target(
            instance_id=row.id, instance=instance, entitlement_id=row.entitlement_id,
            entitlement=entitlement, type=row.type, method=row.aggregation_method,
            on_license=row.on_license is not None, granted=row.value,
            license_start=row.license_start, license_end=row.license_end,
        )
        self._targets[cache_key] = target
        return target

    def _raise_not_found(self, instance: str, entitlement: str) -> None:
        found = self.connection.execute(
            sa.select(sa.func.count()).where(instances.c.slug == instance)
        ).scalar()
        if not found:
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
        eu = entitlement_usage
        where = (eu.c.instance_id == target.instance_id) & (
            eu.c.entitlement_id == target.entitlement_id)
        locked = sa.select(eu.c.value).where(where).with_for_update()
        row = self.connection.execute(locked).first()
        if row is None:
            self.connection.execute(
                insert_for(self.connection, eu)
                .values(instance_id=target.instance_id, entitlement_id=target.entitlement_id,
                        value=None, updated_at=sa.func.current_timestamp())
                .on_conflict_do_nothing(index_elements=[eu.c.instance_id, eu.c.entitlement_id])
            )
            row = self.connection.execute(locked).first()
        value = row.value or {}
        aggregate = value.get("value")
        return _UsageState(None if aggregate is None else float(aggregate),
                           int(value.get("event_count", 0)))

    # --- writes -----------------------------------------------------------------------------
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
        from kaiten_analytics.service.aggregation import usage_value

        connection = self.connection
        if self._audit:
            connection.execute(feature_audit_trail.insert(), self._audit)
        eu = entitlement_usage
        for (instance_id, entitlement_id), state in self._usage.items():
            if state.dirty:
                connection.execute(
                    eu.update()
                    .where((eu.c.instance_id == instance_id)
                           & (eu.c.entitlement_id == entitlement_id))
                    .values(value=usage_value(state.aggregate, state.count),
                            updated_at=state.updated_at)
                )
                state.dirty = False
        if self._outbox:
            connection.execute(outbox_events.insert(), self._outbox)
        self._upsert_rollups(audit_rollup_15m, "bucket", self._rollup_15m, VALUES_15M)
        self._upsert_rollups(audit_rollup_day, "day", self._rollup_day, VALUES_DAY)
        self._audit, self._outbox = [], []
        self._rollup_15m, self._rollup_day = {}, {}

    def _upsert_rollups(self, table: sa.Table, period: str,
                        rollups: dict[tuple[int, int, int], _Rollup],
                        values: tuple[str, ...]) -> None:
        if not rollups:
            return
        counts = ("reads", "accepted", "rejected")
        rows = []
        for (instance_id, entitlement_id, period_value), rollup in rollups.items():
            row = {"instance_id": instance_id, "entitlement_id": entitlement_id,
                   period: period_value, **{c: getattr(rollup, c) for c in counts}}
            row.update({c: getattr(rollup, c) for c in values})
            rows.append(row)
        statement = insert_for(self.connection, table)
        new, old = statement.excluded, table.c
        update = {c: old[c] + new[c] for c in counts}

        update.update({column: _MERGE[column](old, new) for column in values})
        statement = statement.on_conflict_do_update(
            index_elements=[old.instance_id, old.entitlement_id, old[period]], set_=update
        )
        self.connection.execute(statement, rows)


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
