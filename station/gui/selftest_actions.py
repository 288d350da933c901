"""The station self-test from the window: a supervisor runs it on a slot at the start of a shift.

The rule and the records are ``station.operations.selftests``; what is here is who may (a signed-in
supervisor), which slot (a free one, kept from new units while the test runs), and the thread:
a self-test reboots the golden unit and reads it back, seconds of blocking work, so it runs on a
thread of its own and never on the event loop, nor in the way of the chores (counters, vault).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication

from station.domain.errors import SlotBusyError
from station.domain.selftest import SelfTestRecord
from station.domain.text import escape_text
from station.gui.errors import describe_error
from station.gui.slot_states import ActionResult
from station.gui.workers import ChoreRunner
from station.operations.people import SUPERVISOR

if TYPE_CHECKING:
    from station.gui.line import StationLine

ResultCallback = Callable[[ActionResult], None]


def selftest_words(record: SelfTestRecord) -> str:
    """The result as the supervisor reads it: the verdict, then a line per check."""
    translate = QCoreApplication.translate
    if record.passed:
        verdict = translate("StationLine", "Self-test passed on golden unit {serial}: the station may start units.")
    else:
        verdict = translate("StationLine", "Self-test FAILED on golden unit {serial}. Call an engineer.")
    lines = [verdict.format(serial=escape_text(record.serial))]
    lines += [f"{check.name}: {check.outcome.value} — {escape_text(check.detail)}" for check in record.checks]
    return "\n".join(lines)


class SelfTestActions:
    def __init__(self, line: StationLine) -> None:
        self._line = line
        self.runner = ChoreRunner(line.error_sink.report, line)
        self.runner.worker_thread.setObjectName("self-test")
        self.slot: str | None = None  # the slot whose unit is under test, while a self-test runs

    @property
    def running(self) -> bool:
        return self.slot is not None

    def run(self, slot_name: str, serial_text: str, on_result: ResultCallback) -> None:
        """Self-test the golden unit in ``slot_name`` (``serial_text``: which one; empty: the
        recipe's). Refusals raise here, before the unit is touched; the result comes to
        ``on_result`` on the GUI thread."""
        line = self._line
        supervisor = line.session.require(SUPERVISOR)
        if self.slot is not None:
            raise SlotBusyError(f"a self-test is running in slot {self.slot}", slot=self.slot)
        if line.slot_busy(slot_name):
            raise SlotBusyError(f"slot {slot_name} is not free", slot=slot_name)
        settings = next(slot for slot in line.settings.slots if slot.name == slot_name)
        job = line.station.selftests.selftest_job(settings, supervisor.name, serial_text.strip() or None)
        self.slot = slot_name
        line.next_slot_changed.emit()  # the slot takes no unit meanwhile

        def done(record: Any) -> None:
            self._ended()
            on_result(ActionResult(bool(record.passed), selftest_words(record)))

        def failed(error: BaseException) -> None:
            self._ended()
            on_result(ActionResult(False, describe_error(error)))

        self.runner.run("station self-test", job.run, done, failed)

    def _ended(self) -> None:
        self.slot = None
        self._line.next_slot_changed.emit()

    def stop(self) -> bool:
        """End the thread after a self-test under way; True when it has ended."""
        return self.runner.stop()
