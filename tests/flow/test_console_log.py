"""The unit's console lines reach the observer as they come, secrets already replaced by labels."""

from __future__ import annotations

from station.domain.records import StepOutcome
from station.domain.scan import parse_scan

from .conftest import Line, secret_free


class RecordingObserver:
    """Keeps what the flow tells a front end, in order (a hand-written observer, no Qt)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def step_started(self, step: str) -> None:
        self.events.append(("started", step))

    def step_finished(self, step: str, outcome: StepOutcome, detail: str) -> None:
        self.events.append((outcome.value, step))

    def progress(self, step: str, fraction: float) -> None:
        pass

    def identified(self, serial: str, device_id: str) -> None:
        pass

    def console_line(self, line: str) -> None:
        self.events.append(("console", line))

    def console_lines(self) -> list[str]:
        return [text for kind, text in self.events if kind == "console"]


def test_console_lines_are_reported_during_their_steps_without_the_token(line: Line) -> None:
    unit = line.new_unit()
    observer = RecordingObserver()
    serial = parse_scan("TST-000301", line.recipe.serial_rule)
    outcome = line.provisioner.provision(serial, line.slot(unit), line.context, observer)
    assert outcome.passed, outcome.summary
    lines = observer.console_lines()
    commands = line.recipe.console.commands
    assert any(commands.version in text for text in lines), lines
    activation = [text for text in lines if commands.activate_command("") in text]
    assert activation, lines
    assert secret_free("\n".join(lines), line.all_tokens())
    # Every console line came while a step ran: between a step's start and its end.
    running: str | None = None
    for kind, text in observer.events:
        if kind == "started":
            running = text
        elif kind in ("passed", "failed", "skipped"):
            running = None
        else:
            assert running is not None, f"console line outside a step: {text}"
    # The record keeps the same lines the observer was told (one transcript, one redaction).
    attempt = line.station.database.attempts.latest_attempt("TST-000301")
    assert attempt is not None
    recorded = [text for text in attempt.console_transcript.splitlines() if text.strip()]
    assert lines == recorded
