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

import logging
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from station.domain.errors import (
    AccessError,
    LineDatabaseError,
    NoLeasedSerialError,
    SerialAllocationError,
    StationError,
    StoreError,
)
from station.domain.records import AttemptResult
from station.domain.scan import SerialRule
from station.domain.serial_numbers import (
    HELD_STATES,
    AllocatedSerialRecord,
    SerialCounts,
    SerialNumbering,
    SerialState,
    check_serial_for_recipe,
    parse_numbering,
)
from station.flow.credential_rules import serial_may_be_carried
from station.flow.ports import AttemptJournal, AuditTrail, CredentialJournal
from station.operations.people import SUPERVISOR, People
from station.store import Database
from station.store.line_serials import LeasedBlock, LineSerials

if TYPE_CHECKING:
    from station.operations.station import Station

LOG = logging.getLogger(__name__)

# A station leases this many numbers at a time: few trips to the line database, few numbers
# left idle in a lease when a station stops for good (another station takes an expired lease over).
DEFAULT_BLOCK_SIZE = 50
DEFAULT_LEASE = timedelta(hours=12)
# A serial allocated this recently with no attempt yet is left alone when settling at start.
UNSTARTED_GRACE = timedelta(minutes=5)


def _local_today() -> date:
    """The day at the station: a serial's year and week are the factory's, not UTC's."""
    return datetime.now().astimezone().date()


class SerialAllocator:
    """One station's serials: what the provisioning path calls for a work order with a rule
    (``flow.ports.SerialPool``).

    On a line (``line`` given), only the line database cuts blocks: the station leases one
    when fewer than half a block is left to it (so that it holds spare numbers when the line
    stops answering) and hands its serials out from its own database; alone, the station's
    database is the line."""

    def __init__(
        self, database: Database, people: People, audit: AuditTrail, *, station: str,
        block_size: int = DEFAULT_BLOCK_SIZE, lease: timedelta = DEFAULT_LEASE,
        today: Callable[[], date] = _local_today, line: LineSerials | None = None,
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
        self._line = line
        self._leasing = threading.Lock()  # one slot at a time asks the line for a block

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
        if self._line is not None:  # the line's rule first: the one every station takes
            self._line.set_rule(work_order, numbering, approved.name)
        stored = self._database.serials.set_rule(work_order, numbering, approved.name)
        self._audit.append_audit(approved.actor, "work-order.serial-rule",
                                 f"work order {work_order} serials: {stored.describe()}")  # fmt: skip
        return stored

    def has_rule(self, work_order: str) -> bool:
        """Whether ``work_order`` has a serial rule at this station (set here, or taken from the
        line with its first block)."""
        return self._database.serials.rule(work_order) is not None

    def allocate_for(self, work_order: str, recipe_rule: SerialRule | None = None) -> AllocatedSerialRecord:
        """The next serial of ``work_order`` for a unit at this station."""
        if self._line is not None:
            self._lease_when_low(work_order)
        return self._database.serials.allocate(
            work_order, self.station, day=self._today(), block_size=self._block_size, lease=self._lease,
            recipe_rule=recipe_rule, cut_blocks=self._line is None,
        )  # fmt: skip

    def allocate_serial(self, work_order: str, recipe_rule: SerialRule | None = None) -> str:
        """``flow.ports.SerialPool``: the text of the next serial (``allocate_for``)."""
        return self.allocate_for(work_order, recipe_rule).serial

    def _lease_when_low(self, work_order: str) -> None:
        """Lease a block from the line when less than half a block is left here; a line that does
        not answer is fine while numbers are left (NoLeasedSerialError when none is)."""
        assert self._line is not None
        with self._leasing:
            spare = self._database.serials.spare(work_order, self.station)
            if spare * 2 >= self._block_size:
                return
            try:
                if self._adopt_unrecorded(work_order):
                    spare = self._database.serials.spare(work_order, self.station)
                    if spare * 2 >= self._block_size:
                        return
                block = self._line.lease_block(work_order, self.station, self._block_size)
            except (LineDatabaseError, SerialAllocationError) as error:
                if spare > 0:  # the line away, or its range leased out: what is left here first
                    LOG.warning("serials of %s: no block from the line (%s); %d left here", work_order, error, spare)
                    return
                if not isinstance(error, LineDatabaseError):
                    raise
                raise NoLeasedSerialError(
                    f"station {self.station} has no serial of work order {work_order} left and the line database "
                    f"does not lease more ({error})"
                ) from None
            self._record_block(block)

    def _adopt_unrecorded(self, work_order: str) -> bool:
        """Record the blocks the line leased to this station that its database does not hold (it
        stopped between the lease and recording it): their numbers are this station's, not lost."""
        assert self._line is not None
        held = self._database.serials.block_starts(work_order, self.station)
        adopted = [block for block in self._line.blocks(work_order)
                   if block.station == self.station and block.first not in held]  # fmt: skip
        for block in adopted:
            LOG.warning("serials of %s: %d..%d leased to this station, not recorded here: taken now", work_order,
                        block.first, block.last)  # fmt: skip
            self._record_block(block)
        return bool(adopted)

    def _record_block(self, block: LeasedBlock) -> None:
        """The line's lease, in this station's database (and its chain, which the line receives)."""
        serials, line_actor = self._database.serials, f"line:{self.station}"
        serials.add_leased_block(block.work_order, block.numbering, block.first, block.last, self.station,
                                 self._lease, leased_by=line_actor)  # fmt: skip
        self._audit.append_audit(
            f"station:{self.station}", "serial.block-leased",
            f"work order {block.work_order}: serials {block.first}..{block.last} leased from the line database",
        )  # fmt: skip

    def bind(self, serial: str, attempt_id: int, device_id: str) -> AllocatedSerialRecord:
        """The unit is connected and its device id read: the serial is its own from now on."""
        return self._database.serials.bind(serial, self.station, attempt_id, device_id)

    def holds(self, serial: str) -> bool:
        """Whether this station handed ``serial`` out and has not settled it (allocated or bound)."""
        record = self._database.serials.get(serial)
        return record is not None and record.station == self.station and record.state in HELD_STATES

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

    def settle_left_over(self, journal: AttemptJournal, credentials: CredentialJournal) -> list[AllocatedSerialRecord]:
        """Settle the serials a crash left allocated or bound, by their attempt's end in the
        journal: a passed unit's is used; one whose unit failed before it may carry its
        credential returns to the pool; one whose attempt is still open (or may be on a locked
        unit) is left as it is. Called at start, after recovery settled the open attempts."""
        settled = []
        now = datetime.now(UTC)
        for held in self._database.serials.held(self.station):
            try:
                record = self._settle(held, journal, credentials, now)
            except StationError as error:  # one serial's trouble does not keep the station from starting
                LOG.error("serial %s: not settled at start (%s)", held.serial, error)
                continue
            if record is not None:
                settled.append(record)
        return settled

    def _settle(
        self, held: AllocatedSerialRecord, journal: AttemptJournal, credentials: CredentialJournal, now: datetime
    ) -> AllocatedSerialRecord | None:
        attempt = journal.latest_attempt(held.serial)
        if attempt is None:
            if now - held.changed_at >= UNSTARTED_GRACE:  # younger: another process may be starting it
                return self.release(held.serial)
            return None
        if attempt.result is AttemptResult.IN_PROGRESS:
            return None
        if held.state is SerialState.ALLOCATED and attempt.started_at < held.allocated_at:
            LOG.error("serial %s was used by attempt %s before it was allocated: left for a supervisor to scrap",
                      held.serial, attempt.id)  # fmt: skip
            return None
        if attempt.result is AttemptResult.PASSED:
            return self.mark_used(held.serial) if held.state is SerialState.BOUND else None
        if serial_may_be_carried(credentials, held.serial, attempt.result):
            return None
        return self.release(held.serial)

    def allocation_counts(self, work_order: str) -> SerialCounts:
        """Allocated, bound, used, returned, scrapped and free serials of ``work_order``."""
        return self._database.serials.counts(work_order)


def serial_allocator(station: Station) -> SerialAllocator:
    """The serial allocator of a built station (its database, people and audit trail; the line
    database's leases when the station is on a line)."""
    if station.serials is not None:
        return station.serials
    return SerialAllocator(station.database, station.people, station.audit, station=station.name)
