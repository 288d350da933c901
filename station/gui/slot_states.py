"""What the window shows of a slot and of the station: view models, derived from the records.

A ``SlotState`` holds what only the window needs while a unit runs (the current step, the
progress bar, the clock) and, once the job has ended, the ``AttemptOutcome`` it ended with:
the verdict, the failure code and the words under it are derived from that one outcome, never
copied from it.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field

from station.domain.errors import AlreadyPassedError, UnitReworkedError
from station.domain.label import LabelJobRecord, LabelState
from station.domain.outcome import AttemptOutcome
from station.domain.recipe import StepInstruction
from station.domain.records import StepOutcome
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
    # A rescan of a unit that passed before: refused untouched, and still a good unit. Shown
    # as its PASS with a calm "move it on", never as a FAIL that sends it to the reject bin.
    ALREADY_PASSED = "already-passed"


class BannerLevel(enum.StrEnum):
    NONE = "none"
    INFO = "info"
    ATTENTION = "attention"
    ERROR = "error"


ANY_SLOT = "*"


@dataclass(frozen=True)
class Banner:
    """The station's message line, and what ends it besides the next message.

    A banner about a slot ("already running in slot 2", "all slots are working") is only true
    while that slot (``ANY_SLOT``: every slot) is busy: ``until_slot_free`` names it, and the
    line clears the banner when it frees. ``until_ready`` banners say what keeps the station
    from starting a unit: they go when nothing does any more.
    """

    level: BannerLevel = BannerLevel.NONE
    text: str = ""
    until_slot_free: str | None = None
    until_ready: bool = False

    def ends_when_free(self, slot: str) -> bool:
        return self.until_slot_free is not None and self.until_slot_free in (slot, ANY_SLOT)


@dataclass(frozen=True)
class ActionResult:
    ok: bool
    message: str = ""


def verdict_of(outcome: AttemptOutcome) -> Verdict:
    """How a finished job shows: PASS, already passed (its PASS kept), ERASED (rework), amber
    (a person is needed) or FAIL."""
    if outcome.passed:
        return Verdict.PASS
    if isinstance(outcome.error, AlreadyPassedError):
        return Verdict.ALREADY_PASSED
    if isinstance(outcome.error, UnitReworkedError):
        return Verdict.REWORKED
    if outcome.needs_person:
        return Verdict.NEEDS_PERSON
    return Verdict.FAIL


class LogKind(enum.StrEnum):
    STARTED = "started"
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"
    CONSOLE = "console"
    RESULT = "result"


@dataclass(frozen=True)
class SlotLogLine:
    """The latest thing a slot's unit did, for the engineer's live line: raw text from outside
    (console lines, details), escaped by whoever shows it."""

    kind: LogKind
    step: str = ""
    text: str = ""


@dataclass
class SlotState:
    """What a slot tile shows (and the engineer view's live line of the slot)."""

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
    instruction: StepInstruction | None = None  # the recipe's words for the step running now
    log_line: SlotLogLine | None = None

    def start(self, kind: str, serial: str, now: float) -> None:
        self.serial, self.device_id, self.job_kind = serial, "", kind
        self.steps = dict.fromkeys(DISPLAY_STEPS, StepState.PENDING)
        self.current_step, self.progress = None, None
        self.started_at, self.finished_at, self.running = now, None, True
        self.outcome = None
        self.instruction, self.log_line = None, None

    def finish(self, outcome: AttemptOutcome, now: float) -> None:
        self.running, self.finished_at, self.current_step = False, now, None
        self.device_id = outcome.device_id or self.device_id
        self.outcome = outcome
        self.instruction = None
        result = "PASS" if outcome.passed else f"FAIL {outcome.failure_step} {outcome.failure_code}: {outcome.message}"
        self.log_line = SlotLogLine(LogKind.RESULT, outcome.failure_step or "", result)

    def step_started(self, step: str, instruction: StepInstruction | None) -> None:
        """A step (its own name, not the tile row it shows on) began; its instruction, if any, shows."""
        self.instruction = instruction
        self.log_line = SlotLogLine(LogKind.STARTED, step)

    def step_finished(self, step: str, outcome: str, detail: str) -> None:
        if self.instruction is not None and self.instruction.step.value == step:
            self.instruction = None
        kinds = {StepOutcome.PASSED.value: LogKind.PASSED, StepOutcome.FAILED.value: LogKind.FAILED}
        self.log_line = SlotLogLine(kinds.get(outcome, LogKind.SKIPPED), step, detail)

    def console_line(self, line: str) -> None:
        self.log_line = SlotLogLine(LogKind.CONSOLE, "", line)

    def elapsed(self, now: float) -> float | None:
        if self.started_at is None:
            return None
        return (self.finished_at if self.finished_at is not None else now) - self.started_at

    @property
    def verdict(self) -> Verdict | None:
        return None if self.outcome is None else verdict_of(self.outcome)

    @property
    def label(self) -> LabelJobRecord | None:
        """The shown unit's label job, as it stood when its PASS ended or a retry last told."""
        return None if self.outcome is None else self.outcome.label

    @property
    def label_waiting(self) -> bool:
        """The shown unit's label has not been taken by the printer yet."""
        return self.label is not None and self.label.state in (LabelState.PENDING, LabelState.PRINTING)

    def label_updated(self, job: LabelJobRecord) -> bool:
        """``job`` as it stands now (a retry printed it); True when this slot shows that job and
        it changed, so the tile is drawn again."""
        if self.outcome is None or self.label is None or self.label.id != job.id or self.label == job:
            return False
        self.outcome = dataclasses.replace(self.outcome, label=job)
        return True

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


def rework_slot_for(states: dict[str, SlotState], current: str = "") -> str:
    """The slot the supervisor's rework most likely means: the first whose unit waits for a
    person (amber), else the slot chosen already, else the one that failed last, else the first."""
    finished = [state for state in states.values() if not state.running and state.verdict is not None]
    for state in finished:
        if state.verdict is Verdict.NEEDS_PERSON:
            return state.name
    if current in states:
        return current
    failed = [state for state in finished if state.verdict is Verdict.FAIL and state.finished_at is not None]
    if failed:
        return max(failed, key=lambda state: state.finished_at or 0.0).name
    return next(iter(states), "")
