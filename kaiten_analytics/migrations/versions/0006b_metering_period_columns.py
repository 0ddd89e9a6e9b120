"""Metering policies: the period of a usage row and the warning levels sent in it.

Revision ID: 0006b
Revises: 0006

Revision 0006 was reserved as an empty placeholder and has been applied as a no-op to
existing databases, so the columns come in this revision after it; 0006 stays empty.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006b"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # nullable columns: ADD COLUMN on both engines, existing rows keep "no period"
    op.add_column("entitlement_usage",
                  sa.Column("period_start", sa.DateTime(timezone=True), nullable=True))
    op.add_column("entitlement_usage",
                  sa.Column("period_end", sa.DateTime(timezone=True), nullable=True))
    op.add_column("entitlement_usage", sa.Column(
        "warned", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
        nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("entitlement_usage") as batch:
        batch.drop_column("warned")
        batch.drop_column("period_end")
        batch.drop_column("period_start")
