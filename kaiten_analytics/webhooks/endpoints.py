"""Webhook endpoints and their deliveries: the use-cases behind ``kaiten.webhooks``.

Deliveries are created by the database (the fan-out trigger of migration 0004) in the
transaction that writes the outbox event, for each enabled endpoint subscribed to its type —
so an endpoint receives exactly the events written after it was added.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa

from kaiten_analytics import fields
from kaiten_analytics.analytics._frames import frame
from kaiten_analytics.db.database import Database
from kaiten_analytics.db.models import (
    WEBHOOK_DELIVERY_STATUSES,
    outbox_events,
    webhook_attempts,
    webhook_deliveries,
    webhook_endpoint_events,
    webhook_endpoints,
    webhook_secrets,
)
from kaiten_analytics.entities import WebhookEndpoint
from kaiten_analytics.errors import ConflictError, NotFoundError, ValidationError
from kaiten_analytics.events import OUTBOX_EVENT_TYPES, WEBHOOK_TEST
from kaiten_analytics.service.outbox import append_event
from kaiten_analytics.webhooks import secret_box
from kaiten_analytics.webhooks.addresses import checked_url

#: how long a rotated-out secret keeps signing beside its successor
ROTATION_OVERLAP = timedelta(hours=24)
DESCRIPTION_MAX = 1000
#: endpoint and delivery ids are 32-bit integers in the database
ID_MAX = 2**31 - 1
REASON_MAX = 1000

ENDPOINT_COLUMNS = ["id", "url", "events", "description", "enabled", "disabled_reason",
                    "created_at"]
DELIVERY_COLUMNS = ["id", "endpoint_id", "url", "event_id", "event_type", "status", "attempts",
                    "last_status_code", "last_error", "next_attempt_at", "created_at",
                    "updated_at"]
ATTEMPT_COLUMNS = ["id", "delivery_id", "attempted_at", "status_code", "duration_ms", "error",
                   "response_excerpt"]


def add_endpoint(db: Database, url: str, events: Iterable[str] | str | None = None,
                 description: str = "") -> WebhookEndpoint:
    """Add an endpoint; the returned value carries its new secret (the only time it is shown)."""
    url = checked_url(url)
    types = _event_types(events)
    description = fields.text(description, "description", DESCRIPTION_MAX)
    now = db.now()
    with db.transaction() as connection:  # a read-only handle refuses here, before any key file
        secret = secret_box.new_secret()
        token = secret_box.encrypt(secret)
        endpoint_id = connection.execute(
            webhook_endpoints.insert().values(
                url=url, description=description, all_events=types is None, enabled=True,
                created_at=now)
        ).inserted_primary_key[0]
        if types:
            connection.execute(webhook_endpoint_events.insert(),
                               [{"endpoint_id": endpoint_id, "event_type": t} for t in types])
        connection.execute(webhook_secrets.insert().values(
            endpoint_id=endpoint_id, secret_encrypted=token, created_at=now))
    return WebhookEndpoint(id=endpoint_id, url=url, events=types, description=description,
                           enabled=True, disabled_reason=None, created_at=now, secret=secret)


def get_endpoint(db: Database, endpoint: int) -> WebhookEndpoint:
    """Return one endpoint (without its secret); an unknown id raises ``NotFoundError``."""
    endpoint = _endpoint_id(endpoint)
    with db.read() as connection:
        row = connection.execute(
            sa.select(webhook_endpoints).where(webhook_endpoints.c.id == endpoint)).first()
        if row is None:
            raise NotFoundError("endpoint", str(endpoint), f"no webhook endpoint {endpoint}")
        types = _subscriptions(connection).get(endpoint, ())
    return _entity(row, types)


def list_endpoints(db: Database) -> pd.DataFrame:
    """List webhook endpoints, oldest first.

    Returns
    -------
    DataFrame
        id, url, events (a list of types, None = every type), description, enabled,
        disabled_reason, created_at (aware UTC).
    """
    with db.read() as connection:
        rows = connection.execute(
            sa.select(webhook_endpoints).order_by(webhook_endpoints.c.id)).all()
        subscriptions = _subscriptions(connection)
    endpoints = [_entity(row, subscriptions.get(row.id, ())) for row in rows]
    return frame(
        [(e.id, e.url, None if e.events is None else list(e.events), e.description, e.enabled,
          e.disabled_reason, e.created_at) for e in endpoints],
        ENDPOINT_COLUMNS, times=("created_at",))


def remove_endpoint(db: Database, endpoint: int) -> None:
    """Remove an endpoint with its secrets, deliveries and their attempts."""
    endpoint = _endpoint_id(endpoint)
    with db.transaction() as connection:
        _lock_endpoint(connection, endpoint)
        deliveries = sa.select(webhook_deliveries.c.id).where(
            webhook_deliveries.c.endpoint_id == endpoint)
        connection.execute(webhook_attempts.delete().where(
            webhook_attempts.c.delivery_id.in_(deliveries)))
        for table in (webhook_deliveries, webhook_secrets, webhook_endpoint_events):
            connection.execute(table.delete().where(table.c.endpoint_id == endpoint))
        connection.execute(webhook_endpoints.delete().where(webhook_endpoints.c.id == endpoint))


def enable_endpoint(db: Database, endpoint: int) -> None:
    """Enable an endpoint again (after a 410 disabled it); its pending deliveries go out."""
    endpoint = _endpoint_id(endpoint)
    with db.transaction() as connection:
        _lock_endpoint(connection, endpoint)
        connection.execute(webhook_endpoints.update().where(webhook_endpoints.c.id == endpoint)
                           .values(enabled=True, disabled_reason=None))


def disable_endpoint(db: Database, endpoint: int, reason: str = "disabled by hand") -> None:
    """Disable an endpoint: nothing is sent to it until enabled.

    Its queued deliveries wait; events written meanwhile get no delivery to it (the fan-out
    trigger serves enabled endpoints only).
    """
    endpoint = _endpoint_id(endpoint)
    reason = fields.text(reason, "reason", REASON_MAX).strip() or "disabled by hand"
    with db.transaction() as connection:
        _lock_endpoint(connection, endpoint)
        connection.execute(webhook_endpoints.update().where(webhook_endpoints.c.id == endpoint)
                           .values(enabled=False, disabled_reason=reason))


def rotate_secret(db: Database, endpoint: int) -> str:
    """Give the endpoint a new secret and return it (once).

    The previous secret keeps signing beside the new one for 24 hours (each message then
    carries both signatures), so receivers can switch without losing a message; older ones go.
    """
    endpoint = _endpoint_id(endpoint)
    now = db.now()
    with db.transaction() as connection:  # a read-only handle refuses here, before any key file
        _lock_endpoint(connection, endpoint)
        secret = secret_box.new_secret()
        token = secret_box.encrypt(secret)
        connection.execute(webhook_secrets.delete().where(
            webhook_secrets.c.endpoint_id == endpoint, webhook_secrets.c.expires_at <= now))
        connection.execute(webhook_secrets.update().where(
            webhook_secrets.c.endpoint_id == endpoint, webhook_secrets.c.expires_at.is_(None)
        ).values(expires_at=now + ROTATION_OVERLAP))
        connection.execute(webhook_secrets.insert().values(
            endpoint_id=endpoint, secret_encrypted=token, created_at=now))
    return secret


def signing_secrets(connection: sa.Connection, now: datetime) -> dict[int, list[str]]:
    """Every endpoint's secrets that sign at ``now`` (newest first), decrypted."""
    rows = connection.execute(
        sa.select(webhook_secrets.c.endpoint_id, webhook_secrets.c.secret_encrypted)
        .where(sa.or_(webhook_secrets.c.expires_at.is_(None),
                      webhook_secrets.c.expires_at > now))
        .order_by(webhook_secrets.c.endpoint_id, webhook_secrets.c.id.desc())
    ).all()
    out: dict[int, list[str]] = {}
    for endpoint_id, token in rows:
        out.setdefault(endpoint_id, []).append(secret_box.decrypt(token))
    return out


def list_deliveries(db: Database, endpoint: int | None = None, status: str | None = None,
                    limit: int = 50, offset: int = 0) -> pd.DataFrame:
    """List deliveries, newest first (``offset`` rows skipped, then at most ``limit``).

    Returns
    -------
    DataFrame
        id, endpoint_id, url, event_id (the ``webhook-id``), event_type, status (pending /
        delivering / succeeded / failed), attempts, last_status_code (NaN before a response),
        last_error, next_attempt_at, created_at, updated_at (aware UTC).
    """
    limit = fields.bounded_int(limit, "limit", 1, 1000)
    offset = fields.bounded_int(offset, "offset", 0, ID_MAX)
    d = webhook_deliveries
    query = (
        sa.select(d.c.id, d.c.endpoint_id, webhook_endpoints.c.url, d.c.event_id,
                  outbox_events.c.event_type, d.c.status, d.c.attempts, d.c.last_status_code,
                  d.c.last_error, d.c.next_attempt_at, d.c.created_at, d.c.updated_at)
        .select_from(d.join(webhook_endpoints, webhook_endpoints.c.id == d.c.endpoint_id)
                     .join(outbox_events, outbox_events.c.id == d.c.event_id))
        .order_by(d.c.id.desc()).limit(limit).offset(offset)
    )
    if endpoint is not None:
        query = query.where(d.c.endpoint_id == _endpoint_id(endpoint))
    if status is not None:
        if status not in WEBHOOK_DELIVERY_STATUSES:
            raise ValidationError("status", "must be one of "
                                            + ", ".join(WEBHOOK_DELIVERY_STATUSES))
        query = query.where(d.c.status == status)
    with db.read() as connection:
        rows = connection.execute(query).all()
    df = frame(rows, DELIVERY_COLUMNS, times=("next_attempt_at", "created_at", "updated_at"))
    df["last_status_code"] = df["last_status_code"].astype("Int64")
    return df


def list_attempts(db: Database, delivery: int) -> pd.DataFrame:
    """List one delivery's attempts, oldest first.

    Returns
    -------
    DataFrame
        id, delivery_id, attempted_at (aware UTC), status_code (NA without a response),
        duration_ms, error, response_excerpt (at most 1 KiB of the response body).
    """
    delivery = _delivery_id(delivery)
    a = webhook_attempts
    with db.read() as connection:
        _delivery_row(connection, delivery)
        rows = connection.execute(
            sa.select(a.c.id, a.c.delivery_id, a.c.attempted_at, a.c.status_code,
                      a.c.duration_ms, a.c.error, a.c.response_excerpt)
            .where(a.c.delivery_id == delivery).order_by(a.c.id)).all()
    df = frame(rows, ATTEMPT_COLUMNS, times=("attempted_at",))
    df["status_code"] = df["status_code"].astype("Int64")
    return df


def retry_delivery(db: Database, delivery: int) -> None:
    """Make a delivery due now (a failed one gets one more attempt; a succeeded one is re-sent).

    One being attempted right now raises ``ConflictError``; so does one whose endpoint is
    disabled (enable it first).
    """
    delivery = _delivery_id(delivery)
    now = db.now()
    with db.transaction() as connection:
        row = _delivery_row(connection, delivery, lock=True)
        if row.status == "delivering" and row.lease_until is not None and row.lease_until > now:
            raise ConflictError("delivery", f"delivery {delivery} is being attempted right now")
        enabled = connection.execute(sa.select(webhook_endpoints.c.enabled).where(
            webhook_endpoints.c.id == row.endpoint_id)).scalar_one()
        if not enabled:
            raise ConflictError("delivery", f"the endpoint of delivery {delivery} is disabled; "
                                            "enable it first")
        connection.execute(webhook_deliveries.update().where(webhook_deliveries.c.id == delivery)
                           .values(status="pending", next_attempt_at=now, lease_until=None,
                                   claim_token=None, updated_at=now))


def send_test(db: Database, endpoint: int) -> str:
    """Queue a ``WEBHOOK_TEST`` message to this endpoint alone; return its ``webhook-id``."""
    endpoint = _endpoint_id(endpoint)
    now = db.now()
    with db.transaction() as connection:
        _lock_endpoint(connection, endpoint)
        event_id = append_event(connection, now, "webhook_endpoint", str(endpoint), WEBHOOK_TEST,
                                {"endpoint": endpoint, "message": "a test event from Kaiten"})
        connection.execute(webhook_deliveries.insert().values(
            endpoint_id=endpoint, event_id=event_id, status="pending", attempts=0,
            next_attempt_at=now, created_at=now, updated_at=now))
    return event_id


# --- helpers ----------------------------------------------------------------------------------
def _event_types(events: Iterable[str] | str | None) -> tuple[str, ...] | None:
    if events is None:
        return None
    if isinstance(events, str):
        events = events.split(",")
    try:
        types = [str(t).strip() if isinstance(t, str) else t for t in events]
    except TypeError as error:
        raise ValidationError("events", "must be a list of event types") from error
    if not types or any(not isinstance(t, str) or not t for t in types):
        raise ValidationError("events", "must name at least one event type (omit it for all)")
    unknown = [t for t in types if t not in OUTBOX_EVENT_TYPES]
    if unknown:
        raise ValidationError("events", f"unknown event type {unknown[0]!r}; known: "
                                        f"{', '.join(OUTBOX_EVENT_TYPES)}")
    return tuple(sorted(set(types)))


def _endpoint_id(value: Any) -> int:
    return fields.record_id(value, "endpoint", ID_MAX)


def _delivery_id(value: Any) -> int:
    return fields.record_id(value, "delivery", ID_MAX)


def _lock_endpoint(connection: sa.Connection, endpoint: int) -> None:
    found = connection.execute(
        sa.select(webhook_endpoints.c.id).where(webhook_endpoints.c.id == endpoint)
        .with_for_update()).first()
    if found is None:
        raise NotFoundError("endpoint", str(endpoint), f"no webhook endpoint {endpoint}")


def _delivery_row(connection: sa.Connection, delivery: int, lock: bool = False) -> sa.Row:
    query = sa.select(webhook_deliveries).where(webhook_deliveries.c.id == delivery)
    row = connection.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFoundError("delivery", str(delivery), f"no webhook delivery {delivery}")
    return row


def _subscriptions(connection: sa.Connection) -> dict[int, tuple[str, ...]]:
    out: dict[int, list[str]] = {}
    for endpoint_id, event_type in connection.execute(
            sa.select(webhook_endpoint_events.c.endpoint_id, webhook_endpoint_events.c.event_type)
            .order_by(webhook_endpoint_events.c.event_type)):
        out.setdefault(endpoint_id, []).append(event_type)
    return {key: tuple(value) for key, value in out.items()}


def _entity(row: sa.Row, types: tuple[str, ...]) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=row.id, url=row.url, events=None if row.all_events else types,
        description=row.description, enabled=row.enabled, disabled_reason=row.disabled_reason,
        created_at=row.created_at)
