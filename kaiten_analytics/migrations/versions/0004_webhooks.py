"""Tables for webhook endpoints and deliveries, and the trigger that fans events out.

Every outbox row inserted creates, in the same transaction, one ``webhook_deliveries`` row per
enabled endpoint subscribed to its type. A trigger rather than a relay-side watermark: outbox
ids (ULIDs from the injected clock) and PostgreSQL sequence values are assigned before commit,
so a transaction can commit after a later-numbered one and slip under a watermark; the trigger
sees exactly the endpoints committed before the event was written (SQLite writers are
serialised; PostgreSQL's statement snapshot), needs no change to the writers, and costs
nothing while no endpoint exists. Test messages (aggregate ``webhook_endpoint``) are not fanned
out: ``send_test`` inserts its one delivery itself.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

FAN_OUT = """
    INSERT INTO webhook_deliveries
        (endpoint_id, event_id, status, attempts, next_attempt_at, created_at, updated_at)
    SELECT e.id, NEW.id, 'pending', 0, NEW.created_at, NEW.created_at, NEW.created_at
    FROM webhook_endpoints e
    WHERE e.enabled AND NEW.aggregate_type <> 'webhook_endpoint'
      AND (e.all_events OR EXISTS (
          SELECT 1 FROM webhook_endpoint_events f
          WHERE f.endpoint_id = e.id AND f.event_type = NEW.event_type));
"""


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("all_events", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_table(
        "webhook_endpoint_events",
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["endpoint_id"], ["webhook_endpoints.id"],
            name=op.f("fk_webhook_endpoint_events_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("endpoint_id", "event_type",
                                name=op.f("pk_webhook_endpoint_events")),
    )
    op.create_table(
        "webhook_secrets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["endpoint_id"], ["webhook_endpoints.id"],
            name=op.f("fk_webhook_secrets_endpoint_id_webhook_endpoints"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_secrets")),
    )
    op.create_index(op.f("ix_webhook_secrets_endpoint_id"), "webhook_secrets", ["endpoint_id"],
                    unique=False)
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=26), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim_token", sa.String(length=32), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'delivering', 'succeeded', 'failed')",
                           name=op.f("ck_webhook_deliveries_status")),
        sa.ForeignKeyConstraint(
            ["endpoint_id"], ["webhook_endpoints.id"],
            name=op.f("fk_webhook_deliveries_endpoint_id_webhook_endpoints"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(["event_id"], ["outbox_events.id"],
                                name=op.f("fk_webhook_deliveries_event_id_outbox_events")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("endpoint_id", "event_id",
                            name=op.f("uq_webhook_deliveries_endpoint_id_event_id")),
    )
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries",
                    ["endpoint_id", "next_attempt_at"], unique=False)
    op.create_index("ix_webhook_deliveries_event", "webhook_deliveries", ["event_id"],
                    unique=False)
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("response_excerpt", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"], ["webhook_deliveries.id"],
            name=op.f("fk_webhook_attempts_delivery_id_webhook_deliveries"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
    )
    op.create_index(op.f("ix_webhook_attempts_delivery_id"), "webhook_attempts", ["delivery_id"],
                    unique=False)

    if op.get_context().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION outbox_events_webhook_fan_out() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                {FAN_OUT}
                RETURN NULL;
            END $$
        """)
        op.execute("""
            CREATE TRIGGER outbox_events_webhook_fan_out
            AFTER INSERT ON outbox_events
            FOR EACH ROW EXECUTE FUNCTION outbox_events_webhook_fan_out()
        """)
    else:
        op.execute(f"""
            CREATE TRIGGER outbox_events_webhook_fan_out
            AFTER INSERT ON outbox_events
            BEGIN {FAN_OUT} END
        """)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER outbox_events_webhook_fan_out ON outbox_events")
        op.execute("DROP FUNCTION outbox_events_webhook_fan_out()")
    else:
        op.execute("DROP TRIGGER outbox_events_webhook_fan_out")
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_secrets")
    op.drop_table("webhook_endpoint_events")
    op.drop_table("webhook_endpoints")
