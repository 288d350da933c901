"""PIN lock-outs on operators, and supervisors' inspections as records of their own.

Adds ``operators.failed_pins`` and ``operators.locked_until`` (a person locked out after too
many wrong PINs, whichever front end they were typed in), and the ``inspections`` table: a
supervisor's finding on an attempt that recovery could not settle (one per attempt).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("operators", sa.Column("failed_pins", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("operators", sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "inspections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("supervisor", sa.String(200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_inspections"),
        sa.ForeignKeyConstraint(["attempt_id"], ["attempts.id"], name="fk_inspections_attempt_id_attempts"),
        sa.UniqueConstraint("attempt_id", name="uq_inspections_attempt_id"),
    )


def downgrade() -> None:
    op.drop_table("inspections")
    op.execute("ALTER TABLE operators DROP COLUMN locked_until")
    op.execute("ALTER TABLE operators DROP COLUMN failed_pins")
