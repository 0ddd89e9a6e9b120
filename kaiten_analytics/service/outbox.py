"""Domain events (the outbox), written in the transaction of the change they describe.

The one writer of ``outbox_events``: :func:`outbox_row` is what an event row holds, and
:data:`INSERT_OUTBOX` the statement that writes it. A catalogue or flag change appends its
event at once (:func:`append_event`); the metering ledger queues the rows of
``INSTANCE_ENTITLEMENT_USAGE_REACHED``, ``…_WARNING`` and ``…_RECOVERED`` events and writes
them with the same statement in its flush. Event ids are ULIDs of the event time, so
``ORDER BY id`` is the order they happened.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from kaiten_analytics.clock import new_id
from kaiten_analytics.db.driver_statements import row_values
from kaiten_analytics.db.models import outbox_events

#: inserts one outbox row (a bind parameter per column, as :func:`outbox_row` names them)
INSERT_OUTBOX = outbox_events.insert().values(row_values(outbox_events))


def outbox_row(at: datetime, aggregate_type: str, aggregate_id: str, event_type: str,
               payload: dict[str, Any]) -> dict[str, Any]:
    """Return the ``outbox_events`` row of one event, with a new id (a ULID of ``at``)."""
    return {"id": new_id(at), "aggregate_type": aggregate_type, "aggregate_id": aggregate_id,
            "event_type": event_type, "payload": payload, "created_at": at}


def append_event(
    connection: sa.Connection,
    at: datetime,
    aggregate_type: str,
    aggregate_id: str,
    event_type: str,
    payload: dict[str, Any],
) -> str:
    """Insert one outbox event and return its id; the caller's transaction commits it."""
    row = outbox_row(at, aggregate_type, aggregate_id, event_type, payload)
    connection.execute(INSERT_OUTBOX, row)
    return row["id"]
