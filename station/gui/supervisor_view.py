"""The supervisor's screen: the token vault, rework, inspections after a restart, golden units,
and the station self-test on a golden unit at the start of a shift.

Rework erases a unit, its lock and credentials included: it is the only way to erase a locked
unit, the unit is a development unit from then on. Rework, an inspection's finding and a
golden unit each need the supervisor's PIN again (wrong PINs count towards a lock-out). Every
action here is recorded in the audit log under the supervisor's name.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from station.domain.errors import StationError
from station.gui.dialogs import PinDialog, secret_field
from station.gui.history import local_time
from station.gui.labels_group import LabelsGroup
from station.gui.line import ActionResult, StationLine
from station.gui.slot_states import Verdict, rework_slot_for
from station.gui.slot_tile import repolish


def show_result(label: QLabel, result: ActionResult) -> None:
    label.setText(result.message)
    label.setProperty("level", "ok" if result.ok else "error")
    repolish(label)


def action_label() -> QLabel:
    label = QLabel()
    label.setObjectName("actionMessage")
    label.setWordWrap(True)
    return label


LINE_REFRESH_MS = 2000  # how often the line database's state is shown anew


class SupervisorView(QScrollArea):
    """Scrolls rather than growing: its groups never make the window taller than a line screen."""

    def __init__(self, line: StationLine, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.line = line
        # replaced in tests: a modal dialog needs a person
        self.ask_pin: Callable[[str], str | None] = self._ask_pin
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        body = QWidget()
        body.setObjectName("supervisorBody")
        self.setWidget(body)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(12, 10, 12, 12)
        layout.setSpacing(12)

        # vault
        self.vault_group = QGroupBox()
        vault_layout = QFormLayout(self.vault_group)
        vault_layout.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.vault_state = QLabel()
        self.vault_passphrase = secret_field()
        self.vault_passphrase.returnPressed.connect(self.unlock_vault)
        buttons = QHBoxLayout()
        self.unlock_button = QPushButton()
        self.unlock_button.setObjectName("primary")
        self.unlock_button.clicked.connect(self.unlock_vault)
        self.lock_button = QPushButton()
        self.lock_button.clicked.connect(self.lock_vault)
        buttons.addWidget(self.unlock_button)
        buttons.addWidget(self.lock_button)
        buttons.addStretch(1)
        self.vault_message = action_label()
        self.vault_state_label = QLabel()
        self.vault_passphrase_label = QLabel()
        vault_layout.addRow(self.vault_state_label, self.vault_state)
        vault_layout.addRow(self.vault_passphrase_label, self.vault_passphrase)
        vault_layout.addRow(buttons)
        vault_layout.addRow(self.vault_message)
        layout.addWidget(self.vault_group)

        # the line database (store and forward): its state, refreshed while the view is shown
        self.line_group = QGroupBox()
        line_layout = QFormLayout(self.line_group)
        line_layout.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.line_state = QLabel()
        self.line_state.setWordWrap(True)
        self.line_state_label = QLabel()
        line_layout.addRow(self.line_state_label, self.line_state)
        layout.addWidget(self.line_group)
        self._line_timer = QTimer(self)
        self._line_timer.setInterval(LINE_REFRESH_MS)
        self._line_timer.timeout.connect(self.refresh_line)
        self._line_timer.start()

        # labels the printer has not taken yet: retry now, or a supervisor's reprint
        self.labels_group = LabelsGroup(line, lambda what: self.ask_pin(what))
        layout.addWidget(self.labels_group)

        # rework
        self.rework_group = QGroupBox()
        rework_layout = QFormLayout(self.rework_group)
        rework_layout.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.rework_warning = QLabel()
        self.rework_warning.setWordWrap(True)
        self._rework_text = ""  # the warning in the window's language (retranslate)
        self.rework_serial = QLineEdit()
        self.rework_slot = QComboBox()
        self._rework_slot_picked = False  # the supervisor chose a slot themselves
        self.rework_slot.activated.connect(self._pick_rework_slot)
        self.rework_button = QPushButton()
        self.rework_button.setObjectName("danger")
        self.rework_button.clicked.connect(self.start_rework)
        self.rework_slot.currentTextChanged.connect(lambda _text: self._offer_rework())
        self.rework_message = action_label()
        self.rework_serial_label = QLabel()
        self.rework_slot_label = QLabel()
        rework_layout.addRow(self.rework_warning)
        rework_layout.addRow(self.rework_serial_label, self.rework_serial)
        rework_layout.addRow(self.rework_slot_label, self.rework_slot)
        rework_layout.addRow(self.rework_button)
        rework_layout.addRow(self.rework_message)
        layout.addWidget(self.rework_group)

        # inspections
        self.inspection_group = QGroupBox()
        inspection_layout = QVBoxLayout(self.inspection_group)
        self.inspection_list = QListWidget()
        self.inspection_list.setMaximumHeight(140)  # a few units at most; the view scrolls past that
        self.inspection_note = QLineEdit()
        self.acknowledge_button = QPushButton()
        self.acknowledge_button.clicked.connect(self.acknowledge)
        self.inspection_message = action_label()
        note_row = QHBoxLayout()
        note_row.addWidget(self.inspection_note, 1)
        note_row.addWidget(self.acknowledge_button)
        inspection_layout.addWidget(self.inspection_list)
        inspection_layout.addLayout(note_row)
        inspection_layout.addWidget(self.inspection_message)
        layout.addWidget(self.inspection_group)

        # golden units
        self.golden_group = QGroupBox()
        golden_layout = QHBoxLayout(self.golden_group)
        self.golden_serial = QLineEdit()
        self.golden_button = QPushButton()
        self.golden_button.clicked.connect(lambda: self.mark_golden(True))
        self.ungolden_button = QPushButton()
        self.ungolden_button.clicked.connect(lambda: self.mark_golden(False))
        self.golden_message = action_label()
        golden_layout.addWidget(self.golden_serial, 1)
        golden_layout.addWidget(self.golden_button)
        golden_layout.addWidget(self.ungolden_button)
        golden_box = QVBoxLayout()
        golden_box.addWidget(self.golden_group)
        golden_box.addWidget(self.golden_message)
        layout.addLayout(golden_box)

        # the station self-test
        self.selftest_group = QGroupBox()
        selftest_layout = QFormLayout(self.selftest_group)
        selftest_layout.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.selftest_intro = QLabel()
        self.selftest_intro.setWordWrap(True)
        self.selftest_slot = QComboBox()
        self.selftest_serial = QLineEdit()
        self.selftest_button = QPushButton()
        self.selftest_button.clicked.connect(self.run_selftest)
        self.selftest_message = action_label()
        self.selftest_slot_label = QLabel()
        self.selftest_serial_label = QLabel()
        selftest_layout.addRow(self.selftest_intro)
        selftest_layout.addRow(self.selftest_slot_label, self.selftest_slot)
        selftest_layout.addRow(self.selftest_serial_label, self.selftest_serial)
        selftest_layout.addRow(self.selftest_button)
        selftest_layout.addRow(self.selftest_message)
        layout.addWidget(self.selftest_group)
        layout.addStretch(1)

        line.production_changed.connect(self.refresh)
        line.inspections_changed.connect(self.refresh_inspections)
        line.slots_replaced.connect(self.refresh)
        line.slot_changed.connect(self._slot_changed)
        self.retranslate()
        self.refresh()

    def retranslate(self) -> None:
        self.vault_group.setTitle(self.tr("Token vault"))
        self.vault_state_label.setText(self.tr("State"))
        self.vault_passphrase_label.setText(self.tr("Vault passphrase"))
        self.line_group.setTitle(self.tr("Line database"))
        self.line_state_label.setText(self.tr("State"))
        self.labels_group.retranslate()
        self.unlock_button.setText(self.tr("Unlock for the shift"))
        self.lock_button.setText(self.tr("Lock"))
        self.rework_group.setTitle(self.tr("Rework"))
        self._rework_text = self.tr(
            "Rework erases the unit in the chosen slot, its lock and credentials included. The unit becomes "
            "a development unit and never ships. Put the unit in the slot, then confirm with your PIN."
        )
        self.rework_warning.setText(self._rework_text)
        self.rework_serial_label.setText(self.tr("Serial"))
        self.rework_slot_label.setText(self.tr("Slot"))
        self.rework_button.setText(self.tr("Erase the unit (rework)…"))
        self.inspection_group.setTitle(self.tr("Units to inspect after a restart"))
        self.inspection_note.setPlaceholderText(self.tr("What did the inspection find?"))
        self.acknowledge_button.setText(self.tr("Acknowledge…"))
        self.golden_group.setTitle(self.tr("Golden reference units (left out of yield)"))
        self.golden_serial.setPlaceholderText(self.tr("Serial of the reference unit"))
        self.golden_button.setText(self.tr("Mark golden…"))
        self.ungolden_button.setText(self.tr("Unmark…"))
        self.selftest_group.setTitle(self.tr("Station self-test (start of a shift)"))
        self.selftest_intro.setText(
            self.tr(
                "Put the golden unit in a free slot. The station reads its device id, images, lock and console "
                "and compares them with what was recorded when it was marked golden. A recipe that requires the "
                "self-test refuses units until it passes."
            )
        )
        self.selftest_slot_label.setText(self.tr("Slot"))
        self.selftest_serial_label.setText(self.tr("Golden unit"))
        self.selftest_serial.setPlaceholderText(self.tr("Serial (empty: the recipe's golden unit)"))
        self.selftest_button.setText(self.tr("Run the station self-test"))
        self.refresh()

    def refresh(self) -> None:
        in_token = self.line.station.production.vault_in_token()
        self.vault_passphrase.setVisible(not in_token)
        self.vault_passphrase_label.setVisible(not in_token)
        if self.line.vault is not None:
            self.vault_state.setText(self.tr("unlocked"))
        elif in_token:
            self.vault_state.setText(self.tr("locked; its key is in the token: unlock needs no passphrase"))
        else:
            self.vault_state.setText(self.tr("locked"))
        for combo in (self.rework_slot, self.selftest_slot):
            current = combo.currentText()
            combo.clear()
            combo.addItems(self.line.slot_names)
            if current in self.line.slot_names:
                combo.setCurrentText(current)
        self.selftest_button.setEnabled(not self.line.selftest.running)
        self._offer_rework()
        self.refresh_line()

    def refresh_line(self) -> None:
        """The line database's state as the station's link last saw it (no query of its own)."""
        link = self.line.station.line_link
        if link is None:
            self.line_state.setText(self.tr("none: this station's records are its own"))
            return
        state = link.state()
        if state.conflict:
            text = self.tr("CONFLICT, forwarding stopped: {detail}").format(detail=state.conflict)
        elif state.connected and state.pending:
            text = self.tr("connected, {count} entries to forward").format(count=state.pending)
        elif state.connected:
            text = self.tr("connected, all forwarded")
        elif state.offline_since is not None:
            text = self.tr("offline since {time} UTC, {count} entries waiting").format(
                time=f"{state.offline_since:%H:%M:%S}", count=state.pending)
        else:
            text = self.tr("not reached yet")
        if state.to_inspect:
            text += " " + self.tr("{count} conflict(s) between stations to inspect (station line conflicts)").format(
                count=state.to_inspect)
        self.line_state.setText(text)
        self.refresh_inspections()

    def _offer_rework(self) -> None:
        """Units under a permanent lock are never offered rework: the box says why instead (the
        chosen slot's recipe decides, on a line whose slots make different products)."""
        recipe = self.line.station.production.recipe_for(self.rework_slot.currentText() or None)
        permanent = recipe is not None and recipe.lock.no_rework_reason is not None
        for widget in (self.rework_serial, self.rework_button):
            widget.setEnabled(not permanent)
        self.rework_warning.setText(self.tr(
            "Units of this recipe are locked for good (a permanent lock): no erase reopens them, "
            "so they can never be reworked."
        ) if permanent else self._rework_text)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.default_rework_slot()

    def _pick_rework_slot(self, _index: int) -> None:
        self._rework_slot_picked = True

    def default_rework_slot(self) -> None:
        """The rework's slot as the view opens: the unit waiting for a person (amber), else the
        slot the supervisor chose, else the one that failed last; its unit's serial with it
        when no serial is typed yet."""
        states = self.line.slot_states
        picked = self.rework_slot.currentText() if self._rework_slot_picked else ""
        slot = rework_slot_for(states, picked)
        if not slot:
            return
        self.rework_slot.setCurrentText(slot)
        state = states.get(slot)
        if (state is not None and not self.rework_serial.text().strip() and state.serial
                and state.verdict in (Verdict.NEEDS_PERSON, Verdict.FAIL)):  # fmt: skip
            self.rework_serial.setText(state.serial)

    def _slot_changed(self, name: str) -> None:
        state = self.line.slot_states.get(name)
        if state is not None and state.job_kind == "rework" and not state.running and state.verdict is not None:
            self.rework_message.setText(f"{state.serial}: {state.failure_code}: {state.detail}")

    def refresh_inspections(self) -> None:
        self.inspection_list.clear()
        try:
            attempts = self.line.inspections()
        except StationError as error:
            self.inspection_message.setText(str(error))
            return
        for attempt in attempts:
            item = QListWidgetItem(
                f"{attempt.serial}  ·  {self.tr('attempt')} {attempt.id}  ·  {local_time(attempt.started_at)}\n"
                f"{attempt.failure_code}: {attempt.failure_message or ''}"
            )
            item.setData(Qt.ItemDataRole.UserRole, attempt.id)
            self.inspection_list.addItem(item)

    # ---- actions -------------------------------------------------------------------------------

    def unlock_vault(self) -> None:
        passphrase = self.vault_passphrase.text()
        self.vault_passphrase.clear()
        try:
            self.line.unlock_vault(passphrase, self._vault_result)
        except StationError as error:
            show_result(self.vault_message, ActionResult(False, str(error)))

    def _vault_result(self, result: ActionResult) -> None:
        show_result(self.vault_message, result)
        self.refresh()

    def lock_vault(self) -> None:
        try:
            self.line.lock_vault()
        except StationError as error:
            show_result(self.vault_message, ActionResult(False, str(error)))
        self.refresh()

    def _ask_pin(self, what: str) -> str | None:
        dialog = PinDialog(what, self)
        return dialog.pin if dialog.exec() else None

    def start_rework(self) -> None:
        serial = self.rework_serial.text().strip()
        slot = self.rework_slot.currentText()
        if not serial or not slot:
            show_result(self.rework_message, ActionResult(False, self.tr("Give the serial and the slot.")))
            return
        pin = self.ask_pin(self.tr("Erase unit {serial} in slot {slot}? It will never ship.").format(
            serial=serial, slot=slot))
        if pin is None:
            return
        try:
            self.line.rework(serial, slot, pin)
        except StationError as error:
            show_result(self.rework_message, ActionResult(False, str(error)))
            return
        started = self.tr("Rework started in slot {slot}.").format(slot=slot)
        show_result(self.rework_message, ActionResult(True, started))

    def acknowledge(self) -> None:
        item = self.inspection_list.currentItem()
        if item is None:
            show_result(self.inspection_message, ActionResult(False, self.tr("Choose a unit in the list.")))
            return
        note = self.inspection_note.text().strip()
        if not note:
            show_result(self.inspection_message, ActionResult(False, self.tr("Say what the inspection found.")))
            return
        attempt_id = int(item.data(Qt.ItemDataRole.UserRole))
        pin = self.ask_pin(self.tr("Record the inspection of attempt {attempt}?").format(attempt=attempt_id))
        if pin is None:
            return
        try:
            self.line.acknowledge_inspection(attempt_id, note, pin)
        except StationError as error:
            show_result(self.inspection_message, ActionResult(False, str(error)))
            return
        self.inspection_note.clear()
        show_result(self.inspection_message, ActionResult(True, self.tr("Recorded.")))

    def mark_golden(self, golden: bool) -> None:
        serial = self.golden_serial.text().strip()
        if not serial:
            show_result(self.golden_message, ActionResult(False, self.tr("Give the serial of the unit.")))
            return
        question = (self.tr("Mark {serial} as a golden reference unit?") if golden
                    else self.tr("Unmark {serial} as a golden reference unit?")).format(serial=serial)  # fmt: skip
        pin = self.ask_pin(question)
        if pin is None:
            return
        try:
            self.line.mark_golden(serial, pin, golden=golden)
        except StationError as error:
            show_result(self.golden_message, ActionResult(False, str(error)))
            return
        self.golden_serial.clear()
        done = self.tr("{serial} is a golden unit.") if golden else self.tr("{serial} is no longer a golden unit.")
        show_result(self.golden_message, ActionResult(True, done.format(serial=serial)))

    def run_selftest(self) -> None:
        """The station self-test on the golden unit in the chosen slot, off the event loop."""
        slot = self.selftest_slot.currentText()
        if not slot:
            show_result(self.selftest_message, ActionResult(False, self.tr("Choose the slot of the golden unit.")))
            return
        try:
            self.line.selftest.run(slot, self.selftest_serial.text(), self._selftest_result)
        except StationError as error:
            show_result(self.selftest_message, ActionResult(False, str(error)))
            return
        self.selftest_button.setEnabled(False)
        show_result(self.selftest_message,
                    ActionResult(True, self.tr("Self-test running in slot {slot}…").format(slot=slot)))  # fmt: skip

    def _selftest_result(self, result: ActionResult) -> None:
        self.selftest_button.setEnabled(True)
        show_result(self.selftest_message, result)
