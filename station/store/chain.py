"""Sealing: every committed change to a traceability row becomes an entry of the one chain.

A write transaction (``Sessions.writing``, ``writing_core``, the journal's group commit)
collects what it changes in a :class:`ChangeSet`: ORM flushes note their rows by themselves
(the ``after_flush`` listener below), the journal's Core statements note theirs with
:func:`note_changed`, and audit events join with :func:`note_event`. Just before the commit,
:meth:`Sealer.seal` reads each changed row back as the database holds it, digests it, and
appends one entry per row and per event to ``audit_log`` -- in the same transaction, so a
change and its entry are committed together or not at all. The last entry of the transaction
is signed with the station key; the others are covered by it through the hash links.

Concurrency: on SQLite the write transaction already holds the database's write lock (BEGIN
IMMEDIATE); on PostgreSQL sealing takes a table lock on ``audit_log`` so that sequence
numbers and links come out in commit order, whichever process commits.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Table, event, insert, text
from sqlalchemy.orm import Session, sessionmaker

from station.domain.audit import GENESIS_HASH, audit_entry_hash, signed_bytes
from station.domain.chain import ChainHead, describe_change, document_digest, row_digest, row_document
from station.domain.errors import StoreError
from station.domain.records import RecordRef
from station.domain.vault_and_signing import AuditSigner
from station.store.models import AuditLogRow, Base, utc_now

# The tables whose every row is in the chain, and the columns left out of a row's digest:
# an attempt's heartbeat is refreshed every few seconds and proves nothing.
CHAINED_TABLES: dict[str, frozenset[str]] = {
    "stations": frozenset(),
    "operators": frozenset(),
    "work_orders": frozenset(),
    "recipes": frozenset(),
    "units": frozenset(),
    "attempts": frozenset({"heartbeat_at"}),
    "steps": frozenset(),
    "inspections": frozenset(),
    "credentials": frozenset(),
    "vault_parameters": frozenset(),
    "sealed_tokens": frozenset(),
    "token_uses": frozenset(),
    "golden_references": frozenset(),
    "selftests": frozenset(),
    "person_keys": frozenset(),
    "recipe_signatures": frozenset(),
    "label_jobs": frozenset(),
    "serial_rules": frozenset(),
    "serial_blocks": frozenset(),
    "serials": frozenset(),
}


def digest_columns(table: str) -> list[str]:
    """The columns of ``table`` its digest covers, in schema order."""
    excluded = CHAINED_TABLES[table]
    return [column.name for column in Base.metadata.tables[table].columns if column.name not in excluded]


def select_rows_sql(table: str) -> str:
    """Raw SQL for a table's digested columns: driver values, no type processing, so that a
    malformed stored value is digested as it is instead of failing to load."""
    columns = ", ".join(digest_columns(table))
    return f"SELECT {columns} FROM {table}"


@dataclass(frozen=True)
class _Event:
    actor: str
    action: str
    detail: str
    at: datetime | None


@dataclass
class ChangeSet:
    """What one write transaction changed, in order: rows (table, id, operation) and events."""

    items: list[tuple[str, int, str] | _Event] = field(default_factory=list)
    sealed: ChainHead | None = None

    def mark(self) -> int:
        return len(self.items)

    def rollback_to(self, mark: int) -> None:
        """A savepoint was rolled back: its changes are not committed, so not sealed."""
        del self.items[mark:]


_CURRENT: contextvars.ContextVar[ChangeSet | None] = contextvars.ContextVar("station_changes", default=None)


@contextmanager
def collecting() -> Iterator[ChangeSet]:
    """The change set of the write transaction this block runs."""
    changes = ChangeSet()
    token = _CURRENT.set(changes)
    try:
        yield changes
    finally:
        _CURRENT.reset(token)


def current_changes() -> ChangeSet:
    """The change set of the write transaction running in this thread."""
    changes = _CURRENT.get()
    if changes is None:
        raise StoreError("a traceability record was changed outside a station write transaction")
    return changes


def note_changed(table: str, row_id: int, operation: str = "update") -> None:
    """Record that this transaction inserted, updated or deleted a row of a chained table."""
    if table in CHAINED_TABLES:
        current_changes().items.append((table, int(row_id), operation))


def note_event(actor: str, action: str, detail: str, at: datetime | None = None) -> None:
    """An audit event, sealed into the chain with this transaction's changes."""
    current_changes().items.append(_Event(actor, action, detail, at))


def watch_orm_writes(factory: sessionmaker[Session]) -> None:
    """Note every row an ORM flush of ``factory``'s sessions inserts, updates or deletes."""

    @event.listens_for(factory, "after_flush")
    def _after_flush(session: Session, _context: Any) -> None:
        for operation, objects in (("insert", session.new), ("update", session.dirty), ("delete", session.deleted)):
            for instance in objects:
                table = getattr(instance, "__tablename__", None)
                if table not in CHAINED_TABLES:
                    continue
                if operation == "update" and not session.is_modified(instance, include_collections=False):
                    continue
                note_changed(table, instance.id, operation)


_AUDIT_TABLE: Table = AuditLogRow.__table__  # type: ignore[assignment]
_LAST_ENTRY_SQL = "SELECT sequence, entry_hash FROM audit_log ORDER BY sequence DESC LIMIT 1"
_LAST_ENTRY = text(_LAST_ENTRY_SQL)
_ENTRY_COLUMNS = ("sequence", "recorded_at", "actor", "action", "detail", "previous_hash", "entry_hash", "signature",
                  "record_table", "record_id", "record_digest")
# Placeholders of the DBAPI drivers the store runs on (sqlite3: qmark; psycopg: pyformat).
_PLACEHOLDER = {"qmark": "?", "numeric": "?", "format": "%s", "pyformat": "%s"}


def _rows_as_stored(
    cursor: Any, paramstyle: str, items: list[tuple[str, int, str] | _Event]
) -> dict[tuple[str, int], dict[str, Any]]:
    """Each changed row as the transaction holds it, in driver values (as ``db verify`` reads
    them), one query per table. Straight on the DBAPI cursor: sealing runs in every commit of
    every slot, and SQLAlchemy's per-statement work there was most of the chain's cost."""
    wanted: dict[str, set[int]] = {}
    for item in items:
        if not isinstance(item, _Event):
            wanted.setdefault(item[0], set()).add(item[1])
    placeholder = _PLACEHOLDER[paramstyle]
    stored: dict[tuple[str, int], dict[str, Any]] = {}
    for table, ids in wanted.items():
        columns, select_sql = _row_query(table)
        marks = ", ".join([placeholder] * len(ids))
        cursor.execute(f"{select_sql} WHERE id IN ({marks})", tuple(sorted(ids)))
        id_index = columns.index("id")
        for values in cursor.fetchall():
            stored[(table, int(values[id_index]))] = dict(zip(columns, values, strict=True))
    return stored


def _insert_entries(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """``INSERT INTO audit_log`` on the DBAPI cursor, values bound by the columns' own types
    (as SQLAlchemy would bind them) -- without its per-statement work, on every commit."""
    sql, processors = _entry_insert(connection.dialect)
    values = [tuple(process(row[name]) if process else row[name] for name, process in processors) for row in rows]
    cursor = connection.connection.cursor()
    try:
        cursor.executemany(sql, values)
    finally:
        cursor.close()


def _insert_images(connection: Connection, images: list[tuple[int, str]]) -> None:
    """The outbox rows of this transaction's entries (``OutboxRecordRow``), on the DBAPI cursor."""
    if not images:
        return
    mark = _PLACEHOLDER[connection.dialect.paramstyle]
    cursor = connection.connection.cursor()
    try:
        cursor.executemany(f"INSERT INTO outbox_records (sequence, row_json) VALUES ({mark}, {mark})", images)
    finally:
        cursor.close()


_ENTRY_INSERTS: dict[str, tuple[str, tuple[tuple[str, Any], ...]]] = {}


def _entry_insert(dialect: Any) -> tuple[str, tuple[tuple[str, Any], ...]]:
    """The audit_log INSERT for ``dialect``'s driver and each column's bind processor."""
    key = f"{dialect.name}:{dialect.paramstyle}"
    if key not in _ENTRY_INSERTS:
        marks = ", ".join([_PLACEHOLDER[dialect.paramstyle]] * len(_ENTRY_COLUMNS))
        sql = f"INSERT INTO audit_log ({', '.join(_ENTRY_COLUMNS)}) VALUES ({marks})"
        processors = tuple((name, _AUDIT_TABLE.c[name].type.bind_processor(dialect)) for name in _ENTRY_COLUMNS)
        _ENTRY_INSERTS[key] = (sql, processors)
    return _ENTRY_INSERTS[key]


@functools.cache
def _row_query(table: str) -> tuple[tuple[str, ...], str]:
    """A chained table's digested columns and the SQL that selects them (the schema is fixed)."""
    return tuple(digest_columns(table)), select_rows_sql(table)


class Sealer:
    """Appends a transaction's changes to the chain; signs with ``signer`` when it has one."""

    def __init__(self, signer: AuditSigner | None = None, actor: str = "store") -> None:
        self.signer = signer
        self.actor = actor

    def seal(self, connection: Connection, changes: ChangeSet) -> ChainHead | None:
        """Write the entries for ``changes`` in ``connection``'s transaction; the new head.

        The rows and their digests are made before the chain's lock is taken: the rows are this
        transaction's own (no other transaction can change them before it commits), and on a
        shared PostgreSQL every station's commit waits for that lock. Under it remain only the
        chain's tail, the entries' hashes, the signature, the two inserts and the commit."""
        if not changes.items:
            return None
        items = list(_deduplicated(changes.items))
        cursor = connection.connection.cursor()  # the transaction's own DBAPI connection
        try:
            stored = _rows_as_stored(cursor, connection.dialect.paramstyle, items)
            pending = list(self._pending_entries(items, stored))
            if not pending:
                return None
            if connection.dialect.name == "postgresql":
                cursor.execute("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE")
            cursor.execute(_LAST_ENTRY_SQL)
            last = cursor.fetchone()
        finally:
            cursor.close()
        sequence = 0 if last is None else int(last[0])
        previous_hash = GENESIS_HASH if last is None else str(last[1])
        now = utc_now()
        rows: list[dict[str, Any]] = []
        images: list[tuple[int, str]] = []  # (sequence, the row as committed): the outbox
        for entry in pending:
            sequence += 1
            recorded_at = now if entry.at is None else entry.at.astimezone(UTC)
            record = entry.record
            entry_hash = audit_entry_hash(sequence, recorded_at, entry.actor, entry.action, entry.detail,
                                          previous_hash, record)  # fmt: skip
            rows.append({
                "sequence": sequence, "recorded_at": recorded_at, "actor": entry.actor, "action": entry.action,
                "detail": entry.detail, "previous_hash": previous_hash, "entry_hash": entry_hash, "signature": b"",
                "record_table": record.table if record else None, "record_id": record.row_id if record else None,
                "record_digest": record.digest if record else None,
            })  # fmt: skip
            if entry.document is not None:
                images.append((sequence, entry.document))
            previous_hash = entry_hash
        signature = b"" if self.signer is None else self.signer.sign(signed_bytes(previous_hash))
        rows[-1]["signature"] = signature
        _insert_entries(connection, rows)
        _insert_images(connection, images)
        changes.sealed = ChainHead(sequence, previous_hash, rows[-1]["recorded_at"], signature)
        changes.items.clear()
        return changes.sealed

    def _pending_entries(
        self, items: list[tuple[str, int, str] | _Event], stored: dict[tuple[str, int], dict[str, Any]]
    ) -> Iterator[_PendingEntry]:
        """The entries ``items`` make, before they have a place in the chain."""
        for item in items:
            if isinstance(item, _Event):
                yield _PendingEntry(item.actor, item.action, item.detail, None, None, item.at)
                continue
            table, row_id, operation = item
            values = stored.get((table, row_id))
            if values is None and operation == "insert":
                continue  # inserted in a savepoint that was rolled back
            action, detail = describe_change(table, row_id, operation, values)
            document = None if values is None else row_document(values)
            record = RecordRef(table, row_id, None if document is None else document_digest(document))
            yield _PendingEntry(self.actor, action, detail, record, document, None)


@dataclass(frozen=True)
class _PendingEntry:
    """An entry to be: what it says and records; its place and hashes come under the lock.
    ``at``: an event's own time (None: the sealing's)."""

    actor: str
    action: str
    detail: str
    record: RecordRef | None
    document: str | None
    at: datetime | None


def _deduplicated(items: list[tuple[str, int, str] | _Event]) -> Iterator[tuple[str, int, str] | _Event]:
    """Each changed row once (at its last change, with 'insert' kept when it was inserted),
    events as they came: the entry digests the row as the transaction commits it."""
    last_index: dict[tuple[str, int], int] = {}
    inserted: set[tuple[str, int]] = set()
    for index, item in enumerate(items):
        if isinstance(item, tuple):
            last_index[item[:2]] = index
            if item[2] == "insert":
                inserted.add(item[:2])
    for index, item in enumerate(items):
        if isinstance(item, _Event):
            yield item
        elif last_index[item[:2]] == index:
            key = item[:2]
            operation = "insert" if key in inserted and item[2] != "delete" else item[2]
            yield (item[0], item[1], operation)


ADOPT_BATCH_SIZE = 5000


def adopt_rows(
    connection: Connection,
    actor: str,
    *,
    columns: dict[str, list[str]] | None = None,
    after_ids: dict[str, int] | None = None,
    signer: AuditSigner | None = None,
    tables: tuple[str, ...] | None = None,
) -> ChainHead | None:
    """Enter rows written around the sealing (by a schema upgrade's predecessors, by the bulk
    history generator) into the chain as they are now, one entry each, in table and id order.

    ``columns`` names the columns that exist per table when a migration runs this (a later
    schema's columns may not exist yet); ``after_ids`` adopts only rows above the given id;
    ``tables`` limits it to the tables a migration's schema has (default: every chained table).
    """
    last = connection.execute(_LAST_ENTRY).first()
    sequence = 0 if last is None else int(last[0])
    previous_hash = GENESIS_HASH if last is None else str(last[1])
    now = utc_now()
    head: ChainHead | None = None
    for table in tables if tables is not None else tuple(CHAINED_TABLES):
        names = (columns or {}).get(table) or digest_columns(table)
        statement = text(
            f"SELECT {', '.join(names)} FROM {table} WHERE id > :after ORDER BY id LIMIT {ADOPT_BATCH_SIZE}"
        )
        after = (after_ids or {}).get(table, 0)
        while True:
            found = connection.execute(statement, {"after": after}).mappings().all()
            if not found:
                break
            rows: list[dict[str, Any]] = []
            for values in found:
                row_id = int(values["id"])
                record = RecordRef(table, row_id, row_digest(dict(values)))
                action, detail = "record.adopted", f"{table} {row_id} as found when it entered the chain"
                sequence += 1
                entry_hash = audit_entry_hash(sequence, now, actor, action, detail, previous_hash, record)
                rows.append({
                    "sequence": sequence, "recorded_at": now, "actor": actor, "action": action, "detail": detail,
                    "previous_hash": previous_hash, "entry_hash": entry_hash, "signature": b"",
                    "record_table": table, "record_id": row_id, "record_digest": record.digest,
                })
                previous_hash = entry_hash
                after = row_id
            if signer is not None:
                rows[-1]["signature"] = signer.sign(signed_bytes(previous_hash))
            connection.execute(insert(_AUDIT_TABLE), rows)
            head = ChainHead(sequence, previous_hash, now, rows[-1]["signature"])
    return head
