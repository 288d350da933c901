"""Every traceability record in the one hash chain.

Adds to ``audit_log`` the row an entry records (``record_table``, ``record_id``,
``record_digest``) with an index for ``station db verify``'s per-table walk, then enters every
row the database already holds into the chain as it is found ("record.adopted"), so that any
later change to it is found. These entries are unsigned: the first entry the station signs
after the upgrade covers them through the hash links (until then ``db verify`` says so).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from station.domain.errors import StoreError
from station.store.chain import adopt_rows, digest_columns

# The tables this schema version has, all of them chained from here on. Frozen: tables that
# later migrations add are chained from their first row and have nothing to adopt.
TABLES = (
    "stations", "operators", "work_orders", "recipes", "units", "attempts", "steps", "inspections",
    "credentials", "vault_parameters", "sealed_tokens", "token_uses",
)  # fmt: skip

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column("audit_log", sa.Column("record_table", sa.String(40), nullable=True))
    op.add_column("audit_log", sa.Column("record_id", sa.Integer(), nullable=True))
    op.add_column("audit_log", sa.Column("record_digest", sa.String(64), nullable=True))
    op.create_index("ix_audit_log_record", "audit_log", ["record_table", "record_id", "sequence"])
    connection = op.get_bind()
    inspector = sa.inspect(connection)
    existing = {table: [column["name"] for column in inspector.get_columns(table)] for table in TABLES}
    # The columns a row's digest covers, as far as this schema version has them.
    columns = {table: [name for name in digest_columns(table) if name in existing[table]] for table in TABLES}
    adopt_rows(connection, "migration 0005", columns=columns, tables=TABLES)


def downgrade() -> None:
    recorded = op.get_bind().execute(sa.text("SELECT count(*) FROM audit_log WHERE record_table IS NOT NULL"))
    if recorded.scalar_one():
        # The entries' hashes cover the record columns: dropping them would break the chain.
        raise StoreError(
            "the chain records traceability rows; taking them out of it would break it -- restore the "
            "backup made before the upgrade instead"
        )
    op.drop_index("ix_audit_log_record", table_name="audit_log")
    for column in ("record_digest", "record_id", "record_table"):
        op.execute(f"ALTER TABLE audit_log DROP COLUMN {column}")
