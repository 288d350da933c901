"""Attempts a page at a time, newest first: for tables that show a few rows of many (GUI history).

A table model asks for the number of matching attempts and then only for the rows it shows,
so a station with years of history opens its history view as fast as a new one. Console
transcripts are left out of pages (a row does not show them); ``AttemptRepository.history``
reads a unit's attempts in full when one is opened.
"""

from __future__ import annotations

from sqlalchemy import null, select

from station.domain.errors import StoreError
from station.domain.records import AttemptFilter, AttemptRecord
from station.store.attempt_queries import ATTEMPT_COLUMNS, filter_conditions, load_attempts
from station.store.database import Database
from station.store.models import Attempt, Operator, Station, Unit, WorkOrder

_PAGE_COLUMNS = (
    *(column for column in ATTEMPT_COLUMNS if column is not Attempt.console_transcript),
    null().label("console_transcript"),
)


class AttemptPages:
    """Paged, filtered reads of the attempt journal."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def count(self, wanted: AttemptFilter | None = None) -> int:
        return self._database.attempts.count_attempts(wanted)

    def page(
        self, wanted: AttemptFilter | None = None, *, offset: int = 0, limit: int = 100, newest_first: bool = True
    ) -> list[AttemptRecord]:
        """Matching attempts ``offset`` .. ``offset + limit`` with their steps, without transcripts."""
        if offset < 0 or limit < 1:
            raise StoreError("a page needs offset >= 0 and limit >= 1")
        query = (
            select(*_PAGE_COLUMNS)
            .join(Unit, Attempt.unit_id == Unit.id)
            .join(Station, Attempt.station_id == Station.id)
            .join(Operator, Attempt.operator_id == Operator.id)
            .outerjoin(WorkOrder, Attempt.work_order_id == WorkOrder.id)
            .where(*filter_conditions(wanted or AttemptFilter()))
            .order_by(Attempt.id.desc() if newest_first else Attempt.id)
            .offset(offset)
            .limit(limit)
        )
        with self._database._sessions.reading() as session:
            return load_attempts(session, query)

    def history(self, serial: str) -> list[AttemptRecord]:
        """Every attempt at a unit, with steps and transcripts, oldest first."""
        return self._database.attempts.history(serial)
