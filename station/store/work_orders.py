"""A work order's quantity, enforced where the attempt is opened: no unit beyond the last.

A work order of ``quantity`` units has that many places. A unit holds one while it has a
production attempt (not a supervisor's rework) in the work order that PASSED or is IN_PROGRESS;
a failed attempt frees its place. A unit that holds a place already (it passed in this work
order, or is running in it) needs no second one. A unit that passed keeps its place even if a
rework later erases it: its credential and token use were spent, and only a supervisor's
decision (a higher quantity) makes room for a replacement.

The place is taken in the write transaction that inserts the attempt, under the work order's
row lock (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite the transaction began with
``BEGIN IMMEDIATE`` and holds the one write lock): two stations racing for the last place are
serialised, and the one that comes second counts the first one's attempt and is refused before
its unit is touched.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from station.domain.errors import StoreError, WorkOrderCompleteError
from station.domain.records import AttemptResult, WorkOrderRecord
from station.store.models import Attempt, WorkOrder, utc_now
from station.store.repository_helpers import get_or_create

_HOLDING = (AttemptResult.PASSED.value, AttemptResult.IN_PROGRESS.value)


def _holding_places(work_order_id: int) -> list[ColumnElement[bool]]:
    return [
        Attempt.work_order_id == work_order_id,
        Attempt.result.in_(_HOLDING),
        Attempt.is_rework.is_(False),
    ]


def places_taken(session: Session, work_order_id: int) -> int:
    """How many units hold a place in the work order (passed or in progress)."""
    query = select(func.count(func.distinct(Attempt.unit_id))).where(*_holding_places(work_order_id))
    return int(session.scalar(query) or 0)


def claim_place(session: Session, work_order_id: int, unit_id: int) -> None:
    """Refuse (WorkOrderCompleteError) a new attempt of ``unit_id`` when the work order is full.

    Call it inside the write transaction that then inserts the attempt (see the module's
    docstring): the lock taken here lasts until that transaction ends.
    """
    order = session.execute(
        select(WorkOrder.code, WorkOrder.quantity).where(WorkOrder.id == work_order_id).with_for_update()
    ).one()
    if order.quantity is None:
        return
    holds_one = session.scalar(
        select(Attempt.id).where(*_holding_places(work_order_id), Attempt.unit_id == unit_id).limit(1)
    )
    if holds_one is not None:
        return
    taken = places_taken(session, work_order_id)
    if taken >= order.quantity:
        raise WorkOrderCompleteError(order.code, order.quantity, taken)


def set_quantity(session: Session, code: str, quantity: int, product: str | None) -> tuple[WorkOrderRecord, int]:
    """Give the work order ``code`` (created if new) its quantity; the record and the places taken.

    A quantity below the places already taken is refused: it would record an overproduction
    that never happened. Checked under the same lock as ``claim_place``.
    """
    if quantity < 1:
        raise StoreError(f"a work order's quantity is at least 1, not {quantity}")
    row = get_or_create(session, WorkOrder, WorkOrder.code == code, code=code, product=product, quantity=None,
                        created_at=utc_now())  # fmt: skip
    session.flush()
    session.execute(select(WorkOrder.id).where(WorkOrder.id == row.id).with_for_update())
    taken = places_taken(session, row.id)
    if quantity < taken:
        raise StoreError(
            f"work order {code} already has {taken} units passed or in progress: its quantity cannot be {quantity}"
        )
    if product is not None and row.product is not None and row.product != product:
        raise StoreError(f"work order {code} is for product {row.product}, not {product}")
    row.quantity = quantity
    if product is not None:
        row.product = product
    return work_order_record(row), taken


def work_order_record(row: WorkOrder) -> WorkOrderRecord:
    return WorkOrderRecord(code=row.code, product=row.product, quantity=row.quantity, created_at=row.created_at)
