"""What the window shows of a slot and of the station: view models, derived from the records.

A ``SlotState`` holds what only the window needs while a unit runs (the current step, the
progress bar, the clock) and, once the job has ended, the ``AttemptOutcome`` it ended with:
the verdict, the failure code and the words under it are derived from that one outcome, never
copied from it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from station.domain.errors import UnitReworkedError
from station.domain.outcome import AttemptOutcome
from station.flow.sequence import display_steps
from station.gui.wording import error_words, plain_words

DISPLAY_STEPS = tuple(step.value for step in display_steps())


class StepState(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


class Verdict(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NEEDS_PERSON = "needs-person"
    REWORKED = "reworked"


class BannerLevel(enum.StrEnum):
    NONE = "none"
    INFO = "info"
    ATTENTION = "attention"
    ERROR = "error"


@dataclass(frozen=True)
class Banner:
    level: BannerLevel = BannerLevel.NONE
    text: str = ""


@dataclass(frozen=True)
class ActionResult:
    ok: bool
    message: str = ""


def verdict_of(outcome: AttemptOutcome) -> Verdict:
    """How a finished job shows: PASS, ERASED (rework), amber (a person is needed) or FAIL."""
    if outcome.passed:
        return Verdict.PASS
    if isinstance(outcome.error, UnitReworkedError):
        return Verdict.REWORKED
    if outcome.needs_person:
        return Verdict.NEEDS_PERSON
    return Verdict.FAIL


@dataclass
class SlotState:
    """What a slot tile shows."""

    name: str
    serial: str = ""
    device_id: str = ""
    job_kind: str = ""
    steps: dict[str, StepState] = field(default_factory=lambda: dict.fromkeys(DISPLAY_STEPS, StepState.PENDING))
    current_step: str | None = None
    progress: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    running: bool = False
    outcome: AttemptOutcome | None = None

    def start(self, kind: str, serial: str, now: float) -> None:
        self.serial, self.device_id, self.job_kind = serial, "", kind
        self.steps = dict.fromkeys(DISPLAY_STEPS, StepState.PENDING)
        self.current_step, self.progress = None, None
        self.started_at, self.finished_at, self.running = now, None, True
        self.outcome = None

    def finish(self, outcome: AttemptOutcome, now: float) -> None:
        self.running, self.finished_at, self.current_step = False, now, None
        self.device_id = outcome.device_id or self.device_id
        self.outcome = outcome

    def elapsed(self, now: float) -> float | None:
        if self.started_at is None:
            return None
        return (self.finished_at if self.finished_at is not None else now) - self.started_at

    @property
    def verdict(self) -> Verdict | None:
        return None if self.outcome is None else verdict_of(self.outcome)

    @property
    def failure_step(self) -> str | None:
        return None if self.outcome is None else self.outcome.failure_step

    @property
    def failure_code(self) -> str | None:
        return None if self.outcome is None else self.outcome.failure_code

    @property
    def detail(self) -> str:
        return "" if self.outcome is None else self.outcome.message

    @property
    def headline(self) -> str:
        """The plain-words sentence under the verdict."""
        if self.verdict in (None, Verdict.PASS) or self.outcome is None:
            return ""
        if self.outcome.error is not None:
            return error_words(self.outcome.error)
        return plain_words(self.failure_code)
