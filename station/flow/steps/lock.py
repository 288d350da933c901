"""Lock and lock-confirm: close the debug port, then read the lock back through a fresh session.

LOCK_PENDING is committed before the lock is written: from then on the unit "may be locked",
and a crash is settled by asking the unit. The lock is confirmed only by a new session after
the reset, never by the session that wrote it.
"""

from __future__ import annotations

from typing import ClassVar

from station.domain.errors import LockError
from station.domain.recipe import StepName
from station.domain.records import JournalState
from station.flow.run import UnitRun
from station.flow.step import Step, StepContext


class LockStep(Step):
    name: ClassVar[StepName] = StepName.LOCK
    irreversible: ClassVar[bool] = True

    def skip_reason(self, run: UnitRun) -> str | None:
        return run.resumed_note

    def run(self, run: UnitRun, step: StepContext) -> None:
        unit = run.attached()
        run.journal.attempts.advance(run.attempt_id, JournalState.LOCK_PENDING)  # the unit "may be locked"
        unit.apply_lock()
        step.detail = f"{run.recipe.lock.method.value} written, unit reset"


class LockConfirmStep(Step):
    name: ClassVar[StepName] = StepName.LOCK_CONFIRM
    reaches: ClassVar[JournalState | None] = JournalState.LOCKED
    shown_as: ClassVar[StepName | None] = StepName.LOCK

    def skip_reason(self, run: UnitRun) -> str | None:
        return run.resumed_note

    def reaches_when_skipped(self, run: UnitRun) -> JournalState | None:
        # A resumed unit was found locked at connect, holding this station's credential.
        return JournalState.LOCKED

    def run(self, run: UnitRun, step: StepContext) -> None:
        run.close_session()  # the lock is confirmed with a fresh session, after the reset
        if not run.slot.probe.is_locked():
            raise LockError("the unit is not locked after the reset")
        step.detail = "lock state read back with a fresh session: locked"
