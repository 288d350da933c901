"""The line database: every station's chain, forwarded from the station's own journal.

A station keeps its own SQLite journal as its record of what it did; the line database holds a
copy of every station's chain entries, each with the row it recorded as committed (the station's
``outbox_records``), and the signed heads each forwarded batch ended at. It is written only by
appending: an entry forwarded twice is stored once (its station and sequence are its key), an
entry that differs from the one the line holds under the same key is a conflict, never an
overwrite. From it the line can check any station's chain without the station, and a station's
database that lost its newest entries is found (``station db verify --against-line``).

The line's tables live in a metadata of their own: the line database may be the PostgreSQL a
whole line shares (``[line] database_url``), which holds nothing else of a station's schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    func,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError
from sqlalchemy.sql.expression import Executable

from station.domain.errors import (
    AlreadyPassedError,
    LineDatabaseError,
    SerialInProgressError,
    WorkOrderCompleteError,
)
from station.store.models import utc_now
from station.store.session import describe

LINE_METADATA = MetaData()

LINE_ENTRIES = Table(
    "line_entries",
    LINE_METADATA,
    Column("station", String(120), primary_key=True),
    Column("sequence", Integer, primary_key=True, autoincrement=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("action", String(200), nullable=False),
    Column("detail", Text, nullable=False),
    Column("previous_hash", String(64), nullable=False),
    Column("entry_hash", String(64), nullable=False),
    Column("signature", LargeBinary, nullable=False),
    Column("record_table", String(40)),
    Column("record_id", Integer),
    Column("record_digest", String(64)),
    Column("row_json", Text),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

LINE_HEADS = Table(
    "line_heads",
    LINE_METADATA,
    Column("station", String(120), primary_key=True),
    Column("sequence", Integer, primary_key=True, autoincrement=False),
    Column("entry_hash", String(64), nullable=False),
    Column("signature", LargeBinary, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

LINE_CONFLICTS = Table(
    "line_conflicts",
    LINE_METADATA,
    Column("kind", String(40), primary_key=True),
    Column("subject", String(200), primary_key=True),  # the serial (or device) both stations used
    Column("stations", Text, nullable=False),  # the stations, sorted, comma-separated
    Column("found_at", DateTime(timezone=True), nullable=False),
)

# A serial's claim across the line, made at the scan while the line answers: one live attempt
# per serial on the whole line, and a passed serial refused at every other station.
LINE_CLAIMS = Table(
    "line_claims",
    LINE_METADATA,
    Column("serial", String(200), primary_key=True),
    Column("station", String(120), nullable=False),
    Column("state", String(10), nullable=False),  # live, passed
    Column("work_order", String(200)),  # the places a work order has on the whole line
    Column("updated_at", DateTime(timezone=True), nullable=False),
)

SERIAL_PASSED_TWICE = "serial-passed-at-two-stations"

_ENTRY_FIELDS = ("sequence", "recorded_at", "actor", "action", "detail", "previous_hash", "entry_hash", "signature",
                 "record_table", "record_id", "record_digest", "row_json")  # fmt: skip


@dataclass(frozen=True)
class ForwardedEntry:
    """One chain entry as forwarded: the entry's fields and the row it recorded (if any)."""

    sequence: int
    recorded_at: datetime
    actor: str
    action: str
    detail: str
    previous_hash: str
    entry_hash: str
    signature: bytes
    record_table: str | None
    record_id: int | None
    record_digest: str | None
    row_json: str | None


@dataclass(frozen=True)
class LineHead:
    sequence: int
    entry_hash: str
    signature: bytes


class LineDatabase:
    """The line database at ``url``; its tables are made on first use (``ensure_schema``)."""

    def __init__(self, url: str, *, connect_timeout_seconds: float = 5.0) -> None:
        arguments = {"connect_timeout": int(max(1, connect_timeout_seconds))} if url.startswith("postgresql") else {}
        self.url = url
        self._engine: Engine = create_engine(url, connect_args=arguments, pool_pre_ping=True)

    def dispose(self) -> None:
        self._engine.dispose()

    @contextmanager
    def transaction(self, doing: str) -> Iterator[Connection]:
        """One transaction on the line; ``doing`` names it in the error when the line fails."""
        try:
            with self._engine.begin() as connection:
                yield connection
        except (OperationalError, DBAPIError) as error:
            raise LineDatabaseError(f"the line database does not answer ({doing}): {describe(error)}") from None
        except SQLAlchemyError as error:
            raise LineDatabaseError(f"the line database refused {doing}: {describe(error)}") from None

    def ensure_schema(self) -> None:
        from station.store import line_serials  # noqa: F401  (its tables are the line's too)

        with self.transaction("creating its tables") as connection:
            LINE_METADATA.create_all(connection, checkfirst=True)

    def last_entry(self, station: str) -> LineHead | None:
        """The newest entry the line holds from ``station``; None before its first."""
        with self.transaction("reading a station's newest entry") as connection:
            row = connection.execute(
                select(LINE_ENTRIES.c.sequence, LINE_ENTRIES.c.entry_hash, LINE_ENTRIES.c.signature)
                .where(LINE_ENTRIES.c.station == station)
                .order_by(LINE_ENTRIES.c.sequence.desc())
                .limit(1)
            ).first()
        return None if row is None else LineHead(int(row.sequence), str(row.entry_hash), bytes(row.signature))

    def append(self, station: str, entries: Sequence[ForwardedEntry], head: LineHead) -> int:
        """Store ``entries`` and the batch's signed ``head`` in one transaction; an entry the line
        holds already is skipped (a batch sent twice is stored once). How many were new."""
        if not entries:
            return 0
        now = utc_now()
        rows = [{"station": station, "received_at": now, **{name: getattr(entry, name) for name in _ENTRY_FIELDS}}
                for entry in entries]  # fmt: skip
        with self.transaction("storing forwarded entries") as connection:
            before = self._count(connection, station)
            connection.execute(_insert_ignoring_duplicates(connection, LINE_ENTRIES), rows)
            connection.execute(
                _insert_ignoring_duplicates(connection, LINE_HEADS),
                [{"station": station, "sequence": head.sequence, "entry_hash": head.entry_hash,
                  "signature": head.signature, "received_at": now}],
            )  # fmt: skip
            return self._count(connection, station) - before

    @staticmethod
    def _count(connection: Connection, station: str) -> int:
        return int(connection.execute(
            select(func.count()).select_from(LINE_ENTRIES).where(LINE_ENTRIES.c.station == station)
        ).scalar_one())  # fmt: skip

    def entries(self, station: str, after: int = 0, limit: int = 10_000) -> list[ForwardedEntry]:
        """The line's entries of ``station`` after sequence ``after``, in order."""
        with self.transaction("reading forwarded entries") as connection:
            rows = connection.execute(
                select(*(LINE_ENTRIES.c[name] for name in _ENTRY_FIELDS))
                .where(LINE_ENTRIES.c.station == station, LINE_ENTRIES.c.sequence > after)
                .order_by(LINE_ENTRIES.c.sequence)
                .limit(limit)
            ).all()
        return [ForwardedEntry(**{name: getattr(row, name) for name in _ENTRY_FIELDS}) for row in rows]

    def heads(self, station: str) -> list[LineHead]:
        """Every signed head ``station`` forwarded, oldest first."""
        with self.transaction("reading a station's heads") as connection:
            rows = connection.execute(
                select(LINE_HEADS.c.sequence, LINE_HEADS.c.entry_hash, LINE_HEADS.c.signature)
                .where(LINE_HEADS.c.station == station)
                .order_by(LINE_HEADS.c.sequence)
            ).all()
        return [LineHead(int(row.sequence), str(row.entry_hash), bytes(row.signature)) for row in rows]

    def claim(self, serial: str, station: str, work_order: str | None = None, quantity: int | None = None) -> None:
        """Claim ``serial`` for ``station``'s new attempt: SerialInProgressError while another
        station's attempt holds it, AlreadyPassedError once it passed at another station,
        WorkOrderCompleteError when ``work_order``'s ``quantity`` places are taken on the whole line
        (passed or in progress, at any station). The station's own claims are its journal's
        business (its own rules say what may repeat)."""
        with self.transaction("claiming a serial") as connection:
            take_write_lock(connection, LINE_CLAIMS)  # one claim at a time: the count below stays true
            query = select(LINE_CLAIMS).where(LINE_CLAIMS.c.serial == serial)
            if connection.dialect.name == "postgresql":
                query = query.with_for_update()
            held = connection.execute(query).first()
            if held is None:
                if work_order is not None and quantity is not None:
                    taken = int(connection.execute(select(func.count()).select_from(LINE_CLAIMS).where(
                        LINE_CLAIMS.c.work_order == work_order)).scalar_one())  # fmt: skip
                    if taken >= quantity:
                        raise WorkOrderCompleteError(work_order, quantity, taken)
                connection.execute(_insert_ignoring_duplicates(connection, LINE_CLAIMS), [
                    {"serial": serial, "station": station, "state": "live", "work_order": work_order,
                     "updated_at": utc_now()}])  # fmt: skip
                held = connection.execute(select(LINE_CLAIMS).where(LINE_CLAIMS.c.serial == serial)).first()
            if held is None or held.station == station:
                if held is not None and held.state != "passed":
                    connection.execute(LINE_CLAIMS.update().where(LINE_CLAIMS.c.serial == serial)
                                       .values(state="live", updated_at=utc_now()))  # fmt: skip
                return
        since = f"{held.updated_at:%Y-%m-%d %H:%M:%S} UTC"
        if held.state == "passed":
            raise AlreadyPassedError(f"unit {serial} already PASSED at station {held.station} (line database, "
                                     f"{since}); a supervisor must start a rework")  # fmt: skip
        raise SerialInProgressError(f"unit {serial} is being provisioned at station {held.station} since {since} "
                                    "(line database)")  # fmt: skip

    def release(self, serial: str, station: str, *, passed: bool) -> None:
        """The attempt that claimed ``serial`` here ended: passed (kept, refused elsewhere) or not
        (the claim goes: another station may take the unit)."""
        with self.transaction("releasing a serial") as connection:
            mine = (LINE_CLAIMS.c.serial == serial) & (LINE_CLAIMS.c.station == station)
            if passed:
                connection.execute(LINE_CLAIMS.update().where(mine).values(state="passed", updated_at=utc_now()))
            else:
                connection.execute(LINE_CLAIMS.delete().where(mine & (LINE_CLAIMS.c.state == "live")))

    def is_development_device(self, device_id: str) -> bool:
        """Whether any station recorded this device as a development unit (erased through its debug
        port once): refused at every station of the line from then on."""
        needle = json.dumps(device_id)  # as the canonical row JSON spells it
        pattern = "%" + f'"device_id":{needle}'.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self.transaction("looking up a device") as connection:
            rows = connection.execute(
                select(LINE_ENTRIES.c.station, LINE_ENTRIES.c.record_id, LINE_ENTRIES.c.row_json)
                .where(LINE_ENTRIES.c.record_table == "units", LINE_ENTRIES.c.row_json.like(pattern, escape="\\"))
                .order_by(LINE_ENTRIES.c.sequence)
            ).all()
        latest = {(row.station, row.record_id): json.loads(row.row_json) for row in rows}
        return any(values.get("device_id") == device_id and values.get("is_development") for values in latest.values())

    def find_conflicts(self) -> list[tuple[str, str, str]]:
        """Record (and return the new) conflicts between stations' forwarded records: a serial
        that PASSED at two stations (they worked apart, each on its own journal). Each becomes a
        row of ``line_conflicts`` for a supervisor to inspect; nothing is merged or changed."""
        passed: dict[str, set[str]] = {}
        with self.transaction("looking for conflicts") as connection:
            rows = connection.execute(
                select(LINE_ENTRIES.c.station, LINE_ENTRIES.c.record_table, LINE_ENTRIES.c.record_id,
                       LINE_ENTRIES.c.row_json)
                .where(LINE_ENTRIES.c.record_table.in_(("units", "attempts")), LINE_ENTRIES.c.row_json.is_not(None))
                .order_by(LINE_ENTRIES.c.station, LINE_ENTRIES.c.sequence)
            ).all()  # fmt: skip
            latest: dict[tuple[str, str, int], dict[str, object]] = {}
            for row in rows:  # each row's newest image, per station
                latest[(row.station, row.record_table, int(row.record_id))] = json.loads(row.row_json)
            serial_of = {(station, number): str(values.get("serial"))
                         for (station, table, number), values in latest.items() if table == "units"}  # fmt: skip
            for (station, table, _), values in latest.items():
                if table == "attempts" and values.get("result") == "PASSED" and not values.get("is_rework"):
                    unit = values.get("unit_id")
                    serial = serial_of.get((station, int(unit))) if isinstance(unit, int) else None
                    if serial is not None:
                        passed.setdefault(serial, set()).add(station)
            found = [(SERIAL_PASSED_TWICE, serial, ",".join(sorted(stations)))
                     for serial, stations in sorted(passed.items()) if len(stations) > 1]  # fmt: skip
            if not found:
                return []
            recorded = connection.execute(select(LINE_CONFLICTS.c.kind, LINE_CONFLICTS.c.subject))
            known = {(row.kind, row.subject) for row in recorded}
            new = [conflict for conflict in found if conflict[:2] not in known]
            if new:
                now = utc_now()
                connection.execute(_insert_ignoring_duplicates(connection, LINE_CONFLICTS), [
                    {"kind": kind, "subject": subject, "stations": stations, "found_at": now}
                    for kind, subject, stations in new])  # fmt: skip
            return new

    def conflicts(self) -> list[tuple[str, str, str, datetime]]:
        """Every conflict found so far: (kind, subject, stations, found at)."""
        with self.transaction("reading conflicts") as connection:
            return [(str(row.kind), str(row.subject), str(row.stations), row.found_at) for row in connection.execute(
                select(LINE_CONFLICTS).order_by(LINE_CONFLICTS.c.found_at, LINE_CONFLICTS.c.subject))]  # fmt: skip

    def stations(self) -> list[str]:
        with self.transaction("listing stations") as connection:
            return [str(name) for name in connection.execute(select(LINE_ENTRIES.c.station).distinct()).scalars()]


def take_write_lock(connection: Connection, table: Table) -> None:
    """Take ``table``'s write lock first: PostgreSQL's table lock (every station's writers of
    it queue), SQLite's write lock (a no-op write takes it)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text(f"LOCK TABLE {table.name} IN SHARE ROW EXCLUSIVE MODE"))
    else:
        connection.execute(table.delete().where(text("0 = 1")))


def _insert_ignoring_duplicates(connection: Connection, table: Table) -> Executable:
    """INSERT that leaves a row whose key is there already (the same entry sent again)."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if connection.dialect.name == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    raise LineDatabaseError(f"a line database on {connection.dialect.name} is not supported (PostgreSQL, SQLite)")
