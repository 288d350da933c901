"""The outbox: every chain entry's row as it was committed, for forwarding to a line database.

``outbox_records``: for each entry of ``audit_log`` that records a row, that row's canonical JSON
(the bytes its ``record_digest`` is the SHA-256 of). Written by the sealing, in the transaction
of the change. Rows recorded before this revision have no image here; they stay verifiable
against the chain, and the forwarding sends their entries without a row.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_records",
        sa.Column("sequence", sa.Integer(), primary_key=True),
        sa.Column("row_json", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("outbox_records")
