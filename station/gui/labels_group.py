"""The supervisor's "Labels" group: the labels the printer has not taken yet, a retry now, and a
reprint of a passed unit's label (their PIN again, audited; ``station.operations.labels``).

The list is what ``LabelActions`` last read on its thread; nothing here touches the printer or
the store. The PIN goes from the dialog into the reprint's call and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from station.domain.errors import StationError
from station.domain.text import escape_text
from station.gui.history import local_time
from station.gui.line import StationLine
from station.gui.slot_states import ActionResult
from station.operations.people import SUPERVISOR


class LabelsGroup(QGroupBox):
    def __init__(self, line: StationLine, ask_pin: Callable[[str], str | None], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # Not at the top: supervisor_view builds this group, and its helpers are shared.
        from station.gui.supervisor_view import action_label

        self.line = line
        self.label_actions = line.labels
        self._ask_pin = ask_pin
        layout = QVBoxLayout(self)
        self.state = QLabel()
        self.state.setWordWrap(True)
        self.pending_list = QListWidget()
        self.pending_list.setMaximumHeight(140)  # a few labels at most; the view scrolls past that
        self.pending_list.currentItemChanged.connect(self._pick)
        self.retry_button = QPushButton()
        self.retry_button.clicked.connect(self.retry_now)
        self.reprint_serial = QLineEdit()
        self.reprint_button = QPushButton()
        self.reprint_button.clicked.connect(self.reprint)
        self.message = action_label()
        row = QHBoxLayout()
        row.addWidget(self.retry_button)
        row.addSpacing(24)
        row.addWidget(self.reprint_serial, 1)
        row.addWidget(self.reprint_button)
        layout.addWidget(self.state)
        layout.addWidget(self.pending_list)
        layout.addLayout(row)
        layout.addWidget(self.message)
        self.label_actions.changed.connect(self.refresh)
        self.retranslate()

    def retranslate(self) -> None:
        self.setTitle(self.tr("Labels"))
        self.retry_button.setText(self.tr("Retry now"))
        self.reprint_serial.setPlaceholderText(self.tr("Serial of a passed unit"))
        self.reprint_button.setText(self.tr("Reprint…"))
        self.refresh()

    def refresh(self) -> None:
        """The pending labels as last read: serial, printer, the printer's reason, since when."""
        jobs = self.label_actions.pending
        if self.label_actions.problem:
            text = self.tr("The labels could not be read: {problem}").format(problem=self.label_actions.problem)
        elif jobs:
            text = self.tr("{count} label(s) pending: the station tries the printer again every half minute.").format(
                count=len(jobs)
            )
        else:
            text = self.tr("No label is pending.")
        self.state.setText(text)
        self.pending_list.clear()
        for job in jobs:
            reason = escape_text(job.last_error) if job.last_error else self.tr("not tried yet")
            since = self.tr("since {time}").format(time=local_time(job.created_at))
            item = QListWidgetItem(f"{escape_text(job.serial)}  ·  {job.printer}  ·  {since}\n{reason}")
            item.setData(Qt.ItemDataRole.UserRole, job.serial)
            self.pending_list.addItem(item)
        self.retry_button.setEnabled(bool(jobs))

    def _pick(self, item: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        """A pending unit chosen in the list is the one a reprint would be for."""
        if item is not None:
            self.reprint_serial.setText(str(item.data(Qt.ItemDataRole.UserRole)))

    def _show(self, result: ActionResult) -> None:
        from station.gui.supervisor_view import show_result

        show_result(self.message, result)

    def retry_now(self) -> None:
        try:
            self.label_actions.retry_now(self._show)
        except StationError as error:
            self._show(ActionResult(False, str(error)))
            return
        self._show(ActionResult(True, self.tr("Trying the printer…")))

    def reprint(self) -> None:
        serial = self.reprint_serial.text().strip()
        if not serial:
            self._show(ActionResult(False, self.tr("Give the serial of the unit.")))
            return
        try:
            self.line.session.require(SUPERVISOR)  # before the PIN is asked: it would be refused anyway
        except StationError as error:
            self._show(ActionResult(False, str(error)))
            return
        pin = self._ask_pin(
            self.tr("Print another label for {serial}? It is recorded under your name.").format(
                serial=escape_text(serial)
            )
        )
        if pin is None:
            return
        try:
            self.label_actions.reprint(serial, pin, self._show)
        except StationError as error:
            self._show(ActionResult(False, str(error)))
            return
        self._show(
            ActionResult(True, self.tr("Printing another label for {serial}…").format(serial=escape_text(serial)))
        )
