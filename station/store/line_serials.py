"""A work order's serial numbers on the line database: its rule, its counter, and every block leased.

On a line, the line database is where running numbers are cut: a station leases a block
(``lease_block``) and hands its numbers out from its own database
(``station.store.serial_allocation``), where each serial's life (allocated, bound, used,
returned, scrapped) is recorded in the station's journal and forwarded. The line knows which
station holds which numbers, so no number is ever given to two stations, and a station that
works apart from the line (its policy ``continue``) works on the blocks it holds already.

A block is cut under the counter's row lock (``SELECT … FOR UPDATE`` on PostgreSQL, SQLite's
one write lock), so two stations asking at once get two blocks that do not overlap. The rule is
the line's: a station takes it from the line with its first block, and a rule is changed only
before any number of it is leased.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, Connection, DateTime, Integer, Row, String, Table, func, select

from station.domain.errors import SerialAllocationError, SerialRangeExhaustedError
from station.domain.serial_numbers import SerialCounts, SerialNumbering, SerialState, parse_numbering
from station.store.line import LINE_ENTRIES, LINE_METADATA, LineDatabase, take_write_lock
from station.store.models import utc_now

LINE_SERIAL_RULES = Table(
    "line_serial_rules",
    LINE_METADATA,
    Column("work_order", String(200), primary_key=True),
    Column("template", String(200), nullable=False),
    Column("first_seq", Integer, nullable=False),
    Column("last_seq", Integer, nullable=False),
    Column("check_digit", String(20), nullable=False),
    Column("next_seq", Integer, nullable=False),  # the first number no block holds yet
    Column("created_by", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

LINE_SERIAL_BLOCKS = Table(
    "line_serial_blocks",
    LINE_METADATA,
    Column("work_order", String(200), primary_key=True),
    Column("first_seq", Integer, primary_key=True, autoincrement=False),
    Column("last_seq", Integer, nullable=False),
    Column("station", String(120), nullable=False),
    Column("leased_at", DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class LeasedBlock:
    """Running numbers ``first..last`` of ``work_order``, leased to ``station`` under ``numbering``."""

    work_order: str
    numbering: SerialNumbering
    first: int
    last: int
    station: str
    leased_at: datetime

    @property
    def size(self) -> int:
        return self.last - self.first + 1


class LineSerials:
    """The serial rules and leases of the line database ``line``."""

    def __init__(self, line: LineDatabase) -> None:
        self._line = line

    def set_rule(self, work_order: str, numbering: SerialNumbering, created_by: str) -> SerialNumbering:
        """Give ``work_order`` its rule on the line: the same rule again changes nothing; another
        one is refused once a block of it is leased."""
        with self._line.transaction("setting a serial rule") as connection:
            take_write_lock(connection, LINE_SERIAL_RULES)
            row = _rule_row(connection, work_order)
            values = {"template": numbering.template, "first_seq": numbering.first, "last_seq": numbering.last,
                      "check_digit": numbering.check_digit.value, "next_seq": numbering.first,
                      "created_by": created_by, "created_at": utc_now()}  # fmt: skip
            if row is None:
                connection.execute(LINE_SERIAL_RULES.insert().values(work_order=work_order, **values))
                return numbering
            held = _numbering(row)
            if held == numbering:
                return numbering
            if row.next_seq != row.first_seq:
                raise SerialAllocationError(
                    f"work order {work_order} has leased serials of its rule {held.describe()} on the line; "
                    "it cannot change (start a new work order)"
                )
            connection.execute(LINE_SERIAL_RULES.update().where(LINE_SERIAL_RULES.c.work_order == work_order)
                               .values(**values))  # fmt: skip
            return numbering

    def rule(self, work_order: str) -> SerialNumbering | None:
        with self._line.transaction("reading a serial rule") as connection:
            row = connection.execute(
                select(LINE_SERIAL_RULES).where(LINE_SERIAL_RULES.c.work_order == work_order)
            ).first()
        return None if row is None else _numbering(row)

    def lease_block(self, work_order: str, station: str, size: int) -> LeasedBlock:
        """Cut the next ``size`` numbers (fewer at the range's end) of ``work_order`` for ``station``."""
        if size < 1:
            raise SerialAllocationError(f"a block of serials holds at least 1 number, not {size}")
        with self._line.transaction("leasing serials") as connection:
            take_write_lock(connection, LINE_SERIAL_RULES)
            row = _rule_row(connection, work_order, for_update=True)
            if row is None:
                raise SerialAllocationError(
                    f"work order {work_order} has no serial rule on the line database: its units need labels"
                )
            first = int(row.next_seq)
            if first > row.last_seq:
                raise SerialRangeExhaustedError(
                    f"work order {work_order} has no serial left on the line: every number of "
                    f"{row.first_seq}..{row.last_seq} is leased to a station"
                )
            last = min(first + size - 1, int(row.last_seq))
            now = utc_now()
            connection.execute(LINE_SERIAL_RULES.update().where(LINE_SERIAL_RULES.c.work_order == work_order)
                               .values(next_seq=last + 1))  # fmt: skip
            connection.execute(LINE_SERIAL_BLOCKS.insert().values(
                work_order=work_order, first_seq=first, last_seq=last, station=station, leased_at=now))  # fmt: skip
            return LeasedBlock(work_order, _numbering(row), first, last, station, now)

    def blocks(self, work_order: str) -> list[LeasedBlock]:
        """Every block of ``work_order`` the line leased, in number order."""
        with self._line.transaction("reading leased serials") as connection:
            rule = _rule_row(connection, work_order)
            if rule is None:
                return []
            rows = connection.execute(
                select(LINE_SERIAL_BLOCKS).where(LINE_SERIAL_BLOCKS.c.work_order == work_order)
                .order_by(LINE_SERIAL_BLOCKS.c.first_seq)
            ).all()  # fmt: skip
        numbering = _numbering(rule)
        return [LeasedBlock(work_order, numbering, int(row.first_seq), int(row.last_seq), str(row.station),
                            row.leased_at) for row in rows]  # fmt: skip

    def counts(self, work_order: str) -> LineSerialCounts:
        """The work order's serials on the whole line, from the line's leases and the newest
        forwarded image of every station's blocks and serials (``LineSerialCounts``)."""
        with self._line.transaction("counting a work order's serials") as connection:
            rule = _rule_row(connection, work_order)
            if rule is None:
                raise SerialAllocationError(f"work order {work_order} has no serial rule on the line database")
            leases = connection.execute(
                select(LINE_SERIAL_BLOCKS.c.station, LINE_SERIAL_BLOCKS.c.first_seq, LINE_SERIAL_BLOCKS.c.last_seq)
                .where(LINE_SERIAL_BLOCKS.c.work_order == work_order)
            ).all()  # fmt: skip
            rows = connection.execute(
                select(LINE_ENTRIES.c.station, LINE_ENTRIES.c.record_table, LINE_ENTRIES.c.record_id,
                       LINE_ENTRIES.c.row_json)
                .where(LINE_ENTRIES.c.record_table.in_(("work_orders", "serial_blocks", "serials")),
                       LINE_ENTRIES.c.row_json.is_not(None))
                .order_by(LINE_ENTRIES.c.station, LINE_ENTRIES.c.sequence)
            ).all()  # fmt: skip
        newest: dict[tuple[str, str, int], dict[str, Any]] = {}
        for row in rows:
            newest[(row.station, row.record_table, int(row.record_id))] = json.loads(row.row_json)
        order_ids = {(station, number) for (station, table, number), values in newest.items()
                     if table == "work_orders" and values.get("code") == work_order}  # fmt: skip
        recorded: set[tuple[str, int]] = set()  # (station, first number) of each block a station holds
        free = returns = 0
        states = dict.fromkeys(SerialState, 0)
        by_station: dict[str, dict[str, int]] = {}
        for (station, table, _), values in newest.items():
            if (station, values.get("work_order_id")) not in order_ids:
                continue
            if table == "serial_blocks":
                recorded.add((station, int(values["first_seq"])))
                free += int(values["last_seq"]) - int(values["next_seq"]) + 1
            elif table == "serials":
                state = SerialState(str(values.get("state")))
                states[state] += 1
                returns += int(values.get("times_returned") or 0)
                mine = by_station.setdefault(station, {})
                mine[state.value] = mine.get(state.value, 0) + 1
        leased = sum(int(lease.last_seq) - int(lease.first_seq) + 1 for lease in leases)
        unrecorded = sum(int(lease.last_seq) - int(lease.first_seq) + 1 for lease in leases
                         if (lease.station, int(lease.first_seq)) not in recorded)  # fmt: skip
        totals = SerialCounts(
            work_order=work_order, range_size=int(rule.last_seq) - int(rule.first_seq) + 1, leased=leased,
            unleased=int(rule.last_seq) - int(rule.next_seq) + 1, free=free, allocated=states[SerialState.ALLOCATED],
            bound=states[SerialState.BOUND], used=states[SerialState.USED], returned=states[SerialState.RETURNED],
            scrapped=states[SerialState.SCRAPPED], returns=returns,
        )  # fmt: skip
        return LineSerialCounts(totals, unrecorded, by_station)

    def leased_count(self, work_order: str) -> int:
        with self._line.transaction("counting leased serials") as connection:
            return int(connection.execute(
                select(func.coalesce(func.sum(LINE_SERIAL_BLOCKS.c.last_seq - LINE_SERIAL_BLOCKS.c.first_seq + 1), 0))
                .where(LINE_SERIAL_BLOCKS.c.work_order == work_order)
            ).scalar_one())  # fmt: skip


@dataclass(frozen=True)
class LineSerialCounts:
    """A work order's serials on the whole line: ``totals`` has the line's leased and unleased
    numbers and, summed over every station's forwarded records, the free numbers and the
    serials in each state (a station's records reach the line when it forwards them).
    ``unrecorded``: numbers the line leased that no station's forwarded blocks hold yet (a
    station that has not forwarded since, or that stopped between the lease and recording it:
    it adopts the block at its next lease)."""

    totals: SerialCounts
    unrecorded: int
    by_station: dict[str, dict[str, int]]

    @property
    def adds_up(self) -> bool:
        """Every number the line leased is free at a station, in one state, or not yet recorded."""
        totals = self.totals
        return (totals.leased == totals.free + totals.handed_out + self.unrecorded
                and totals.range_size == totals.leased + totals.unleased)  # fmt: skip

    def to_document(self) -> dict[str, object]:
        return {**self.totals.to_document(), "unrecorded": self.unrecorded, "adds_up": self.adds_up,
                "by_station": self.by_station}  # fmt: skip


def _rule_row(connection: Connection, work_order: str, *, for_update: bool = False) -> Row[Any] | None:
    query = select(LINE_SERIAL_RULES).where(LINE_SERIAL_RULES.c.work_order == work_order)
    if for_update and connection.dialect.name == "postgresql":
        query = query.with_for_update()
    return connection.execute(query).first()


def _numbering(row: Row[Any]) -> SerialNumbering:
    return parse_numbering(row.template, row.first_seq, row.last_seq, row.check_digit)
