"""Supervisors' inspections: what a person found on a unit that recovery could not ask.

An attempt that recovery closed as NEEDS_INSPECTION (the unit may be locked and could not be
reached) waits for a supervisor. The finding is a record of its own, one per attempt, kept
beside the attempt and never parsed back out of the audit log's text.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from station.domain.errors import StoreError
from station.domain.records import AttemptRecord, AttemptResult, InspectionRecord
from station.store.attempt_queries import attempt_query, load_attempts
from station.store.models import Attempt, Inspection, Station
from station.store.repository_helpers import moment
from station.store.session import Sessions


class InspectionRepository:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    def record(self, attempt_id: int, supervisor: str, note: str, *, at: datetime | None = None) -> InspectionRecord:
        """Record a supervisor's finding on an attempt waiting for inspection (once per attempt)."""
        recorded = moment(at)
        with self._sessions.writing() as session:
            attempt = session.get(Attempt, attempt_id)
            if attempt is None:
                raise StoreError(f"no attempt {attempt_id}")
            if attempt.result != AttemptResult.NEEDS_INSPECTION:
                raise StoreError(f"attempt {attempt_id} is {attempt.result}: it does not wait for an inspection")
            if session.scalars(select(Inspection.id).where(Inspection.attempt_id == attempt_id)).first() is not None:
                raise StoreError(f"attempt {attempt_id} was inspected already")
            row = Inspection(attempt_id=attempt_id, supervisor=supervisor, note=note, recorded_at=recorded)
            try:
                with session.begin_nested():
                    session.add(row)
            except IntegrityError as error:
                raise StoreError(f"attempt {attempt_id} was inspected already") from error
            return _inspection(row)

    def for_attempt(self, attempt_id: int) -> InspectionRecord | None:
        with self._sessions.reading() as session:
            row = session.scalars(select(Inspection).where(Inspection.attempt_id == attempt_id)).first()
            return None if row is None else _inspection(row)

    def pending(self, station: str | None = None) -> list[AttemptRecord]:
        """Attempts waiting for a supervisor's inspection (of one station when given), oldest first."""
        inspected = select(Inspection.attempt_id)
        query = attempt_query().where(
            Attempt.result == AttemptResult.NEEDS_INSPECTION.value, Attempt.id.not_in(inspected)
        )
        if station is not None:
            query = query.where(Station.name == station)
        with self._sessions.reading() as session:
            return load_attempts(session, query.order_by(Attempt.id))


def _inspection(row: Inspection) -> InspectionRecord:
    return InspectionRecord(
        attempt_id=row.attempt_id, supervisor=row.supervisor, note=row.note, recorded_at=row.recorded_at
    )
