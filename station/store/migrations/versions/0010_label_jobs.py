"""Labels printed on PASS: one job per passed attempt, and audited reprints.

``label_jobs``: the attempt, its serial, the printer, the state (pending, printed, failed), how
many tries and the last error (never a secret), the SHA-256 of the ZPL the printer was sent,
and for a reprint the job it repeats and the supervisor who approved it. A partial unique
index allows one first label per attempt: a second one is a reprint or nothing. In the chain
from its first row (``station.store.chain.CHAINED_TABLES``); it starts empty.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from station.domain.errors import StoreError

revision = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None

_FIRST_LABEL = "reprint_of IS NULL"


def _moment(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "label_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(200), nullable=False),
        sa.Column("printer", sa.String(300), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("zpl_sha256", sa.String(64), nullable=True),
        _moment("created_at"),
        _moment("printed_at", nullable=True),
        _moment("claimed_at", nullable=True),
        sa.Column("reprint_of", sa.Integer(), nullable=True),
        sa.Column("supervisor", sa.String(200), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_label_jobs"),
        sa.ForeignKeyConstraint(["attempt_id"], ["attempts.id"], name="fk_label_jobs_attempt_id_attempts"),
        sa.ForeignKeyConstraint(["reprint_of"], ["label_jobs.id"], name="fk_label_jobs_reprint_of_label_jobs"),
    )
    op.create_index("ix_label_jobs_attempt_id", "label_jobs", ["attempt_id"])
    op.create_index("ix_label_jobs_state", "label_jobs", ["state"])
    op.create_index(
        "ux_label_jobs_first_label", "label_jobs", ["attempt_id"], unique=True,
        sqlite_where=sa.text(_FIRST_LABEL), postgresql_where=sa.text(_FIRST_LABEL),
    )  # fmt: skip


def downgrade() -> None:
    recorded = op.get_bind().execute(sa.text("SELECT count(*) FROM audit_log WHERE record_table = 'label_jobs'"))
    if recorded.scalar_one():
        # Its rows are in the chain: dropping them would leave entries recording rows that are gone.
        raise StoreError(
            "the chain records label jobs; dropping them would break it -- restore the backup made before "
            "the upgrade instead"
        )
    op.drop_index("ux_label_jobs_first_label", table_name="label_jobs")
    op.drop_index("ix_label_jobs_state", table_name="label_jobs")
    op.drop_index("ix_label_jobs_attempt_id", table_name="label_jobs")
    op.drop_table("label_jobs")
