"""The facts a work order's reconciliation judges: its attempts, credentials, token uses and serials.

The reads run in one transaction (one snapshot), each over indexed columns: the work order's
attempts (with, per attempt, whether its activation ran and passed, and the state of the
credential it carries), the credentials issued in those attempts (with the passed attempt of
the same unit that carries each, if any), and their token uses with their states. The rule is
``station.domain.reconciliation``.
"""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, aliased

from station.domain.recipe import StepName
from station.domain.reconciliation import (
    LedgerAttempt,
    LedgerCredential,
    LedgerTokenUse,
    TokenUseState,
    WorkOrderLedger,
)
from station.domain.records import AttemptResult, CredentialState, StepOutcome
from station.domain.serial_numbers import SerialState
from station.store.models import AllocatedSerial, Attempt, Credential, Step, TokenUse, Unit, WorkOrder
from station.store.serial_allocation import serial_counts
from station.store.work_orders import work_order_record


def work_order_codes(session: Session) -> list[str]:
    return list(session.scalars(select(WorkOrder.code).order_by(WorkOrder.code)))


def work_order_ledger(session: Session, code: str) -> WorkOrderLedger | None:
    """The work order ``code``'s facts, or None when there is no such work order."""
    order = session.scalars(select(WorkOrder).where(WorkOrder.code == code)).first()
    if order is None:
        return None
    return WorkOrderLedger(
        work_order=work_order_record(order),
        attempts=tuple(_attempts(session, order.id)),
        credentials=tuple(_credentials(session, order.id)),
        token_uses=tuple(_token_uses(session, order.id)),
        serials=tuple(_serials(session, order.id)),
        serial_counts=serial_counts(session, code),
    )


def _serials(session: Session, work_order_id: int) -> list[tuple[str, SerialState]]:
    """The serials the work order's rule allocated here, with their states, in number order."""
    rows = session.execute(
        select(AllocatedSerial.serial, AllocatedSerial.state)
        .where(AllocatedSerial.work_order_id == work_order_id).order_by(AllocatedSerial.seq)
    )  # fmt: skip
    return [(str(serial), SerialState(state)) for serial, state in rows]


def _attempts(session: Session, work_order_id: int) -> list[LedgerAttempt]:
    activate = (Step.attempt_id == Attempt.id, Step.name == StepName.ACTIVATE.value)
    tried = exists().where(*activate)
    activated = exists().where(*activate, Step.outcome == StepOutcome.PASSED.value)
    credential_state = (
        select(Credential.state)
        .where(Credential.certificate_fingerprint == Attempt.certificate_fingerprint)
        .limit(1)
        .scalar_subquery()
    )
    query = (
        select(
            Attempt.id, Unit.serial, Attempt.result, Attempt.is_rework, Attempt.certificate_fingerprint,
            Unit.is_development, tried.label("tried"), activated.label("activated"),
            credential_state.label("credential_state"),
        )
        .join(Unit, Attempt.unit_id == Unit.id)
        .where(Attempt.work_order_id == work_order_id)
        .order_by(Attempt.id)
    )
    return [
        LedgerAttempt(
            attempt_id=row.id, serial=row.serial, result=AttemptResult(row.result), is_rework=bool(row.is_rework),
            activation_tried=bool(row.tried), activated=bool(row.activated),
            certificate_fingerprint=row.certificate_fingerprint,
            credential_state=None if row.credential_state is None else CredentialState(row.credential_state),
            unit_is_development=bool(row.is_development),
        )
        for row in session.execute(query)
    ]


def _credentials(session: Session, work_order_id: int) -> list[LedgerCredential]:
    issued_in = aliased(Attempt)
    carrier = aliased(Attempt)
    open_attempt = aliased(Attempt)
    unit = aliased(Unit)
    passed_carrier = (
        select(carrier.id)
        .where(
            carrier.unit_id == unit.id,
            carrier.certificate_fingerprint == Credential.certificate_fingerprint,
            carrier.result == AttemptResult.PASSED.value,
        )
        .limit(1)
        .scalar_subquery()
    )
    running = exists().where(
        open_attempt.unit_id == unit.id, open_attempt.result == AttemptResult.IN_PROGRESS.value
    )
    query = (
        select(
            Credential.certificate_serial, Credential.serial, Credential.attempt_id, Credential.state,
            issued_in.result.label("attempt_result"), passed_carrier.label("passed_attempt_id"),
            running.label("unit_in_progress"),
        )
        .join(issued_in, Credential.attempt_id == issued_in.id)
        .join(unit, unit.serial == Credential.serial)
        .where(issued_in.work_order_id == work_order_id)
        .order_by(Credential.id)
    )
    return [
        LedgerCredential(
            certificate_serial=row.certificate_serial, serial=row.serial, attempt_id=row.attempt_id,
            attempt_result=AttemptResult(row.attempt_result), state=CredentialState(row.state),
            passed_attempt_id=row.passed_attempt_id, unit_in_progress=bool(row.unit_in_progress),
        )
        for row in session.execute(query)
    ]


def _token_uses(session: Session, work_order_id: int) -> list[LedgerTokenUse]:
    query = (
        select(TokenUse.fingerprint, TokenUse.attempt_id, TokenUse.state)
        .join(Attempt, TokenUse.attempt_id == Attempt.id)
        .where(Attempt.work_order_id == work_order_id)
        .order_by(TokenUse.id)
    )
    return [
        LedgerTokenUse(fingerprint=row.fingerprint, attempt_id=row.attempt_id,
                       state=None if row.state is None else TokenUseState(row.state))
        for row in session.execute(query)
    ]
