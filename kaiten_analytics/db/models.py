"""The tables (SQLAlchemy Core metadata; the schema itself is created only by migrations).

Audit rollups: ``audit_rollup_15m`` holds, per instance × entitlement × 15-minute UTC bucket,
the event counts by console category and the usage value's first/last/min/max; every real
zone offset is a multiple of 15 minutes, so any local day is a whole number of buckets.
``audit_rollup_day`` holds the same counts per UTC day, so all-time totals read a few hundred
rows. Both are written in the transaction that appends the audit event.
Buckets and days are integers (seconds since the epoch // ``BUCKET_SECONDS`` and //
``DAY_SECONDS``): portable range and grouping arithmetic on both engines.
"""

from __future__ import annotations

import sqlalchemy as sa

from kaiten_analytics.db.types import JSONType, UTCDateTime
from kaiten_analytics.enumerations import (
    AGGREGATION_METHODS,
    CONSOLE_ROLES,
    ENTITLEMENT_TYPES,
    FLAG_TYPES,
)

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING)


def one_of(values: tuple[str, ...]) -> str:
    """Return the SQL list of a CHECK constraint, ``('A', 'B')``, from an enumeration."""
    return "(" + ", ".join(f"'{value}'" for value in values) + ")"


customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("slug", sa.String(63), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

licenses = sa.Table(
    "licenses",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("slug", sa.String(63), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
)

entitlements = sa.Table(
    "entitlements",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("slug", sa.String(63), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("aggregation_method", sa.String(16), nullable=True),
    sa.Column("unit", sa.String(50), nullable=True),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.CheckConstraint(f"type IN {one_of(ENTITLEMENT_TYPES)}", name="type"),
    sa.CheckConstraint(
        f"(type = 'NUMBER' AND aggregation_method IN {one_of(AGGREGATION_METHODS)}) "
        "OR (type <> 'NUMBER' AND aggregation_method IS NULL)",
        name="aggregation_method",
    ),
)

license_entitlements = sa.Table(
    "license_entitlements",
    metadata,
    sa.Column("license_id", sa.ForeignKey("licenses.id"), primary_key=True),
    sa.Column("entitlement_id", sa.ForeignKey("entitlements.id"), primary_key=True),
    sa.Column("value", JSONType, nullable=True),
)

deployment_zones = sa.Table(
    "deployment_zones",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("slug", sa.String(63), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
)

instances = sa.Table(
    "instances",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("customer_id", sa.ForeignKey("customers.id"), nullable=False, index=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("slug", sa.String(63), nullable=False, unique=True),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("license_id", sa.ForeignKey("licenses.id"), nullable=False, index=True),
    sa.Column("deployment_zone_id", sa.ForeignKey("deployment_zones.id"), nullable=True),
    sa.Column("license_start", sa.Date, nullable=True),
    sa.Column("license_end", sa.Date, nullable=True),
    sa.Column("metadata", JSONType, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("deleted_at", UTCDateTime, nullable=True),
    sa.CheckConstraint(
        "license_end IS NULL OR license_start IS NULL OR license_end >= license_start",
        name="license_dates",
    ),
)

entitlement_usage = sa.Table(
    "entitlement_usage",
    metadata,
    sa.Column("instance_id", sa.ForeignKey("instances.id"), primary_key=True),
    sa.Column("entitlement_id", sa.ForeignKey("entitlements.id"), primary_key=True),
    # {"type": "number", "value": <aggregate>, "event_count": <accepted reports>}; NULL = no
    # accepted report yet (the row exists so that concurrent reporters have a row to lock).
    sa.Column("value", JSONType, nullable=True),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    # the metering period the value belongs to (NULL, NULL: a limit that never restarts); a
    # value of another period than the one holding "now" is no current usage
    sa.Column("period_start", UTCDateTime, nullable=True),
    sa.Column("period_end", UTCDateTime, nullable=True),
    # the warning levels (percent of the threshold) already sent in that period
    sa.Column("warned", JSONType, nullable=True),
)

feature_audit_trail = sa.Table(
    "feature_audit_trail",
    metadata,
    sa.Column("id", sa.String(26), primary_key=True),  # ULID: sortable by time
    sa.Column("instance_id", sa.ForeignKey("instances.id"), nullable=False),
    sa.Column("entitlement_id", sa.ForeignKey("entitlements.id"), nullable=False),
    sa.Column("event_name", sa.String(100), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("payload", JSONType, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # The event log pages newest first per instance, optionally per entitlement / event name.
    sa.Index("ix_audit_instance_created", "instance_id", "created_at", "id"),
    sa.Index("ix_audit_instance_entitlement_created", "instance_id", "entitlement_id",
             "created_at", "id"),
    sa.Index("ix_audit_instance_event_created", "instance_id", "event_name", "created_at", "id"),
)

#: a rollup bucket is 15 minutes: every real UTC offset is a multiple of it
BUCKET_SECONDS = 900
DAY_SECONDS = 86_400

audit_rollup_15m = sa.Table(
    "audit_rollup_15m",
    metadata,
    sa.Column("instance_id", sa.Integer, primary_key=True),
    sa.Column("entitlement_id", sa.Integer, primary_key=True),
    sa.Column("bucket", sa.Integer, primary_key=True),  # epoch seconds // 900
    sa.Column("reads", sa.Integer, nullable=False, server_default="0"),
    sa.Column("accepted", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rejected", sa.Integer, nullable=False, server_default="0"),
    # the aggregate after accepted reports in the bucket (for downsampled value over time)
    sa.Column("value_first", sa.Float, nullable=True),
    sa.Column("value_last", sa.Float, nullable=True),
    sa.Column("value_min", sa.Float, nullable=True),
    sa.Column("value_max", sa.Float, nullable=True),
    sa.Column("threshold_last", sa.Float, nullable=True),
    # accepted reports in the bucket that reached the threshold (their exact points are then
    # looked up in that bucket's audit events only)
    sa.Column("reached", sa.Integer, nullable=False, server_default="0"),
    sa.Index("ix_audit_rollup_15m_instance_bucket", "instance_id", "bucket"),
)

audit_rollup_day = sa.Table(
    "audit_rollup_day",
    metadata,
    sa.Column("instance_id", sa.Integer, primary_key=True),
    sa.Column("entitlement_id", sa.Integer, primary_key=True),
    sa.Column("day", sa.Integer, primary_key=True),  # epoch seconds // 86400 (UTC day)
    sa.Column("reads", sa.Integer, nullable=False, server_default="0"),
    sa.Column("accepted", sa.Integer, nullable=False, server_default="0"),
    sa.Column("rejected", sa.Integer, nullable=False, server_default="0"),
    # the day's closing and highest aggregate: fleet trends and forecasts read these
    sa.Column("value_last", sa.Float, nullable=True),
    sa.Column("value_max", sa.Float, nullable=True),
)

idempotency_keys = sa.Table(
    "idempotency_keys",
    metadata,
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("request_hash", sa.String(64), nullable=False),
    sa.Column("response", JSONType, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False, index=True),
)

outbox_events = sa.Table(
    "outbox_events",
    metadata,
    sa.Column("id", sa.String(26), primary_key=True),
    sa.Column("aggregate_type", sa.String(50), nullable=False),
    sa.Column("aggregate_id", sa.String(100), nullable=False),
    sa.Column("event_type", sa.String(100), nullable=False),
    sa.Column("payload", JSONType, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Index("ix_outbox_aggregate", "aggregate_type", "aggregate_id", "event_type"),
)

feature_flags = sa.Table(
    "feature_flags",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("key", sa.String(63), nullable=False, unique=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("type", sa.String(16), nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("default_value", JSONType, nullable=True),
    sa.Column("rules", JSONType, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.CheckConstraint(f"type IN {one_of(FLAG_TYPES)}", name="type"),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(63), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    # NULL: the key sees every customer; else only this customer's instances
    sa.Column("customer_id", sa.ForeignKey("customers.id"), nullable=True),
    # HMAC-SHA256 of the secret under the server's pepper (hex); the secret is never stored
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    # the secret's first characters ("ka_" + 4), so a person can tell keys apart in a list
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_used_at", UTCDateTime, nullable=True),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
    sa.CheckConstraint("role IN ('admin', 'viewer', 'reporter')", name="role"),
)


# Who may use the console when sign-in is configured: an email (normalised to lower case) and
# its role. An email that is not here signs in to a "no access" page.
console_users = sa.Table(
    "console_users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("email", sa.String(254), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.CheckConstraint(f"role IN {one_of(CONSOLE_ROLES)}", name="role"),
)

# --- webhooks ------------------------------------------------------------------------------
WEBHOOK_DELIVERY_STATUSES = ("pending", "delivering", "succeeded", "failed")

webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("url", sa.String(2000), nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    # True: every event type; False: the types in webhook_endpoint_events
    sa.Column("all_events", sa.Boolean, nullable=False),
    sa.Column("enabled", sa.Boolean, nullable=False),
    sa.Column("disabled_reason", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

webhook_endpoint_events = sa.Table(
    "webhook_endpoint_events",
    metadata,
    sa.Column("endpoint_id", sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("event_type", sa.String(100), primary_key=True),
)

webhook_secrets = sa.Table(
    "webhook_secrets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("endpoint_id", sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
              nullable=False, index=True),
    # Fernet token of the whsec_ secret (the key lives outside the database)
    sa.Column("secret_encrypted", sa.Text, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    # NULL: current; else it still signs (beside its successor) until then
    sa.Column("expires_at", UTCDateTime, nullable=True),
)

# One row per (outbox event, endpoint), inserted by a trigger on outbox_events (migration
# 0004) in the writing transaction. Due = next_attempt_at <= now: a claim sets it to the lease
# expiry, so a dead relay's rows come due again by themselves; NULL once succeeded or failed.
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("endpoint_id", sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
              nullable=False),
    sa.Column("event_id", sa.ForeignKey("outbox_events.id"), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime, nullable=True),
    sa.Column("lease_until", UTCDateTime, nullable=True),
    sa.Column("claim_token", sa.String(32), nullable=True),
    sa.Column("last_status_code", sa.Integer, nullable=True),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("endpoint_id", "event_id"),
    sa.CheckConstraint(
        "status IN ('pending', 'delivering', 'succeeded', 'failed')", name="status"),
    # the relay's claim: an endpoint's due rows, oldest first
    sa.Index("ix_webhook_deliveries_due", "endpoint_id", "next_attempt_at"),
    sa.Index("ix_webhook_deliveries_event", "event_id"),
)

webhook_attempts = sa.Table(
    "webhook_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("delivery_id", sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("attempted_at", UTCDateTime, nullable=False),
    sa.Column("status_code", sa.Integer, nullable=True),
    sa.Column("duration_ms", sa.Float, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("response_excerpt", sa.Text, nullable=True),
)


def instances_in_context() -> sa.Join:
    """``instances`` joined to its customer, license and (optional) zone: select from this."""
    return (
        instances.join(customers, customers.c.id == instances.c.customer_id)
        .join(licenses, licenses.c.id == instances.c.license_id)
        .outerjoin(deployment_zones, deployment_zones.c.id == instances.c.deployment_zone_id)
    )
