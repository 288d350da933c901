"""Units by serial: first sight, development (ever erased) and golden (reference) flags."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from station.domain.errors import StoreError
from station.domain.records import UnitRecord
from station.store.models import Attempt, Unit, utc_now
from station.store.repository_helpers import get_or_create, moment
from station.store.session import Sessions


class UnitRepository:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    def get_unit(self, serial: str) -> UnitRecord | None:
        with self._sessions.reading() as session:
            row = session.scalars(select(Unit).where(Unit.serial == serial)).first()
            return None if row is None else unit_record(row)

    def get_or_create_unit(
        self, serial: str, device_id: str | None = None, *, at: datetime | None = None
    ) -> UnitRecord:
        """The unit with this serial, created on first sight; a device id fills in a missing one."""
        with self._sessions.writing() as session:
            return unit_record(unit_row(session, serial, device_id, moment(at)))

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
            row = unit_row(session, serial, None, utc_now())
            row.is_development = True
            return unit_record(row)

    def golden_serials(self) -> frozenset[str]:
        """Serials of the reference units (few): reports leave them out of yield."""
        with self._sessions.reading() as session:
            return frozenset(session.scalars(select(Unit.serial).where(Unit.is_golden.is_(True))))

    def set_golden(self, serial: str, golden: bool = True) -> UnitRecord:
        """Mark (or unmark) a reference unit used to check the station, not shipped product."""
        with self._sessions.writing() as session:
            row = unit_row(session, serial, None, utc_now())
            row.is_golden = golden
            return unit_record(row)


def unit_row(session: Session, serial: str, device_id: str | None, at: datetime) -> Unit:
    if not serial:
        raise StoreError("a unit needs a serial number")
    row = get_or_create(session, Unit, Unit.serial == serial, serial=serial, device_id=device_id,
                         first_seen_at=at, is_golden=False, is_development=False)
    if row.device_id is None and device_id is not None:
        row.device_id = device_id
    return row


def unit_record(row: Unit) -> UnitRecord:
    return UnitRecord(serial=row.serial, device_id=row.device_id, first_seen_at=row.first_seen_at,
                      is_golden=row.is_golden, is_development=row.is_development)
