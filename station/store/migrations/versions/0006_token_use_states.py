"""Token uses that are reserved, used or released.

A token use is taken (reserved) before the activation command goes to the unit, so that two
slots cannot both take a token's last use; it becomes used only when the unit accepts it,
and is released when the unit refuses it or is found not activated. Rows written before
this version have no state: they were recorded as uses and stay counted as used (a NULL
state leaves their chain digests as they were).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("token_uses", sa.Column("state", sa.String(20), nullable=True))


def downgrade() -> None:
    op.execute("ALTER TABLE token_uses DROP COLUMN state")
