"""The append-only, hash-chained, signed audit log.

Appending takes the database's write lock (SQLite ``BEGIN IMMEDIATE``; a table lock on
PostgreSQL) so sequence numbers are 1, 2, 3... without gaps even with several writers. The
database's triggers (migration 0002) refuse UPDATE and DELETE; the chain and signatures
make any change made around them visible to :meth:`AuditRepository.verify_audit`.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import select, text

from station.domain.audit import GENESIS_HASH, audit_entry_hash, signed_bytes, verify_audit_chain
from station.domain.errors import StoreError
from station.domain.records import AuditEntry, AuditVerification
from station.domain.vault_and_signing import AuditSigner, AuditVerifier
from station.store.models import AuditLogRow, utc_now
from station.store.session import Sessions

STREAM_BATCH_SIZE = 1000


class AuditRepository:
    def __init__(self, sessions: Sessions, signer: AuditSigner | None = None) -> None:
        self._sessions = sessions
        self._signer = signer

    def append_audit(self, actor: str, action: str, detail: str, *, at: datetime | None = None) -> AuditEntry:
        """Sign and commit the next entry of the chain; return it."""
        if self._signer is None:
            raise StoreError("appending to the audit log needs the station's signing key")
        recorded_at = utc_now() if at is None else at
        if recorded_at.tzinfo is None or recorded_at.utcoffset() is None:
            raise StoreError("the store takes timezone-aware datetimes only")
        recorded_at = recorded_at.astimezone(UTC)
        with self._sessions.writing() as session:
            if session.get_bind().dialect.name == "postgresql":
                session.execute(text("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE"))
            last = session.scalars(select(AuditLogRow).order_by(AuditLogRow.sequence.desc()).limit(1)).first()
            sequence = 1 if last is None else last.sequence + 1
            previous_hash = GENESIS_HASH if last is None else last.entry_hash
            entry_hash = audit_entry_hash(sequence, recorded_at, actor, action, detail, previous_hash)
            signature = self._signer.sign(signed_bytes(entry_hash))
            row = AuditLogRow(sequence=sequence, recorded_at=recorded_at, actor=actor, action=action,
                              detail=detail, previous_hash=previous_hash, entry_hash=entry_hash,
                              signature=signature)
            session.add(row)
            session.flush()
            return _entry(row)

    def entries(self, *, batch_size: int = STREAM_BATCH_SIZE) -> Iterator[AuditEntry]:
        """Every entry in sequence order, streamed."""
        with self._sessions.reading() as session:
            result = session.scalars(
                select(AuditLogRow).order_by(AuditLogRow.sequence), execution_options={"yield_per": batch_size}
            )
            for row in result:
                yield _entry(row)

    def verify_audit(self, verifier: AuditVerifier) -> AuditVerification:
        """Walk the chain and the signatures; report the first bad entry, or OK with the count."""
        return verify_audit_chain(self.entries(), verifier, self._locate)

    def _locate(self, entry_hash: str) -> int | None:
        with self._sessions.reading() as session:
            found = session.scalars(
                select(AuditLogRow.sequence).where(AuditLogRow.entry_hash == entry_hash).limit(1)
            ).first()
            return None if found is None else int(found)


def _entry(row: AuditLogRow) -> AuditEntry:
    return AuditEntry(sequence=row.sequence, recorded_at=row.recorded_at, actor=row.actor, action=row.action,
                      detail=row.detail, previous_hash=row.previous_hash, entry_hash=row.entry_hash,
                      signature=bytes(row.signature))
