"""Serial numbers from a work order's range, leased to stations in blocks: none twice, none lost.

A station asking for a serial gets, in this order, within one write transaction:

1. a serial it returned earlier (its unit failed before passing), lowest number first;
2. the next free number of one of its own blocks (using a block renews its lease);
3. the free numbers and returned serials of another station's block whose lease expired
   (the block, with them, becomes this station's);
4. a new block from the work order's counter (``serial_rules.next_seq``), never past the
   range's last number: ``SerialRangeExhaustedError`` when nothing is left anywhere.

Concurrency: on PostgreSQL the rows a station takes are locked ``FOR UPDATE`` (another
station's expired blocks and the pool ``SKIP LOCKED``: a contended one is left for its taker),
and a new block is cut under the counter row's lock, so two stations never get overlapping
blocks. On SQLite the write transaction began with ``BEGIN IMMEDIATE`` and holds the one write
lock, which serialises the same steps. The database backs it: a serial's text is unique, a
running number is handed out once per work order, and a device carries at most one serial.

Only the station holding a serial binds, releases or uses it; a scrap is a supervisor's, from
any station (``station.operations.serials`` checks the PIN and audits it).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from station.domain.errors import (
    NoLeasedSerialError,
    SerialAllocationError,
    SerialRangeExhaustedError,
    StoreError,
)
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
from station.store.models import AllocatedSerial, SerialBlock, SerialRuleRow, Station, WorkOrder, utc_now
from station.store.repository_helpers import get_or_create, moment
from station.store.session import Sessions

_HELD = tuple(state.value for state in HELD_STATES)


class SerialAllocationRepository:
    def __init__(self, sessions: Sessions) -> None:
        self._sessions = sessions

    def set_rule(self, work_order: str, numbering: SerialNumbering, created_by: str) -> SerialNumbering:
        """Give ``work_order`` (created if new) its serial rule. The same rule again changes
        nothing; another one is refused once any number of it is leased."""
        with self._sessions.writing() as session:
            order = get_or_create(session, WorkOrder, WorkOrder.code == work_order, code=work_order, product=None,
                                  quantity=None, created_at=utc_now())  # fmt: skip
            session.flush()
            row = session.scalars(
                select(SerialRuleRow).where(SerialRuleRow.work_order_id == order.id).with_for_update()
            ).first()
            if row is None:
                session.add(SerialRuleRow(
                    work_order_id=order.id, template=numbering.template, first_seq=numbering.first,
                    last_seq=numbering.last, check_digit=numbering.check_digit.value, next_seq=numbering.first,
                    created_by=created_by, created_at=utc_now(),
                ))  # fmt: skip
                return numbering
            if _numbering(row) == numbering:
                return numbering
            if row.next_seq != row.first_seq:
                raise SerialAllocationError(
                    f"work order {work_order} has leased serials of its rule {_numbering(row).describe()}; "
                    "it cannot change (start a new work order)"
                )
            row.template, row.first_seq, row.last_seq = numbering.template, numbering.first, numbering.last
            row.check_digit, row.next_seq = numbering.check_digit.value, numbering.first
            row.created_by, row.created_at = created_by, utc_now()
            return numbering

    def rule(self, work_order: str) -> SerialNumbering | None:
        with self._sessions.reading() as session:
            row = session.scalars(
                select(SerialRuleRow).join(WorkOrder, WorkOrder.id == SerialRuleRow.work_order_id)
                .where(WorkOrder.code == work_order)
            ).first()  # fmt: skip
            return None if row is None else _numbering(row)

    def add_leased_block(
        self, work_order: str, numbering: SerialNumbering, first: int, last: int, station: str, lease: timedelta,
        *, leased_by: str,
    ) -> None:  # fmt: skip
        """Record a block the line database leased to ``station`` (its numbers are this station's
        to hand out). The work order's rule is the line's: taken with the first block, and a
        block under another rule is refused. The local counter moves past the block, so that
        nothing is ever cut here over a number the line gave."""
        if not numbering.first <= first <= last <= numbering.last:
            raise SerialAllocationError(f"the line leased {first}..{last}, outside the range of {numbering.describe()}")
        now = utc_now()
        with self._sessions.writing() as session:
            order = get_or_create(session, WorkOrder, WorkOrder.code == work_order, code=work_order, product=None,
                                  quantity=None, created_at=now)  # fmt: skip
            station_id = get_or_create(session, Station, Station.name == station, name=station, description="",
                                       created_at=now).id  # fmt: skip
            session.flush()
            rule = session.scalars(
                select(SerialRuleRow).where(SerialRuleRow.work_order_id == order.id).with_for_update()
            ).first()
            if rule is None:
                rule = SerialRuleRow(
                    work_order_id=order.id, template=numbering.template, first_seq=numbering.first,
                    last_seq=numbering.last, check_digit=numbering.check_digit.value, next_seq=numbering.first,
                    created_by=leased_by, created_at=now,
                )  # fmt: skip
                session.add(rule)
            elif _numbering(rule) != numbering:
                raise SerialAllocationError(
                    f"work order {work_order}'s serial rule here ({_numbering(rule).describe()}) is not the line's "
                    f"({numbering.describe()}): a supervisor must settle which is right"
                )
            overlapping = session.scalar(select(SerialBlock.id).where(
                SerialBlock.work_order_id == order.id, SerialBlock.first_seq <= last, SerialBlock.last_seq >= first))
            if overlapping is not None:
                raise SerialAllocationError(f"the line leased {first}..{last} of work order {work_order}, which "
                                            "overlaps a block this station holds already")  # fmt: skip
            rule.next_seq = max(rule.next_seq, last + 1)
            session.add(SerialBlock(work_order_id=order.id, station_id=station_id, first_seq=first, last_seq=last,
                                    next_seq=first, leased_at=now, expires_at=now + lease))  # fmt: skip

    def spare(self, work_order: str, station: str) -> int:
        """How many serials ``station`` can still hand out of ``work_order`` without a new block:
        the free numbers of its blocks and the serials returned to its pool."""
        with self._sessions.reading() as session:
            station_id = session.scalar(select(Station.id).where(Station.name == station))
            order_id = session.scalar(select(WorkOrder.id).where(WorkOrder.code == work_order))
            if station_id is None or order_id is None:
                return 0
            free = session.scalar(
                select(func.coalesce(func.sum(SerialBlock.last_seq - SerialBlock.next_seq + 1), 0))
                .where(SerialBlock.work_order_id == order_id, SerialBlock.station_id == station_id,
                       SerialBlock.next_seq <= SerialBlock.last_seq)
            )  # fmt: skip
            pooled = session.scalar(select(func.count()).select_from(AllocatedSerial).where(
                AllocatedSerial.work_order_id == order_id, AllocatedSerial.station_id == station_id,
                AllocatedSerial.state == SerialState.RETURNED.value))  # fmt: skip
            return int(free or 0) + int(pooled or 0)

    def block_starts(self, work_order: str, station: str) -> set[int]:
        """The first number of every block of ``work_order`` ``station`` holds here."""
        with self._sessions.reading() as session:
            return set(session.scalars(
                select(SerialBlock.first_seq).join(WorkOrder, WorkOrder.id == SerialBlock.work_order_id)
                .join(Station, Station.id == SerialBlock.station_id)
                .where(WorkOrder.code == work_order, Station.name == station)
            ))  # fmt: skip

    def held(self, station: str) -> list[AllocatedSerialRecord]:
        """``station``'s serials that are allocated or bound: each belongs to an attempt that is
        running, or that a crash ended before the serial was settled."""
        with self._sessions.reading() as session:
            rows = session.execute(
                select(AllocatedSerial, WorkOrder.code)
                .join(WorkOrder, WorkOrder.id == AllocatedSerial.work_order_id)
                .join(Station, Station.id == AllocatedSerial.station_id)
                .where(Station.name == station, AllocatedSerial.state.in_(_HELD)).order_by(AllocatedSerial.id)
            ).all()  # fmt: skip
            return [_record(row, str(code), station) for row, code in rows]

    def allocate(
        self, work_order: str, station: str, *, day: date, block_size: int, lease: timedelta,
        recipe_rule: SerialRule | None = None, at: datetime | None = None, cut_blocks: bool = True,
    ) -> AllocatedSerialRecord:  # fmt: skip
        """A serial of ``work_order`` for a unit at ``station`` (see the module's docstring); its
        text made on ``day`` and checked against ``recipe_rule`` when given (nothing is taken
        when it does not satisfy it). ``cut_blocks`` False: on a line, where only the line
        database cuts blocks (``add_leased_block``); NoLeasedSerialError when none is left here."""
        if block_size < 1:
            raise StoreError(f"a block of serials holds at least 1 number, not {block_size}")
        now = moment(at)
        with self._sessions.writing() as session:
            rule = _rule_of(session, work_order)
            station_id = get_or_create(session, Station, Station.name == station, name=station, description="",
                                       created_at=now).id  # fmt: skip
            session.flush()
            pooled = _pooled(session, rule, station_id)
            block: SerialBlock | None = None
            if pooled is None:
                block = _own_block(session, rule, station_id)
                if block is None:
                    taken = _expired_block(session, rule, station_id, now)
                    if taken is not None:
                        _take_over(session, taken, station_id, now, lease)
                        pooled = _pooled(session, rule, station_id)
                        block = taken if taken.next_seq <= taken.last_seq else None
            if pooled is not None:
                if recipe_rule is not None:
                    check_serial_for_recipe(pooled.serial, recipe_rule)
                pooled.state, pooled.changed_at = SerialState.ALLOCATED.value, now
                return _record(pooled, work_order, station)
            if block is None:
                if not cut_blocks:
                    raise NoLeasedSerialError(
                        f"station {station} holds no serial of work order {work_order} any more: it leases "
                        "its next block from the line database"
                    )
                block = _new_block(session, rule, station_id, block_size, work_order, now)
            block.leased_at, block.expires_at = now, now + lease
            seq = block.next_seq
            block.next_seq = seq + 1
            text = _numbering(rule).render(seq, day)
            if recipe_rule is not None:
                check_serial_for_recipe(text, recipe_rule)
            row = AllocatedSerial(
                work_order_id=rule.work_order_id, block_id=block.id, seq=seq, serial=text,
                state=SerialState.ALLOCATED.value, station_id=station_id, times_returned=0, allocated_at=now,
                changed_at=now,
            )  # fmt: skip
            session.add(row)
            return _record(row, work_order, station)

    def bind(self, serial: str, station: str, attempt_id: int, device_id: str) -> AllocatedSerialRecord:
        """Bind an allocated serial of ``station`` to the unit's device (again: no change)."""
        with self._sessions.writing() as session:
            row, work_order = _held(session, serial, station)
            if row.state == SerialState.BOUND.value and (row.device_id, row.attempt_id) == (device_id, attempt_id):
                return _record(row, work_order, station)
            if row.state != SerialState.ALLOCATED.value:
                raise SerialAllocationError(f"serial {serial} is {row.state}; only an allocated serial is bound")
            carrying = session.scalar(select(AllocatedSerial.serial).where(AllocatedSerial.device_id == device_id))
            if carrying is not None:
                raise SerialAllocationError(f"device {device_id} already carries serial {carrying}")
            row.state, row.device_id, row.attempt_id = SerialState.BOUND.value, device_id, attempt_id
            row.changed_at = utc_now()
            return _record(row, work_order, station)

    def release(self, serial: str, station: str) -> AllocatedSerialRecord:
        """Its unit failed before passing: the serial returns to ``station``'s pool."""
        with self._sessions.writing() as session:
            row, work_order = _held(session, serial, station)
            if row.state not in _HELD:
                raise SerialAllocationError(f"serial {serial} is {row.state}; only an allocated or bound serial "
                                            "returns to the pool")  # fmt: skip
            row.state, row.device_id, row.attempt_id = SerialState.RETURNED.value, None, None
            row.times_returned += 1
            row.changed_at = utc_now()
            return _record(row, work_order, station)

    def mark_used(self, serial: str, station: str) -> AllocatedSerialRecord:
        """Its unit passed: the serial ships with it, for good."""
        with self._sessions.writing() as session:
            row, work_order = _held(session, serial, station)
            if row.state == SerialState.USED.value:
                return _record(row, work_order, station)
            if row.state != SerialState.BOUND.value:
                raise SerialAllocationError(f"serial {serial} is {row.state}; only a serial bound to a device is used")
            row.state, row.changed_at = SerialState.USED.value, utc_now()
            return _record(row, work_order, station)

    def scrap(self, serial: str, supervisor: str, reason: str) -> AllocatedSerialRecord:
        """Take a serial out for good (not one a passed unit carries), saying who and why."""
        with self._sessions.writing() as session:
            row = session.scalars(select(AllocatedSerial).where(AllocatedSerial.serial == serial)
                                  .with_for_update()).first()  # fmt: skip
            if row is None:
                raise SerialAllocationError(f"no serial {serial} was allocated")
            if row.state in (SerialState.USED.value, SerialState.SCRAPPED.value):
                raise SerialAllocationError(f"serial {serial} is {row.state}; it cannot be scrapped")
            row.state, row.device_id, row.changed_at = SerialState.SCRAPPED.value, None, utc_now()
            row.scrapped_by, row.scrap_reason = supervisor, reason
            work_order = session.scalar(select(WorkOrder.code).where(WorkOrder.id == row.work_order_id))
            station = session.scalar(select(Station.name).where(Station.id == row.station_id))
            return _record(row, str(work_order), str(station))

    def get(self, serial: str) -> AllocatedSerialRecord | None:
        with self._sessions.reading() as session:
            found = session.execute(
                select(AllocatedSerial, WorkOrder.code, Station.name)
                .join(WorkOrder, WorkOrder.id == AllocatedSerial.work_order_id)
                .join(Station, Station.id == AllocatedSerial.station_id).where(AllocatedSerial.serial == serial)
            ).first()  # fmt: skip
            return None if found is None else _record(found[0], found[1], found[2])

    def counts(self, work_order: str) -> SerialCounts:
        """The work order's serials by state, and its leased, free and unleased numbers."""
        with self._sessions.reading() as session:
            counted = serial_counts(session, work_order)
        if counted is None:
            raise SerialAllocationError(f"work order {work_order} has no serial rule")
        return counted


def serial_counts(session: Session, work_order: str) -> SerialCounts | None:
    """``work_order``'s serials by state, and its leased, free and unleased numbers (None: it has
    no serial rule here); in ``session``'s snapshot (the reconciliation reads all in one)."""
    rule = session.scalars(
        select(SerialRuleRow).join(WorkOrder, WorkOrder.id == SerialRuleRow.work_order_id)
        .where(WorkOrder.code == work_order)
    ).first()  # fmt: skip
    if rule is None:
        return None
    leased, free = session.execute(
        select(func.coalesce(func.sum(SerialBlock.last_seq - SerialBlock.first_seq + 1), 0),
               func.coalesce(func.sum(SerialBlock.last_seq - SerialBlock.next_seq + 1), 0))
        .where(SerialBlock.work_order_id == rule.work_order_id)
    ).one()  # fmt: skip
    by_state = {str(state): int(count) for state, count in session.execute(
        select(AllocatedSerial.state, func.count()).where(AllocatedSerial.work_order_id == rule.work_order_id)
        .group_by(AllocatedSerial.state)
    )}  # fmt: skip
    returns = session.scalar(select(func.coalesce(func.sum(AllocatedSerial.times_returned), 0))
                             .where(AllocatedSerial.work_order_id == rule.work_order_id))  # fmt: skip
    return SerialCounts(
        work_order=work_order, range_size=rule.last_seq - rule.first_seq + 1, leased=int(leased),
        unleased=rule.last_seq - rule.next_seq + 1, free=int(free),
        allocated=by_state.get(SerialState.ALLOCATED.value, 0), bound=by_state.get(SerialState.BOUND.value, 0),
        used=by_state.get(SerialState.USED.value, 0), returned=by_state.get(SerialState.RETURNED.value, 0),
        scrapped=by_state.get(SerialState.SCRAPPED.value, 0), returns=int(returns or 0),
    )  # fmt: skip


def _numbering(row: SerialRuleRow) -> SerialNumbering:
    return parse_numbering(row.template, row.first_seq, row.last_seq, row.check_digit)


def _rule_of(session: Session, work_order: str) -> SerialRuleRow:
    rule = session.scalars(
        select(SerialRuleRow).join(WorkOrder, WorkOrder.id == SerialRuleRow.work_order_id)
        .where(WorkOrder.code == work_order)
    ).first()  # fmt: skip
    if rule is None:
        raise SerialAllocationError(f"work order {work_order} has no serial rule: its units need labels")
    return rule


def _pooled(session: Session, rule: SerialRuleRow, station_id: int) -> AllocatedSerial | None:
    """The lowest serial ``station_id`` returned to its pool (one another slot holds is skipped)."""
    return session.scalars(
        select(AllocatedSerial).where(AllocatedSerial.work_order_id == rule.work_order_id,
                                      AllocatedSerial.station_id == station_id,
                                      AllocatedSerial.state == SerialState.RETURNED.value)
        .order_by(AllocatedSerial.seq).limit(1).with_for_update(skip_locked=True)
    ).first()  # fmt: skip


def _take_over(session: Session, block: SerialBlock, station_id: int, now: datetime, lease: timedelta) -> None:
    """An expired lease becomes ``station_id``'s, with the serials returned to it."""
    block.station_id, block.leased_at, block.expires_at = station_id, now, now + lease
    for returned in session.scalars(
        select(AllocatedSerial).where(AllocatedSerial.block_id == block.id,
                                      AllocatedSerial.state == SerialState.RETURNED.value).with_for_update()
    ):  # fmt: skip
        returned.station_id, returned.changed_at = station_id, now
    session.flush()


def _own_block(session: Session, rule: SerialRuleRow, station_id: int) -> SerialBlock | None:
    return session.scalars(
        select(SerialBlock).where(SerialBlock.work_order_id == rule.work_order_id,
                                  SerialBlock.station_id == station_id, SerialBlock.next_seq <= SerialBlock.last_seq)
        .order_by(SerialBlock.first_seq).limit(1).with_for_update()
    ).first()  # fmt: skip


def _expired_block(session: Session, rule: SerialRuleRow, station_id: int, now: datetime) -> SerialBlock | None:
    """Another station's block whose lease expired and that still holds numbers to give."""
    pooled = select(AllocatedSerial.id).where(AllocatedSerial.block_id == SerialBlock.id,
                                              AllocatedSerial.state == SerialState.RETURNED.value)  # fmt: skip
    return session.scalars(
        select(SerialBlock).where(SerialBlock.work_order_id == rule.work_order_id,
                                  SerialBlock.station_id != station_id, SerialBlock.expires_at < now,
                                  or_(SerialBlock.next_seq <= SerialBlock.last_seq, pooled.exists()))
        .order_by(SerialBlock.first_seq).limit(1).with_for_update(skip_locked=True)
    ).first()  # fmt: skip


def _new_block(
    session: Session, rule: SerialRuleRow, station_id: int, size: int, work_order: str, now: datetime
) -> SerialBlock:
    """Cut the next block from the range under the counter row's lock."""
    session.refresh(rule, with_for_update=True)  # the counter, as the last block cut left it
    next_seq = rule.next_seq
    if next_seq > rule.last_seq:
        raise SerialRangeExhaustedError(
            f"work order {work_order} has no serial left: every number of {rule.first_seq}..{rule.last_seq} is "
            "leased, and none is free or returned"
        )
    last = min(next_seq + size - 1, rule.last_seq)
    rule.next_seq = last + 1
    block = SerialBlock(work_order_id=rule.work_order_id, station_id=station_id, first_seq=next_seq, last_seq=last,
                        next_seq=next_seq, leased_at=now, expires_at=now)  # fmt: skip
    session.add(block)
    session.flush()
    return block


def _held(session: Session, serial: str, station: str) -> tuple[AllocatedSerial, str]:
    """The serial's row, locked, if ``station`` holds it; refused otherwise."""
    found = session.execute(
        select(AllocatedSerial, WorkOrder.code, Station.name)
        .join(WorkOrder, WorkOrder.id == AllocatedSerial.work_order_id)
        .join(Station, Station.id == AllocatedSerial.station_id)
        .where(AllocatedSerial.serial == serial).with_for_update(of=AllocatedSerial)
    ).first()  # fmt: skip
    if found is None:
        raise SerialAllocationError(f"no serial {serial} was allocated")
    row, work_order, holder = found
    if holder != station:
        raise SerialAllocationError(f"serial {serial} is leased to station {holder}, not {station}")
    return row, str(work_order)


def _record(row: AllocatedSerial, work_order: str, station: str) -> AllocatedSerialRecord:
    return AllocatedSerialRecord(
        serial=row.serial, work_order=work_order, seq=row.seq, state=SerialState(row.state), station=station,
        attempt_id=row.attempt_id, device_id=row.device_id, times_returned=row.times_returned,
        allocated_at=row.allocated_at, changed_at=row.changed_at, scrapped_by=row.scrapped_by,
        scrap_reason=row.scrap_reason,
    )  # fmt: skip
