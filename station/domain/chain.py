"""Records in the chain: a row's digest, what its entry says, and checking rows against entries.

Each change to a traceability row becomes a chain entry holding the digest of the row as it
was committed. ``station db verify`` recomputes every row's digest and compares it with the
newest entry for that row: a row edited, deleted, or written around the station is found,
and named by the entry that recorded it last.

The digest is SHA-256 over the compact JSON object of the row's non-null columns (keys
sorted; bytes as ``{"hex": ...}``, times as ISO 8601 UTC) exactly as the database driver
returns them. Null columns are left out, so that a column added by a later schema version
(null in old rows) does not change the digests of rows written before it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from station.domain.records import AuditProblem


def canonical_value(value: object) -> object:
    """A column value as JSON can hold it, the same for every reader of one database."""
    if isinstance(value, bytes | bytearray | memoryview):
        return {"hex": bytes(value).hex()}
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, bool | int | str | float) or value is None:
        return value
    return str(value)  # Decimal and other driver types: their text


def row_document(values: Mapping[str, object]) -> str:
    """A row's canonical encoding (see the module's docstring): what its digest covers, and the
    image of the row the station forwards to a line database."""
    document = {name: canonical_value(value) for name, value in values.items() if value is not None}
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def document_digest(document: str) -> str:
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


def row_digest(values: Mapping[str, object]) -> str:
    """Hex SHA-256 of a row's canonical encoding (see the module's docstring)."""
    return document_digest(row_document(values))


def describe_change(table: str, row_id: int, operation: str, values: Mapping[str, Any] | None) -> tuple[str, str]:
    """The action and the readable detail of the entry recording a change: what an auditor
    reads in the log (attempt started, attempt ended PASSED...) without opening the row."""
    if values is None:
        return f"{table}.delete", f"{table} {row_id} deleted"
    get = values.get
    if table == "attempts":
        result = get("result")
        if operation == "insert":
            return "attempt.started", f"attempt {row_id} started ({get('state')}) at slot {get('owner_slot') or '-'}"
        if result and result != "IN_PROGRESS":
            failure = f" {get('failure_code')} at {get('failure_step')}" if get("failure_code") else ""
            return "attempt.ended", f"attempt {row_id} ended {result}{failure}"
        return "attempt.changed", f"attempt {row_id} is {get('state')}"
    if table == "steps":
        return f"step.{operation}", f"step {get('name')} of attempt {get('attempt_id')}: {get('outcome')}"
    if table == "credentials":
        return (f"credential.{operation}",
                f"credential {get('certificate_serial')} of attempt {get('attempt_id')}: {get('state')}")
    if table == "token_uses":
        return f"token.{operation}", f"token {str(get('fingerprint'))[:16]} use by attempt {get('attempt_id')}"
    if table == "units":
        return (f"unit.{operation}", f"unit {row_id}: device {get('device_id') or '-'}, golden "
                f"{bool(get('is_golden'))}, development {bool(get('is_development'))}")
    if table == "work_orders":
        return f"work-order.{operation}", f"work order {get('code')}: quantity {get('quantity')}"
    if table == "golden_references":
        return (f"golden-reference.{operation}", f"golden reference {row_id} of unit {get('unit_id')}: device "
                f"{get('device_id')}, locked {bool(get('locked'))}, from {get('source')}")
    if table == "selftests":
        return (f"selftest.{operation}", f"self-test {row_id} of unit {get('unit_id')} at station "
                f"{get('station_id')}: {get('result')}")
    if table == "person_keys":
        revoked = " (revoked)" if get("revoked_at") else ""
        return (f"person-key.{operation}", f"signing key {get('fingerprint')} of operator {get('operator_id')}: "
                f"{get('algorithm')}, {get('location')}{revoked}")
    if table == "recipe_signatures":
        approved = f", approved by {get('approver')}" if get("approver") else ""
        return (f"recipe-signature.{operation}", f"recipe {get('recipe_id')} signed by {get('signer')} "
                f"(key {get('signer_key')}){approved}")
    if table == "serials":
        scrapped = f" by {get('scrapped_by')}: {get('scrap_reason')}" if get("scrapped_by") else ""
        return (f"serial.{operation}", f"serial {get('serial')} (number {get('seq')} of work order "
                f"{get('work_order_id')}) {get('state')} at station {get('station_id')}, device "
                f"{get('device_id') or '-'}{scrapped}")
    if table == "serial_blocks":
        return (f"serial-block.{operation}", f"numbers {get('first_seq')}..{get('last_seq')} of work order "
                f"{get('work_order_id')} leased to station {get('station_id')}, next {get('next_seq')}")
    if table == "serial_rules":
        return (f"serial-rule.{operation}", f"work order {get('work_order_id')} serials {get('template')} "
                f"{get('first_seq')}..{get('last_seq')} (check digit {get('check_digit')}), next {get('next_seq')}")
    return f"{table}.{operation}", f"{table} {row_id}"


@dataclass(frozen=True)
class RecordFinding:
    """A row that does not match the chain, and the entry that recorded it last (if any)."""

    table: str
    row_id: int
    problem: AuditProblem
    sequence: int | None  # the newest entry recording the row; None when no entry does

    @property
    def explanation(self) -> str:
        row = f"{self.table} row {self.row_id}"
        if self.problem is AuditProblem.RECORD_CHANGED:
            return f"entry {self.sequence}: {row} was changed after this entry recorded it"
        if self.problem is AuditProblem.RECORD_DELETED:
            return f"entry {self.sequence}: {row}, recorded by this entry, is gone"
        return f"{row} is recorded by no entry of the chain (written around the station)"


def check_records(
    table: str,
    rows: Iterable[tuple[int, str]],
    entries: Iterable[tuple[int, int, str | None]],
) -> Iterator[RecordFinding]:
    """Merge a table's rows ``(id, digest)`` (id order) with the chain's entries for it
    ``(row id, sequence, digest)`` (row id, then sequence order); yield every mismatch.
    Both come sorted, so a table of any size is checked without holding it in memory."""
    entry_iterator = iter(entries)
    pending = next(entry_iterator, None)

    def newest_up_to(row_id: int) -> Iterator[tuple[int, int, str | None]]:
        """The newest entry of each row id below or at ``row_id``, in order."""
        nonlocal pending
        while pending is not None and pending[0] <= row_id:
            newest = pending
            pending = next(entry_iterator, None)
            while pending is not None and pending[0] == newest[0]:
                newest = pending
                pending = next(entry_iterator, None)
            yield newest

    for row_id, digest in rows:
        matched = False
        for entry_row, sequence, entry_digest in newest_up_to(row_id):
            if entry_row < row_id:
                if entry_digest is not None:
                    yield RecordFinding(table, entry_row, AuditProblem.RECORD_DELETED, sequence)
                continue
            matched = True
            if entry_digest != digest:
                yield RecordFinding(table, row_id, AuditProblem.RECORD_CHANGED, sequence)
        if not matched:
            yield RecordFinding(table, row_id, AuditProblem.RECORD_UNRECORDED, None)
    for entry_row, sequence, entry_digest in newest_up_to(2**63):
        if entry_digest is not None:
            yield RecordFinding(table, entry_row, AuditProblem.RECORD_DELETED, sequence)


@dataclass(frozen=True)
class ChainHead:
    """The newest entry of the chain as a commit left it: kept outside the database (a file
    beside it, every export's manifest) so that removed entries can be counted."""

    sequence: int
    entry_hash: str
    recorded_at: datetime
    signature: bytes

    def to_document(self) -> dict[str, object]:
        return {"sequence": self.sequence, "entry_hash": self.entry_hash,
                "recorded_at": self.recorded_at.astimezone(UTC).isoformat(timespec="microseconds"),
                "signature": self.signature.hex()}

    @classmethod
    def from_document(cls, document: object) -> ChainHead:
        """ValueError when ``document`` is not a head."""
        if not isinstance(document, dict):
            raise ValueError("not a JSON object")
        sequence = document.get("sequence")
        entry_hash = document.get("entry_hash")
        recorded_at = document.get("recorded_at")
        signature = document.get("signature", "")
        if not isinstance(sequence, int) or isinstance(sequence, bool) or sequence < 1:
            raise ValueError("its sequence is not a positive whole number")
        if not isinstance(entry_hash, str) or len(entry_hash) != 64:
            raise ValueError("its entry_hash is not a SHA-256")
        if not isinstance(recorded_at, str) or not isinstance(signature, str):
            raise ValueError("its recorded_at or signature is not text")
        moment = datetime.fromisoformat(recorded_at)
        if moment.tzinfo is None:
            raise ValueError("its recorded_at has no time zone")
        return cls(sequence, entry_hash, moment, bytes.fromhex(signature))


def compare_head(head: ChainHead, last_sequence: int, hash_at_head: str | None, origin: str) -> str | None:
    """What is wrong with the chain as the head from ``origin`` (the head file, an export) saw
    it: entries missing, or the entry at its sequence replaced; None when the chain extends it."""
    if last_sequence < head.sequence:
        missing = head.sequence - last_sequence
        ends = f"ends at entry {last_sequence}" if last_sequence else "has no entries"
        return (f"{origin} records entry {head.sequence}, the database {ends}: {missing} "
                f"{'entry is' if missing == 1 else 'entries are'} missing (the newest were removed, "
                "or this is an older copy of the database)")
    if hash_at_head != head.entry_hash:
        return (f"entry {head.sequence} is not the entry {origin} records: the chain was rewritten "
                f"at or before entry {head.sequence}")
    return None
