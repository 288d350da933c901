"""Claims the database enforces, and owned attempts.

One open attempt per unit and per device, one passed attempt per unit and per device, as
partial unique indexes (SQLite and PostgreSQL alike): the loser of a race between two
processes is refused by the database before its unit is touched. Every attempt records its
owner (host, process and its start, slot) and the owner's heartbeat, so that recovery settles
only attempts whose owner is provably gone.

A database that already breaks a claim (two units passed under one serial, say) is not
upgraded: the migration names the records, for a supervisor to settle first.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from station.domain.errors import StoreError

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

CLAIMS = (
    ("ux_attempts_open_unit", "unit_id", "result = 'IN_PROGRESS'", "open attempts of one unit"),
    ("ux_attempts_passed_unit", "unit_id", "result = 'PASSED'", "passed attempts of one unit"),
    ("ux_attempts_open_device", "device_id", "result = 'IN_PROGRESS' AND device_id IS NOT NULL",
     "open attempts of one device"),
    ("ux_attempts_passed_device", "device_id", "result = 'PASSED' AND device_id IS NOT NULL",
     "passed attempts of one device"),
)  # fmt: skip


def upgrade() -> None:
    op.add_column("attempts", sa.Column("owner_host", sa.String(200), nullable=True))
    op.add_column("attempts", sa.Column("owner_pid", sa.Integer(), nullable=True))
    op.add_column("attempts", sa.Column("owner_process_start", sa.String(100), nullable=True))
    op.add_column("attempts", sa.Column("owner_slot", sa.String(100), nullable=True))
    op.add_column("attempts", sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
    connection = op.get_bind()
    broken = []
    for _, column, where, what in CLAIMS:
        rows = connection.execute(
            sa.text(f"SELECT {column}, count(*) FROM attempts WHERE {where} GROUP BY {column} HAVING count(*) > 1")
        ).all()
        broken += [f"{what}: {column} {row[0]} has {row[1]}" for row in rows]
    if broken:
        raise StoreError(
            "the records break claims this station enforces from now on; settle them first "
            "(a supervisor's decision, in the records): " + "; ".join(broken)
        )
    for name, column, where, _ in CLAIMS:
        op.create_index(
            name, "attempts", [column], unique=True,
            sqlite_where=sa.text(where), postgresql_where=sa.text(where),
        )  # fmt: skip


def downgrade() -> None:
    for name, *_ in reversed(CLAIMS):
        op.drop_index(name, table_name="attempts")
    for column in ("heartbeat_at", "owner_slot", "owner_process_start", "owner_pid", "owner_host"):
        op.execute(f"ALTER TABLE attempts DROP COLUMN {column}")
