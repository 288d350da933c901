"""Settling attempts a crash left open, by asking the unit, never by guessing.

Before the lock nothing irreversible happened to the unit's debug port: the attempt is closed
as INTERRUPTED and its credential voided. From LOCK_PENDING on the unit may be locked, so the
probe is asked: locked, the credential stays with the unit and a rescan resumes at activation
(INTERRUPTED_LOCKED); unlocked, the credential is voided (INTERRUPTED); unreachable, the
attempt waits for a supervisor's inspection (MAY_BE_LOCKED), its credential neither voided
nor confirmed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping

from station.domain.errors import (
    AttemptFinishedError,
    AttemptInterruptedError,
    InterruptedLockedError,
    MayBeLockedError,
    StationError,
)
from station.domain.records import AttemptRecord, AttemptResult, JournalState
from station.flow.credential_rules import MAY_BE_LOCKED_STATES, void_all
from station.flow.ports import Journal
from station.flow.run import Slot

RECOVERY_STEP = "recovery"


def recover_attempt(journal: Journal, attempt: AttemptRecord, slot: Slot | None) -> AttemptRecord:
    """Settle one open attempt (see the module's docstring); the settled record."""
    state = attempt.state
    credentials = journal.credentials.credentials_for_attempt(attempt.id)
    if state not in MAY_BE_LOCKED_STATES:
        void_all(journal.credentials, credentials)
        return _finish(
            journal, attempt, AttemptResult.FAILED,
            AttemptInterruptedError(
                f"the station stopped at {state.value}; the unit was not locked: scan it again"
            ),
        )  # fmt: skip
    locked = None
    if slot is not None:
        with contextlib.suppress(StationError):
            locked = slot.probe.is_locked()
    if locked is None:
        return _finish(
            journal, attempt, AttemptResult.NEEDS_INSPECTION,
            MayBeLockedError(
                f"the station stopped at {state.value} and the unit could not be asked: it may be locked; "
                "a supervisor must inspect it"
            ),
        )  # fmt: skip
    if locked:
        if state is JournalState.LOCK_PENDING:
            journal.attempts.advance(attempt.id, JournalState.LOCKED)
        return _finish(
            journal, attempt, AttemptResult.FAILED,
            InterruptedLockedError("the station stopped after locking the unit: scan it again to resume at activation"),
        )  # fmt: skip
    void_all(journal.credentials, credentials)
    return _finish(
        journal, attempt, AttemptResult.FAILED,
        AttemptInterruptedError("the station stopped before the lock took effect; the unit is unlocked: scan it again"),
    )  # fmt: skip


def recover_unfinished(
    journal: Journal,
    station: str,
    slots_by_probe: Mapping[str, Slot],
    owner_gone: Callable[[AttemptRecord], bool],
) -> list[AttemptRecord]:
    """On start: settle every attempt of ``station`` whose owner is gone (``owner_gone``); an
    attempt a live process still works on is never touched.

    The list of open attempts is read before their owners are judged, and an owner may work
    on (inject, lock) until the moment it dies: each attempt is settled from its record as it
    is once its owner is known to be gone, never from the first read (which once voided the
    credential of a unit locked meanwhile and settled it as "not locked")."""
    settled = []
    for listed in journal.attempts.unfinished_attempts(station):
        if not owner_gone(listed):
            continue
        attempt = journal.attempts.get_attempt(listed.id)
        if attempt.result is not AttemptResult.IN_PROGRESS:
            continue  # another process settled it meanwhile, or its owner finished it
        try:
            settled.append(recover_attempt(journal, attempt, slots_by_probe.get(attempt.probe_id or "")))
        except AttemptFinishedError:
            continue  # another process starting at the same moment settled it first
    return settled


def _finish(journal: Journal, attempt: AttemptRecord, result: AttemptResult, error: StationError) -> AttemptRecord:
    return journal.attempts.finish_attempt(
        attempt.id, result, failure_step=RECOVERY_STEP, failure_code=error.code, failure_message=str(error)
    )
