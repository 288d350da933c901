"""A declared step, and the one place that runs steps: journal, deadline, retries, progress.

Each step of the sequence is a small class (``station.flow.steps``) that says its name, the
journal state a pass reaches, whether it changes the unit for good, and what it does. The
runner here gives every try of it the same treatment, so that no step can forget one:

* a RUNNING step record is committed before the try, its outcome after it (a pass and the
  next step's RUNNING record in one commit);
* the try runs under the recipe's deadline for the step, watched by the ``Watchdog``: past
  it, the probe session and the console are interrupted and the try fails as STEP_TIMEOUT;
* a transient fault (probe, flash, console link) earns another try, up to the recipe's
  retries, each try with a fresh debug session; every try is in the attempt's history;
* any other exception becomes an INTERNAL failure of the step, never a crash.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from station.domain.errors import (
    ConsoleProtocolError,
    ConsoleTimeoutError,
    FlashError,
    InternalError,
    ProbeError,
    StationError,
    StepTimeoutError,
)
from station.domain.recipe import StepName
from station.domain.records import JournalState, StepEnd, StepOutcome, StepRecord
from station.flow.run import UnitRun
from station.flow.watchdog import Watchdog

LOG = logging.getLogger(__name__)

# Errors worth another try within the recipe's retry count: the link, not the unit, failed.
RETRYABLE: tuple[type[StationError], ...] = (
    ProbeError,
    FlashError,
    ConsoleTimeoutError,
    ConsoleProtocolError,
    StepTimeoutError,
)


@dataclass
class StepContext:
    """Handed to each try of a step: its deadline, a place for a detail line, and progress."""

    name: str
    deadline: float
    report_progress: Callable[[float], None]
    detail: str = ""

    def remaining(self) -> float:
        """Seconds left before the deadline (for console waits, which take a timeout)."""
        return max(0.0, self.deadline - time.monotonic())


class Step:
    """One declared step of a sequence; subclasses set the class attributes and ``run``."""

    name: ClassVar[StepName]
    # The journal state a passed step reaches, committed with its PASSED record.
    reaches: ClassVar[JournalState | None] = None
    # After this step the unit is changed for good (a credential out, a lock, a token used).
    irreversible: ClassVar[bool] = False
    # The operator's tile shows this step as part of another (lock-confirm as lock).
    shown_as: ClassVar[StepName | None] = None

    def skip_reason(self, run: UnitRun) -> str | None:
        """Why this step does not run for this unit (None: it runs)."""
        return None

    def reaches_when_skipped(self, run: UnitRun) -> JournalState | None:
        """The state a skipped step still establishes (a resumed unit was found locked at connect)."""
        return None

    def run(self, run: UnitRun, step: StepContext) -> None:
        raise NotImplementedError


class StepFailedError(Exception):
    """A step failed for good (retries spent); carries the step's name and the error."""

    def __init__(self, step: str, error: StationError) -> None:
        super().__init__(str(error))
        self.step = step
        self.error = error


class StepRunner:
    """Runs declared steps for one attempt (see the module's docstring)."""

    def __init__(self, watchdog: Watchdog) -> None:
        self._watchdog = watchdog

    def run_all(self, run: UnitRun, steps: Sequence[Step]) -> None:
        """Run ``steps`` in order; StepFailedError ends the sequence at the first that fails.

        A passed step's outcome and the next step's RUNNING row share one commit when that
        step will run: one transaction per step boundary instead of two, and still every
        row is committed before the act it records.
        """
        opened: StepRecord | None = None
        for index, step in enumerate(steps):
            following = steps[index + 1] if index + 1 < len(steps) else None
            opened = self.run(run, step, opened=opened, following=following)

    def run(
        self, run: UnitRun, step: Step, *, opened: StepRecord | None = None, following: Step | None = None
    ) -> StepRecord | None:
        """Run one step. ``opened``: its RUNNING row, already committed with the step before
        (then it runs: its skip was decided then). ``following``: the step after it, whose
        RUNNING row this step's pass commits when it will run; returns that row, if any."""
        name = step.name.value
        if opened is None:
            reason = step.skip_reason(run)
            if reason is not None:
                self._skip(run, step, reason)
                return None
        policy = run.recipe.step(step.name)  # every step has one: the recipe loader refuses a gap
        tries = policy.retries + 1
        journal = run.journal.attempts
        for try_number in range(1, tries + 1):
            record = opened or journal.start_step(run.attempt_id, name)
            opened = None
            run.observer.step_started(name)
            started = time.monotonic()
            context = StepContext(
                name=name,
                deadline=started + policy.timeout_seconds,
                report_progress=lambda fraction: run.observer.progress(name, fraction),
            )
            error = self._try(run, step, context, policy.timeout_seconds)
            if error is None:
                return self._passed(run, step, record, context.detail, following)
            detail = f"try {try_number} of {tries}: {error}" if tries > 1 else str(error)
            journal.finish_step(record.id or 0, StepOutcome.FAILED, detail=detail, failure_code=error.code)
            run.observer.step_finished(name, StepOutcome.FAILED, detail)
            run.after_failed_try(interrupted=isinstance(error, StepTimeoutError))
            if try_number < tries and isinstance(error, RETRYABLE):
                LOG.info("attempt %s: %s failed (%s), trying again", run.attempt_id, name, error.code)
                continue
            raise StepFailedError(name, error)
        raise AssertionError("unreachable: the last try returns or raises")

    @staticmethod
    def _passed(
        run: UnitRun, step: Step, record: StepRecord, detail: str, following: Step | None
    ) -> StepRecord | None:
        """Commit the pass (and the state it reaches); with it the next step's RUNNING row when
        that step will run for this unit."""
        journal = run.journal.attempts
        end = StepEnd(StepOutcome.PASSED, detail, None, step.reaches)
        opened = None
        if following is not None and following.skip_reason(run) is None:
            _, opened = journal.finish_step_and_start(record.id or 0, end, following.name.value)
        else:
            journal.finish_step(record.id or 0, end.outcome, detail=end.detail, advance_to=end.advance_to)
        run.observer.step_finished(step.name.value, StepOutcome.PASSED, detail)
        return opened

    def _try(self, run: UnitRun, step: Step, context: StepContext, timeout: float) -> StationError | None:
        """One try under the deadline; the error it ended with, or None when it passed."""
        error: StationError | None = None
        with self._watchdog.watch(context.deadline, run.interrupt) as watch:
            try:
                step.run(run, context)
            except StationError as raised:
                error = raised
            except Exception as raised:  # a bug must not take the station down with it
                LOG.exception("attempt %s: step %s raised", run.attempt_id, context.name)
                error = InternalError(f"internal error in step {context.name}: {type(raised).__name__}")
        if watch.expired:
            # Whatever the interrupted call raised (or even if it got through): the deadline passed.
            timed_out = StepTimeoutError(context.name, timeout)
            timed_out.__cause__ = error
            return timed_out
        return error

    @staticmethod
    def _skip(run: UnitRun, step: Step, reason: str) -> None:
        name = step.name.value
        run.journal.attempts.skip_step(run.attempt_id, name, reason, advance_to=step.reaches_when_skipped(run))
        run.observer.step_finished(name, StepOutcome.SKIPPED, reason)
