"""The append-only, hash-chained, signed audit log: the one chain of events and records.

An event is sealed like any change (``station.store.chain``): in a write transaction that
holds the database's write lock (SQLite ``BEGIN IMMEDIATE``; a table lock on PostgreSQL), so
sequence numbers are 1, 2, 3... without gaps even with several writers. The database's
triggers (migration 0002) refuse UPDATE and DELETE; the chain and signatures make any change
made around them visible to :meth:`AuditRepository.verify_audit`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import select

from station.domain.audit import verify_audit_chain
from station.domain.errors import StoreError
from station.domain.records import AuditEntry, AuditVerification, RecordRef
from station.domain.vault_and_signing import AuditSigner, AuditVerifier
from station.store.chain import current_changes, note_event
from station.store.models import AuditLogRow, utc_now
from station.store.session import Sessions

STREAM_BATCH_SIZE = 1000


class AuditRepository:
    def __init__(self, sessions: Sessions, signer: AuditSigner | None = None) -> None:
        self._sessions = sessions
        self._signer = signer

    def append_audit(self, actor: str, action: str, detail: str, *, at: datetime | None = None) -> AuditEntry:
        """Commit an audit event as the next entry of the chain (signed); return it."""
        if self._signer is None:
            raise StoreError("appending to the audit log needs the station's signing key")
        recorded_at = utc_now() if at is None else at
        if recorded_at.tzinfo is None or recorded_at.utcoffset() is None:
            raise StoreError("the store takes timezone-aware datetimes only")
        with self._sessions.writing():
            note_event(actor, action, detail, recorded_at.astimezone(UTC))
            changes = current_changes()
        assert changes.sealed is not None  # an event always makes an entry
        with self._sessions.reading() as session:
            row = session.scalars(select(AuditLogRow).where(AuditLogRow.sequence == changes.sealed.sequence)).one()
            return entry_from_row(row)

    def entries(self, *, batch_size: int = STREAM_BATCH_SIZE) -> Iterator[AuditEntry]:
        """Every entry in sequence order, streamed."""
        with self._sessions.reading() as session:
            result = session.scalars(
                select(AuditLogRow).order_by(AuditLogRow.sequence), execution_options={"yield_per": batch_size}
            )
            for row in result:
                yield entry_from_row(row)

    def verify_audit(self, verifier: AuditVerifier) -> AuditVerification:
        """Walk the chain and the signatures; report the first bad entry, or OK with the count."""
        return verify_audit_chain(self.entries(), verifier, self._locate)

    def _locate(self, entry_hash: str) -> int | None:
        with self._sessions.reading() as session:
            found = session.scalars(
                select(AuditLogRow.sequence).where(AuditLogRow.entry_hash == entry_hash).limit(1)
            ).first()
            return None if found is None else int(found)


def entry_from_row(row: AuditLogRow) -> AuditEntry:
    record = None
    if row.record_table is not None:
        record = RecordRef(row.record_table, int(row.record_id or 0), row.record_digest)
    return AuditEntry(sequence=row.sequence, recorded_at=row.recorded_at, actor=row.actor, action=row.action,
                      detail=row.detail, previous_hash=row.previous_hash, entry_hash=row.entry_hash,
                      signature=bytes(row.signature), record=record)
