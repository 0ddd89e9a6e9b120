"""Audit event names, their statuses and the console's categories, in one place."""

from __future__ import annotations

from typing import Final

VALUE_GET: Final = "kaiten.v1.entitlement.value.get"
USAGE_ACCEPTED: Final = "kaiten.v1.entitlement.usage.report.accepted"
USAGE_REJECTED: Final = "kaiten.v1.entitlement.usage.report.rejected"

ACCEPTED: Final = "ACCEPTED"
REJECTED: Final = "REJECTED"

EVENT_NAMES: Final = (VALUE_GET, USAGE_ACCEPTED, USAGE_REJECTED)
STATUSES: Final = (ACCEPTED, REJECTED)

#: event name -> (status, console category, rollup column)
EVENTS: Final = {
    VALUE_GET: (ACCEPTED, "Read", "reads"),
    USAGE_ACCEPTED: (ACCEPTED, "Accepted", "accepted"),
    USAGE_REJECTED: (REJECTED, "Rejected", "rejected"),
}
CATEGORIES: Final = ("Read", "Accepted", "Rejected")
#: event name -> the console category it is counted in (Read, Accepted, Rejected)
EVENT_CATEGORIES: Final = {name: category for name, (_, category, _) in EVENTS.items()}
ROLLUP_COLUMNS: Final = {category: column for _, category, column in EVENTS.values()}

#: outbox event types
USAGE_REACHED: Final = "INSTANCE_ENTITLEMENT_USAGE_REACHED"
#: a policy's warning level (percent of the threshold) reached, once per level per period
USAGE_WARNING: Final = "INSTANCE_ENTITLEMENT_USAGE_WARNING"
#: an aggregate at or over its threshold fell below it (or a new period began)
USAGE_RECOVERED: Final = "INSTANCE_ENTITLEMENT_USAGE_RECOVERED"

#: the outbox event types a webhook endpoint can subscribe to
OUTBOX_EVENT_TYPES: Final = (
    "INSTANCE_CREATED", "INSTANCE_UPDATED", "INSTANCE_DELETED", USAGE_REACHED, USAGE_WARNING,
    USAGE_RECOVERED,
    "FEATURE_FLAG_CREATED", "FEATURE_FLAG_UPDATED", "FEATURE_FLAG_DELETED",
)
#: what ``kaiten.webhooks.send_test`` sends (to one endpoint, never fanned out)
WEBHOOK_TEST: Final = "WEBHOOK_TEST"
