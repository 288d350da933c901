"""Serial numbers allocated from work orders: rules, stations' leased blocks, and each serial.

``serial_rules``: a work order's template, range, check digit, and the counter of running
numbers not leased yet. ``serial_blocks``: a station's lease of a run of numbers and how far
it has handed them out. ``serials``: each number handed out, its text (unique across the
line), its state (allocated, bound, used, returned, scrapped), the device it is bound to
(unique: one serial per device) and who scrapped it and why. All three are in the chain from
their first row (``station.store.chain.CHAINED_TABLES``); they start empty, so nothing is
adopted.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from station.domain.errors import StoreError

revision = "0011"
down_revision: str | None = "0010"
branch_labels: str | None = None
depends_on: str | None = None


def _moment(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "serial_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("template", sa.String(200), nullable=False),
        sa.Column("first_seq", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("check_digit", sa.String(20), nullable=False),
        sa.Column("next_seq", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        _moment("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_serial_rules"),
        sa.ForeignKeyConstraint(["work_order_id"], ["work_orders.id"],
                                name="fk_serial_rules_work_order_id_work_orders"),
        sa.UniqueConstraint("work_order_id", name="uq_serial_rules_work_order_id"),
    )  # fmt: skip
    op.create_table(
        "serial_blocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("first_seq", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("next_seq", sa.Integer(), nullable=False),
        _moment("leased_at"),
        _moment("expires_at"),
        sa.PrimaryKeyConstraint("id", name="pk_serial_blocks"),
        sa.ForeignKeyConstraint(["work_order_id"], ["work_orders.id"],
                                name="fk_serial_blocks_work_order_id_work_orders"),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"], name="fk_serial_blocks_station_id_stations"),
    )  # fmt: skip
    op.create_index("ix_serial_blocks_work_order_id_station_id", "serial_blocks", ["work_order_id", "station_id"])
    op.create_table(
        "serials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("block_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(200), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=True),
        sa.Column("device_id", sa.String(200), nullable=True),
        sa.Column("times_returned", sa.Integer(), nullable=False),
        _moment("allocated_at"),
        _moment("changed_at"),
        sa.Column("scrapped_by", sa.String(200), nullable=True),
        sa.Column("scrap_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_serials"),
        sa.ForeignKeyConstraint(["work_order_id"], ["work_orders.id"], name="fk_serials_work_order_id_work_orders"),
        sa.ForeignKeyConstraint(["block_id"], ["serial_blocks.id"], name="fk_serials_block_id_serial_blocks"),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"], name="fk_serials_station_id_stations"),
        sa.UniqueConstraint("serial", name="uq_serials_serial"),
        sa.UniqueConstraint("device_id", name="uq_serials_device_id"),
    )
    op.create_index("ix_serials_work_order_id_seq", "serials", ["work_order_id", "seq"], unique=True)
    op.create_index("ix_serials_work_order_id_station_id_state", "serials", ["work_order_id", "station_id", "state"])


def downgrade() -> None:
    recorded = op.get_bind().execute(sa.text(
        "SELECT count(*) FROM audit_log WHERE record_table IN ('serial_rules', 'serial_blocks', 'serials')"
    ))  # fmt: skip
    if recorded.scalar_one():
        # Their rows are in the chain: dropping them would leave entries recording rows that are gone.
        raise StoreError(
            "the chain records serial rules, leases or serials; dropping them would break it -- "
            "restore the backup made before the upgrade instead"
        )
    op.drop_index("ix_serials_work_order_id_station_id_state", table_name="serials")
    op.drop_index("ix_serials_work_order_id_seq", table_name="serials")
    op.drop_table("serials")
    op.drop_index("ix_serial_blocks_work_order_id_station_id", table_name="serial_blocks")
    op.drop_table("serial_blocks")
    op.drop_table("serial_rules")
