"""Make feature_audit_trail append-only in the database itself.

UPDATE and DELETE (and TRUNCATE on PostgreSQL) of an audit row fail, whoever issues them.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

MESSAGE = "feature_audit_trail is append-only"


def upgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute(f"""
            CREATE FUNCTION feature_audit_trail_append_only() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '{MESSAGE}: % refused', TG_OP USING ERRCODE = 'insufficient_privilege';
            END $$
        """)
        op.execute("""
            CREATE TRIGGER feature_audit_trail_no_update_delete
            BEFORE UPDATE OR DELETE ON feature_audit_trail
            FOR EACH ROW EXECUTE FUNCTION feature_audit_trail_append_only()
        """)
        op.execute("""
            CREATE TRIGGER feature_audit_trail_no_truncate
            BEFORE TRUNCATE ON feature_audit_trail
            FOR EACH STATEMENT EXECUTE FUNCTION feature_audit_trail_append_only()
        """)
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER feature_audit_trail_no_{action.lower()}
                BEFORE {action} ON feature_audit_trail
                BEGIN SELECT RAISE(ABORT, '{MESSAGE}: {action} refused'); END
            """)


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        op.execute("DROP TRIGGER feature_audit_trail_no_truncate ON feature_audit_trail")
        op.execute("DROP TRIGGER feature_audit_trail_no_update_delete ON feature_audit_trail")
        op.execute("DROP FUNCTION feature_audit_trail_append_only()")
    else:
        op.execute("DROP TRIGGER feature_audit_trail_no_update")
        op.execute("DROP TRIGGER feature_audit_trail_no_delete")
