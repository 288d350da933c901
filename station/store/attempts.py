"""The per-unit journal: attempts and their steps, each write one short committed transaction.

The step and state writes run for every step of every unit, several slots at once: they are
single Core statements built once, not ORM loads and flushes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, Select, func, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from station.domain.errors import DeviceInProgressError, SerialInProgressError, StoreError
from station.domain.export_row import AttemptRow, attempt_row
from station.domain.records import (
    AttemptFilter,
    AttemptOwner,
    AttemptRecord,
    AttemptResult,
    JournalState,
    StepEnd,
    StepOutcome,
    StepRecord,
)
from station.store.attempt_queries import (
    ATTEMPT_COLUMNS,
    ATTEMPT_COLUMNS_WITHOUT_TRANSCRIPT,
    FINAL_STATES,
    STEP_COLUMNS,
    STEP_OUTCOMES,
    attempt_from_row,
    attempt_query,
    filter_conditions,
    load_attempts,
    open_attempt,
)
from station.store.chain import note_changed
from station.store.fast_export import ROWS_CHUNK_SIZE, iter_rows
from station.store.models import Attempt, Operator, Recipe, Station, Step, Unit, WorkOrder
from station.store.repository_helpers import (
    DEFAULT_OPERATOR_ROLE,
    STREAM_BATCH_SIZE,
    UNSET,
    Unset,
    get_or_create,
    moment,
)
from station.store.session import Sessions
from station.store.step_journal import (
    advance_open_attempt,
    check_advance,
    check_end,
    end_running_step,
    insert_running_step,
    require_open_attempt,
)
from station.store.units import unit_row
from station.store.work_orders import claim_place


def _holder(row: Any) -> str:
    slot = f"/{row.owner_slot}" if row.owner_slot else ""
    return f"{row.station_name}{slot} since {row.started_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


_HOLDER_QUERY = (
    select(Unit.serial, Station.name.label("station_name"), Attempt.owner_slot, Attempt.started_at)
    .select_from(Attempt)
    .join(Unit, Attempt.unit_id == Unit.id)
    .join(Station, Attempt.station_id == Station.id)
    .where(Attempt.result == AttemptResult.IN_PROGRESS.value)
)


def _serial_in_progress(session: Session, serial: str) -> SerialInProgressError:
    row = session.execute(_HOLDER_QUERY.where(Unit.serial == serial)).first()
    return SerialInProgressError(_holder(row) if row is not None else "another station")


def _device_in_progress(connection: Connection, device_id: str) -> DeviceInProgressError:
    row = connection.execute(_HOLDER_QUERY.where(Attempt.device_id == device_id)).first()
    where = f"under serial {row.serial} at {_holder(row)}" if row is not None else "in another attempt"
    return DeviceInProgressError(device_id, where)


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
        owner: AttemptOwner | None = None,
        at: datetime | None = None,
    ) -> AttemptRecord:
        """Open an attempt in state SCANNED, linked to the unit's previous attempt: the claim on
        its serial. The database refuses a second open attempt of one unit, from any process:
        SerialInProgressError names the holder. A work order with no place left refuses the
        unit first (WorkOrderCompleteError; ``station.store.work_orders``).

        The unit, station, operator and work order are created on first use; the recipe
        must already be recorded (``RegistryRepository.record_recipe``).
        """
        started = moment(at)
        with self._sessions.writing() as session:
            if session.scalars(select(Recipe.id).where(Recipe.sha256 == recipe_hash)).first() is None:
                raise StoreError(f"recipe {recipe_hash} is not recorded; record the recipe before using it")
            unit = unit_row(session, serial, device_id, started)
            station_row = get_or_create(session, Station, Station.name == station, name=station,
                                         description="", created_at=started)
            operator_row = get_or_create(session, Operator, Operator.name == operator, name=operator,
                                          role=DEFAULT_OPERATOR_ROLE, created_at=started)
            work_order_id = None
            if work_order is not None:
                work_order_row = get_or_create(session, WorkOrder, WorkOrder.code == work_order,
                                                code=work_order, product=product, created_at=started)
                work_order_id = work_order_row.id
            session.flush()
            if work_order_id is not None and not is_rework:  # a rework makes nothing: it takes no place
                claim_place(session, work_order_id, unit.id)  # WorkOrderCompleteError when none is left
            previous = session.scalars(
                select(Attempt.id).where(Attempt.unit_id == unit.id).order_by(Attempt.id.desc()).limit(1)
            ).first()
            row = Attempt(
                unit_id=unit.id, station_id=station_row.id, operator_id=operator_row.id,
                work_order_id=work_order_id, recipe_hash=recipe_hash, product=product,
                device_id=device_id, probe_id=probe_id, state=JournalState.SCANNED.value,
                result=AttemptResult.IN_PROGRESS.value, started_at=started, previous_attempt_id=previous,
                is_rework=is_rework, image_hashes="[]", console_transcript="",
                owner_host=owner.host if owner else None, owner_pid=owner.pid if owner else None,
                owner_process_start=owner.process_start if owner else None,
                owner_slot=owner.slot if owner else None, heartbeat_at=started if owner else None,
            )  # fmt: skip
            try:
                with session.begin_nested():
                    session.add(row)
            except IntegrityError:
                raise _serial_in_progress(session, serial) from None
            # The new attempt as get_attempt would read it back (no steps yet), without the read.
            created = SimpleNamespace(
                **{column.key: getattr(row, column.key) for column in Attempt.__table__.columns},
                serial=serial, station_name=station, operator_name=operator, work_order_code=work_order,
            )
        return attempt_from_row(created, ())

    def heartbeat(self, owner: AttemptOwner, *, at: datetime | None = None) -> int:
        """The owner is alive: stamp its open attempts (all slots of its process); how many."""
        when = moment(at)

        def write(connection: Connection) -> int:
            result = connection.execute(
                update(Attempt)
                .where(
                    Attempt.result == AttemptResult.IN_PROGRESS.value,
                    Attempt.owner_host == owner.host,
                    Attempt.owner_pid == owner.pid,
                    Attempt.owner_process_start == owner.process_start,
                )
                .values(heartbeat_at=when)
            )
            return int(result.rowcount or 0)

        return self._sessions.write_journal(write)

    def passed_serial_of_device(self, device_id: str) -> str | None:
        """The serial this device passed under, if it ever passed."""
        query = (
            select(Unit.serial)
            .join(Attempt, Attempt.unit_id == Unit.id)
            .where(Attempt.device_id == device_id, Attempt.result == AttemptResult.PASSED.value)
            .limit(1)
        )
        with self._sessions.reading() as session:
            return session.scalars(query).first()

    def serials_of_device(self, device_id: str) -> list[str]:
        """Every serial an attempt has recorded this device under, any result, first seen first."""
        query = (
            select(Unit.serial)
            .join(Attempt, Attempt.unit_id == Unit.id)
            .where(Attempt.device_id == device_id)
            .group_by(Unit.serial)
            .order_by(func.min(Attempt.id))
        )
        with self._sessions.reading() as session:
            return list(session.scalars(query))

    def advance(self, attempt_id: int, state: JournalState) -> None:
        """Commit the attempt's new journal state (before the irreversible act it names)."""
        check_advance(state)
        self._sessions.write_journal(lambda connection: advance_open_attempt(connection, attempt_id, state))

    def set_attempt_fields(
        self,
        attempt_id: int,
        *,
        device_id: str | Unset | None = UNSET,
        probe_id: str | Unset | None = UNSET,
        image_hashes: Sequence[str] | Unset = UNSET,
        certificate_fingerprint: str | Unset | None = UNSET,
        token_fingerprint: str | Unset | None = UNSET,
        console_transcript: str | Unset = UNSET,
        is_rework: bool | Unset = UNSET,
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
                require_open_attempt(connection, attempt_id)
                return
            statement = (
                update(Attempt)
                .where(Attempt.id == attempt_id, Attempt.result == AttemptResult.IN_PROGRESS.value)
                .values(values)
                .returning(Attempt.unit_id)
            )
            if isinstance(device_id, str):  # the claim on the device: another open attempt may hold it
                try:
                    with connection.begin_nested():
                        changed = connection.execute(statement).first()
                except IntegrityError:
                    raise _device_in_progress(connection, device_id) from None
            else:
                changed = connection.execute(statement).first()
            if changed is None:
                require_open_attempt(connection, attempt_id)  # says why
                raise StoreError(f"attempt {attempt_id} cannot change")
            note_changed("attempts", attempt_id)
            if isinstance(device_id, str):  # the unit learns its device id from its first attempt
                learned = connection.execute(
                    update(Unit).where(Unit.id == changed.unit_id, Unit.device_id.is_(None)).values(device_id=device_id)
                )
                if learned.rowcount:
                    note_changed("units", changed.unit_id)

        self._sessions.write_journal(write)

    def append_transcript(self, attempt_id: int, text: str) -> None:
        """Add console text (already free of secrets) to the attempt's transcript."""
        with self._sessions.writing() as session:
            row = open_attempt(session, attempt_id)
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
        if result not in FINAL_STATES:
            raise StoreError(f"an attempt cannot finish as {result}")
        if result is AttemptResult.PASSED and (failure_step or failure_code or failure_message):
            raise StoreError("a PASSED attempt carries no failure")
        if result is AttemptResult.FAILED and not failure_code:
            raise StoreError("a FAILED attempt needs a failure code")
        ended = moment(at)
        with self._sessions.writing() as session:
            row = open_attempt(session, attempt_id)
            row.result = result.value
            row.state = FINAL_STATES[result].value
            row.failure_step = failure_step
            row.failure_code = failure_code
            row.failure_message = failure_message
            row.ended_at = ended
            # A step its try never finished (the process died in it) ends with the attempt.
            interrupted = session.execute(
                update(Step)
                .where(Step.attempt_id == attempt_id, Step.outcome == StepOutcome.RUNNING.value)
                .values(outcome=StepOutcome.FAILED.value, failure_code=failure_code or "INTERRUPTED",
                        detail="the attempt ended while this step ran", ended_at=ended)
                .returning(Step.id)
            ).scalars().all()  # fmt: skip
            for step_id in interrupted:
                note_changed("steps", step_id)
            try:
                session.flush()
            except IntegrityError:
                raise StoreError(
                    f"attempt {attempt_id} cannot pass: its unit or its device has passed already"
                ) from None
        return self.get_attempt(attempt_id)

    # The step and state writes below run for every step of every unit, several slots at once:
    # single Core statements (``station.store.step_journal``) on the journal's group commit.

    def start_step(self, attempt_id: int, name: str, *, at: datetime | None = None) -> StepRecord:
        started = moment(at)
        return self._sessions.write_journal(
            lambda connection: insert_running_step(connection, attempt_id, name, started)
        )

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
        end = StepEnd(outcome, detail, failure_code, advance_to)
        check_end(end)
        ended = moment(at)
        return self._sessions.write_journal(lambda connection: end_running_step(connection, step_id, end, ended))

    def finish_step_and_start(
        self, step_id: int, end: StepEnd, next_step: str, *, at: datetime | None = None
    ) -> tuple[StepRecord, StepRecord]:
        """Close a running step as ``end`` says and open the attempt's next step, in one
        transaction: the boundary between two steps is one commit. The next step's RUNNING
        row is still committed before that step acts. Returns (finished, started)."""
        check_end(end)
        when = moment(at)

        def write(connection: Connection) -> tuple[StepRecord, StepRecord]:
            finished = end_running_step(connection, step_id, end, when)
            return finished, insert_running_step(connection, finished.attempt_id, next_step, when)

        return self._sessions.write_journal(write)

    def skip_step(
        self, attempt_id: int, name: str, reason: str, *, advance_to: JournalState | None = None,
        at: datetime | None = None,
    ) -> StepRecord:  # fmt: skip
        """Record a step that does not run for this unit (SKIPPED, with why), in one transaction."""
        end = StepEnd(StepOutcome.SKIPPED, reason, None, advance_to)
        check_end(end)
        when = moment(at)

        def write(connection: Connection) -> StepRecord:
            started = insert_running_step(connection, attempt_id, name, when)
            return end_running_step(connection, started.id or 0, end, when)

        return self._sessions.write_journal(write)

    # -- reading ------------------------------------------------------------------------

    def get_attempt(self, attempt_id: int) -> AttemptRecord:
        with self._sessions.reading() as session:
            found = load_attempts(session, attempt_query().where(Attempt.id == attempt_id))
        if not found:
            raise StoreError(f"no attempt {attempt_id}")
        return found[0]

    def history(self, serial: str) -> list[AttemptRecord]:
        """Every attempt at a unit with its steps, oldest first."""
        with self._sessions.reading() as session:
            return load_attempts(session, attempt_query().where(Unit.serial == serial).order_by(Attempt.id))

    def latest_attempt(self, serial: str) -> AttemptRecord | None:
        with self._sessions.reading() as session:
            found = load_attempts(
                session, attempt_query().where(Unit.serial == serial).order_by(Attempt.id.desc()).limit(1)
            )
        return found[0] if found else None

    def unfinished_attempts(self, station: str | None = None) -> list[AttemptRecord]:
        """Attempts still IN_PROGRESS (a crash left them): the restarted station resolves each."""
        query = attempt_query().where(Attempt.result == AttemptResult.IN_PROGRESS.value)
        if station is not None:
            query = query.where(Station.name == station)
        with self._sessions.reading() as session:
            return load_attempts(session, query.order_by(Attempt.id))

    def count_attempts(self, wanted: AttemptFilter | None = None) -> int:
        conditions = filter_conditions(wanted or AttemptFilter())
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
        conditions = filter_conditions(wanted or AttemptFilter())
        columns = ATTEMPT_COLUMNS if with_transcripts else ATTEMPT_COLUMNS_WITHOUT_TRANSCRIPT
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
                    select(*STEP_COLUMNS).where(Step.attempt_id.in_(list(steps))).order_by(Step.attempt_id, Step.id)
                )
                for step_id, attempt_id, name, started, ended, outcome, detail, code in connection.execute(step_query):
                    steps[attempt_id].append(StepRecord(
                        id=step_id, attempt_id=attempt_id, name=name, started_at=started, ended_at=ended,
                        outcome=STEP_OUTCOMES[outcome], detail=detail or "", failure_code=code,
                    ))
                for row in rows:
                    yield attempt_from_row(row, steps[row.id])
                last = rows[-1]
                after = (last.unit_key, last.id)
                if len(rows) < batch_size:
                    return

    def iter_attempt_rows(
        self, wanted: AttemptFilter | None = None, *, batch_size: int = ROWS_CHUNK_SIZE
    ) -> Iterator[AttemptRow]:
        """Stream the CSV rows of matching attempts, in id order (``station.domain.export_row``).

        Each row has the cells of ``attempt_row()`` of the record ``iter_attempts`` would
        yield (an empty cell may be ``""`` where the record has None: the same in a CSV), built
        several times faster: on SQLite, SQL aggregates the steps, a reader thread fetches
        chunks of ``batch_size`` attempts while the caller formats, and no record is made
        (see ``station.store.fast_export``); elsewhere the rows come from the records.
        """
        wanted = wanted or AttemptFilter()
        if self._sessions.engine.dialect.name == "sqlite":
            yield from iter_rows(self._sessions, filter_conditions(wanted), batch_size)
        else:
            for attempt in self.iter_attempts(wanted, batch_size=batch_size, with_transcripts=False):
                yield attempt_row(attempt)
