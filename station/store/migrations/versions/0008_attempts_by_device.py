"""Attempts by device id.

A locked unit that looks factory-fresh is erased and then refused if its device id is known
under another serial (a relabelled unit); on a line of parts that ship protected every unit
asks that question, so it must not scan the attempts table. The index serves it and the
"already passed under another serial" check alike.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_index("ix_attempts_device_id", "attempts", ["device_id"])


def downgrade() -> None:
    op.drop_index("ix_attempts_device_id", table_name="attempts")
