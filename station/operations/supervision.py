"""A supervisor's decisions besides rework: inspections after a restart, golden units, and how
many units a work order may make.

Recovery leaves an attempt for inspection when the unit may be locked and could not be asked
(MAY_BE_LOCKED): a supervisor looks at the unit and records what they found, which settles
it. A golden unit is a reference board used to check the station; reports leave it out of
yield. Each needs the supervisor's PIN, from the window and from the command line alike, and
all are recorded: the finding as an inspection record, every decision in the audit log.

Marking a golden unit records its reference with it (``station.operations.selftests``): read
from the unit on a probe when one is given, else from the unit's PASS attempt. Unmarking keeps
every reference and self-test; marking again records a new reference.

A work order's quantity caps it (``station.store.work_orders``): the unit after the last is
refused before it is touched (WORK_ORDER_COMPLETE). Raising it lets more units through, so it
is a supervisor's decision too.
"""

from __future__ import annotations

from station.config.settings import SlotSettings
from station.domain.errors import AccessError, StoreError
from station.domain.records import AttemptRecord, InspectionRecord, UnitRecord, WorkOrderRecord
from station.flow.ports import AuditTrail
from station.operations.people import SUPERVISOR, People
from station.operations.selftests import SelfTests
from station.store import Database


class Supervision:
    def __init__(
        self, database: Database, people: People, audit: AuditTrail, selftests: SelfTests, *, station: str
    ) -> None:
        self._database = database
        self._people = people
        self._audit = audit
        self._selftests = selftests
        self.station = station

    def pending_inspections(self) -> list[AttemptRecord]:
        """This station's attempts waiting for a supervisor's inspection, oldest first."""
        return self._database.inspections.pending(self.station)

    def acknowledge_inspection(self, attempt_id: int, note: str, supervisor: str, pin: str) -> InspectionRecord:
        """Record what the inspection of ``attempt_id`` found; it then waits no more."""
        note = " ".join(note.split())
        if not note:
            raise AccessError("say what the inspection found")
        approved = self._people.approve(supervisor, pin, SUPERVISOR, f"inspection of attempt {attempt_id}")
        record = self._database.inspections.record(attempt_id, approved.name, note)
        attempt = self._database.attempts.get_attempt(attempt_id)
        self._audit.append_audit(
            approved.actor, "inspection.acknowledge", f"attempt {attempt_id} ({attempt.serial}) inspected: {note}"
        )
        return record

    def mark_golden(
        self, serial: str, supervisor: str, pin: str, *, golden: bool = True, slot: SlotSettings | None = None
    ) -> UnitRecord:
        """Mark (or unmark) a unit as a golden reference unit; it must have been provisioned here.
        Marking records its reference: read from the unit on ``slot`` when given, else taken from
        its PASS attempt (GoldenReferenceError when neither can be had; nothing is marked then)."""
        if self._database.units.get_unit(serial) is None:
            raise StoreError(f"no unit with serial {serial!r}: a golden unit is one the station has provisioned")
        doing = "golden marking" if golden else "golden unmarking"
        approved = self._people.approve(supervisor, pin, SUPERVISOR, f"{doing} of {serial}")
        if not golden:
            record = self._database.units.set_golden(serial, False)
            self._audit.append_audit(approved.actor, "unit.golden-removed",
                                     f"serial {serial} is no longer a golden reference unit")  # fmt: skip
            return record
        if slot is not None:
            reference = self._selftests.reference_from_unit(serial, slot, approved.name)
        else:
            reference = self._selftests.reference_from_record(serial, approved.name)
        record, stored = self._database.selftests.mark_golden(reference)
        self._audit.append_audit(
            approved.actor, "unit.golden",
            f"serial {serial} is a golden reference unit; reference {stored.id} (device {stored.device_id}, "
            f"{'locked' if stored.locked else 'unlocked'}) read from {stored.source}",
        )  # fmt: skip
        return record

    def set_work_order_quantity(
        self, code: str, quantity: int, supervisor: str, pin: str, *, product: str | None = None
    ) -> tuple[WorkOrderRecord, int]:
        """Cap the work order ``code`` (created if new) at ``quantity`` units; the record and how
        many places are taken. A quantity below the units already passed or in progress is refused."""
        code = code.strip()
        if not code:
            raise StoreError("a work order needs a code")
        if quantity < 1:
            raise StoreError(f"a work order's quantity is at least 1, not {quantity}")
        approved = self._people.approve(supervisor, pin, SUPERVISOR, f"quantity of work order {code}")
        before = self._database.registry.get_work_order(code)
        record, taken = self._database.registry.set_work_order_quantity(code, quantity, product=product)
        was = "none" if before is None or before.quantity is None else str(before.quantity)
        self._audit.append_audit(
            approved.actor, "work-order.quantity",
            f"work order {code} quantity {quantity} (was {was}); product {record.product or '-'}; "
            f"{taken} units passed or in progress",
        )  # fmt: skip
        return record, taken
