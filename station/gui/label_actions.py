"""Labels from the window: the PASS tile's label line kept true, pending labels retried, and a
supervisor's reprint.

The rules and the records are ``station.operations.labels``; what is here is only what a window
adds: a thread of its own for everything that touches the printer or the store (a printer that
does not answer takes its timeout there, never on the event loop nor in the way of the chores),
a retry every ``RETRY_INTERVAL_MS`` while labels are pending, and telling the slots' tiles when
a label they show as pending was printed after all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal

from station.domain.errors import LabelError
from station.domain.label import LabelJobRecord, LabelState
from station.gui.errors import describe_error
from station.gui.slot_states import ActionResult
from station.gui.workers import ChoreRunner
from station.operations.labels import Labels
from station.operations.people import SUPERVISOR

if TYPE_CHECKING:
    from station.gui.line import StationLine

LOG = logging.getLogger(__name__)
RETRY_INTERVAL_MS = 30_000  # while a label is pending, how often the station tries its printer again

ResultCallback = Callable[[ActionResult], None]


@dataclass(frozen=True)
class LabelSnapshot:
    """The pending labels, and the jobs the tiles show as pending, as the store has them now."""

    pending: list[LabelJobRecord]
    shown: list[LabelJobRecord] = field(default_factory=list)


def read_snapshot(labels: Labels, shown: list[int]) -> LabelSnapshot:
    """On the labels thread: what the supervisor's list and the tiles show."""
    return LabelSnapshot(labels.pending(), labels.jobs_by_id(shown))


def retry_words(tried: list[LabelJobRecord], still: int) -> ActionResult:
    """What the supervisor reads after "Retry now"."""
    translate = QCoreApplication.translate
    printed = sum(job.state is LabelState.PRINTED for job in tried)
    if not tried and not still:
        return ActionResult(True, translate("StationLine", "No label is pending."))
    text = translate("StationLine", "{printed} label(s) printed, {waiting} still pending.").format(
        printed=printed, waiting=still
    )
    return ActionResult(still == 0, text)


def reprint_words(job: LabelJobRecord) -> ActionResult:
    translate = QCoreApplication.translate
    if job.state is LabelState.PRINTED:
        return ActionResult(
            True, translate("StationLine", "Another label for {serial} was printed.").format(serial=job.serial)
        )
    return ActionResult(
        False,
        translate(
            "StationLine", "The reprint of {serial} is recorded but the printer did not take it: it is pending."
        ).format(serial=job.serial),
    )


class LabelActions(QObject):
    """The window's side of labels; ``changed`` when the pending list or a tile's label changed."""

    changed = Signal()

    def __init__(self, line: StationLine) -> None:
        super().__init__(line)
        self._line = line
        self.runner = ChoreRunner(line.error_sink.report, self)
        self.runner.worker_thread.setObjectName("labels")
        self.pending: list[LabelJobRecord] = []
        self.problem = ""  # why the last look at the labels failed, said in the supervisor's view
        self.retry_timer = QTimer(self)
        self.retry_timer.setInterval(RETRY_INTERVAL_MS)
        self.retry_timer.timeout.connect(self.retry_in_background)
        self.retry_timer.start()
        self.refresh()

    @property
    def labels(self) -> Labels | None:
        return self._line.station.units.labels

    @property
    def working(self) -> bool:
        return self.runner.pending > 0

    def unit_finished(self, label: LabelJobRecord | None) -> None:
        """A slot's job ended: a PASS's new label may be pending, or its print may have sent
        older pending ones (``Labels.after_pass``)."""
        if label is not None:
            self.refresh()

    def refresh(self) -> None:
        """Read the pending labels (and the tiles' ones) off the event loop."""
        labels = self.labels
        if labels is None:
            return
        shown = self._shown_waiting()
        self.runner.run("labels", lambda: read_snapshot(labels, shown), self._apply, self._failed)

    def retry_in_background(self) -> None:
        """The timer's retry: only while labels are pending and no label work is under way."""
        if self.pending and not self.working:
            self._retry(None)

    def retry_now(self, on_result: ResultCallback) -> None:
        """The supervisor's "Retry now": every pending label this station's recipes print."""
        self._line.session.require(SUPERVISOR)
        self._retry(on_result)

    def _retry(self, on_result: ResultCallback | None) -> None:
        labels = self.labels
        if labels is None:
            return
        shown = self._shown_waiting()

        def work() -> tuple[list[LabelJobRecord], LabelSnapshot]:
            return labels.retry_pending(), read_snapshot(labels, shown)

        def done(result: Any) -> None:
            tried, snapshot = result
            self._apply(snapshot)
            if on_result is not None:
                on_result(retry_words(tried, len(snapshot.pending)))

        def failed(error: BaseException) -> None:
            self._failed(error)
            if on_result is not None:
                on_result(ActionResult(False, describe_error(error)))

        self.runner.run("label retry", work, done, failed)

    def reprint(self, serial_text: str, pin: str, on_result: ResultCallback) -> None:
        """Another label for a passed unit, approved by the signed-in supervisor's PIN (checked,
        and the reprint audited, by ``Labels.reprint`` on the labels thread). Refusals that need
        no store (nobody signed in, no serial) raise here."""
        supervisor = self._line.session.require(SUPERVISOR)
        labels = self.labels
        if labels is None:
            raise LabelError("this station prints no labels")
        serial = str(self._line.station.production.parse_unit_label(serial_text))

        def done(job: Any) -> None:
            on_result(reprint_words(job))
            self.refresh()

        def failed(error: BaseException) -> None:
            on_result(ActionResult(False, describe_error(error)))

        self.runner.run("label reprint", lambda: labels.reprint(serial, supervisor.name, pin), done, failed)

    def _shown_waiting(self) -> list[int]:
        return [state.label.id for state in self._line.slot_states.values()
                if state.label is not None and state.label_waiting]  # fmt: skip

    def _apply(self, snapshot: Any) -> None:
        assert isinstance(snapshot, LabelSnapshot)
        self.pending, self.problem = snapshot.pending, ""
        for job in snapshot.shown:
            for name, state in self._line.slot_states.items():
                if state.label_updated(job):
                    self._line.slot_changed.emit(name)
        self.changed.emit()

    def _failed(self, error: BaseException) -> None:
        """The store could not be read (the next look tries again): said in the view, logged."""
        LOG.warning("labels: %s", describe_error(error))
        self.problem = describe_error(error)
        self.changed.emit()

    def stop(self) -> bool:
        self.retry_timer.stop()
        self.runner.wait_idle(30.0)
        return self.runner.stop()
