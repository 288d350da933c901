"""Live progress of a unit, for a CLI line printer or a GUI tile."""

from __future__ import annotations

from typing import Protocol

from station.domain.records import StepOutcome


class ProvisioningObserver(Protocol):
    """Called from the slot's worker thread as the attempt goes."""

    def step_started(self, step: str) -> None: ...

    def step_finished(self, step: str, outcome: StepOutcome, detail: str) -> None: ...

    def progress(self, step: str, fraction: float) -> None: ...

    def identified(self, serial: str, device_id: str) -> None: ...

    def console_line(self, line: str) -> None:
        """A line the unit's console transcript gained (secrets already replaced by labels)."""
        ...


class QuietObserver:
    """An observer that ignores everything."""

    def step_started(self, step: str) -> None:
        pass

    def step_finished(self, step: str, outcome: StepOutcome, detail: str) -> None:
        pass

    def progress(self, step: str, fraction: float) -> None:
        pass

    def identified(self, serial: str, device_id: str) -> None:
        pass

    def console_line(self, line: str) -> None:
        pass
