"""Serial numbers allocated from a work order, for units that arrive without a label.

A work order may carry a serial rule (``station.domain.serial_numbers``). A station then takes
serials from blocks it leases from the line database (``station.store.serial_allocation``):
the operator scans the fixture (no label), the station allocates the next serial
(``allocate_for``), binds it to the unit once the unit is connected and its device id read
(``bind``), and either uses it when the unit passes (``mark_used``) or returns it to its pool
when the unit fails before passing (``release``): the next unit gets it. Nothing else makes a
serial disappear but a supervisor's scrap, approved with their PIN and audited.

Setting a work order's rule is a supervisor's decision too; when a recipe is given, the rule's
first and last serials must satisfy its scan rule (a unit labelled with one scans as itself).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from station.domain.errors import AccessError, StoreError
from station.domain.scan import SerialRule
from station.domain.serial_numbers import (
    AllocatedSerialRecord,
    SerialCounts,
    SerialNumbering,
    check_serial_for_recipe,
    parse_numbering,
)
from station.flow.ports import AuditTrail
from station.operations.people import SUPERVISOR, People
from station.operations.station import Station
from station.store import Database

# A station leases this many numbers at a time: few trips to the line database, few numbers
# left idle in a lease when a station stops for good (another station takes an expired lease over).
DEFAULT_BLOCK_SIZE = 50
DEFAULT_LEASE = timedelta(hours=12)


def _local_today() -> date:
    """The day at the station: a serial's year and week are the factory's, not UTC's."""
    return datetime.now().astimezone().date()


class SerialAllocator:
    """One station's serials: what the provisioning path calls for a work order with a rule."""

    def __init__(
        self, database: Database, people: People, audit: AuditTrail, *, station: str,
        block_size: int = DEFAULT_BLOCK_SIZE, lease: timedelta = DEFAULT_LEASE,
        today: Callable[[], date] = _local_today,
    ) -> None:  # fmt: skip
        if block_size < 1:
            raise StoreError(f"a block of serials holds at least 1 number, not {block_size}")
        self._database = database
        self._people = people
        self._audit = audit
        self.station = station
        self._block_size = block_size
        self._lease = lease
        self._today = today

    def set_rule(
        self, work_order: str, template: str, first: int, last: int, supervisor: str, pin: str, *,
        check_digit: str = "none", recipe_rule: SerialRule | None = None,
    ) -> SerialNumbering:  # fmt: skip
        """Give ``work_order`` its serial rule (checked before the PIN is asked for)."""
        work_order = work_order.strip()
        if not work_order:
            raise StoreError("a work order needs a code")
        numbering = parse_numbering(template, first, last, check_digit)
        if recipe_rule is not None:
            for seq in (numbering.first, numbering.last):
                check_serial_for_recipe(numbering.render(seq, self._today()), recipe_rule)
        approved = self._people.approve(supervisor, pin, SUPERVISOR, f"serial rule of work order {work_order}")
        stored = self._database.serials.set_rule(work_order, numbering, approved.name)
        self._audit.append_audit(approved.actor, "work-order.serial-rule",
                                 f"work order {work_order} serials: {stored.describe()}")  # fmt: skip
        return stored

    def allocate_for(self, work_order: str, recipe_rule: SerialRule | None = None) -> AllocatedSerialRecord:
        """The next serial of ``work_order`` for a unit at this station."""
        return self._database.serials.allocate(
            work_order, self.station, day=self._today(), block_size=self._block_size, lease=self._lease,
            recipe_rule=recipe_rule,
        )  # fmt: skip

    def bind(self, serial: str, attempt_id: int, device_id: str) -> AllocatedSerialRecord:
        """The unit is connected and its device id read: the serial is its own from now on."""
        return self._database.serials.bind(serial, self.station, attempt_id, device_id)

    def release(self, serial: str) -> AllocatedSerialRecord:
        """The unit failed before passing: the serial returns to this station's pool."""
        return self._database.serials.release(serial, self.station)

    def mark_used(self, serial: str) -> AllocatedSerialRecord:
        """The unit passed: the serial ships with it."""
        return self._database.serials.mark_used(serial, self.station)

    def scrap(self, serial: str, supervisor: str, pin: str, reason: str) -> AllocatedSerialRecord:
        """Take ``serial`` out for good (a label printed and lost, a damaged unit): a supervisor's
        decision with a reason, audited."""
        reason = " ".join(reason.split())
        if not reason:
            raise AccessError("say why the serial is scrapped")
        if self._database.serials.get(serial) is None:
            raise StoreError(f"no serial {serial} was allocated")
        approved = self._people.approve(supervisor, pin, SUPERVISOR, f"scrap of serial {serial}")
        record = self._database.serials.scrap(serial, approved.name, reason)
        self._audit.append_audit(approved.actor, "serial.scrapped",
                                 f"serial {serial} of work order {record.work_order} scrapped: {reason}")  # fmt: skip
        return record

    def allocation_counts(self, work_order: str) -> SerialCounts:
        """Allocated, bound, used, returned, scrapped and free serials of ``work_order``."""
        return self._database.serials.counts(work_order)


def serial_allocator(station: Station) -> SerialAllocator:
    """The serial allocator of a built station (its database, people and audit trail)."""
    return SerialAllocator(station.database, station.people, station.audit, station=station.name)
