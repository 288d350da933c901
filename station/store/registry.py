"""The station's reference data: stations, operators (their PIN hashes and lock-outs), work orders, recipes."""

from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import select

from station.domain.errors import StoreError
from station.domain.reconciliation import WorkOrderLedger
from station.domain.records import (
    OperatorRecord,
    RecipeRecord,
    RecipeSignatureRecord,
    StationRecord,
    WorkOrderRecord,
)
from station.store.models import Operator, Recipe, Station, WorkOrder, utc_now
from station.store.recipe_trust import record_signature, signatures_of
from station.store.reconcile import work_order_codes, work_order_ledger
from station.store.repository_helpers import DEFAULT_OPERATOR_ROLE, UNSET, Unset, get_or_create
from station.store.session import Sessions
from station.store.work_orders import set_quantity


class RegistryRepository:
    """The station's reference data: stations, operators, work orders and recipes."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    def upsert_station(self, name: str, description: str = "") -> StationRecord:
        with self._sessions.writing() as session:
            row = get_or_create(session, Station, Station.name == name, name=name,
                                 description=description, created_at=utc_now())
            row.description = description
            return StationRecord(name=row.name, description=row.description, created_at=row.created_at)

    def stations(self) -> list[StationRecord]:
        with self._sessions.reading() as session:
            return [
                StationRecord(name=row.name, description=row.description, created_at=row.created_at)
                for row in session.scalars(select(Station).order_by(Station.name))
            ]

    def upsert_operator(
        self, name: str, role: str = DEFAULT_OPERATOR_ROLE, *, pin_hash: str | Unset | None = UNSET
    ) -> OperatorRecord:
        """Create or update an operator; ``pin_hash`` left out keeps the stored one."""
        with self._sessions.writing() as session:
            row = get_or_create(session, Operator, Operator.name == name, name=name, role=role,
                                 created_at=utc_now())
            row.role = role
            if pin_hash is not UNSET:
                row.pin_hash = pin_hash
            return _operator(row)

    def get_operator(self, name: str) -> OperatorRecord | None:
        with self._sessions.reading() as session:
            row = session.scalars(select(Operator).where(Operator.name == name)).first()
            return None if row is None else _operator(row)

    def record_pin_failure(self, name: str, *, limit: int, lockout: timedelta) -> OperatorRecord:
        """Count a wrong PIN of ``name``; the ``limit``-th in a row locks them out for ``lockout``.

        One transaction holding the write lock: two stations typing wrong PINs for the same
        person at once count two failures, never one.
        """
        with self._sessions.writing() as session:
            row = session.scalars(select(Operator).where(Operator.name == name).with_for_update()).first()
            if row is None:
                raise StoreError(f"no person named {name}")
            row.failed_pins = (row.failed_pins or 0) + 1
            if row.failed_pins >= limit:
                row.failed_pins = 0
                row.locked_until = utc_now() + lockout
            return _operator(row)

    def clear_pin_failures(self, name: str) -> None:
        """A right PIN: the count of wrong ones starts again (an expired lock-out is cleared too)."""
        with self._sessions.writing() as session:
            row = session.scalars(select(Operator).where(Operator.name == name).with_for_update()).first()
            if row is not None:
                row.failed_pins = 0
                row.locked_until = None

    def operators(self) -> list[OperatorRecord]:
        with self._sessions.reading() as session:
            return [_operator(row) for row in session.scalars(select(Operator).order_by(Operator.name))]

    def upsert_work_order(
        self, code: str, *, product: str | None = None, quantity: int | None = None
    ) -> WorkOrderRecord:
        """Create a work order, or fill in its product and quantity when given."""
        with self._sessions.writing() as session:
            row = get_or_create(session, WorkOrder, WorkOrder.code == code, code=code, product=product,
                                 quantity=quantity, created_at=utc_now())
            if product is not None:
                row.product = product
            if quantity is not None:
                row.quantity = quantity
            return _work_order(row)

    def get_work_order(self, code: str) -> WorkOrderRecord | None:
        with self._sessions.reading() as session:
            row = session.scalars(select(WorkOrder).where(WorkOrder.code == code)).first()
            return None if row is None else _work_order(row)

    def set_work_order_quantity(
        self, code: str, quantity: int, *, product: str | None = None
    ) -> tuple[WorkOrderRecord, int]:
        """Give a work order (created if new) its quantity: how many units may pass in it. Returns
        the record and the places already taken; a quantity below those is refused."""
        with self._sessions.writing() as session:
            return set_quantity(session, code, quantity, product)

    def work_order_codes(self) -> list[str]:
        with self._sessions.reading() as session:
            return work_order_codes(session)

    def work_order_ledger(self, code: str) -> WorkOrderLedger | None:
        """What reconciling the work order needs (``station.domain.reconciliation``), read in one
        snapshot; None when there is no such work order."""
        with self._sessions.reading() as session:
            return work_order_ledger(session, code)

    def record_recipe(
        self, content: str, product: str, *, sha256: str | None = None, signature: RecipeSignatureRecord | None = None
    ) -> RecipeRecord:
        """Keep a recipe's text under its SHA-256 (of the UTF-8 text); return the stored one.

        An already recorded recipe is returned as it is. ``sha256``, when given, must be the
        hash of ``content``: the store keeps only recipes whose hash anyone can recompute.
        ``signature``: the recipe's signature document, recorded with it in the same
        transaction (a document recorded before is not recorded twice).
        """
        digest = hashlib.sha256(content.encode("utf-8")).hexdigest()
        if sha256 is not None and sha256.lower() != digest:
            raise StoreError(f"recipe hash {sha256} is not the SHA-256 of the recipe text ({digest})")
        with self._sessions.writing() as session:
            row = get_or_create(session, Recipe, Recipe.sha256 == digest, sha256=digest, product=product,
                                 content=content, recorded_at=utc_now())
            if row.product != product:
                raise StoreError(f"recipe {digest} is already recorded for product {row.product}, not {product}")
            if signature is not None:
                session.flush()
                record_signature(session, row, signature)
            return _recipe(row, signatures_of(session, row))

    def get_recipe(self, sha256: str) -> RecipeRecord | None:
        with self._sessions.reading() as session:
            row = session.scalars(select(Recipe).where(Recipe.sha256 == sha256.lower())).first()
            return None if row is None else _recipe(row, signatures_of(session, row))


def _operator(row: Operator) -> OperatorRecord:
    return OperatorRecord(name=row.name, role=row.role, pin_hash=row.pin_hash, failed_pins=row.failed_pins or 0,
                          locked_until=row.locked_until)


def _work_order(row: WorkOrder) -> WorkOrderRecord:
    return WorkOrderRecord(code=row.code, product=row.product, quantity=row.quantity, created_at=row.created_at)


def _recipe(row: Recipe, signatures: tuple[RecipeSignatureRecord, ...] = ()) -> RecipeRecord:
    return RecipeRecord(sha256=row.sha256, product=row.product, content=row.content,
                        recorded_at=row.recorded_at, signatures=signatures)
