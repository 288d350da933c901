"""Rework: a supervisor's erase of a (locked) unit; it is a development unit for life afterwards.

This is the only step that erases a locked unit. It runs only in a rework attempt, which a
supervisor approved with their PIN; the attempt, the unit's record and the audit log show it.
"""

from __future__ import annotations

from typing import ClassVar

from station.domain.errors import LockError
from station.domain.recipe import StepName
from station.flow.run import UnitRun
from station.flow.step import Step, StepContext


class ReworkEraseStep(Step):
    name: ClassVar[StepName] = StepName.REWORK
    irreversible: ClassVar[bool] = True

    def run(self, run: UnitRun, step: StepContext) -> None:
        probe = run.slot.probe
        was_locked = probe.is_locked()
        erased = probe.recovery_erase()
        if probe.is_locked():
            raise LockError("the unit is still locked after the rework erase")
        run.device_id = run.open_session().read_device_id()
        run.close_session()
        step.detail = f"{'locked' if was_locked else 'unlocked'} unit erased ({erased}); device {run.device_id}"
