"""What becomes of a credential: voided for good unless it sits on a locked unit.

A credential, once reserved, is never offered to another unit. It stays valid only while the
unit it was written to may be locked with it (a rescan then resumes at activation); in every
other case it is voided, and a voided credential is never used again.
"""

from __future__ import annotations

from collections.abc import Iterable

from station.domain.records import AttemptResult, CredentialRecord, CredentialState, JournalState
from station.flow.ports import CredentialJournal

# Journal states after which the unit may hold its credential behind a lock.
MAY_BE_LOCKED_STATES = frozenset({JournalState.LOCK_PENDING, JournalState.LOCKED, JournalState.ACTIVATED})


def void_all(credentials: CredentialJournal, records: Iterable[CredentialRecord]) -> None:
    """Void credentials for good: none of them is ever offered to a unit again."""
    for credential in records:
        if credential.state is not CredentialState.VOID:
            credentials.void_credential(credential.certificate_serial)


def resumable_credential(credentials: CredentialJournal, serial: str) -> CredentialRecord | None:
    """The credential this station injected into a unit that then got locked, if any."""
    injected = [
        credential
        for credential in credentials.credentials_for_serial(serial)
        if credential.state is CredentialState.INJECTED
    ]
    return injected[-1] if injected else None


def serial_may_be_carried(credentials: CredentialJournal, serial: str, result: AttemptResult | None) -> bool:
    """Whether a unit may carry ``serial`` after an attempt that did not pass (``result``; None:
    none opened): a credential for it is on a unit that got locked (it resumes under that
    serial), or nobody knows how far the attempt went (NEEDS_INSPECTION). Such a serial is never
    handed to another unit."""
    if result is AttemptResult.NEEDS_INSPECTION:
        return True
    return result is not None and resumable_credential(credentials, serial) is not None
