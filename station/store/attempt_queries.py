"""Reading attempts and their steps: the columns, joins and filters every attempt query shares."""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from sqlalchemy import ColumnElement, Select, null, select
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from station.domain.errors import AttemptFinishedError, StoreError
from station.domain.records import (
    AttemptFilter,
    AttemptOwner,
    AttemptRecord,
    AttemptResult,
    JournalState,
    StepOutcome,
    StepRecord,
)
from station.store.models import Attempt, Operator, Station, Step, Unit, WorkOrder
from station.store.repository_helpers import moment

FINAL_STATES = {
    AttemptResult.PASSED: JournalState.PASSED,
    AttemptResult.FAILED: JournalState.FAILED,
    AttemptResult.NEEDS_INSPECTION: JournalState.NEEDS_INSPECTION,
}

ATTEMPT_COLUMNS = (
    Attempt.id,
    Unit.serial,
    Station.name.label("station_name"),
    Operator.name.label("operator_name"),
    WorkOrder.code.label("work_order_code"),
    Attempt.recipe_hash,
    Attempt.product,
    Attempt.state,
    Attempt.result,
    Attempt.started_at,
    Attempt.ended_at,
    Attempt.device_id,
    Attempt.probe_id,
    Attempt.failure_step,
    Attempt.failure_code,
    Attempt.failure_message,
    Attempt.previous_attempt_id,
    Attempt.is_rework,
    Attempt.image_hashes,
    Attempt.certificate_fingerprint,
    Attempt.token_fingerprint,
    Attempt.console_transcript,
    Attempt.owner_host,
    Attempt.owner_pid,
    Attempt.owner_process_start,
    Attempt.owner_slot,
    Attempt.heartbeat_at,
)

ATTEMPT_COLUMNS_WITHOUT_TRANSCRIPT = (
    *(column for column in ATTEMPT_COLUMNS if column is not Attempt.console_transcript),
    null().label("console_transcript"),
)

STEP_OUTCOMES = {outcome.value: outcome for outcome in StepOutcome}

STEP_COLUMNS = (
    Step.id.label("step_id"),
    Step.attempt_id.label("step_attempt_id"),
    Step.name.label("step_name"),
    Step.started_at.label("step_started_at"),
    Step.ended_at.label("step_ended_at"),
    Step.outcome.label("step_outcome"),
    Step.detail.label("step_detail"),
    Step.failure_code.label("step_failure_code"),
)


def attempt_query(*extra: Any) -> Select[*tuple[Any, ...]]:
    return (
        select(*ATTEMPT_COLUMNS, *extra)
        .join(Unit, Attempt.unit_id == Unit.id)
        .join(Station, Attempt.station_id == Station.id)
        .join(Operator, Attempt.operator_id == Operator.id)
        .outerjoin(WorkOrder, Attempt.work_order_id == WorkOrder.id)
    )


def filter_conditions(wanted: AttemptFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if wanted.work_order is not None:
        conditions.append(WorkOrder.code == wanted.work_order)
    if wanted.product is not None:
        conditions.append(Attempt.product == wanted.product)
    if wanted.station is not None:
        conditions.append(Station.name == wanted.station)
    if wanted.operator is not None:
        conditions.append(Operator.name == wanted.operator)
    if wanted.since is not None:
        conditions.append(Attempt.started_at >= moment(wanted.since))
    if wanted.until is not None:
        conditions.append(Attempt.started_at < moment(wanted.until))
    if wanted.result is not None:
        conditions.append(Attempt.result == wanted.result.value)
    if wanted.serials is not None:
        conditions.append(Unit.serial.in_(wanted.serials))
    if wanted.recipe_hash is not None:
        conditions.append(Attempt.recipe_hash == wanted.recipe_hash.lower())
    return conditions


_JOURNAL_STATES = {state.value: state for state in JournalState}
_ATTEMPT_RESULTS = {result.value: result for result in AttemptResult}


@functools.lru_cache(maxsize=1024)
def _image_hashes(text: str) -> tuple[str, ...]:
    """The JSON list of image hashes as a tuple; cached, since a line runs few firmware sets."""
    return tuple(json.loads(text))


def attempt_from_row(row: Row[Any] | SimpleNamespace, steps: Sequence[StepRecord]) -> AttemptRecord:
    """The record of a row of ``attempt_query`` (or an object with the same attributes: a new
    attempt's own values, which need no read back)."""
    return AttemptRecord(
        id=row.id,
        serial=row.serial,
        station=row.station_name,
        operator=row.operator_name,
        work_order=row.work_order_code,
        recipe_hash=row.recipe_hash,
        product=row.product,
        state=_JOURNAL_STATES[row.state],
        result=_ATTEMPT_RESULTS[row.result],
        started_at=row.started_at,
        ended_at=row.ended_at,
        device_id=row.device_id,
        probe_id=row.probe_id,
        failure_step=row.failure_step,
        failure_code=row.failure_code,
        failure_message=row.failure_message,
        previous_attempt_id=row.previous_attempt_id,
        is_rework=bool(row.is_rework),
        image_hashes=_image_hashes(row.image_hashes or "[]"),
        certificate_fingerprint=row.certificate_fingerprint,
        token_fingerprint=row.token_fingerprint,
        console_transcript=row.console_transcript or "",
        steps=tuple(steps),
        owner=None if row.owner_host is None else AttemptOwner(
            station=row.station_name, host=row.owner_host, pid=int(row.owner_pid or 0),
            process_start=row.owner_process_start or "", slot=row.owner_slot or "",
        ),
        heartbeat_at=row.heartbeat_at,
    )  # fmt: skip


def _step(row: Step) -> StepRecord:
    return StepRecord(id=row.id, attempt_id=row.attempt_id, name=row.name, started_at=row.started_at,
                      ended_at=row.ended_at, outcome=StepOutcome(row.outcome), detail=row.detail,
                      failure_code=row.failure_code)


def load_attempts(session: Session, query: Select[*tuple[Any, ...]]) -> list[AttemptRecord]:
    rows = session.execute(query).all()
    if not rows:
        return []
    ids = [row.id for row in rows]
    steps: dict[int, list[StepRecord]] = {attempt_id: [] for attempt_id in ids}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for step in session.scalars(select(Step).where(Step.attempt_id.in_(chunk)).order_by(Step.id)):
            steps[step.attempt_id].append(_step(step))
    return [attempt_from_row(row, steps[row.id]) for row in rows]


def open_attempt(session: Session, attempt_id: int) -> Attempt:
    row = session.get(Attempt, attempt_id, with_for_update=True)
    if row is None:
        raise StoreError(f"no attempt {attempt_id}")
    if row.result != AttemptResult.IN_PROGRESS:
        raise AttemptFinishedError(f"attempt {attempt_id} is already finished ({row.result}); it cannot change")
    return row
