"""``db verify``'s reading of the database: every entry and every record, as stored.

Everything is read as the driver returns it (raw SQL, no type processing), page by page in one
read transaction: a malformed value -- text in a number column, a time that is not a time --
becomes a finding that names the entry, never a traceback, and a database of any size is
checked in constant memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from station.domain.audit import signed_bytes, verify_audit_chain
from station.domain.chain import ChainHead, RecordFinding, check_records, compare_head, row_digest
from station.domain.errors import StoreError
from station.domain.records import (
    AuditEntry,
    AuditProblem,
    ChainFinding,
    ChainReport,
    MalformedEntry,
    RecordRef,
)
from station.domain.vault_and_signing import AuditVerifier
from station.store.chain import CHAINED_TABLES, select_rows_sql
from station.store.chain_head import HeadFile
from station.store.session import Sessions, describe

PAGE_SIZE = 5000
MAX_FINDINGS = 50

_ENTRY_COLUMNS = ("id, sequence, recorded_at, actor, action, detail, previous_hash, entry_hash, signature, "
                  "record_table, record_id, record_digest")


def verify_chain(sessions: Sessions, verifier: AuditVerifier, head_file: HeadFile | None) -> ChainReport:
    """Walk the chain, check every record against it, compare the head file; report all."""
    try:
        with sessions.engine.connect() as connection, connection.begin():
            chain = verify_audit_chain(_entries(connection), verifier, lambda found: _locate(connection, found))
            findings: list[ChainFinding] = []
            count = 0
            records = 0
            for table in CHAINED_TABLES:
                counter = _Counter()
                rows = counter.count(_row_digests(connection, table))
                for finding in check_records(table, rows, _record_entries(connection, table)):
                    count += 1
                    if len(findings) < MAX_FINDINGS:
                        findings.append(_finding(finding))
                records += counter.seen
            head_note, head_finding = _compare_head_file(connection, head_file, verifier)
    except SQLAlchemyError as error:
        raise StoreError(f"the database could not be read for verification: {describe(error)}") from error
    if head_finding is not None:
        findings.append(head_finding)
        count += 1
    findings.sort(key=lambda finding: (finding.sequence is None, finding.sequence or 0))
    return ChainReport(chain=chain, records_checked=records, findings=tuple(findings), finding_count=count,
                       head_note=head_note)


def last_entry(connection: Connection) -> tuple[int, str] | None:
    """The newest entry's sequence and hash (well-formed entries only)."""
    found = connection.execute(text(
        "SELECT sequence, entry_hash FROM audit_log WHERE sequence >= 1 ORDER BY sequence DESC LIMIT 1"
    )).first()
    if found is None or not _is_whole_number(found[0]):
        return None
    return int(found[0]), str(found[1])


def entry_hash_at(connection: Connection, sequence: int) -> str | None:
    found = connection.execute(text("SELECT entry_hash FROM audit_log WHERE sequence = :sequence"),
                               {"sequence": sequence}).first()
    return None if found is None else str(found[0])


class _Counter:
    def __init__(self) -> None:
        self.seen = 0

    def count(self, items: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
        for item in items:
            self.seen += 1
            yield item


def _finding(finding: RecordFinding) -> ChainFinding:
    return ChainFinding(finding.sequence, finding.problem, finding.explanation)


def _paged(connection: Connection, sql: str, parameters: dict[str, Any], after: Any) -> Iterator[Any]:
    """Rows of ``sql`` (which takes ``:after`` and returns rows in key order) a page at a time;
    ``after(row)`` gives the parameters that continue after a row."""
    page = dict(parameters)
    while True:
        rows = connection.execute(text(sql), page).all()
        yield from rows
        if len(rows) < PAGE_SIZE:
            return
        page.update(after(rows[-1]))


def _entries(connection: Connection) -> Iterator[AuditEntry | MalformedEntry]:
    if connection.dialect.name == "sqlite":
        # Text where a sequence number belongs sorts after every number: name it first.
        odd = connection.execute(text(
            "SELECT id, sequence FROM audit_log WHERE typeof(sequence) != 'integer' ORDER BY id LIMIT 1"
        )).first()
        if odd is not None:
            yield MalformedEntry(f"audit_log row {odd[0]}", f"its sequence {odd[1]!r} is not a whole number")
            return
    sql = f"SELECT {_ENTRY_COLUMNS} FROM audit_log WHERE sequence > :after ORDER BY sequence LIMIT {PAGE_SIZE}"
    for row in _paged(connection, sql, {"after": 0}, lambda last: {"after": last.sequence}):
        yield _entry(row)


def _entry(row: Any) -> AuditEntry | MalformedEntry:
    where = f"entry {row.sequence}"
    recorded_at = _moment(row.recorded_at)
    if recorded_at is None:
        return MalformedEntry(where, "recorded_at is not a time")
    for name in ("actor", "action", "detail", "previous_hash", "entry_hash"):
        if not isinstance(getattr(row, name), str):
            return MalformedEntry(where, f"{name} is not text")
    if not isinstance(row.signature, bytes | memoryview):
        return MalformedEntry(where, "signature is not bytes")
    record = None
    if row.record_table is not None or row.record_id is not None or row.record_digest is not None:
        if not isinstance(row.record_table, str) or not _is_whole_number(row.record_id):
            return MalformedEntry(where, "the record it names is not a table and a row number")
        if row.record_digest is not None and not isinstance(row.record_digest, str):
            return MalformedEntry(where, "record_digest is not text")
        record = RecordRef(row.record_table, int(row.record_id), row.record_digest)
    return AuditEntry(sequence=int(row.sequence), recorded_at=recorded_at, actor=row.actor, action=row.action,
                      detail=row.detail, previous_hash=row.previous_hash, entry_hash=row.entry_hash,
                      signature=bytes(row.signature), record=record)


def _moment(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
        return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    return None


def _is_whole_number(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _locate(connection: Connection, entry_hash: str) -> int | None:
    found = connection.execute(text("SELECT sequence FROM audit_log WHERE entry_hash = :hash LIMIT 1"),
                               {"hash": entry_hash}).first()
    return int(found[0]) if found is not None and _is_whole_number(found[0]) else None


def _row_digests(connection: Connection, table: str) -> Iterator[tuple[int, str]]:
    sql = f"{select_rows_sql(table)} WHERE id > :after ORDER BY id LIMIT {PAGE_SIZE}"
    for row in _paged(connection, sql, {"after": 0}, lambda last: {"after": last.id}):
        values = dict(row._mapping)
        yield int(values["id"]), row_digest(values)


def _record_entries(connection: Connection, table: str) -> Iterator[tuple[int, int, str | None]]:
    sql = (
        "SELECT record_id, sequence, record_digest FROM audit_log WHERE record_table = :table AND "
        "(record_id > :row_id OR (record_id = :row_id AND sequence > :sequence)) "
        f"ORDER BY record_id, sequence LIMIT {PAGE_SIZE}"
    )
    start = {"table": table, "row_id": -1, "sequence": 0}
    for row in _paged(connection, sql, start, lambda last: {"row_id": last.record_id, "sequence": last.sequence}):
        if _is_whole_number(row.record_id) and _is_whole_number(row.sequence):
            digest = row.record_digest if isinstance(row.record_digest, str) else None
            yield int(row.record_id), int(row.sequence), digest


def _compare_head_file(
    connection: Connection, head_file: HeadFile | None, verifier: AuditVerifier
) -> tuple[str, ChainFinding | None]:
    """What the head file says, and a finding when the database does not extend it."""
    if head_file is None:
        return "no head file is kept for this database", None
    try:
        head = head_file.read()
    except StoreError as error:
        return "the head file cannot be read", ChainFinding(None, AuditProblem.HEAD_MISMATCH, str(error))
    last = last_entry(connection)
    if head is None:
        if last is None:
            return f"no head file yet ({head_file.path}): the chain is empty", None
        return (f"no head file at {head_file.path}", ChainFinding(
            None, AuditProblem.TRUNCATED,
            f"the head file {head_file.path} is missing while the chain has {last[0]} entries: it was removed"))
    if not _head_signed(head, verifier):
        return "the head file is not signed by the station's key", ChainFinding(
            head.sequence, AuditProblem.HEAD_MISMATCH,
            f"the head file {head_file.path} is not signed by the station's key")
    problem = compare_head(head, last[0] if last else 0, entry_hash_at(connection, head.sequence), "the head file")
    if problem is not None:
        kind = AuditProblem.TRUNCATED if (last[0] if last else 0) < head.sequence else AuditProblem.HEAD_MISMATCH
        return "the database does not extend the head file", ChainFinding(head.sequence, kind, problem)
    ahead = (last[0] if last else 0) - head.sequence
    since = f"; {ahead} newer entries were committed after it was written" if ahead else ""
    return f"the head file (entry {head.sequence}) agrees{since}", None


def _head_signed(head: ChainHead, verifier: AuditVerifier) -> bool:
    if not head.signature:
        return True  # a database sealed without a key: its entries say so themselves
    try:
        return verifier.verify(signed_bytes(head.entry_hash), head.signature)
    except ValueError:
        return False
