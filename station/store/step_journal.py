"""The journal's per-step writes, as single Core statements on a write transaction's connection.

They run for every step of every unit, several slots at once, so each is one statement built
once (constructing and coercing a statement costs more than running it), outside the ORM.
``AttemptRepository`` composes them into transactions: a step's outcome, the attempt's next
journal state and the next step's RUNNING row can share one commit, so that a step boundary
costs one transaction instead of two while every row is still committed before the act it
records.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, bindparam, insert, literal, select, update

from station.domain.errors import AttemptFinishedError, StoreError
from station.domain.records import AttemptResult, JournalState, StepEnd, StepOutcome, StepRecord
from station.store.attempt_queries import FINAL_STATES
from station.store.chain import note_changed
from station.store.models import Attempt, Step

_SELECT_ATTEMPT_RESULT = select(Attempt.result).where(Attempt.id == bindparam("attempt_id"))
_ADVANCE_OPEN_ATTEMPT = (
    update(Attempt)
    .where(Attempt.id == bindparam("attempt_id"), Attempt.result == AttemptResult.IN_PROGRESS.value)
    .values(state=bindparam("state"))
    .returning(Attempt.id)
)
# A running step of an attempt that is still open, in one statement: no row comes back when
# the attempt is missing or finished (the caller then asks why).
_INSERT_STEP_OF_OPEN_ATTEMPT = (
    insert(Step)
    .from_select(
        ["attempt_id", "name", "started_at", "outcome", "detail"],
        select(
            Attempt.id,
            bindparam("name", type_=Step.__table__.c.name.type),
            bindparam("started_at", type_=Step.__table__.c.started_at.type),
            literal(StepOutcome.RUNNING.value, type_=Step.__table__.c.outcome.type),
            literal("", type_=Step.__table__.c.detail.type),
        ).where(Attempt.id == bindparam("attempt_id"), Attempt.result == AttemptResult.IN_PROGRESS.value),
    )
    .returning(Step.id)
)
_FINISH_RUNNING_STEP = (
    update(Step)
    .where(Step.id == bindparam("step_id"), Step.outcome == StepOutcome.RUNNING.value)
    .values(
        outcome=bindparam("outcome"),
        detail=bindparam("detail"),
        failure_code=bindparam("failure_code"),
        ended_at=bindparam("ended_at"),
    )
    .returning(Step.attempt_id, Step.name, Step.started_at)
)


def check_end(end: StepEnd) -> None:
    """StoreError for an end that no step may have, before anything is written."""
    if end.outcome is StepOutcome.RUNNING:
        raise StoreError("a step cannot finish as RUNNING")
    if end.advance_to is not None:
        check_advance(end.advance_to)


def check_advance(state: JournalState) -> None:
    if state in FINAL_STATES.values():
        raise StoreError(f"{state} ends an attempt: use finish_attempt")


def require_open_attempt(connection: Connection, attempt_id: int) -> None:
    """StoreError unless the attempt exists and is unfinished (one indexed read, no ORM load)."""
    result = connection.execute(_SELECT_ATTEMPT_RESULT, {"attempt_id": attempt_id}).scalar_one_or_none()
    if result is None:
        raise StoreError(f"no attempt {attempt_id}")
    if result != AttemptResult.IN_PROGRESS:
        raise AttemptFinishedError(f"attempt {attempt_id} is already finished ({result}); it cannot change")


def advance_open_attempt(connection: Connection, attempt_id: int, state: JournalState) -> None:
    changed = connection.execute(_ADVANCE_OPEN_ATTEMPT, {"attempt_id": attempt_id, "state": state.value}).first()
    if changed is None:
        require_open_attempt(connection, attempt_id)  # says why
        raise StoreError(f"attempt {attempt_id} cannot change")
    note_changed("attempts", attempt_id)


def insert_running_step(connection: Connection, attempt_id: int, name: str, started: datetime) -> StepRecord:
    """A RUNNING row for step ``name`` of an open attempt."""
    inserted = connection.execute(
        _INSERT_STEP_OF_OPEN_ATTEMPT, {"attempt_id": attempt_id, "name": name, "started_at": started}
    ).scalar_one_or_none()
    if inserted is None:
        require_open_attempt(connection, attempt_id)  # says why
        raise StoreError(f"attempt {attempt_id} cannot change")
    note_changed("steps", inserted, "insert")
    return StepRecord(id=int(inserted), attempt_id=attempt_id, name=name, started_at=started, ended_at=None,
                      outcome=StepOutcome.RUNNING, detail="", failure_code=None)  # fmt: skip


def end_running_step(connection: Connection, step_id: int, end: StepEnd, ended: datetime) -> StepRecord:
    """Close a RUNNING step as ``end`` says, advancing its attempt when ``end`` names a state."""
    row = connection.execute(
        _FINISH_RUNNING_STEP,
        {"step_id": step_id, "outcome": end.outcome.value, "detail": end.detail, "failure_code": end.failure_code,
         "ended_at": ended},
    ).first()  # fmt: skip
    if row is None:
        existing = connection.execute(select(Step.name, Step.outcome).where(Step.id == step_id)).first()
        if existing is None:
            raise StoreError(f"no step {step_id}")
        raise StoreError(f"step {step_id} ({existing.name}) is already finished ({existing.outcome})")
    note_changed("steps", step_id)
    if end.advance_to is not None:
        advance_open_attempt(connection, row.attempt_id, end.advance_to)
    return StepRecord(
        id=step_id, attempt_id=row.attempt_id, name=row.name, started_at=row.started_at, ended_at=ended,
        outcome=end.outcome, detail=end.detail, failure_code=end.failure_code,
    )  # fmt: skip
