"""How audit events are counted into the rollup tables, and how counts are merged.

Each audit event adds to one row of ``audit_rollup_15m`` (its 15-minute UTC bucket) and one of
``audit_rollup_day`` (its UTC day): a count by console category (reads, accepted, rejected)
and, for events that carry a usage value, the value's first, last, minimum and maximum. A
transaction's events are merged in memory first (:class:`Rollup`, one per key), then upserted
once per key (:func:`upsert`), which merges with the stored row by the same rules:

* counts add up;
* ``value_first`` keeps the stored one, ``value_last`` takes the new one;
* ``value_min`` / ``value_max`` keep the smaller / larger (NULL means none yet);
* ``threshold_last`` goes with ``value_last``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from kaiten_analytics.db.bulk_writes import stage_name
from kaiten_analytics.db.driver_statements import row_values
from kaiten_analytics.db.models import audit_rollup_15m, audit_rollup_day
from kaiten_analytics.db.upsert import insert_for

COUNTS = ("reads", "accepted", "rejected")
VALUES_15M = ("value_first", "value_last", "value_min", "value_max", "threshold_last", "reached")
VALUES_DAY = ("value_last", "value_max")

#: the rollups by statement name: table, period column, value columns
ROLLUPS: dict[str, tuple[sa.Table, str, tuple[str, ...]]] = {
    "rollup_15m": (audit_rollup_15m, "bucket", VALUES_15M),
    "rollup_day": (audit_rollup_day, "day", VALUES_DAY),
}

#: a rollup row's key: instance id, entitlement id, bucket or day
RollupKey = tuple[int, int, int]


@dataclass
class Rollup:
    """One rollup row's counts and values, accumulated in memory."""

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
        """Count one event in ``column`` (a category of :data:`COUNTS`), with its value."""
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


def rows(name: str, rollups: dict[RollupKey, Rollup]) -> list[dict[str, Any]]:
    """Return the rows of rollup ``name`` to upsert, one per key of ``rollups``."""
    period = ROLLUPS[name][1]
    # every field of the rollup: the statement takes the columns of its table
    return [
        {"instance_id": instance_id, "entitlement_id": entitlement_id, period: period_value,
         **vars(rollup)}
        for (instance_id, entitlement_id, period_value), rollup in rollups.items()
    ]


def upsert(connection: sa.Connection, name: str, staged: bool = False) -> sa.Executable:
    """Return the upsert of rollup ``name``: insert the row, or merge it into the stored one.

    ``staged``: insert every row of the temporary staging table instead (PostgreSQL bulk,
    :func:`kaiten_analytics.db.bulk_writes.stage_rows`).
    """
    table, period, values = ROLLUPS[name]
    statement = insert_for(connection, table)
    if staged:
        columns = ["instance_id", "entitlement_id", period, *COUNTS, *values]
        stage = sa.table(stage_name(table), *(sa.column(c) for c in columns))
        statement = statement.from_select(columns, sa.select(*stage.c))
    else:
        statement = statement.values(row_values(table))
    new, old = statement.excluded, table.c
    update = {column: old[column] + new[column] for column in COUNTS}
    update.update({column: _MERGE[column](old, new) for column in values})
    return statement.on_conflict_do_update(
        index_elements=[old.instance_id, old.entitlement_id, old[period]], set_=update
    )


def _keep_better(column: str, new_is_better: Callable) -> Callable:
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
