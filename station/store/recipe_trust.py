"""People's signing keys and recipes' signature documents (tables of migration 0009).

A key is registered to one person once (its fingerprint is unique across the station: one key
never speaks for two people) and is revoked, never deleted. A recipe's signature document is
recorded with the recipe, in the transaction that records the recipe
(``RegistryRepository.record_recipe``): each distinct document once, so that a recipe signed
and later approved keeps both. Only public keys and signatures reach these tables.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from station.domain.errors import StoreError
from station.domain.records import PersonKeyRecord, RecipeSignatureRecord
from station.store.models import Operator, PersonKey, Recipe, RecipeSignature
from station.store.repository_helpers import PRIVATE_KEY_MARKER, moment
from station.store.session import Sessions


class RecipeTrustRepository:
    """Who may sign recipes with which key, and who signed the recipes stations loaded."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    # ---- people's keys ---------------------------------------------------------------------------

    def add_person_key(
        self, person: str, *, fingerprint: str, algorithm: str, public_key_pem: str, location: str,
        at: datetime | None = None,
    ) -> PersonKeyRecord:  # fmt: skip
        """Register a public key to ``person``; StoreError if the person is unknown or the key is
        registered already (to anyone: revoked keys included)."""
        if PRIVATE_KEY_MARKER in public_key_pem:
            raise StoreError("a private key is never stored: register the public key only")
        with self._sessions.writing() as session:
            operator = session.scalars(select(Operator).where(Operator.name == person)).first()
            if operator is None:
                raise StoreError(f"no person named {person}")
            existing = session.execute(
                select(PersonKey, Operator.name).join(Operator, Operator.id == PersonKey.operator_id)
                .where(PersonKey.fingerprint == fingerprint)
            ).first()  # fmt: skip
            if existing is not None:
                raise StoreError(f"the key {fingerprint} is registered already, to {existing[1]}")
            row = PersonKey(operator_id=operator.id, fingerprint=fingerprint, algorithm=algorithm,
                            public_key=public_key_pem, location=location, registered_at=moment(at))  # fmt: skip
            session.add(row)
            session.flush()
            return _person_key(row, operator.name)

    def person_key(self, fingerprint: str) -> PersonKeyRecord | None:
        """The registered key with this fingerprint (revoked or not), or None."""
        with self._sessions.reading() as session:
            found = session.execute(
                select(PersonKey, Operator.name).join(Operator, Operator.id == PersonKey.operator_id)
                .where(PersonKey.fingerprint == fingerprint)
            ).first()  # fmt: skip
            return None if found is None else _person_key(found[0], found[1])

    def person_keys(self, person: str | None = None) -> list[PersonKeyRecord]:
        """Every registered key (of ``person`` when given), by person, oldest first."""
        with self._sessions.reading() as session:
            query = select(PersonKey, Operator.name).join(Operator, Operator.id == PersonKey.operator_id)
            if person is not None:
                query = query.where(Operator.name == person)
            rows = session.execute(query.order_by(Operator.name, PersonKey.id)).all()
            return [_person_key(row, name) for row, name in rows]

    def revoke_person_key(self, person: str, fingerprint: str, *, at: datetime | None = None) -> PersonKeyRecord:
        """Revoke ``person``'s key from now on; StoreError if they have no such key or it is revoked."""
        with self._sessions.writing() as session:
            found = session.execute(
                select(PersonKey, Operator.name).join(Operator, Operator.id == PersonKey.operator_id)
                .where(PersonKey.fingerprint == fingerprint, Operator.name == person).with_for_update()
            ).first()  # fmt: skip
            if found is None:
                raise StoreError(f"{person} has no registered key {fingerprint}")
            row = found[0]
            if row.revoked_at is not None:
                raise StoreError(f"{person}'s key {fingerprint} was revoked already")
            row.revoked_at = moment(at)
            return _person_key(row, person)

    # ---- recipes' signatures -----------------------------------------------------------------------

    def recipe_signatures(self, recipe_hashes: Iterable[str]) -> dict[str, tuple[RecipeSignatureRecord, ...]]:
        """The signature documents recorded with each of these recipes (oldest first); a recipe
        without any is left out."""
        wanted = sorted({value.lower() for value in recipe_hashes})
        found: dict[str, list[RecipeSignatureRecord]] = {}
        with self._sessions.reading() as session:
            for start in range(0, len(wanted), 500):
                rows = session.execute(
                    select(RecipeSignature, Recipe.sha256).join(Recipe, Recipe.id == RecipeSignature.recipe_id)
                    .where(Recipe.sha256.in_(wanted[start : start + 500])).order_by(RecipeSignature.id)
                ).all()  # fmt: skip
                for row, sha256 in rows:
                    found.setdefault(sha256, []).append(_signature(row, sha256))
        return {sha256: tuple(records) for sha256, records in found.items()}


def record_signature(session: Session, recipe: Recipe, signature: RecipeSignatureRecord) -> None:
    """Add a signature document to a recipe's record, in the caller's transaction (once per document)."""
    if signature.recipe_sha256 != recipe.sha256:
        raise StoreError(f"a signature of recipe {signature.recipe_sha256} cannot be recorded with {recipe.sha256}")
    digest = hashlib.sha256(signature.document.encode("utf-8")).hexdigest()
    existing = session.scalars(
        select(RecipeSignature).where(RecipeSignature.recipe_id == recipe.id, RecipeSignature.document_sha256 == digest)
    ).first()  # fmt: skip
    if existing is not None:
        return
    with session.begin_nested():
        session.add(RecipeSignature(
            recipe_id=recipe.id, document_sha256=digest, document=signature.document, signer=signature.signer,
            signer_role=signature.signer_role, signer_key=signature.signer_key, approver=signature.approver,
            approver_role=signature.approver_role, approver_key=signature.approver_key,
            recorded_at=moment(signature.recorded_at),
        ))  # fmt: skip


def signatures_of(session: Session, recipe: Recipe) -> tuple[RecipeSignatureRecord, ...]:
    rows = session.scalars(
        select(RecipeSignature).where(RecipeSignature.recipe_id == recipe.id).order_by(RecipeSignature.id)
    )  # fmt: skip
    return tuple(_signature(row, recipe.sha256) for row in rows)


def _person_key(row: PersonKey, person: str) -> PersonKeyRecord:
    return PersonKeyRecord(person=person, fingerprint=row.fingerprint, algorithm=row.algorithm,
                           public_key_pem=row.public_key, location=row.location, registered_at=row.registered_at,
                           revoked_at=row.revoked_at)  # fmt: skip


def _signature(row: RecipeSignature, sha256: str) -> RecipeSignatureRecord:
    return RecipeSignatureRecord(
        recipe_sha256=sha256, signer=row.signer, signer_role=row.signer_role, signer_key=row.signer_key,
        approver=row.approver, approver_role=row.approver_role, approver_key=row.approver_key,
        document=row.document, recorded_at=row.recorded_at,
    )  # fmt: skip
