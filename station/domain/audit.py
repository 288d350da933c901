"""The chain's hashing and verification, independent of where entries are stored.

One hash chain holds every audit event (sign-ins, overrides, recipe changes...) and every
change to a traceability record (attempts, steps, credentials, token uses, units, work orders,
...): an entry per changed row, written in the transaction that changed it. Each entry's hash
is SHA-256 over a canonical encoding of its fields and the previous entry's hash; the station
signs the 32 raw bytes of the last entry of each transaction with its Ed25519 key. An entry
without a signature is covered by the next signed one, whose hash depends on it through the
links. Anyone holding the station's public key and the entries can re-walk the chain with
:func:`verify_audit_chain` -- the store, ``station db verify``, or an auditor's own script.

Canonical encoding: the UTF-8 bytes of the compact JSON array
``[sequence, recorded_at, actor, action, detail, previous_hash]`` (no spaces, non-ASCII kept
as is), where ``recorded_at`` is ISO 8601 UTC with microseconds, e.g.
``2026-01-31T12:00:00.000000+00:00``; an entry that records a row appends
``record_table, record_id, record_digest`` (the digest is null for a deleted row). The first
entry's previous hash is 64 zeros.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from station.domain.records import AuditEntry, AuditProblem, AuditVerification, MalformedEntry, RecordRef
from station.domain.vault_and_signing import AuditVerifier

GENESIS_HASH = "0" * 64


def canonical_timestamp(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_audit_bytes(
    sequence: int,
    recorded_at: datetime,
    actor: str,
    action: str,
    detail: str,
    previous_hash: str,
    record: RecordRef | None = None,
) -> bytes:
    fields: list[object] = [sequence, canonical_timestamp(recorded_at), actor, action, detail, previous_hash]
    if record is not None:
        fields += [record.table, record.row_id, record.digest]
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def audit_entry_hash(
    sequence: int,
    recorded_at: datetime,
    actor: str,
    action: str,
    detail: str,
    previous_hash: str,
    record: RecordRef | None = None,
) -> str:
    """Hex SHA-256 of the entry's canonical encoding."""
    encoded = canonical_audit_bytes(sequence, recorded_at, actor, action, detail, previous_hash, record)
    return hashlib.sha256(encoded).hexdigest()


def signed_bytes(entry_hash: str) -> bytes:
    """What the station signs for an entry: the raw 32 bytes of its hash."""
    return bytes.fromhex(entry_hash)


def verify_audit_chain(
    entries: Iterable[AuditEntry | MalformedEntry],
    verifier: AuditVerifier,
    locate_hash: Callable[[str], int | None] = lambda _hash: None,
) -> AuditVerification:
    """Walk entries in sequence order and report the first bad one, or OK with the count.

    ``locate_hash`` maps an entry hash to the sequence number of the entry that holds it
    (None if no entry does); it tells an entry moved within the log from a link to nowhere.
    Entries after the last signed one are reported UNSIGNED: nothing proves they are the
    station's.
    """
    expected_sequence = 1
    previous_hash = GENESIS_HASH
    checked = 0
    first_unsigned: int | None = None
    for entry in entries:
        if isinstance(entry, MalformedEntry):
            return _bad(checked, expected_sequence, AuditProblem.MALFORMED, f"{entry.where}: {entry.explanation}")
        if entry.sequence != expected_sequence:
            if entry.sequence > expected_sequence:
                missing = (
                    f"entry {expected_sequence} is missing"
                    if entry.sequence == expected_sequence + 1
                    else f"entries {expected_sequence} to {entry.sequence - 1} are missing"
                )
                return _bad(checked, expected_sequence, AuditProblem.SEQUENCE_GAP,
                            f"{missing}; the next entry is {entry.sequence}")
            return _bad(checked, entry.sequence, AuditProblem.REORDERED,
                        f"entry {entry.sequence} appears after entry {expected_sequence - 1}")
        if entry.previous_hash != previous_hash:
            holder = locate_hash(entry.previous_hash)
            if holder is not None:
                return _bad(checked, entry.sequence, AuditProblem.REORDERED,
                            f"entry {entry.sequence} was chained after entry {holder}, "
                            f"not after entry {entry.sequence - 1}")
            return _bad(checked, entry.sequence, AuditProblem.BROKEN_LINK,
                        f"entry {entry.sequence} links to a previous hash that no entry has")
        recomputed = audit_entry_hash(entry.sequence, entry.recorded_at, entry.actor, entry.action,
                                      entry.detail, entry.previous_hash, entry.record)
        if recomputed != entry.entry_hash:
            return _bad(checked, entry.sequence, AuditProblem.HASH_MISMATCH,
                        f"entry {entry.sequence}'s fields do not match its stored hash (changed after it was written)")
        if entry.signature:
            if not _signature_valid(verifier, entry):
                return _bad(checked, entry.sequence, AuditProblem.BAD_SIGNATURE,
                            f"entry {entry.sequence}'s signature does not verify with the station's key")
            first_unsigned = None
        elif first_unsigned is None:
            first_unsigned = entry.sequence
        previous_hash = entry.entry_hash
        expected_sequence += 1
        checked += 1
    if first_unsigned is not None:
        last = expected_sequence - 1
        which = f"entry {last} is" if first_unsigned == last else f"entries {first_unsigned} to {last} are"
        return _bad(checked, first_unsigned, AuditProblem.UNSIGNED,
                    f"{which} covered by no signature of the station's key")
    return AuditVerification(entries_checked=checked, last_hash=None if checked == 0 else previous_hash)


def _signature_valid(verifier: AuditVerifier, entry: AuditEntry) -> bool:
    try:
        return verifier.verify(signed_bytes(entry.entry_hash), entry.signature)
    except ValueError:  # a stored hash that is not hex
        return False


def _bad(checked: int, sequence: int, problem: AuditProblem, explanation: str) -> AuditVerification:
    return AuditVerification(entries_checked=checked, bad_sequence=sequence, problem=problem,
                             explanation=explanation)
