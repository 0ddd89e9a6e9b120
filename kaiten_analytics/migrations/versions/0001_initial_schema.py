"""Initial schema: catalogue, instances, usage, audit trail and rollups, outbox, flags.

Revision ID: 0001
Revises:
Create Date: 2026-11-25 03:33:00.619369
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_rollup_15m",
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("entitlement_id", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("reads", sa.Integer(), server_default="0", nullable=False),
        sa.Column("accepted", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rejected", sa.Integer(), server_default="0", nullable=False),
        sa.Column("value_first", sa.Float(), nullable=True),
        sa.Column("value_last", sa.Float(), nullable=True),
        sa.Column("value_min", sa.Float(), nullable=True),
        sa.Column("value_max", sa.Float(), nullable=True),
        sa.Column("threshold_last", sa.Float(), nullable=True),
        sa.Column("reached", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint(
            "instance_id", "entitlement_id", "bucket", name=op.f("pk_audit_rollup_15m")
        ),
    )
    with op.batch_alter_table("audit_rollup_15m", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_rollup_15m_instance_bucket", ["instance_id", "bucket"], unique=False
        )

    op.create_table(
        "audit_rollup_day",
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("entitlement_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("reads", sa.Integer(), server_default="0", nullable=False),
        sa.Column("accepted", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rejected", sa.Integer(), server_default="0", nullable=False),
        sa.Column("value_last", sa.Float(), nullable=True),
        sa.Column("value_max", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint(
            "instance_id", "entitlement_id", "day", name=op.f("pk_audit_rollup_day")
        ),
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
        sa.UniqueConstraint("slug", name=op.f("uq_customers_slug")),
    )
    op.create_table(
        "deployment_zones",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deployment_zones")),
        sa.UniqueConstraint("slug", name=op.f("uq_deployment_zones_slug")),
    )
    op.create_table(
        "entitlements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("aggregation_method", sa.String(length=16), nullable=True),
        sa.Column("unit", sa.String(length=50), nullable=True),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.CheckConstraint(
            "(type = 'NUMBER' AND aggregation_method IN ('SUM', 'COUNT', 'AVERAGE', 'MAX', 'MIN', 'LATEST')) OR (type <> 'NUMBER' AND aggregation_method IS NULL)",
            name=op.f("ck_entitlements_aggregation_method"),
        ),
        sa.CheckConstraint(
            "type IN ('NUMBER', 'BOOLEAN', 'STRING')", name=op.f("ck_entitlements_type")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_entitlements")),
        sa.UniqueConstraint("slug", name=op.f("uq_entitlements_slug")),
    )
    op.create_table(
        "feature_flags",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "default_value",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "rules",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "type IN ('boolean', 'string', 'number', 'json')", name=op.f("ck_feature_flags_type")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_flags")),
        sa.UniqueConstraint("key", name=op.f("uq_feature_flags_key")),
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "response",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_idempotency_keys")),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_keys_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "licenses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(length=63), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_licenses")),
        sa.UniqueConstraint("slug", name=op.f("uq_licenses_slug")),
    )
    op.create_table(
        "outbox_events",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("aggregate_type", sa.String(length=50), nullable=False),
        sa.Column("aggregate_id", sa.String(length=100), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_events")),
    )
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_aggregate", ["aggregate_type", "aggregate_id", "event_type"], unique=False
        )

    op.create_table(
        "instances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("slug", sa.String(length=63), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("license_id", sa.Integer(), nullable=False),
        sa.Column("deployment_zone_id", sa.Integer(), nullable=True),
        sa.Column("license_start", sa.Date(), nullable=True),
        sa.Column("license_end", sa.Date(), nullable=True),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "license_end IS NULL OR license_start IS NULL OR license_end >= license_start",
            name=op.f("ck_instances_license_dates"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_instances_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["deployment_zone_id"],
            ["deployment_zones.id"],
            name=op.f("fk_instances_deployment_zone_id_deployment_zones"),
        ),
        sa.ForeignKeyConstraint(
            ["license_id"], ["licenses.id"], name=op.f("fk_instances_license_id_licenses")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instances")),
        sa.UniqueConstraint("slug", name=op.f("uq_instances_slug")),
    )
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_instances_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_instances_license_id"), ["license_id"], unique=False)

    op.create_table(
        "license_entitlements",
        sa.Column("license_id", sa.Integer(), nullable=False),
        sa.Column("entitlement_id", sa.Integer(), nullable=False),
        sa.Column(
            "value",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["entitlement_id"],
            ["entitlements.id"],
            name=op.f("fk_license_entitlements_entitlement_id_entitlements"),
        ),
        sa.ForeignKeyConstraint(
            ["license_id"],
            ["licenses.id"],
            name=op.f("fk_license_entitlements_license_id_licenses"),
        ),
        sa.PrimaryKeyConstraint(
            "license_id", "entitlement_id", name=op.f("pk_license_entitlements")
        ),
    )
    op.create_table(
        "entitlement_usage",
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("entitlement_id", sa.Integer(), nullable=False),
        sa.Column(
            "value",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entitlement_id"],
            ["entitlements.id"],
            name=op.f("fk_entitlement_usage_entitlement_id_entitlements"),
        ),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name=op.f("fk_entitlement_usage_instance_id_instances"),
        ),
        sa.PrimaryKeyConstraint("instance_id", "entitlement_id", name=op.f("pk_entitlement_usage")),
    )
    op.create_table(
        "feature_audit_trail",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=False),
        sa.Column("entitlement_id", sa.Integer(), nullable=False),
        sa.Column("event_name", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["entitlement_id"],
            ["entitlements.id"],
            name=op.f("fk_feature_audit_trail_entitlement_id_entitlements"),
        ),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
            name=op.f("fk_feature_audit_trail_instance_id_instances"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feature_audit_trail")),
    )
    with op.batch_alter_table("feature_audit_trail", schema=None) as batch_op:
        batch_op.create_index(
            "ix_audit_instance_created", ["instance_id", "created_at", "id"], unique=False
        )
        batch_op.create_index(
            "ix_audit_instance_entitlement_created",
            ["instance_id", "entitlement_id", "created_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_audit_instance_event_created",
            ["instance_id", "event_name", "created_at", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("feature_audit_trail", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_instance_event_created")
        batch_op.drop_index("ix_audit_instance_entitlement_created")
        batch_op.drop_index("ix_audit_instance_created")

    op.drop_table("feature_audit_trail")
    op.drop_table("entitlement_usage")
    op.drop_table("license_entitlements")
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_instances_license_id"))
        batch_op.drop_index(batch_op.f("ix_instances_customer_id"))

    op.drop_table("instances")
    with op.batch_alter_table("outbox_events", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_aggregate")

    op.drop_table("outbox_events")
    op.drop_table("licenses")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_keys_created_at"))

    op.drop_table("idempotency_keys")
    op.drop_table("feature_flags")
    op.drop_table("entitlements")
    op.drop_table("deployment_zones")
    op.drop_table("customers")
    op.drop_table("audit_rollup_day")
    with op.batch_alter_table("audit_rollup_15m", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_rollup_15m_instance_bucket")

    op.drop_table("audit_rollup_15m")
