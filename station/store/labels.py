"""Label jobs: the record of each label printed (or waiting to be) for a passed attempt.

A first label is created only for an attempt the database holds as PASSED, checked in the
transaction that inserts it; the partial unique index ``ux_label_jobs_first_label`` allows one
per attempt, whichever process asks. Any further label is a reprint: it names the job it
repeats and the supervisor who approved it, and its audit event is sealed in the same
transaction. Every row is in the chain (``station.store.chain.CHAINED_TABLES``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from station.domain.errors import LabelError, StoreError
from station.domain.label import LabelJobRecord, LabelState
from station.domain.records import AttemptResult
from station.store.chain import note_event
from station.store.models import Attempt, LabelJob, Unit
from station.store.repository_helpers import moment
from station.store.session import Sessions

LAST_ERROR_MAX_CHARACTERS = 500
# A claim older than this was left by a process that died while sending: the job may be sent again.
CLAIM_STALE_AFTER = timedelta(minutes=2)


class LabelJobRepository:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    def create(self, attempt_id: int, printer: str, *, at: datetime | None = None) -> LabelJobRecord:
        """The attempt's first label, pending. LabelError if the attempt is not PASSED or has its
        label already (a second one is a supervisor's reprint)."""
        with self._sessions.writing() as session:
            attempt = self._passed_attempt(session, attempt_id)
            if self._first_job(session, attempt_id) is not None:
                raise LabelError(f"attempt {attempt_id} has its label already; another needs a supervisor's reprint")
            row = LabelJob(attempt_id=attempt_id, serial=self._serial(session, attempt), printer=printer,
                           state=LabelState.PENDING.value, tries=0, created_at=moment(at))  # fmt: skip
            try:
                with session.begin_nested():
                    session.add(row)
            except IntegrityError as error:  # another process made it between the check and the insert
                raise LabelError(f"attempt {attempt_id} has its label already") from error
            return _record(row)

    def create_reprint(
        self, attempt_id: int, printer: str, supervisor: str, *, actor: str, at: datetime | None = None
    ) -> LabelJobRecord:
        """Another label for a passed attempt that has one, approved by ``supervisor`` (whose PIN
        the caller checked), audited in the same transaction."""
        with self._sessions.writing() as session:
            attempt = self._passed_attempt(session, attempt_id)
            first = self._first_job(session, attempt_id)
            if first is None:
                raise LabelError(f"attempt {attempt_id} has no label yet: there is nothing to reprint")
            row = LabelJob(attempt_id=attempt_id, serial=self._serial(session, attempt), printer=printer,
                           state=LabelState.PENDING.value, tries=0, created_at=moment(at), reprint_of=first.id,
                           supervisor=supervisor)  # fmt: skip
            session.add(row)
            session.flush()
            note_event(actor, "label.reprint", f"attempt {attempt_id} {row.serial}: label job {row.id} reprints "
                                               f"job {first.id}, approved by {supervisor}")  # fmt: skip
            return _record(row)

    def claim(self, job_id: int, *, stale_after: timedelta = CLAIM_STALE_AFTER,
              at: datetime | None = None) -> LabelJobRecord | None:  # fmt: skip
        """Take a pending job to send it, so that no other process (another slot, another station
        retrying) sends it too; None when it is not pending, or another process's claim is fresh.
        A claim older than ``stale_after`` was left by a process that died while sending."""
        now = moment(at)
        with self._sessions.writing() as session:
            row = session.get(LabelJob, job_id, with_for_update=True)
            if row is None:
                raise StoreError(f"no label job {job_id}")
            stale = row.state == LabelState.PRINTING.value and (row.claimed_at is None
                                                                or row.claimed_at < now - stale_after)  # fmt: skip
            if row.state != LabelState.PENDING.value and not stale:
                return None
            row.state, row.claimed_at = LabelState.PRINTING.value, now
            return _record(row)

    def mark_printed(self, job_id: int, zpl_sha256: str, *, at: datetime | None = None) -> LabelJobRecord:
        """The printer took the label: once; a job printed already is refused."""
        with self._sessions.writing() as session:
            row = self._pending(session, job_id)
            row.state, row.tries, row.zpl_sha256 = LabelState.PRINTED.value, row.tries + 1, zpl_sha256
            row.printed_at, row.last_error = moment(at), None
            return _record(row)

    def mark_try_failed(
        self, job_id: int, error: str, zpl_sha256: str | None, *, give_up: bool = False
    ) -> LabelJobRecord:
        """A try that did not print: the job stays pending (``give_up``: failed for good)."""
        with self._sessions.writing() as session:
            row = self._pending(session, job_id)
            row.tries += 1
            row.last_error = error[:LAST_ERROR_MAX_CHARACTERS]
            row.zpl_sha256 = zpl_sha256 or row.zpl_sha256
            row.state = LabelState.FAILED.value if give_up else LabelState.PENDING.value
            row.claimed_at = None
            return _record(row)

    def get(self, job_id: int) -> LabelJobRecord | None:
        with self._sessions.reading() as session:
            row = session.get(LabelJob, job_id)
            return None if row is None else _record(row)

    def pending(self) -> list[LabelJobRecord]:
        """Jobs the printer has not taken yet, oldest first."""
        with self._sessions.reading() as session:
            waiting = (LabelState.PENDING.value, LabelState.PRINTING.value)
            rows = session.scalars(select(LabelJob).where(LabelJob.state.in_(waiting)).order_by(LabelJob.id))
            return [_record(row) for row in rows]

    def for_serial(self, serial: str) -> list[LabelJobRecord]:
        """Every label job of a unit's attempts, oldest first."""
        with self._sessions.reading() as session:
            rows = session.scalars(select(LabelJob).where(LabelJob.serial == serial).order_by(LabelJob.id))
            return [_record(row) for row in rows]

    # ---- inside a transaction ----------------------------------------------------------------------

    @staticmethod
    def _passed_attempt(session: Session, attempt_id: int) -> Attempt:
        attempt = session.get(Attempt, attempt_id)
        if attempt is None:
            raise StoreError(f"no attempt {attempt_id}")
        if attempt.result != AttemptResult.PASSED.value:
            raise LabelError(f"attempt {attempt_id} is {attempt.result}: only a passed unit gets a label")
        return attempt

    @staticmethod
    def _first_job(session: Session, attempt_id: int) -> LabelJob | None:
        query = select(LabelJob).where(LabelJob.attempt_id == attempt_id, LabelJob.reprint_of.is_(None))
        return session.scalars(query).first()

    @staticmethod
    def _serial(session: Session, attempt: Attempt) -> str:
        unit = session.get(Unit, attempt.unit_id)
        assert unit is not None  # a foreign key
        return unit.serial

    @staticmethod
    def _pending(session: Session, job_id: int) -> LabelJob:
        row = session.get(LabelJob, job_id, with_for_update=True)
        if row is None:
            raise StoreError(f"no label job {job_id}")
        if row.state not in (LabelState.PENDING.value, LabelState.PRINTING.value):
            raise LabelError(f"label job {job_id} is {row.state}, not pending: it is not printed again")
        return row


def _record(row: LabelJob) -> LabelJobRecord:
    return LabelJobRecord(
        id=row.id, attempt_id=row.attempt_id, serial=row.serial, printer=row.printer, state=LabelState(row.state),
        tries=row.tries, created_at=row.created_at, last_error=row.last_error, zpl_sha256=row.zpl_sha256,
        printed_at=row.printed_at, reprint_of=row.reprint_of, supervisor=row.supervisor,
    )  # fmt: skip
