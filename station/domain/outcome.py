"""How one attempt ended, as its callers see it: the committed record and the error it met.

The record is what the journal holds (re-read after the final commit), so what the operator
is shown is what the database says. The error is the object the step raised, not a copy of
its text: its class gives the code and whether a person is needed.
"""

from __future__ import annotations

from dataclasses import dataclass

from station.domain.errors import StationError
from station.domain.label import LabelJobRecord
from station.domain.records import AttemptRecord, AttemptResult
from station.domain.text import escape_text, token

# Where a refusal is recorded that came before the unit was touched (a scan, a passed unit).
REFUSED_STEP = "scan"


@dataclass(frozen=True)
class AttemptOutcome:
    """``record`` is None when the unit was refused before an attempt was opened; ``label`` is
    the PASS's label job as it stood when the job ended (None: no label, or none made), so that
    a front end can say whether the label printed without asking the printer or the store."""

    serial: str
    record: AttemptRecord | None = None
    error: StationError | None = None
    failure_step: str | None = None
    resumed: bool = False
    label: LabelJobRecord | None = None

    @classmethod
    def refused(cls, scan_text: str, error: StationError) -> AttemptOutcome:
        """A scan refused before any attempt was opened: the unit was not touched."""
        return cls(scan_text.strip(), error=error, failure_step=REFUSED_STEP)

    @property
    def passed(self) -> bool:
        return self.error is None and self.record is not None and self.record.result is AttemptResult.PASSED

    @property
    def attempt_id(self) -> int | None:
        return None if self.record is None else self.record.id

    @property
    def device_id(self) -> str | None:
        return None if self.record is None else self.record.device_id

    @property
    def failure_code(self) -> str | None:
        return None if self.error is None else self.error.code

    @property
    def message(self) -> str:
        return "" if self.error is None else str(self.error)

    @property
    def needs_person(self) -> bool:
        return self.error is not None and self.error.needs_person

    @property
    def step_seconds(self) -> dict[str, float]:
        """Seconds per step name, every try counted, from the journal's step records."""
        seconds: dict[str, float] = {}
        for step in () if self.record is None else self.record.steps:
            if step.ended_at is not None:
                elapsed = (step.ended_at - step.started_at).total_seconds()
                seconds[step.name] = seconds.get(step.name, 0.0) + elapsed
        return seconds

    @property
    def summary(self) -> str:
        """``PASS <serial>`` or ``FAIL <serial> <step> <code>: <message>``, one line whatever the
        serial and the message hold (a serial that is not one plain word is quoted)."""
        if self.passed:
            return f"PASS {token(self.serial)}"
        return f"FAIL {token(self.serial)} {self.failure_step} {self.failure_code}: {escape_text(self.message)}"
