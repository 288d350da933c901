"""Golden units' references and station self-tests.

``golden_references``: what a golden unit was when a supervisor marked it (device id, the
recipe's images as read back, lock state, console identity, and where that was read). A new
marking adds a row; unmarking keeps every row. ``selftests``: each station self-test on a
golden unit, with each check's outcome and the reason it failed. Both tables are in the chain
from their first row (``station.store.chain.CHAINED_TABLES``); they start empty, so nothing is
adopted.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from station.domain.errors import StoreError

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None


def _moment(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "golden_references",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.String(200), nullable=False),
        sa.Column("image_hashes", sa.Text(), nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("console_identity", sa.Text(), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        _moment("recorded_at"),
        sa.PrimaryKeyConstraint("id", name="pk_golden_references"),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name="fk_golden_references_unit_id_units"),
    )
    op.create_index("ix_golden_references_unit_id", "golden_references", ["unit_id"])
    op.create_table(
        "selftests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("reference_id", sa.Integer(), nullable=False),
        sa.Column("recipe_hash", sa.String(64), nullable=False),
        sa.Column("probe_id", sa.String(200), nullable=False),
        sa.Column("device_id", sa.String(200), nullable=True),
        sa.Column("result", sa.String(40), nullable=False),
        sa.Column("checks", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _moment("started_at"),
        _moment("ended_at"),
        sa.PrimaryKeyConstraint("id", name="pk_selftests"),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"], name="fk_selftests_station_id_stations"),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"], name="fk_selftests_operator_id_operators"),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name="fk_selftests_unit_id_units"),
        sa.ForeignKeyConstraint(
            ["reference_id"], ["golden_references.id"], name="fk_selftests_reference_id_golden_references"
        ),
        sa.ForeignKeyConstraint(["recipe_hash"], ["recipes.sha256"], name="fk_selftests_recipe_hash_recipes"),
    )
    op.create_index("ix_selftests_station_id_ended_at", "selftests", ["station_id", "ended_at"])


def downgrade() -> None:
    recorded = op.get_bind().execute(sa.text(
        "SELECT count(*) FROM audit_log WHERE record_table IN ('golden_references', 'selftests')"
    ))  # fmt: skip
    if recorded.scalar_one():
        # Their rows are in the chain: dropping them would leave entries recording rows that are gone.
        raise StoreError(
            "the chain records golden references or self-tests; dropping them would break it -- restore "
            "the backup made before the upgrade instead"
        )
    op.drop_index("ix_selftests_station_id_ended_at", table_name="selftests")
    op.drop_table("selftests")
    op.drop_index("ix_golden_references_unit_id", table_name="golden_references")
    op.drop_table("golden_references")
