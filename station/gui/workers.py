"""Work off the GUI thread: one worker per slot on its own QThread, and one for slow chores.

A slot's worker runs the blocking ``UnitProvisioner.provision`` (or a rework) for that slot
only, so slots never wait for each other and the window never waits for any of them. The
flow calls the observer from the worker's thread; the observer only emits signals, which Qt
queues to the GUI thread. The unit's console port is opened by the flow inside that same
thread (``slot.open_console``), as serial ports want.

The chore worker runs everything else that may take a moment (pyOCD probe discovery, crash
recovery, unlocking the vault, loading the CA, importing tokens) one at a time.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from station.domain.outcome import AttemptOutcome
from station.domain.records import StepOutcome
from station.flow.observer import ProvisioningObserver

LOG = logging.getLogger(__name__)
PROGRESS_STEP = 0.01  # emit flash progress in whole percents, not for every page
THREAD_STOP_TIMEOUT_MS = 30_000


@dataclass(frozen=True)
class SlotJob:
    """One piece of work for a slot: ``run`` is called on the slot's thread with the observer."""

    kind: str  # "provision" or "rework"
    serial_text: str
    run: Callable[[ProvisioningObserver], AttemptOutcome]


class _SignalObserver:
    """The flow's ProvisioningObserver, turned into the worker's signals."""

    def __init__(self, worker: SlotWorker) -> None:
        self._worker = worker
        self._last_progress: dict[str, float] = {}

    def step_started(self, step: str) -> None:
        self._last_progress.pop(step, None)
        self._worker.step_started.emit(step)

    def step_finished(self, step: str, outcome: StepOutcome, detail: str) -> None:
        self._worker.step_finished.emit(step, outcome.value, detail)

    def progress(self, step: str, fraction: float) -> None:
        last = self._last_progress.get(step, -1.0)
        if fraction >= 1.0 or fraction - last >= PROGRESS_STEP:
            self._last_progress[step] = fraction
            self._worker.progress.emit(step, float(fraction))

    def identified(self, serial: str, device_id: str) -> None:
        self._worker.identified.emit(serial, device_id)

    def console_line(self, line: str) -> None:
        self._worker.console_line.emit(line)


class SlotWorker(QObject):
    """Lives on its slot's QThread and runs one job at a time."""

    job_started = Signal(str, str)  # kind, scanned text
    step_started = Signal(str)
    step_finished = Signal(str, str, str)  # step, StepOutcome value, detail
    progress = Signal(str, float)
    identified = Signal(str, str)  # serial, device id
    console_line = Signal(str)  # a console transcript line (secrets replaced by labels)
    job_finished = Signal(AttemptOutcome)
    job_crashed = Signal(str, str)  # scanned text, what may be shown

    def __init__(self, slot_name: str) -> None:
        super().__init__()
        self.slot_name = slot_name

    @Slot(object)
    def run_job(self, job: SlotJob) -> None:
        self.job_started.emit(job.kind, job.serial_text)
        try:
            outcome = job.run(_SignalObserver(self))
        except Exception as error:  # the flow never raises for a unit; this is a station bug
            from station.gui.errors import describe_error

            LOG.exception("slot %s: %s of %r crashed", self.slot_name, job.kind, job.serial_text)
            self.job_crashed.emit(job.serial_text, describe_error(error))
            return
        self.job_finished.emit(outcome)


class SlotRunner(QObject):
    """The GUI thread's handle on one slot's worker and thread.

    The worker's signals are relayed through this object, which lives in the GUI thread, so
    that whatever listens here runs in the GUI thread, and every signal names the slot.
    """

    job_started = Signal(str, str, str)  # slot, kind, scanned text
    step_started = Signal(str, str)  # slot, step
    step_finished = Signal(str, str, str, str)  # slot, step, StepOutcome value, detail
    progress = Signal(str, str, float)  # slot, step, fraction
    identified = Signal(str, str, str)  # slot, serial, device id
    console_line = Signal(str, str)  # slot, console transcript line
    job_finished = Signal(str, str, AttemptOutcome)  # slot, kind, outcome
    job_crashed = Signal(str, str, str)  # slot, scanned text, what may be shown
    _submit = Signal(object)

    def __init__(self, slot_name: str, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.slot_name = slot_name
        self.busy = False
        self.current_kind = ""
        self.worker_thread = QThread()
        self.worker_thread.setObjectName(f"slot {slot_name}")
        self.worker = SlotWorker(slot_name)
        self.worker.moveToThread(self.worker_thread)
        self._submit.connect(self.worker.run_job, Qt.ConnectionType.QueuedConnection)
        self.worker.job_started.connect(self._job_started)
        self.worker.step_started.connect(self._step_started)
        self.worker.step_finished.connect(self._step_finished)
        self.worker.progress.connect(self._progress)
        self.worker.identified.connect(self._identified)
        self.worker.console_line.connect(self._console_line)
        self.worker.job_finished.connect(self._job_finished)
        self.worker.job_crashed.connect(self._job_crashed)
        self.worker_thread.start()

    def submit(self, job: SlotJob) -> None:
        if self.busy:
            raise RuntimeError(f"slot {self.slot_name} is busy")
        self.busy = True
        self.current_kind = job.kind
        self._submit.emit(job)

    @Slot(str, str)
    def _job_started(self, kind: str, text: str) -> None:
        self.job_started.emit(self.slot_name, kind, text)

    @Slot(str)
    def _step_started(self, step: str) -> None:
        self.step_started.emit(self.slot_name, step)

    @Slot(str, str, str)
    def _step_finished(self, step: str, outcome: str, detail: str) -> None:
        self.step_finished.emit(self.slot_name, step, outcome, detail)

    @Slot(str, float)
    def _progress(self, step: str, fraction: float) -> None:
        self.progress.emit(self.slot_name, step, fraction)

    @Slot(str, str)
    def _identified(self, serial: str, device_id: str) -> None:
        self.identified.emit(self.slot_name, serial, device_id)

    @Slot(str)
    def _console_line(self, line: str) -> None:
        self.console_line.emit(self.slot_name, line)

    @Slot(AttemptOutcome)
    def _job_finished(self, outcome: AttemptOutcome) -> None:
        self.busy = False
        self.job_finished.emit(self.slot_name, self.current_kind, outcome)

    @Slot(str, str)
    def _job_crashed(self, text: str, shown: str) -> None:
        self.busy = False
        self.job_crashed.emit(self.slot_name, text, shown)

    def stop(self, timeout_ms: int = THREAD_STOP_TIMEOUT_MS) -> bool:
        """End the thread after its current job; True when it has ended."""
        self.worker_thread.quit()
        return bool(self.worker_thread.wait(timeout_ms))


class _ChoreWorker(QObject):
    done = Signal(int, object)  # ticket, result
    failed = Signal(int, object)  # ticket, exception

    @Slot(int, object)
    def run(self, ticket: int, work: Callable[[], Any]) -> None:
        try:
            result = work()
        except Exception as error:
            self.failed.emit(ticket, error)
            return
        self.done.emit(ticket, result)


class ChoreRunner(QObject):
    """Runs slow callables one after another on one thread; results come back as callbacks.

    ``on_done`` and ``on_error`` are called in the GUI thread. An error not handled by
    ``on_error`` goes to the error sink.
    """

    _submit = Signal(int, object)

    def __init__(self, report_error: Callable[[str, BaseException], None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._report_error = report_error
        self.worker_thread = QThread()
        self.worker_thread.setObjectName("chores")
        self._worker = _ChoreWorker()
        self._worker.moveToThread(self.worker_thread)
        self._submit.connect(self._worker.run, Qt.ConnectionType.QueuedConnection)
        self._worker.done.connect(self._finished)
        self._worker.failed.connect(self._failed)
        self._tickets = itertools.count(1)
        self._pending: dict[int, tuple[str, Callable[[Any], None] | None, Callable[[BaseException], None] | None]] = {}
        self.worker_thread.start()

    @property
    def pending(self) -> int:
        return len(self._pending)

    def run(
        self,
        name: str,
        work: Callable[[], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> None:
        ticket = next(self._tickets)
        self._pending[ticket] = (name, on_done, on_error)
        self._submit.emit(ticket, work)

    @Slot(int, object)
    def _finished(self, ticket: int, result: object) -> None:
        name, on_done, _ = self._pending.pop(ticket, ("chore", None, None))
        if on_done is not None:
            try:
                on_done(result)
            except Exception as error:
                self._report_error(name, error)

    @Slot(int, object)
    def _failed(self, ticket: int, error: object) -> None:
        name, _, on_error = self._pending.pop(ticket, ("chore", None, None))
        if not isinstance(error, BaseException):
            return
        if on_error is not None:
            try:
                on_error(error)
                return
            except Exception as handler_error:
                error = handler_error
        self._report_error(name, error)

    def stop(self, timeout_ms: int = THREAD_STOP_TIMEOUT_MS) -> bool:
        self.worker_thread.quit()
        return bool(self.worker_thread.wait(timeout_ms))

    def wait_idle(self, timeout_seconds: float) -> bool:
        """For tests and shutdown: process events until no chore is pending."""
        from PySide6.QtCore import QCoreApplication

        deadline = time.monotonic() + timeout_seconds
        while self._pending and time.monotonic() < deadline:
            QCoreApplication.processEvents()
            time.sleep(0.005)
        return not self._pending
