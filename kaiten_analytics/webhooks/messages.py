"""One message: the JSON body and the Standard Webhooks headers, signed by ``standardwebhooks``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from standardwebhooks.webhooks import Webhook

USER_AGENT = "kaiten-webhooks/1"


def rfc3339(at: datetime) -> str:
    """``2026-03-20T12:00:00.000000Z``: UTC, always with microseconds (sorts as a string)."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def body(event_type: str, created_at: datetime, payload: dict[str, Any]) -> str:
    """The message body: ``{"type", "timestamp", "data"}`` (the event's own time)."""
    return json.dumps({"type": event_type, "timestamp": rfc3339(created_at), "data": payload},
                      separators=(",", ":"), ensure_ascii=False)


def headers(message_id: str, sent_at: datetime, data: str, secrets: Sequence[str]
            ) -> dict[str, str]:
    """The request headers: ``webhook-id`` / ``-timestamp`` / ``-signature`` and the content type.

    Each secret in ``secrets`` (the current one, and during a rotation its predecessor) adds a
    ``v1,…`` signature, space-separated, as the specification allows.
    """
    signature = " ".join(Webhook(secret).sign(message_id, sent_at, data) for secret in secrets)
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signature,
    }
