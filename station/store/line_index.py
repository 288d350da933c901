"""The line database's index of units and passes, and the conflicts between stations found in it.

The conflict search and the development-unit lookup ask about units and passes; the line holds
them as row images in ``line_entries`` (millions after a year). So ``append`` keeps an index of
its own, from the entries it stores, in the same transaction and in sequence order, and the index
never disagrees with the entries: ``line_units`` holds each station's units rows (the newest image
wins), ``line_passes`` each station's attempts whose newest image is a non-rework PASSED, with the
serial of the attempt's unit (the units row is forwarded before the attempt that references it).

A row the index wrote and the conflict search has not looked at yet is ``pending``: a search looks
at those and, through the indexes, at the rows that share their serial or device, so it costs what
the new records cost, not the line's history. A line database whose entries predate the index is
indexed once, when its schema is ensured (``ensure_index``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Boolean, Column, Connection, DateTime, Index, Integer, String, Table, bindparam, select

from station.store.line import (
    DEVELOPMENT_UNIT_PASSED,
    DEVICE_PASSED_TWICE,
    LINE_CONFLICTS,
    LINE_ENTRIES,
    LINE_METADATA,
    SERIAL_PASSED_TWICE,
    ForwardedEntry,
    LineDatabase,
    dialect_insert,
    insert_ignoring_duplicates,
    take_write_lock,
)
from station.store.models import utc_now

INDEX_VERSION = "units-and-passes-1"  # a line database without this row is (re)indexed from its entries
INDEXED_TABLES = ("units", "attempts")
SEARCH_BATCH = 500  # pending rows looked at per transaction of the conflict search
REBUILD_BATCH = 2000  # entries read per query while indexing a line database once

LINE_UNITS = Table(
    "line_units",
    LINE_METADATA,
    Column("station", String(120), primary_key=True),
    Column("unit_id", Integer, primary_key=True, autoincrement=False),  # the station's units row
    Column("sequence", Integer, nullable=False),  # the entry whose image this is
    Column("serial", String(200), nullable=False),
    Column("device_id", String(200)),
    Column("is_development", Boolean, nullable=False),
    Column("development_at", DateTime(timezone=True)),  # the entry that first recorded it as one
    Column("pending", Boolean, nullable=False),  # a development unit the search has not looked at
    Index("ix_line_units_device_id", "device_id"),
    Index("ix_line_units_pending", "pending"),
)

LINE_PASSES = Table(
    "line_passes",
    LINE_METADATA,
    Column("station", String(120), primary_key=True),
    Column("attempt_id", Integer, primary_key=True, autoincrement=False),  # the station's attempts row
    Column("sequence", Integer, nullable=False),
    Column("serial", String(200), nullable=False),
    Column("device_id", String(200)),
    Column("passed_at", DateTime(timezone=True), nullable=False),  # the entry that first recorded it PASSED
    Column("pending", Boolean, nullable=False),  # a pass the search has not looked at
    Index("ix_line_passes_serial", "serial"),
    Index("ix_line_passes_device_id", "device_id"),
    Index("ix_line_passes_pending", "pending"),
)

LINE_INDEX_STATE = Table(
    "line_index_state",
    LINE_METADATA,
    Column("version", String(40), primary_key=True),
    Column("built_at", DateTime(timezone=True), nullable=False),
)


class Image(NamedTuple):
    """One forwarded image of a ``units`` or ``attempts`` row, as the index reads it."""

    sequence: int
    recorded_at: datetime
    table: str
    row_id: int
    row_json: str


def images_of(entries: Iterable[ForwardedEntry]) -> list[Image]:
    """The entries' images the index reads, in sequence order."""
    return sorted(
        Image(entry.sequence, entry.recorded_at, entry.record_table, entry.record_id, entry.row_json)
        for entry in entries
        if entry.record_table in INDEXED_TABLES and entry.record_id is not None and entry.row_json is not None
    )


def index_images(connection: Connection, station: str, images: Sequence[Image]) -> None:
    """Bring ``station``'s index rows up to date with ``images`` (new to the line, in order)."""
    if not images:
        return
    parsed = [(image, json.loads(image.row_json)) for image in images]
    wanted = {image.row_id for image, _ in parsed if image.table == "units"}
    wanted |= {values["unit_id"] for image, values in parsed
               if image.table == "attempts" and isinstance(values.get("unit_id"), int)}  # fmt: skip
    units = _held_units(connection, station, wanted)
    changed: dict[int, dict[str, Any]] = {}
    passes: dict[int, tuple[int, dict[str, Any] | None]] = {}  # attempt id: (sequence, pass or none now)
    for image, values in parsed:
        if image.table == "units":
            units[image.row_id] = changed[image.row_id] = _unit_row(station, image, values, units.get(image.row_id))
        else:
            earlier = passes.get(image.row_id, (0, None))[1]
            passes[image.row_id] = (image.sequence, _pass_row(station, image, values, units, earlier))
    if changed:
        _upsert(connection, LINE_UNITS, ("station", "unit_id"), list(changed.values()))
    passed = [row for _, row in passes.values() if row is not None]
    if passed:
        _upsert(connection, LINE_PASSES, ("station", "attempt_id"), passed, keep=("passed_at",))
    gone = [{"b_station": station, "b_id": number, "b_sequence": sequence}
            for number, (sequence, row) in passes.items() if row is None]  # fmt: skip
    if gone:  # an attempt whose newest image is no (longer a) pass
        connection.execute(LINE_PASSES.delete().where(
            LINE_PASSES.c.station == bindparam("b_station"), LINE_PASSES.c.attempt_id == bindparam("b_id"),
            LINE_PASSES.c.sequence < bindparam("b_sequence")), gone)  # fmt: skip


def _held_units(connection: Connection, station: str, numbers: set[int]) -> dict[int, dict[str, Any]]:
    if not numbers:
        return {}
    rows = connection.execute(select(LINE_UNITS).where(LINE_UNITS.c.station == station,
                                                       LINE_UNITS.c.unit_id.in_(sorted(numbers))))  # fmt: skip
    return {int(row.unit_id): dict(row._asdict()) for row in rows}


def _unit_row(station: str, image: Image, values: dict[str, Any], before: dict[str, Any] | None) -> dict[str, Any]:
    """The units row's index row: a unit that became a development unit (or changed device as
    one) is pending, so the search compares it with the passes of its device."""
    development = bool(values.get("is_development"))
    device = values.get("device_id") if isinstance(values.get("device_id"), str) else None
    was = before is not None and bool(before["is_development"])
    since = before["development_at"] if before is not None and was else None
    newly = development and (before is None or not was or before["device_id"] != device)
    return {"station": station, "unit_id": image.row_id, "sequence": image.sequence,
            "serial": str(values.get("serial")), "device_id": device, "is_development": development,
            "development_at": (since or image.recorded_at) if development else None,
            "pending": newly or (before is not None and bool(before["pending"]))}  # fmt: skip


def _pass_row(station: str, image: Image, values: dict[str, Any], units: dict[int, dict[str, Any]],
              earlier: dict[str, Any] | None) -> dict[str, Any] | None:  # fmt: skip
    """The attempt's index row when its image is a pass that makes something (a rework's never
    does); None when it is not (or no longer) one."""
    if values.get("result") != "PASSED" or values.get("is_rework"):
        return None
    unit = units.get(values["unit_id"]) if isinstance(values.get("unit_id"), int) else None
    if unit is None:
        return None
    device = values.get("device_id") if isinstance(values.get("device_id"), str) else unit["device_id"]
    passed_at = earlier["passed_at"] if earlier is not None else image.recorded_at
    return {"station": station, "attempt_id": image.row_id, "sequence": image.sequence, "serial": unit["serial"],
            "device_id": device, "passed_at": passed_at, "pending": True}  # fmt: skip


def _upsert(connection: Connection, table: Table, keys: tuple[str, ...], rows: list[dict[str, Any]],
            keep: tuple[str, ...] = ()) -> None:  # fmt: skip
    """Insert ``rows``, or update the held row when the image is newer (``keep``: columns an
    update leaves as they are)."""
    insert = dialect_insert(connection, table)
    changing = [name for name in rows[0] if name not in keys and name not in keep]
    statement = insert.on_conflict_do_update(
        index_elements=[table.c[name] for name in keys],
        set_={name: insert.excluded[name] for name in changing},
        where=table.c.sequence < insert.excluded.sequence,
    )
    connection.execute(statement, rows)


def ensure_index(connection: Connection) -> None:
    """Index a line database whose entries predate the index (or an older index), once."""
    built = select(LINE_INDEX_STATE.c.version).where(LINE_INDEX_STATE.c.version == INDEX_VERSION)
    if connection.execute(built).first() is not None:
        return
    take_write_lock(connection, LINE_INDEX_STATE)  # two stations starting at once index it once
    if connection.execute(built).first() is not None:
        return
    rebuild_index(connection)
    connection.execute(LINE_INDEX_STATE.delete())
    connection.execute(LINE_INDEX_STATE.insert().values(version=INDEX_VERSION, built_at=utc_now()))


def rebuild_index(connection: Connection) -> None:
    """The index made again from ``line_entries``, station by station in sequence order; every
    pass and development unit in it is pending (the next search looks at all of them)."""
    connection.execute(LINE_UNITS.delete())
    connection.execute(LINE_PASSES.delete())
    stations = sorted(connection.execute(select(LINE_ENTRIES.c.station).distinct()).scalars())
    entry = LINE_ENTRIES.c
    for station in stations:
        after = 0
        while True:
            rows = connection.execute(
                select(entry.sequence, entry.recorded_at, entry.record_table, entry.record_id, entry.row_json)
                .where(entry.station == station, entry.sequence > after, entry.record_table.in_(INDEXED_TABLES),
                       entry.record_id.is_not(None), entry.row_json.is_not(None))
                .order_by(entry.sequence)
                .limit(REBUILD_BATCH)
            ).all()  # fmt: skip
            if not rows:
                break
            index_images(connection, station, [Image(*row) for row in rows])
            after = int(rows[-1].sequence)


def is_development_device(connection: Connection, device_id: str) -> bool:
    """Whether any station's newest image of a units row with this device is a development unit."""
    return connection.execute(
        select(LINE_UNITS.c.station)
        .where(LINE_UNITS.c.device_id == device_id, LINE_UNITS.c.is_development.is_(True))
        .limit(1)
    ).first() is not None  # fmt: skip


Conflict = tuple[str, str, str]  # kind, subject, the stations (sorted, comma-separated)


def find_conflicts(line: LineDatabase) -> list[Conflict]:
    """Record (and return the new) conflicts the pending index rows take part in; each search
    holds the conflicts' lock, so two stations searching at once report a conflict once."""
    new: list[Conflict] = []
    while True:
        with line.transaction("looking for conflicts") as connection:
            take_write_lock(connection, LINE_CONFLICTS)
            passes = connection.execute(
                select(LINE_PASSES.c.station, LINE_PASSES.c.attempt_id, LINE_PASSES.c.sequence,
                       LINE_PASSES.c.serial, LINE_PASSES.c.device_id)
                .where(LINE_PASSES.c.pending.is_(True)).limit(SEARCH_BATCH)
            ).all()  # fmt: skip
            units = connection.execute(
                select(LINE_UNITS.c.station, LINE_UNITS.c.unit_id, LINE_UNITS.c.sequence, LINE_UNITS.c.device_id)
                .where(LINE_UNITS.c.pending.is_(True)).limit(SEARCH_BATCH)
            ).all()  # fmt: skip
            if not passes and not units:
                return sorted(new)
            devices = {row.device_id for row in (*passes, *units) if row.device_id is not None}
            found = _serial_conflicts(connection, {row.serial for row in passes})
            found += _device_conflicts(connection, devices)
            new += _record(connection, found)
            for table, key, rows in ((LINE_PASSES, "attempt_id", passes), (LINE_UNITS, "unit_id", units)):
                if rows:  # looked at: a newer image of the row (another sequence) stays pending
                    connection.execute(table.update().where(
                        table.c.station == bindparam("b_station"), table.c[key] == bindparam("b_id"),
                        table.c.sequence == bindparam("b_sequence")).values(pending=False),
                        [{"b_station": row[0], "b_id": row[1], "b_sequence": row[2]} for row in rows])  # fmt: skip


def _serial_conflicts(connection: Connection, serials: set[str]) -> list[Conflict]:
    """A serial PASSED at two stations."""
    if not serials:
        return []
    stations: dict[str, set[str]] = {}
    held = LINE_PASSES.c
    for serial, station in connection.execute(
        select(held.serial, held.station).where(held.serial.in_(sorted(serials))).distinct()
    ):
        stations.setdefault(str(serial), set()).add(str(station))
    return [(SERIAL_PASSED_TWICE, serial, ",".join(sorted(names)))
            for serial, names in stations.items() if len(names) > 1]  # fmt: skip


def _device_conflicts(connection: Connection, devices: set[str]) -> list[Conflict]:
    """A device PASSED under two serials at two stations (a pass its station undid by erasing the
    unit afterwards, a rework, ships under no serial); a device PASSED at one station after
    another erased it (a development unit). A pass before another station's erase is a unit that
    came back and was reworked there: nothing to inspect."""
    if not devices:
        return []
    chosen = sorted(devices)
    passed, unit = LINE_PASSES.c, LINE_UNITS.c
    passes: dict[str, list[tuple[str, str, datetime]]] = {}
    for device, station, serial, passed_at in connection.execute(
        select(passed.device_id, passed.station, passed.serial, passed.passed_at).where(passed.device_id.in_(chosen))
    ):
        passes.setdefault(str(device), []).append((str(station), str(serial), passed_at))
    erased: dict[str, list[tuple[str, str, datetime | None]]] = {}
    for device, station, serial, since in connection.execute(
        select(unit.device_id, unit.station, unit.serial, unit.development_at).where(
            unit.device_id.in_(chosen), unit.is_development.is_(True)
        )
    ):
        erased.setdefault(str(device), []).append((str(station), str(serial), since))
    found: list[Conflict] = []
    for device, held in sorted(passes.items()):
        undone = {(station, serial) for station, serial, _ in erased.get(device, [])}
        shipped = [(station, serial) for station, serial, _ in held if (station, serial) not in undone]
        if len({station for station, _ in shipped}) > 1 and len({serial for _, serial in shipped}) > 1:
            found.append((DEVICE_PASSED_TWICE, device, ",".join(sorted({station for station, _ in shipped}))))
        involved = {name for at_station, _, since in erased.get(device, []) for station, _, passed_at in held
                    if station != at_station and (since is None or passed_at > since)
                    for name in (station, at_station)}  # fmt: skip
        if involved:
            found.append((DEVELOPMENT_UNIT_PASSED, device, ",".join(sorted(involved))))
    return found


def _record(connection: Connection, found: list[Conflict]) -> list[Conflict]:
    """Store the conflicts not stored yet; those are the new ones."""
    if not found:
        return []
    now = utc_now()
    insert = insert_ignoring_duplicates(connection, LINE_CONFLICTS)
    stored = connection.execute(
        insert.returning(LINE_CONFLICTS.c.kind, LINE_CONFLICTS.c.subject),
        [{"kind": kind, "subject": subject, "stations": names, "found_at": now} for kind, subject, names in found],
    ).all()
    added = {(str(row.kind), str(row.subject)) for row in stored}
    return [conflict for conflict in found if conflict[:2] in added]
