"""People's signing keys, and the signature documents of the recipes stations loaded.

``person_keys``: the public keys engineers sign recipes with and supervisors approve them
with (a revoked key keeps its row, with ``revoked_at``). ``recipe_signatures``: each signature
document a station loaded with a recipe, with its signer, approver and their keys' fingerprints
(``station.domain.recipe_signature``). Both tables are in the chain from their first row
(``station.store.chain.CHAINED_TABLES``); they start empty, so nothing is adopted.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from station.domain.errors import StoreError

revision = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None


def _moment(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "person_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("operator_id", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("algorithm", sa.String(40), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("location", sa.String(500), nullable=False),
        _moment("registered_at"),
        _moment("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_person_keys"),
        sa.ForeignKeyConstraint(["operator_id"], ["operators.id"], name="fk_person_keys_operator_id_operators"),
        sa.UniqueConstraint("fingerprint", name="uq_person_keys_fingerprint"),
    )
    op.create_index("ix_person_keys_operator_id", "person_keys", ["operator_id"])
    op.create_table(
        "recipe_signatures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("recipe_id", sa.Integer(), nullable=False),
        sa.Column("document_sha256", sa.String(64), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("signer", sa.String(200), nullable=False),
        sa.Column("signer_role", sa.String(50), nullable=False),
        sa.Column("signer_key", sa.String(64), nullable=False),
        sa.Column("approver", sa.String(200), nullable=True),
        sa.Column("approver_role", sa.String(50), nullable=True),
        sa.Column("approver_key", sa.String(64), nullable=True),
        _moment("recorded_at"),
        sa.PrimaryKeyConstraint("id", name="pk_recipe_signatures"),
        sa.ForeignKeyConstraint(["recipe_id"], ["recipes.id"], name="fk_recipe_signatures_recipe_id_recipes"),
    )
    op.create_index(
        "ix_recipe_signatures_recipe_document", "recipe_signatures", ["recipe_id", "document_sha256"], unique=True
    )


def downgrade() -> None:
    recorded = op.get_bind().execute(sa.text(
        "SELECT count(*) FROM audit_log WHERE record_table IN ('person_keys', 'recipe_signatures')"
    ))  # fmt: skip
    if recorded.scalar_one():
        # Their rows are in the chain: dropping them would leave entries recording rows that are gone.
        raise StoreError(
            "the chain records people's signing keys or recipe signatures; dropping them would break it -- "
            "restore the backup made before the upgrade instead"
        )
    op.drop_index("ix_recipe_signatures_recipe_document", table_name="recipe_signatures")
    op.drop_table("recipe_signatures")
    op.drop_index("ix_person_keys_operator_id", table_name="person_keys")
    op.drop_table("person_keys")
