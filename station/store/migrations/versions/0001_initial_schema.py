"""Initial schema: stations, operators, work orders, recipes, units, attempts, steps,
credentials, the token vault and the audit log table.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def _moment(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "stations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        _moment("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_stations"),
        sa.UniqueConstraint("name", name="uq_stations_name"),
    )
    op.create_table(
        "operators",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(50), nullable=False),
        sa.Column("pin_hash", sa.String(500), nullable=True),
        _moment("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_operators"),
        sa.UniqueConstraint("name", name="uq_operators_name"),
    )
    op.create_table(
        "work_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(200), nullable=False),
        sa.Column("product", sa.String(200), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=True),
        _moment("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_work_orders"),
        sa.UniqueConstraint("code", name="uq_work_orders_code"),
    )
    op.create_table(
        "recipes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("product", sa.String(200), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        _moment("recorded_at"),
        sa.PrimaryKeyConstraint("id", name="pk_recipes"),
        sa.UniqueConstraint("sha256", name="uq_recipes_sha256"),
    )
    op.create_table(
        "units",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(200), nullable=False),
        sa.Column("device_id", sa.String(200), nullable=True),
        _moment("first_seen_at"),
        sa.Column("is_development", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_units"),
        sa.UniqueConstraint("serial", name="uq_units_serial"),
    )
    op.create_table(
        "attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("station_id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=True),
        sa.Column("recipe_hash", sa.String(64), nullable=False),
        sa.Column("product", sa.String(200), nullable=False),
        sa.Column("device_id", sa.String(200), nullable=True),
        sa.Column("probe_id", sa.String(200), nullable=True),
        sa.Column("state", sa.String(40), nullable=False),
        sa.Column("result", sa.String(40), nullable=False),
        sa.Column("failure_step", sa.String(200), nullable=True),
        sa.Column("failure_code", sa.String(100), nullable=True),
        sa.Column("failure_message", sa.Text(), nullable=True),
        _moment("started_at"),
        _moment("ended_at", nullable=True),
        sa.Column("previous_attempt_id", sa.Integer(), nullable=True),
        sa.Column("image_hashes", sa.Text(), nullable=False),
        sa.Column("certificate_fingerprint", sa.String(64), nullable=True),
        sa.Column("token_fingerprint", sa.String(64), nullable=True),
        sa.Column("console_transcript", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_attempts"),
        sa.ForeignKeyConstraint(["unit_id"], ["units.id"], name="fk_attempts_unit_id_units"),
        sa.ForeignKeyConstraint(["station_id"], ["stations.id"], name="fk_attempts_station_id_stations"),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"], name="fk_attempts_operator_id_operators"),
        sa.ForeignKeyConstraint(
            ["work_order_id"], ["work_orders.id"], name="fk_attempts_work_order_id_work_orders"
        ),
        sa.ForeignKeyConstraint(["recipe_hash"], ["recipes.sha256"], name="fk_attempts_recipe_hash_recipes"),
        sa.ForeignKeyConstraint(
            ["previous_attempt_id"], ["attempts.id"], name="fk_attempts_previous_attempt_id_attempts"
        ),
    )
    op.create_index("ix_attempts_unit_id_id", "attempts", ["unit_id", "id"])
    op.create_index("ix_attempts_started_at", "attempts", ["started_at"])
    op.create_index("ix_attempts_result", "attempts", ["result"])
    op.create_index("ix_attempts_work_order_id", "attempts", ["work_order_id"])
    op.create_table(
        "steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        _moment("started_at"),
        _moment("ended_at", nullable=True),
        sa.Column("outcome", sa.String(40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("failure_code", sa.String(100), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_steps"),
        sa.ForeignKeyConstraint(["attempt_id"], ["attempts.id"], name="fk_steps_attempt_id_attempts"),
    )
    op.create_index("ix_steps_attempt_id", "steps", ["attempt_id"])
    op.create_table(
        "credentials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("certificate_serial", sa.String(64), nullable=False),
        sa.Column("certificate_fingerprint", sa.String(64), nullable=False),
        sa.Column("serial", sa.String(200), nullable=False),
        sa.Column("device_id", sa.String(200), nullable=False),
        sa.Column("attempt_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("certificate_pem", sa.Text(), nullable=False),
        _moment("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_credentials"),
        sa.UniqueConstraint("certificate_serial", name="uq_credentials_certificate_serial"),
        sa.UniqueConstraint("certificate_fingerprint", name="uq_credentials_certificate_fingerprint"),
        sa.ForeignKeyConstraint(["attempt_id"], ["attempts.id"], name="fk_credentials_attempt_id_attempts"),
    )
    op.create_index("ix_credentials_serial", "credentials", ["serial"])
    op.create_index("ix_credentials_attempt_id", "credentials", ["attempt_id"])
    op.create_table(
        "vault_parameters",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("salt", sa.LargeBinary(), nullable=False),
        sa.Column("scrypt_n", sa.Integer(), nullable=False),
        sa.Column("scrypt_r", sa.Integer(), nullable=False),
        sa.Column("scrypt_p", sa.Integer(), nullable=False),
        sa.Column("check_nonce", sa.LargeBinary(), nullable=False),
        sa.Column("check_value", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_vault_parameters"),
        sa.CheckConstraint("id = 1", name="ck_vault_parameters_single_row"),
    )
    op.create_table(
        "sealed_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("product", sa.String(200), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("use_limit", sa.Integer(), nullable=True),
        _moment("imported_at"),
        sa.PrimaryKeyConstraint("id", name="pk_sealed_tokens"),
        sa.UniqueConstraint("fingerprint", name="uq_sealed_tokens_fingerprint"),
    )
    op.create_index("ix_sealed_tokens_product", "sealed_tokens", ["product"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        _moment("recorded_at"),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("previous_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
        sa.UniqueConstraint("sequence", name="uq_audit_log_sequence"),
        sa.UniqueConstraint("entry_hash", name="uq_audit_log_entry_hash"),
    )


def downgrade() -> None:
    for table in (
        "audit_log", "sealed_tokens", "vault_parameters", "credentials", "steps", "attempts",
        "units", "recipes", "work_orders", "operators", "stations",
    ):
        op.drop_table(table)
