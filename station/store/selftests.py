"""Golden units' references and station self-tests.

Marking a golden unit sets the unit's flag and records its reference in one transaction, so
the chain holds both or neither. References are never changed: a new marking adds one, and
unmarking (``UnitRepository.set_golden``) keeps them all. A self-test is one row with each
check's outcome, written once when it ends.
"""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from station.domain.errors import StoreError
from station.domain.records import UnitRecord
from station.domain.selftest import (
    ConsoleIdentity,
    GoldenReference,
    ImageHash,
    SelfTestCheck,
    SelfTestRecord,
    SelfTestResult,
    checks_from_text,
    checks_to_text,
    failure_reason,
)
from station.store.models import GoldenReference as ReferenceRow
from station.store.models import Operator, Recipe, SelfTest, Station, Unit
from station.store.repository_helpers import DEFAULT_OPERATOR_ROLE, get_or_create, moment
from station.store.session import Sessions
from station.store.units import unit_record


class SelfTestRepository:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    # ---- references --------------------------------------------------------------------------

    def mark_golden(self, reference: GoldenReference, *, at: datetime | None = None) -> tuple[UnitRecord,
                                                                                               GoldenReference]:
        """Make the unit ``reference.serial`` golden and record its reference, in one transaction."""
        recorded = moment(at)
        with self._sessions.writing() as session:
            unit = session.scalars(select(Unit).where(Unit.serial == reference.serial)).first()
            if unit is None:
                raise StoreError(f"no unit with serial {reference.serial!r}")
            unit.is_golden = True
            if unit.device_id is None:
                unit.device_id = reference.device_id
            row = ReferenceRow(
                unit_id=unit.id, device_id=reference.device_id,
                image_hashes=json.dumps([str(image) for image in reference.images]), locked=reference.locked,
                console_identity=json.dumps(reference.console.to_json(), sort_keys=True), source=reference.source,
                recorded_by=reference.recorded_by, recorded_at=recorded,
            )  # fmt: skip
            session.add(row)
            session.flush()
            return unit_record(unit), _reference(row, unit.serial)

    def current_reference(self, serial: str) -> GoldenReference | None:
        """The newest reference of a unit that is golden now; None for any other unit."""
        with self._sessions.reading() as session:
            found = session.execute(
                select(ReferenceRow, Unit.serial).join(Unit, Unit.id == ReferenceRow.unit_id)
                .where(Unit.serial == serial, Unit.is_golden.is_(True))
                .order_by(ReferenceRow.id.desc()).limit(1)
            ).first()  # fmt: skip
            return None if found is None else _reference(found[0], found[1])

    def references(self, serial: str) -> list[GoldenReference]:
        """Every reference a unit ever had, oldest first (marked, unmarked and marked again)."""
        with self._sessions.reading() as session:
            rows = session.execute(
                select(ReferenceRow, Unit.serial).join(Unit, Unit.id == ReferenceRow.unit_id)
                .where(Unit.serial == serial).order_by(ReferenceRow.id)
            ).all()  # fmt: skip
            return [_reference(row, unit_serial) for row, unit_serial in rows]

    def golden_units(self) -> list[tuple[str, str | None]]:
        """(serial, device id) of every unit that is golden now, by serial."""
        with self._sessions.reading() as session:
            rows = session.execute(select(Unit.serial, Unit.device_id).where(Unit.is_golden.is_(True))
                                   .order_by(Unit.serial)).all()  # fmt: skip
            return [(serial, device_id) for serial, device_id in rows]

    # ---- self-tests --------------------------------------------------------------------------

    def record_selftest(
        self,
        *,
        station: str,
        operator: str,
        reference: GoldenReference,
        recipe_hash: str,
        probe_id: str,
        device_id: str | None,
        checks: tuple[SelfTestCheck, ...],
        started_at: datetime,
        ended_at: datetime | None = None,
    ) -> SelfTestRecord:
        """Record a finished self-test: PASSED when every check passed, else FAILED with the reason."""
        if reference.id is None:
            raise StoreError("a self-test needs the recorded reference it compared with")
        started, ended = moment(started_at), moment(ended_at)
        result = SelfTestResult.PASSED if all(check.passed for check in checks) else SelfTestResult.FAILED
        with self._sessions.writing() as session:
            if session.scalars(select(Recipe.id).where(Recipe.sha256 == recipe_hash)).first() is None:
                raise StoreError(f"recipe {recipe_hash} is not recorded; record the recipe before using it")
            reference_row = session.get(ReferenceRow, reference.id)
            if reference_row is None:
                raise StoreError(f"no golden reference {reference.id}")
            station_row = get_or_create(session, Station, Station.name == station, name=station, description="",
                                        created_at=started)  # fmt: skip
            operator_row = get_or_create(session, Operator, Operator.name == operator, name=operator,
                                         role=DEFAULT_OPERATOR_ROLE, created_at=started)  # fmt: skip
            row = SelfTest(
                station_id=station_row.id, operator_id=operator_row.id, unit_id=reference_row.unit_id,
                reference_id=reference.id, recipe_hash=recipe_hash, probe_id=probe_id, device_id=device_id,
                result=result.value, checks=checks_to_text(checks), reason=failure_reason(checks),
                started_at=started, ended_at=ended,
            )  # fmt: skip
            session.add(row)
            session.flush()
            return _selftest(session, row)

    def latest_passed(self, station: str, recipe_hash: str, since: datetime) -> SelfTestRecord | None:
        """This station's newest passed self-test with this recipe that ended at or after ``since``."""
        query = (
            select(SelfTest).join(Station, Station.id == SelfTest.station_id)
            .where(Station.name == station, SelfTest.recipe_hash == recipe_hash,
                   SelfTest.result == SelfTestResult.PASSED.value, SelfTest.ended_at >= moment(since))
            .order_by(SelfTest.ended_at.desc(), SelfTest.id.desc()).limit(1)
        )  # fmt: skip
        with self._sessions.reading() as session:
            row = session.scalars(query).first()
            return None if row is None else _selftest(session, row)

    def selftests(self, *, station: str | None = None, serial: str | None = None, limit: int = 100
                  ) -> list[SelfTestRecord]:  # fmt: skip
        """Self-tests, newest first (of one station, of one golden unit, when given)."""
        query = select(SelfTest)
        if station is not None:
            query = query.join(Station, Station.id == SelfTest.station_id).where(Station.name == station)
        if serial is not None:
            query = query.join(Unit, Unit.id == SelfTest.unit_id).where(Unit.serial == serial)
        with self._sessions.reading() as session:
            rows = session.scalars(query.order_by(SelfTest.id.desc()).limit(limit)).all()
            return [_selftest(session, row) for row in rows]


def _reference(row: ReferenceRow, serial: str) -> GoldenReference:
    return GoldenReference(
        serial=serial, device_id=row.device_id,
        images=tuple(ImageHash.parse(text) for text in json.loads(row.image_hashes or "[]")), locked=row.locked,
        console=ConsoleIdentity.from_json(json.loads(row.console_identity or "{}")), source=row.source,
        recorded_by=row.recorded_by, recorded_at=row.recorded_at, id=row.id,
    )  # fmt: skip


def _selftest(session: Session, row: SelfTest) -> SelfTestRecord:
    station = session.get(Station, row.station_id)
    operator = session.get(Operator, row.operator_id)
    unit = session.get(Unit, row.unit_id)
    return SelfTestRecord(
        id=row.id, station=station.name if station else "", operator=operator.name if operator else "",
        serial=unit.serial if unit else "", reference_id=row.reference_id, recipe_hash=row.recipe_hash,
        probe_id=row.probe_id, device_id=row.device_id, result=SelfTestResult(row.result),
        checks=checks_from_text(row.checks), reason=row.reason, started_at=row.started_at, ended_at=row.ended_at,
    )  # fmt: skip
