"""Repositories of the traceability store: each method is one short, committed transaction.

They take and return the domain's records (``station.domain.records``), never ORM rows, so
nothing above ``station.store`` sees SQLAlchemy. Times are timezone-aware UTC; a method
that records a moment takes an optional ``at`` (default: now) so tests and imports can say
when something happened.
"""

from __future__ import annotations

import enum
import functools
import hashlib
import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    bindparam,
    func,
    insert,
    literal,
    null,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from station.domain.attempt_rows import AttemptRow, attempt_row
from station.domain.errors import StoreError, TokenLimitError
from station.domain.ports import VaultParameters
from station.domain.records import (
    AttemptFilter,
    AttemptRecord,
    AttemptResult,
    CredentialRecord,
    CredentialState,
    JournalState,
    OperatorRecord,
    RecipeRecord,
    SealedToken,
    StationRecord,
    StepOutcome,
    StepRecord,
    TokenStatus,
    UnitRecord,
    WorkOrderRecord,
)
from station.store.attempt_rows import ROWS_CHUNK_SIZE, iter_rows
from station.store.models import (
    Attempt,
    Base,
    Credential,
    Operator,
    Recipe,
    SealedTokenRow,
    Station,
    Step,
    TokenUse,
    Unit,
    VaultParameter,
    WorkOrder,
    utc_now,
)
from station.store.session import Sessions

DEFAULT_OPERATOR_ROLE = "operator"
STREAM_BATCH_SIZE = 1000
_PRIVATE_KEY_MARKER = "PRIVATE KEY"

_RowT = TypeVar("_RowT", bound=Base)



class _Unset(enum.Enum):
    UNSET = "UNSET"


UNSET: Final = _Unset.UNSET
"""Marks a keyword argument the caller did not give: the stored value stays as it is."""


def _moment(at: datetime | None) -> datetime:
    if at is None:
        return utc_now()
    if at.tzinfo is None or at.utcoffset() is None:
        raise StoreError("the store takes timezone-aware datetimes only")
    return at.astimezone(UTC)


def _get_or_create(session: Session, model: type[_RowT], lookup: ColumnElement[bool], **values: Any) -> _RowT:
    """Find a row, or insert it; a concurrent insert of the same key (PostgreSQL) is tolerated."""
    row = session.scalars(select(model).where(lookup)).first()
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = model(**values)
            session.add(row)
        return row
    except IntegrityError:
        existing = session.scalars(select(model).where(lookup)).first()
        if existing is None:
            raise
        return existing


# ---------------------------------------------------------------------------------------
# Stations, operators, work orders, recipes


class RegistryRepository:
    """The station's reference data: stations, operators, work orders and recipes."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    def upsert_station(self, name: str, description: str = "") -> StationRecord:
        with self._sessions.writing() as session:
            row = _get_or_create(session, Station, Station.name == name, name=name,
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
        self, name: str, role: str = DEFAULT_OPERATOR_ROLE, *, pin_hash: str | _Unset | None = UNSET
    ) -> OperatorRecord:
        """Create or update an operator; ``pin_hash`` left out keeps the stored one."""
        with self._sessions.writing() as session:
            row = _get_or_create(session, Operator, Operator.name == name, name=name, role=role,
                                 created_at=utc_now())
            row.role = role
            if pin_hash is not UNSET:
                row.pin_hash = pin_hash
            return _operator(row)

    def get_operator(self, name: str) -> OperatorRecord | None:
        with self._sessions.reading() as session:
            row = session.scalars(select(Operator).where(Operator.name == name)).first()
            return None if row is None else _operator(row)

    def operators(self) -> list[OperatorRecord]:
        with self._sessions.reading() as session:
            return [_operator(row) for row in session.scalars(select(Operator).order_by(Operator.name))]

    def upsert_work_order(
        self, code: str, *, product: str | None = None, quantity: int | None = None
    ) -> WorkOrderRecord:
        """Create a work order, or fill in its product and quantity when given."""
        with self._sessions.writing() as session:
            row = _get_or_create(session, WorkOrder, WorkOrder.code == code, code=code, product=product,
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

    def record_recipe(self, content: str, product: str, *, sha256: str | None = None) -> RecipeRecord:
        """Keep a recipe's text under its SHA-256 (of the UTF-8 text); return the stored one.

        An already recorded recipe is returned as it is. ``sha256``, when given, must be the
        hash of ``content``: the store keeps only recipes whose hash anyone can recompute.
        """
        digest = hashlib.sha256(content.encode("utf-8")).hexdigest()
        if sha256 is not None and sha256.lower() != digest:
            raise StoreError(f"recipe hash {sha256} is not the SHA-256 of the recipe text ({digest})")
        with self._sessions.writing() as session:
            row = _get_or_create(session, Recipe, Recipe.sha256 == digest, sha256=digest, product=product,
                                 content=content, recorded_at=utc_now())
            if row.product != product:
                raise StoreError(f"recipe {digest} is already recorded for product {row.product}, not {product}")
            return _recipe(row)

    def get_recipe(self, sha256: str) -> RecipeRecord | None:
        with self._sessions.reading() as session:
            row = session.scalars(select(Recipe).where(Recipe.sha256 == sha256.lower())).first()
            return None if row is None else _recipe(row)


def _operator(row: Operator) -> OperatorRecord:
    return OperatorRecord(name=row.name, role=row.role, pin_hash=row.pin_hash)


def _work_order(row: WorkOrder) -> WorkOrderRecord:
    return WorkOrderRecord(code=row.code, product=row.product, quantity=row.quantity, created_at=row.created_at)


def _recipe(row: Recipe) -> RecipeRecord:
    return RecipeRecord(sha256=row.sha256, product=row.product, content=row.content,
                        recorded_at=row.recorded_at)


# ---------------------------------------------------------------------------------------
# Units


class UnitRepository:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    def get_unit(self, serial: str) -> UnitRecord | None:
        with self._sessions.reading() as session:
            row = session.scalars(select(Unit).where(Unit.serial == serial)).first()
            return None if row is None else _unit(row)

    def get_or_create_unit(
        self, serial: str, device_id: str | None = None, *, at: datetime | None = None
    ) -> UnitRecord:
        """The unit with this serial, created on first sight; a device id fills in a missing one."""
        with self._sessions.writing() as session:
            return _unit(_unit_row(session, serial, device_id, _moment(at)))

    def is_development_device(self, device_id: str) -> bool:
        """Whether this device (by its hardware id, whatever serial it carried) was ever erased."""
        query = (
            select(Unit.id)
            .outerjoin(Attempt, Attempt.unit_id == Unit.id)
            .where(Unit.is_development.is_(True), (Unit.device_id == device_id) | (Attempt.device_id == device_id))
            .limit(1)
        )
        with self._sessions.reading() as session:
            return session.scalars(query).first() is not None

    def mark_development(self, serial: str) -> UnitRecord:
        """Record that a unit was erased: it is a development device for good and never ships."""
        with self._sessions.writing() as session:
            row = _unit_row(session, serial, None, utc_now())
            row.is_development = True
            return _unit(row)

    def golden_serials(self) -> frozenset[str]:
        """Serials of the reference units (few): reports leave them out of yield."""
        with self._sessions.reading() as session:
            return frozenset(session.scalars(select(Unit.serial).where(Unit.is_golden.is_(True))))

    def set_golden(self, serial: str, golden: bool = True) -> UnitRecord:
        """Mark (or unmark) a reference unit used to check the station, not shipped product."""
        with self._sessions.writing() as session:
            row = _unit_row(session, serial, None, utc_now())
            row.is_golden = golden
            return _unit(row)


def _unit_row(session: Session, serial: str, device_id: str | None, at: datetime) -> Unit:
    if not serial:
        raise StoreError("a unit needs a serial number")
    row = _get_or_create(session, Unit, Unit.serial == serial, serial=serial, device_id=device_id,
                         first_seen_at=at, is_golden=False, is_development=False)
    if row.device_id is None and device_id is not None:
        row.device_id = device_id
    return row


def _unit(row: Unit) -> UnitRecord:
    return UnitRecord(serial=row.serial, device_id=row.device_id, first_seen_at=row.first_seen_at,
                      is_golden=row.is_golden, is_development=row.is_development)


# ---------------------------------------------------------------------------------------
# Attempts and steps

_FINAL_STATES = {
    AttemptResult.PASSED: JournalState.PASSED,
    AttemptResult.FAILED: JournalState.FAILED,
    AttemptResult.NEEDS_INSPECTION: JournalState.NEEDS_INSPECTION,
}

_ATTEMPT_COLUMNS = (
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
)

_ATTEMPT_COLUMNS_WITHOUT_TRANSCRIPT = (
    *(column for column in _ATTEMPT_COLUMNS if column is not Attempt.console_transcript),
    null().label("console_transcript"),
)

_STEP_OUTCOMES = {outcome.value: outcome for outcome in StepOutcome}

_STEP_COLUMNS = (
    Step.id.label("step_id"),
    Step.attempt_id.label("step_attempt_id"),
    Step.name.label("step_name"),
    Step.started_at.label("step_started_at"),
    Step.ended_at.label("step_ended_at"),
    Step.outcome.label("step_outcome"),
    Step.detail.label("step_detail"),
    Step.failure_code.label("step_failure_code"),
)


def _attempt_query(*extra: Any) -> Select[*tuple[Any, ...]]:
    return (
        select(*_ATTEMPT_COLUMNS, *extra)
        .join(Unit, Attempt.unit_id == Unit.id)
        .join(Station, Attempt.station_id == Station.id)
        .join(Operator, Attempt.operator_id == Operator.id)
        .outerjoin(WorkOrder, Attempt.work_order_id == WorkOrder.id)
    )


def _filter_conditions(wanted: AttemptFilter) -> list[ColumnElement[bool]]:
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
        conditions.append(Attempt.started_at >= _moment(wanted.since))
    if wanted.until is not None:
        conditions.append(Attempt.started_at < _moment(wanted.until))
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


def _attempt_from_row(row: Row[Any], steps: Sequence[StepRecord]) -> AttemptRecord:
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
    )


def _step(row: Step) -> StepRecord:
    return StepRecord(id=row.id, attempt_id=row.attempt_id, name=row.name, started_at=row.started_at,
                      ended_at=row.ended_at, outcome=StepOutcome(row.outcome), detail=row.detail,
                      failure_code=row.failure_code)


def _load_attempts(session: Session, query: Select[*tuple[Any, ...]]) -> list[AttemptRecord]:
    rows = session.execute(query).all()
    if not rows:
        return []
    ids = [row.id for row in rows]
    steps: dict[int, list[StepRecord]] = {attempt_id: [] for attempt_id in ids}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for step in session.scalars(select(Step).where(Step.attempt_id.in_(chunk)).order_by(Step.id)):
            steps[step.attempt_id].append(_step(step))
    return [_attempt_from_row(row, steps[row.id]) for row in rows]


def _open_attempt(session: Session, attempt_id: int) -> Attempt:
    row = session.get(Attempt, attempt_id, with_for_update=True)
    if row is None:
        raise StoreError(f"no attempt {attempt_id}")
    if row.result != AttemptResult.IN_PROGRESS:
        raise StoreError(f"attempt {attempt_id} is already finished ({row.result}); it cannot change")
    return row


# The journal's hottest statements, built once: constructing and coercing a statement costs
# more than running it. Executed on the session's Core connection, outside the ORM.
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


def _check_advance(state: JournalState) -> None:
    if state in _FINAL_STATES.values():
        raise StoreError(f"{state} ends an attempt: use finish_attempt")


def _require_open_attempt(connection: Connection, attempt_id: int) -> None:
    """StoreError unless the attempt exists and is unfinished (one indexed read, no ORM load)."""
    result = connection.execute(_SELECT_ATTEMPT_RESULT, {"attempt_id": attempt_id}).scalar_one_or_none()
    if result is None:
        raise StoreError(f"no attempt {attempt_id}")
    if result != AttemptResult.IN_PROGRESS:
        raise StoreError(f"attempt {attempt_id} is already finished ({result}); it cannot change")


def _advance_open_attempt(connection: Connection, attempt_id: int, state: JournalState) -> None:
    changed = connection.execute(_ADVANCE_OPEN_ATTEMPT, {"attempt_id": attempt_id, "state": state.value}).first()
    if changed is None:
        _require_open_attempt(connection, attempt_id)  # says why
        raise StoreError(f"attempt {attempt_id} cannot change")


class AttemptRepository:
    """The per-unit journal: attempts, their steps, and the queries over them."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    # -- writing ------------------------------------------------------------------------

    def create_attempt(
        self,
        *,
        serial: str,
        station: str,
        operator: str,
        recipe_hash: str,
        product: str,
        work_order: str | None = None,
        device_id: str | None = None,
        probe_id: str | None = None,
        is_rework: bool = False,
        at: datetime | None = None,
    ) -> AttemptRecord:
        """Open an attempt in state SCANNED, linked to the unit's previous attempt.

        The unit, station, operator and work order are created on first use; the recipe
        must already be recorded (``RegistryRepository.record_recipe``).
        """
        started = _moment(at)
        with self._sessions.writing() as session:
            if session.scalars(select(Recipe.id).where(Recipe.sha256 == recipe_hash)).first() is None:
                raise StoreError(f"recipe {recipe_hash} is not recorded; record the recipe before using it")
            unit = _unit_row(session, serial, device_id, started)
            station_row = _get_or_create(session, Station, Station.name == station, name=station,
                                         description="", created_at=started)
            operator_row = _get_or_create(session, Operator, Operator.name == operator, name=operator,
                                          role=DEFAULT_OPERATOR_ROLE, created_at=started)
            work_order_id = None
            if work_order is not None:
                work_order_row = _get_or_create(session, WorkOrder, WorkOrder.code == work_order,
                                                code=work_order, product=product, created_at=started)
                work_order_id = work_order_row.id
            session.flush()
            previous = session.scalars(
                select(Attempt.id).where(Attempt.unit_id == unit.id).order_by(Attempt.id.desc()).limit(1)
            ).first()
            row = Attempt(
                unit_id=unit.id, station_id=station_row.id, operator_id=operator_row.id,
                work_order_id=work_order_id, recipe_hash=recipe_hash, product=product,
                device_id=device_id, probe_id=probe_id, state=JournalState.SCANNED.value,
                result=AttemptResult.IN_PROGRESS.value, started_at=started, previous_attempt_id=previous,
                is_rework=is_rework, image_hashes="[]", console_transcript="",
            )
            session.add(row)
            session.flush()
            attempt_id = row.id
        return self.get_attempt(attempt_id)

    def advance(self, attempt_id: int, state: JournalState) -> None:
        """Commit the attempt's new journal state (before the irreversible act it names)."""
        _check_advance(state)
        self._sessions.write_journal(lambda connection: _advance_open_attempt(connection, attempt_id, state))

    def set_attempt_fields(
        self,
        attempt_id: int,
        *,
        device_id: str | _Unset | None = UNSET,
        probe_id: str | _Unset | None = UNSET,
        image_hashes: Sequence[str] | _Unset = UNSET,
        certificate_fingerprint: str | _Unset | None = UNSET,
        token_fingerprint: str | _Unset | None = UNSET,
        console_transcript: str | _Unset = UNSET,
        is_rework: bool | _Unset = UNSET,
    ) -> None:
        """Set the given fields of an unfinished attempt; fields left out keep their value."""
        given: dict[str, Any] = {
            "device_id": device_id,
            "probe_id": probe_id,
            "image_hashes": image_hashes if image_hashes is UNSET else json.dumps(list(image_hashes)),
            "certificate_fingerprint": certificate_fingerprint,
            "token_fingerprint": token_fingerprint,
            "console_transcript": console_transcript,
            "is_rework": is_rework,
        }
        values = {name: value for name, value in given.items() if value is not UNSET}

        def write(connection: Connection) -> None:
            if not values:
                _require_open_attempt(connection, attempt_id)
                return
            changed = connection.execute(
                update(Attempt)
                .where(Attempt.id == attempt_id, Attempt.result == AttemptResult.IN_PROGRESS.value)
                .values(values)
                .returning(Attempt.unit_id)
            ).first()
            if changed is None:
                _require_open_attempt(connection, attempt_id)  # says why
                raise StoreError(f"attempt {attempt_id} cannot change")
            if isinstance(device_id, str):  # the unit learns its device id from its first attempt
                connection.execute(
                    update(Unit).where(Unit.id == changed.unit_id, Unit.device_id.is_(None)).values(device_id=device_id)
                )

        self._sessions.write_journal(write)

    def append_transcript(self, attempt_id: int, text: str) -> None:
        """Add console text (already free of secrets) to the attempt's transcript."""
        with self._sessions.writing() as session:
            row = _open_attempt(session, attempt_id)
            row.console_transcript = (row.console_transcript or "") + text

    def finish_attempt(
        self,
        attempt_id: int,
        result: AttemptResult,
        *,
        failure_step: str | None = None,
        failure_code: str | None = None,
        failure_message: str | None = None,
        at: datetime | None = None,
    ) -> AttemptRecord:
        """Close the attempt as PASSED, FAILED or NEEDS_INSPECTION; the row is final afterwards."""
        if result not in _FINAL_STATES:
            raise StoreError(f"an attempt cannot finish as {result}")
        if result is AttemptResult.PASSED and (failure_step or failure_code or failure_message):
            raise StoreError("a PASSED attempt carries no failure")
        if result is AttemptResult.FAILED and not failure_code:
            raise StoreError("a FAILED attempt needs a failure code")
        ended = _moment(at)
        with self._sessions.writing() as session:
            row = _open_attempt(session, attempt_id)
            row.result = result.value
            row.state = _FINAL_STATES[result].value
            row.failure_step = failure_step
            row.failure_code = failure_code
            row.failure_message = failure_message
            row.ended_at = ended
        return self.get_attempt(attempt_id)

    # The step and state writes below run for every step of every unit, several slots at once:
    # they are single Core statements (UPDATE ... RETURNING), not ORM loads and flushes, so that
    # they hold the write lock and the interpreter for as short a time as possible.

    def start_step(self, attempt_id: int, name: str, *, at: datetime | None = None) -> StepRecord:
        started = _moment(at)

        def write(connection: Connection) -> int:
            inserted = connection.execute(
                _INSERT_STEP_OF_OPEN_ATTEMPT, {"attempt_id": attempt_id, "name": name, "started_at": started}
            ).scalar_one_or_none()
            if inserted is None:
                _require_open_attempt(connection, attempt_id)  # says why
                raise StoreError(f"attempt {attempt_id} cannot change")
            return int(inserted)

        step_id = self._sessions.write_journal(write)
        return StepRecord(id=step_id, attempt_id=attempt_id, name=name, started_at=started, ended_at=None,
                          outcome=StepOutcome.RUNNING, detail="", failure_code=None)

    def finish_step(
        self,
        step_id: int,
        outcome: StepOutcome,
        *,
        detail: str = "",
        failure_code: str | None = None,
        at: datetime | None = None,
        advance_to: JournalState | None = None,
    ) -> StepRecord:
        """Close a running step; ``advance_to`` commits the attempt's next journal state with it
        (one transaction: a passed step and the state it reaches are never seen apart)."""
        if outcome is StepOutcome.RUNNING:
            raise StoreError("a step cannot finish as RUNNING")
        if advance_to is not None:
            _check_advance(advance_to)
        ended = _moment(at)

        def write(connection: Connection) -> StepRecord:
            row = connection.execute(
                _FINISH_RUNNING_STEP,
                {"step_id": step_id, "outcome": outcome.value, "detail": detail, "failure_code": failure_code,
                 "ended_at": ended},
            ).first()
            if row is None:
                existing = connection.execute(select(Step.name, Step.outcome).where(Step.id == step_id)).first()
                if existing is None:
                    raise StoreError(f"no step {step_id}")
                raise StoreError(f"step {step_id} ({existing.name}) is already finished ({existing.outcome})")
            if advance_to is not None:
                _advance_open_attempt(connection, row.attempt_id, advance_to)
            return StepRecord(id=step_id, attempt_id=row.attempt_id, name=row.name, started_at=row.started_at,
                              ended_at=ended, outcome=outcome, detail=detail, failure_code=failure_code)

        return self._sessions.write_journal(write)

    # -- reading ------------------------------------------------------------------------

    def get_attempt(self, attempt_id: int) -> AttemptRecord:
        with self._sessions.reading() as session:
            found = _load_attempts(session, _attempt_query().where(Attempt.id == attempt_id))
        if not found:
            raise StoreError(f"no attempt {attempt_id}")
        return found[0]

    def history(self, serial: str) -> list[AttemptRecord]:
        """Every attempt at a unit with its steps, oldest first."""
        with self._sessions.reading() as session:
            return _load_attempts(session, _attempt_query().where(Unit.serial == serial).order_by(Attempt.id))

    def latest_attempt(self, serial: str) -> AttemptRecord | None:
        with self._sessions.reading() as session:
            found = _load_attempts(
                session, _attempt_query().where(Unit.serial == serial).order_by(Attempt.id.desc()).limit(1)
            )
        return found[0] if found else None

    def unfinished_attempts(self, station: str | None = None) -> list[AttemptRecord]:
        """Attempts still IN_PROGRESS (a crash left them): the restarted station resolves each."""
        query = _attempt_query().where(Attempt.result == AttemptResult.IN_PROGRESS.value)
        if station is not None:
            query = query.where(Station.name == station)
        with self._sessions.reading() as session:
            return _load_attempts(session, query.order_by(Attempt.id))

    def count_attempts(self, wanted: AttemptFilter | None = None) -> int:
        conditions = _filter_conditions(wanted or AttemptFilter())
        query = (
            select(func.count(Attempt.id))
            .join(Unit, Attempt.unit_id == Unit.id)
            .join(Station, Attempt.station_id == Station.id)
            .join(Operator, Attempt.operator_id == Operator.id)
            .outerjoin(WorkOrder, Attempt.work_order_id == WorkOrder.id)
            .where(*conditions)
        )
        with self._sessions.reading() as session:
            return int(session.scalar(query) or 0)

    def iter_attempts(
        self,
        wanted: AttemptFilter | None = None,
        *,
        batch_size: int = STREAM_BATCH_SIZE,
        by_unit: bool = False,
        with_transcripts: bool = True,
    ) -> Iterator[AttemptRecord]:
        """Stream matching attempts with their steps, in id order, without loading them all.

        One query joins attempts to steps and is read ``batch_size`` rows at a time (a
        server-side cursor on PostgreSQL). The read transaction stays open until the
        iterator is exhausted or closed. ``by_unit`` orders by unit first (each unit's
        attempts together, oldest first), so per-unit statistics need no per-unit map;
        ``with_transcripts=False`` leaves the console transcripts out (empty) for exports
        that do not carry them.
        """
        conditions = _filter_conditions(wanted or AttemptFilter())
        columns = _ATTEMPT_COLUMNS if with_transcripts else _ATTEMPT_COLUMNS_WITHOUT_TRANSCRIPT
        order = (Attempt.unit_id, Attempt.id) if by_unit else (Attempt.id,)
        base: Select[*tuple[Any, ...]] = (
            select(*columns, Attempt.unit_id.label("unit_key"))
            .join(Unit, Attempt.unit_id == Unit.id)
            .join(Station, Attempt.station_id == Station.id)
            .join(Operator, Attempt.operator_id == Operator.id)
            .outerjoin(WorkOrder, Attempt.work_order_id == WorkOrder.id)
            .where(*conditions)
            .order_by(*order)
            .limit(batch_size)
        )
        # Keyset pagination inside one read transaction (one snapshot): each batch of attempts,
        # then the steps of exactly those attempts. Attempt columns are read once per attempt,
        # not once per step as a join would repeat them.
        with self._sessions.streaming(batch_size) as connection:
            after: tuple[int, int] | None = None
            while True:
                query = base
                if after is not None:
                    query = query.where(
                        tuple_(Attempt.unit_id, Attempt.id) > tuple_(*after) if by_unit else Attempt.id > after[1]
                    )
                rows = connection.execute(query).all()
                if not rows:
                    return
                steps: dict[int, list[StepRecord]] = {row.id: [] for row in rows}
                step_query = (
                    select(*_STEP_COLUMNS).where(Step.attempt_id.in_(list(steps))).order_by(Step.attempt_id, Step.id)
                )
                for step_id, attempt_id, name, started, ended, outcome, detail, code in connection.execute(step_query):
                    steps[attempt_id].append(StepRecord(
                        id=step_id, attempt_id=attempt_id, name=name, started_at=started, ended_at=ended,
                        outcome=_STEP_OUTCOMES[outcome], detail=detail or "", failure_code=code,
                    ))
                for row in rows:
                    yield _attempt_from_row(row, steps[row.id])
                last = rows[-1]
                after = (last.unit_key, last.id)
                if len(rows) < batch_size:
                    return

    def iter_attempt_rows(
        self, wanted: AttemptFilter | None = None, *, batch_size: int = ROWS_CHUNK_SIZE
    ) -> Iterator[AttemptRow]:
        """Stream the CSV rows of matching attempts, in id order (``station.domain.attempt_rows``).

        Each row has the cells of ``attempt_row()`` of the record ``iter_attempts`` would
        yield (an empty cell may be ``""`` where the record has None: the same in a CSV), built
        several times faster: on SQLite, SQL aggregates the steps, a reader thread fetches
        chunks of ``batch_size`` attempts while the caller formats, and no record is made
        (see ``station.store.attempt_rows``); elsewhere the rows come from the records.
        """
        wanted = wanted or AttemptFilter()
        if self._sessions.engine.dialect.name == "sqlite":
            yield from iter_rows(self._sessions, _filter_conditions(wanted), batch_size)
        else:
            for attempt in self.iter_attempts(wanted, batch_size=batch_size, with_transcripts=False):
                yield attempt_row(attempt)


# ---------------------------------------------------------------------------------------
# Credentials


class CredentialRepository:
    """Certificates issued to units. A credential, once reserved, is never offered again."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    def reserve_credential(
        self,
        *,
        certificate_serial: str,
        certificate_fingerprint: str,
        serial: str,
        device_id: str,
        attempt_id: int,
        certificate_pem: str,
        at: datetime | None = None,
    ) -> CredentialRecord:
        """Commit the credential as RESERVED for this attempt before it leaves the station.

        Refuses (StoreError) a certificate serial or fingerprint already recorded, in any
        state, and anything that looks like a private key. Also sets the attempt's
        certificate fingerprint.
        """
        if _PRIVATE_KEY_MARKER in certificate_pem:
            raise StoreError("refusing to store a private key: pass the certificate only")
        created = _moment(at)
        certificate_serial = certificate_serial.lower()
        certificate_fingerprint = certificate_fingerprint.lower()
        with self._sessions.writing() as session:
            attempt = _open_attempt(session, attempt_id)
            taken = session.scalars(
                select(Credential).where(
                    (Credential.certificate_serial == certificate_serial)
                    | (Credential.certificate_fingerprint == certificate_fingerprint)
                )
            ).first()
            if taken is not None:
                raise StoreError(
                    f"credential {certificate_serial} was already reserved (attempt {taken.attempt_id}, "
                    f"{taken.state}); a credential is never offered twice"
                )
            row = Credential(
                certificate_serial=certificate_serial, certificate_fingerprint=certificate_fingerprint,
                serial=serial, device_id=device_id, attempt_id=attempt_id,
                state=CredentialState.RESERVED.value, certificate_pem=certificate_pem, created_at=created,
            )
            try:
                with session.begin_nested():
                    session.add(row)
            except IntegrityError as error:
                raise StoreError(
                    f"credential {certificate_serial} was already reserved; a credential is never offered twice"
                ) from error
            attempt.certificate_fingerprint = certificate_fingerprint
            return _credential(row)

    def mark_injected(self, certificate_serial: str) -> CredentialRecord:
        """RESERVED -> INJECTED, once the unit holds it and it read back correctly."""
        with self._sessions.writing() as session:
            row = self._locked(session, certificate_serial)
            if row.state != CredentialState.RESERVED:
                raise StoreError(f"credential {row.certificate_serial} is {row.state}, not RESERVED")
            row.state = CredentialState.INJECTED.value
            return _credential(row)

    def void_credential(self, certificate_serial: str) -> CredentialRecord:
        """Retire a credential for good (failed injection, scrapped unit, rework)."""
        with self._sessions.writing() as session:
            row = self._locked(session, certificate_serial)
            row.state = CredentialState.VOID.value
            return _credential(row)

    def get_credential(self, certificate_serial: str) -> CredentialRecord | None:
        with self._sessions.reading() as session:
            row = session.scalars(
                select(Credential).where(Credential.certificate_serial == certificate_serial.lower())
            ).first()
            return None if row is None else _credential(row)

    def credentials_for_attempt(self, attempt_id: int) -> list[CredentialRecord]:
        with self._sessions.reading() as session:
            query = select(Credential).where(Credential.attempt_id == attempt_id).order_by(Credential.id)
            return [_credential(row) for row in session.scalars(query)]

    def credentials_for_serial(self, serial: str) -> list[CredentialRecord]:
        with self._sessions.reading() as session:
            query = select(Credential).where(Credential.serial == serial).order_by(Credential.id)
            return [_credential(row) for row in session.scalars(query)]

    @staticmethod
    def _locked(session: Session, certificate_serial: str) -> Credential:
        row = session.scalars(
            select(Credential)
            .where(Credential.certificate_serial == certificate_serial.lower())
            .with_for_update()
        ).first()
        if row is None:
            raise StoreError(f"no credential with certificate serial {certificate_serial}")
        return row


def _credential(row: Credential) -> CredentialRecord:
    return CredentialRecord(
        certificate_serial=row.certificate_serial, certificate_fingerprint=row.certificate_fingerprint,
        serial=row.serial, device_id=row.device_id, attempt_id=row.attempt_id,
        state=CredentialState(row.state), certificate_pem=row.certificate_pem, created_at=row.created_at,
    )


# ---------------------------------------------------------------------------------------
# Activation-token vault (implements station.domain.ports.TokenRepository)


class SqlTokenRepository:
    """Sealed activation tokens (ciphertext and keyed fingerprint only) and their uses."""

    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    def vault_parameters(self) -> VaultParameters | None:
        with self._sessions.reading() as session:
            row = session.get(VaultParameter, 1)
            if row is None:
                return None
            return VaultParameters(salt=row.salt, scrypt_n=row.scrypt_n, scrypt_r=row.scrypt_r,
                                   scrypt_p=row.scrypt_p, check_nonce=row.check_nonce,
                                   check_value=row.check_value)

    def set_vault_parameters(self, parameters: VaultParameters) -> None:
        with self._sessions.writing() as session:
            if session.get(VaultParameter, 1) is not None:
                raise StoreError("the token vault's parameters are already set; they are never replaced")
            session.add(VaultParameter(
                id=1, salt=parameters.salt, scrypt_n=parameters.scrypt_n, scrypt_r=parameters.scrypt_r,
                scrypt_p=parameters.scrypt_p, check_nonce=parameters.check_nonce,
                check_value=parameters.check_value,
            ))

    def add_sealed_tokens(self, tokens: Sequence[SealedToken]) -> int:
        """Store the tokens not already present (by fingerprint), all in one transaction."""
        with self._sessions.writing() as session:
            wanted = {token.fingerprint: token for token in tokens}
            present: set[str] = set()
            fingerprints = list(wanted)
            for start in range(0, len(fingerprints), 500):
                chunk = fingerprints[start:start + 500]
                present.update(session.scalars(
                    select(SealedTokenRow.fingerprint).where(SealedTokenRow.fingerprint.in_(chunk))
                ))
            new = [token for fingerprint, token in wanted.items() if fingerprint not in present]
            for token in new:
                session.add(SealedTokenRow(
                    fingerprint=token.fingerprint, product=token.product, nonce=token.nonce,
                    ciphertext=token.ciphertext, use_limit=token.use_limit,
                    imported_at=_moment(token.imported_at),
                ))
            return len(new)

    def sealed_tokens(self, product: str) -> list[SealedToken]:
        with self._sessions.reading() as session:
            query = (
                select(SealedTokenRow)
                .where(SealedTokenRow.product == product)
                .order_by(SealedTokenRow.imported_at, SealedTokenRow.id)
            )
            return [
                SealedToken(fingerprint=row.fingerprint, product=row.product, nonce=row.nonce,
                            ciphertext=row.ciphertext, use_limit=row.use_limit, imported_at=row.imported_at)
                for row in session.scalars(query)
            ]

    def token_statuses(self, product: str | None = None) -> list[TokenStatus]:
        uses = (
            select(TokenUse.fingerprint, func.count(TokenUse.id).label("uses"))
            .group_by(TokenUse.fingerprint)
            .subquery()
        )
        query = (
            select(SealedTokenRow.fingerprint, SealedTokenRow.product, SealedTokenRow.use_limit,
                   SealedTokenRow.imported_at, func.coalesce(uses.c.uses, 0).label("uses"))
            .outerjoin(uses, uses.c.fingerprint == SealedTokenRow.fingerprint)
            .order_by(SealedTokenRow.product, SealedTokenRow.imported_at, SealedTokenRow.id)
        )
        if product is not None:
            query = query.where(SealedTokenRow.product == product)
        with self._sessions.reading() as session:
            return [
                TokenStatus(fingerprint=row.fingerprint, product=row.product, uses=int(row.uses),
                            use_limit=row.use_limit, imported_at=row.imported_at)
                for row in session.execute(query)
            ]

    def next_usable_token(self, product: str) -> SealedToken | None:
        uses = (
            select(func.count(TokenUse.id))
            .where(TokenUse.fingerprint == SealedTokenRow.fingerprint)
            .scalar_subquery()
        )
        query = (
            select(SealedTokenRow)
            .where(SealedTokenRow.product == product)
            .where(or_(SealedTokenRow.use_limit.is_(None), SealedTokenRow.use_limit > uses))
            .order_by(SealedTokenRow.imported_at, SealedTokenRow.id)
            .limit(1)
        )
        with self._sessions.reading() as session:
            row = session.scalars(query).first()
            if row is None:
                return None
            return SealedToken(fingerprint=row.fingerprint, product=row.product, nonce=row.nonce,
                               ciphertext=row.ciphertext, use_limit=row.use_limit, imported_at=row.imported_at)

    def token_count(self, product: str) -> int:
        with self._sessions.reading() as session:
            return int(session.scalar(select(func.count(SealedTokenRow.id)).where(SealedTokenRow.product == product))
                       or 0)

    def record_token_use(self, fingerprint: str, attempt_id: int) -> None:
        """Count one use against the attempt, or refuse (TokenLimitError) a token at its limit.

        The check and the insert are one transaction holding the write lock (SQLite) or the
        token's row lock (PostgreSQL), so two stations cannot both take the last use. The
        attempt's token fingerprint is set too.
        """
        with self._sessions.writing() as session:
            token = session.scalars(
                select(SealedTokenRow).where(SealedTokenRow.fingerprint == fingerprint).with_for_update()
            ).first()
            if token is None:
                raise StoreError(f"no activation token with fingerprint {fingerprint}")
            attempt = session.get(Attempt, attempt_id)
            if attempt is None:
                raise StoreError(f"no attempt {attempt_id}")
            if token.use_limit is not None:
                used = session.scalar(select(func.count(TokenUse.id)).where(TokenUse.fingerprint == fingerprint))
                if (used or 0) >= token.use_limit:
                    raise TokenLimitError(
                        f"activation token {fingerprint} has reached its use limit ({token.use_limit})"
                    )
            session.add(TokenUse(fingerprint=fingerprint, attempt_id=attempt_id, used_at=utc_now()))
            attempt.token_fingerprint = fingerprint
