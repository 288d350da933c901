"""Token uses, golden units, rework attempts, and the append-only audit log.

Adds ``units.is_golden``, ``attempts.is_rework`` and the ``token_uses`` table, and makes the
database itself refuse UPDATE and DELETE on ``audit_log`` (SQLite triggers; a PostgreSQL
trigger function, which also refuses TRUNCATE).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None

APPEND_ONLY_MESSAGE = "audit log is append-only"

_SQLITE_TRIGGERS = (
    f"""
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
    BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END
    """,
    f"""
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
    BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END
    """,
)

_POSTGRESQL_TRIGGERS = (
    f"""
    CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}';
    END;
    $$
    """,
    """
    CREATE TRIGGER audit_log_no_update_or_delete BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()
    """,
    """
    CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()
    """,
)


def upgrade() -> None:
    op.add_column("units", sa.Column("is_golden", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column("attempts", sa.Column("is_rework", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "token_uses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_token_uses"),
        sa.ForeignKeyConstraint(
            ["fingerprint"], ["sealed_tokens.fingerprint"], name="fk_token_uses_fingerprint_sealed_tokens"
        ),
        sa.ForeignKeyConstraint(["attempt_id"], ["attempts.id"], name="fk_token_uses_attempt_id_attempts"),
    )
    op.create_index("ix_token_uses_fingerprint", "token_uses", ["fingerprint"])
    op.create_index("ix_token_uses_attempt_id", "token_uses", ["attempt_id"])

    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        statements: tuple[str, ...] = _SQLITE_TRIGGERS
    elif dialect == "postgresql":
        statements = _POSTGRESQL_TRIGGERS
    else:
        raise NotImplementedError(
            f"the append-only audit log needs database triggers; {dialect} is not supported "
            "(use SQLite or PostgreSQL)"
        )
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TRIGGER audit_log_no_update")
        op.execute("DROP TRIGGER audit_log_no_delete")
    elif dialect == "postgresql":
        op.execute("DROP TRIGGER audit_log_no_truncate ON audit_log")
        op.execute("DROP TRIGGER audit_log_no_update_or_delete ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
    op.drop_index("ix_token_uses_attempt_id", table_name="token_uses")
    op.drop_index("ix_token_uses_fingerprint", table_name="token_uses")
    op.drop_table("token_uses")
    # Plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch table rebuild would drop tables
    # that other tables' foreign keys reference.
    op.execute("ALTER TABLE attempts DROP COLUMN is_rework")
    op.execute("ALTER TABLE units DROP COLUMN is_golden")
