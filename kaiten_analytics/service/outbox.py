"""Domain events, written in the transaction of the change they describe."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa

from kaiten_analytics.clock import new_id
from kaiten_analytics.db.models import outbox_events


def append_event(
    connection: sa.Connection,
    at: datetime,
    aggregate_type: str,
    aggregate_id: str,
    event_type: str,
    payload: dict[str, Any],
) -> str:
    """Insert one outbox event and return its id; the caller's transaction commits it."""
    event_id = new_id(at)
    connection.execute(
        outbox_events.insert().values(
            id=event_id,
            aggregate_type=aggregate_type,
            aggregate_id=aggregate_id,
            event_type=event_type,
            payload=payload,
            created_at=at,
        )
    )
    return event_id
