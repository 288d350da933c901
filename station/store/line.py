"""The line database: every station's chain, forwarded from the station's own journal.

A station keeps its own SQLite journal as its record of what it did; the line database holds a
copy of every station's chain entries, each with the row it recorded as committed (the station's
``outbox_records``), and the signed heads each forwarded batch ended at. It is written only by
appending: an entry forwarded twice is stored once (its station and sequence are its key), an
entry that differs from the one the line holds under the same key is a conflict, never an
overwrite. From it the line can check any station's chain without the station, and a station's
database that lost its newest entries is found (``station db verify --against-line``). What the
conflict search and the development-unit lookup ask is answered by an index of units and passes
kept with the entries (``station.store.line_index``), not by re-reading them.

The line's tables live in a metadata of their own: the line database may be the PostgreSQL a
whole line shares (``[line] database_url``), which holds nothing else of a station's schema.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Index,
    Insert,
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
    Index("ix_line_claims_work_order", "work_order"),  # a claim counts its work order's places
)

# The conflicts between stations (``line_conflicts.kind``), found by ``find_conflicts``.
SERIAL_PASSED_TWICE = "serial-passed-at-two-stations"  # subject: the serial
DEVICE_PASSED_TWICE = "device-passed-under-two-serials"  # subject: the device id (one board, two labels)
DEVELOPMENT_UNIT_PASSED = "development-unit-passed-elsewhere"  # subject: the device id (kind: <= 40)

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
        from station.store.line_index import ensure_index

        with self.transaction("creating its tables") as connection:
            LINE_METADATA.create_all(connection, checkfirst=True)
            for table in LINE_METADATA.sorted_tables:  # an index added since its table was made
                for index in table.indexes:
                    index.create(connection, checkfirst=True)
        with self.transaction("indexing its units and passes") as connection:
            ensure_index(connection)

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
        holds already is skipped (a batch sent twice is stored once). The index of units and
        passes takes the new entries in the same transaction. How many were new."""
        from station.store.line_index import images_of, index_images

        if not entries:
            return 0
        now = utc_now()
        rows = [{"station": station, "received_at": now, **{name: getattr(entry, name) for name in _ENTRY_FIELDS}}
                for entry in entries]  # fmt: skip
        with self.transaction("storing forwarded entries") as connection:
            stored = set(connection.execute(
                insert_ignoring_duplicates(connection, LINE_ENTRIES).returning(LINE_ENTRIES.c.sequence), rows
            ).scalars())  # fmt: skip
            connection.execute(
                insert_ignoring_duplicates(connection, LINE_HEADS),
                [{"station": station, "sequence": head.sequence, "entry_hash": head.entry_hash,
                  "signature": head.signature, "received_at": now}],
            )  # fmt: skip
            index_images(connection, station, images_of(entry for entry in entries if entry.sequence in stored))
            return len(stored)

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
                connection.execute(insert_ignoring_duplicates(connection, LINE_CLAIMS), [
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
        port once): refused at every station of the line from then on. Answered by the index."""
        from station.store.line_index import is_development_device

        with self.transaction("looking up a device") as connection:
            return is_development_device(connection, device_id)

    def find_conflicts(self) -> list[tuple[str, str, str]]:
        """Record (and return the new) conflicts between what stations did apart, each on its own
        journal: a serial PASSED at two stations, a device PASSED under two serials, a device
        PASSED at one station after another erased it. Each becomes a row of ``line_conflicts``
        for a supervisor to inspect, once; nothing is merged or changed. Only the records the
        line received since the last search are looked at (``station.store.line_index``)."""
        from station.store.line_index import find_conflicts

        return find_conflicts(self)

    def conflicts(self) -> list[tuple[str, str, str, datetime]]:
        """Every conflict found so far: (kind, subject, stations, found at)."""
        with self.transaction("reading conflicts") as connection:
            return [(str(row.kind), str(row.subject), str(row.stations), row.found_at) for row in connection.execute(
                select(LINE_CONFLICTS).order_by(LINE_CONFLICTS.c.found_at, LINE_CONFLICTS.c.subject))]  # fmt: skip

    def stations(self) -> list[str]:
        with self.transaction("listing stations") as connection:
            return [str(name) for name in connection.execute(select(LINE_ENTRIES.c.station).distinct()).scalars()]


def take_write_lock(connection: Connection, table: Table) -> None:
    """Take ``table``'s write lock first, until the transaction ends: every station's writers
    that take it queue. PostgreSQL: a transaction-scoped advisory lock named after the table
    (a station's role needs no right beyond its statements' for it, where ``LOCK TABLE`` would
    need UPDATE, DELETE or TRUNCATE); SQLite: its one write lock (a no-op write takes it)."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(table.name)})
    else:
        connection.execute(table.delete().where(text("0 = 1")))


def _lock_key(name: str) -> int:
    """A stable 64-bit advisory lock key for ``name`` (the same in every station's process)."""
    return int.from_bytes(hashlib.sha256(f"station-line:{name}".encode()).digest()[:8], "big", signed=True)


def insert_ignoring_duplicates(connection: Connection, table: Table) -> Insert:
    """INSERT that leaves a row whose key is there already (the same entry sent again)."""
    return dialect_insert(connection, table).on_conflict_do_nothing()


def dialect_insert(connection: Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """The line database's own INSERT (its ON CONFLICT clauses)."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    if connection.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise LineDatabaseError(f"a line database on {connection.dialect.name} is not supported (PostgreSQL, SQLite)")
