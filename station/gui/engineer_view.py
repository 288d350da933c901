"""The engineer's screen: each slot's live line, recipe and work order, the factory CA, tokens,
slots, people.

Slots are set up with what this PC actually has: probes found by pyOCD and serial ports
found by pyserial (discovery runs off the GUI thread). The recipe check shows what the
recipe will do to every unit before it is chosen. Every change is recorded in the audit
log under the engineer's name.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QIntValidator
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from station.config.settings import SlotSettings
from station.domain.errors import StationError
from station.gui.dialogs import secret_field
from station.gui.line import ActionResult, StationLine
from station.gui.slot_log import SlotLogPanel
from station.gui.supervisor_view import action_label, show_result
from station.operations.people import ROLES

SLOT_COLUMNS = ("name", "probe", "console", "fixture")


class EngineerView(QScrollArea):
    def __init__(self, line: StationLine, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.line = line
        self.setWidgetResizable(True)
        self.choose_file = self._choose_file  # replaced in tests: a file dialog needs a person
        body = QWidget()
        self.setWidget(body)
        grid = QGridLayout(body)
        grid.setContentsMargins(12, 10, 12, 12)
        grid.setSpacing(12)

        # recipe and work order
        self.recipe_group = QGroupBox()
        recipe_layout = QVBoxLayout(self.recipe_group)
        self.recipe_path = QLabel()
        self.recipe_path.setWordWrap(True)
        recipe_buttons = QHBoxLayout()
        self.check_button = QPushButton()
        self.check_button.clicked.connect(self.check_recipe)
        self.use_button = QPushButton()
        self.use_button.setObjectName("primary")
        self.use_button.clicked.connect(self.use_recipe)
        self.use_button.setEnabled(False)
        recipe_buttons.addWidget(self.check_button)
        recipe_buttons.addWidget(self.use_button)
        recipe_buttons.addStretch(1)
        self.recipe_check = QPlainTextEdit()
        self.recipe_check.setObjectName("monospace")
        self.recipe_check.setReadOnly(True)
        self.recipe_check.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.recipe_check.setMinimumHeight(240)
        self.recipe_message = action_label()
        work_order_row = QHBoxLayout()
        self.work_order_label = QLabel()
        self.work_order_field = QLineEdit()
        self.work_order_button = QPushButton()
        self.work_order_button.clicked.connect(self.apply_work_order)
        work_order_row.addWidget(self.work_order_label)
        work_order_row.addWidget(self.work_order_field, 1)
        work_order_row.addWidget(self.work_order_button)
        recipe_layout.addWidget(self.recipe_path)
        recipe_layout.addLayout(recipe_buttons)
        recipe_layout.addWidget(self.recipe_check, 1)
        recipe_layout.addWidget(self.recipe_message)
        recipe_layout.addLayout(work_order_row)
        # what every slot's unit is doing, live, first: an engineer at the line watches it
        self.live_group = SlotLogPanel(line)
        grid.addWidget(self.live_group, 0, 0, 1, 2)
        grid.addWidget(self.recipe_group, 1, 0, 1, 2)
        self._candidate: Path | None = None

        # CA
        self.ca_group = QGroupBox()
        ca_layout = QFormLayout(self.ca_group)
        ca_layout.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.ca_state = QLabel()
        self.ca_state.setWordWrap(True)
        self.ca_name = QLineEdit("Factory CA")
        self.ca_passphrase = secret_field()
        self.ca_repeat = secret_field()
        ca_buttons = QHBoxLayout()
        self.open_ca_button = QPushButton()
        self.open_ca_button.setObjectName("primary")
        self.open_ca_button.clicked.connect(self.open_ca)
        self.create_ca_button = QPushButton()
        self.create_ca_button.clicked.connect(self.create_ca)
        ca_buttons.addWidget(self.open_ca_button)
        ca_buttons.addWidget(self.create_ca_button)
        ca_buttons.addStretch(1)
        self.ca_message = action_label()
        self.ca_state_label, self.ca_name_label, self.ca_passphrase_label, self.ca_repeat_label = (
            QLabel() for _ in range(4)
        )
        ca_layout.addRow(self.ca_state_label, self.ca_state)
        ca_layout.addRow(self.ca_name_label, self.ca_name)
        ca_layout.addRow(self.ca_passphrase_label, self.ca_passphrase)
        ca_layout.addRow(self.ca_repeat_label, self.ca_repeat)
        ca_layout.addRow(ca_buttons)
        ca_layout.addRow(self.ca_message)
        grid.addWidget(self.ca_group, 2, 0)

        # tokens
        self.tokens_group = QGroupBox()
        tokens_layout = QFormLayout(self.tokens_group)
        tokens_layout.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        file_row = QHBoxLayout()
        self.token_file = QLineEdit()
        self.token_browse = QPushButton()
        self.token_browse.clicked.connect(self._browse_tokens)
        file_row.addWidget(self.token_file, 1)
        file_row.addWidget(self.token_browse)
        self.token_product = QLineEdit()
        self.token_limit = QLineEdit()
        self.token_limit.setValidator(QIntValidator(1, 1_000_000, self.token_limit))
        self.token_passphrase = secret_field()
        self.import_button = QPushButton()
        self.import_button.clicked.connect(self.import_tokens)
        self.tokens_message = action_label()
        self.token_file_label, self.token_product_label, self.token_limit_label, self.token_passphrase_label = (
            QLabel() for _ in range(4)
        )
        tokens_layout.addRow(self.token_file_label, file_row)
        tokens_layout.addRow(self.token_product_label, self.token_product)
        tokens_layout.addRow(self.token_limit_label, self.token_limit)
        tokens_layout.addRow(self.token_passphrase_label, self.token_passphrase)
        tokens_layout.addRow(self.import_button)
        tokens_layout.addRow(self.tokens_message)
        grid.addWidget(self.tokens_group, 2, 1)

        # slots
        self.slots_group = QGroupBox()
        slots_layout = QVBoxLayout(self.slots_group)
        self.slots_table = QTableWidget(0, len(SLOT_COLUMNS))
        self.slots_table.verticalHeader().setVisible(False)
        self.slots_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.slots_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.slots_table.setMinimumHeight(200)
        self.slots_table.verticalHeader().setDefaultSectionSize(46)
        slot_buttons = QHBoxLayout()
        self.add_slot_button = QPushButton()
        self.add_slot_button.clicked.connect(lambda: self._add_slot_row(None))
        self.remove_slot_button = QPushButton()
        self.remove_slot_button.clicked.connect(self._remove_slot_row)
        self.discover_button = QPushButton()
        self.discover_button.clicked.connect(self.discover)
        self.apply_slots_button = QPushButton()
        self.apply_slots_button.setObjectName("primary")
        self.apply_slots_button.clicked.connect(self.apply_slots)
        for button in (self.add_slot_button, self.remove_slot_button, self.discover_button):
            slot_buttons.addWidget(button)
        slot_buttons.addStretch(1)
        slot_buttons.addWidget(self.apply_slots_button)
        self.slots_message = action_label()
        slots_layout.addWidget(self.slots_table)
        slots_layout.addLayout(slot_buttons)
        slots_layout.addWidget(self.slots_message)
        grid.addWidget(self.slots_group, 3, 0)
        self._probes: list[tuple[str, str]] = []
        self._ports: list[tuple[str, str]] = []

        # people
        self.people_group = QGroupBox()
        people_layout = QFormLayout(self.people_group)
        people_layout.setLabelAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.person_name = QLineEdit()
        self.person_role = QComboBox()
        self.person_role.addItems(list(ROLES))
        self.person_pin = secret_field()
        self.add_person_button = QPushButton()
        self.add_person_button.clicked.connect(self.add_person)
        self.people_message = action_label()
        self.person_name_label, self.person_role_label, self.person_pin_label = (QLabel() for _ in range(3))
        people_layout.addRow(self.person_name_label, self.person_name)
        people_layout.addRow(self.person_role_label, self.person_role)
        people_layout.addRow(self.person_pin_label, self.person_pin)
        people_layout.addRow(self.add_person_button)
        people_layout.addRow(self.people_message)
        grid.addWidget(self.people_group, 3, 1)
        grid.setColumnStretch(0, 1)
        grid.setColumnStretch(1, 1)

        line.production_changed.connect(self.refresh)
        line.slots_replaced.connect(self._load_slots)
        self.retranslate()
        self.refresh()
        self._load_slots()
        self.show_current_recipe_check()

    def retranslate(self) -> None:
        self.live_group.retranslate()
        self.recipe_group.setTitle(self.tr("Recipe and work order"))
        self.check_button.setText(self.tr("Check a recipe file…"))
        self.use_button.setText(self.tr("Use this recipe"))
        self.work_order_label.setText(self.tr("Work order"))
        self.work_order_button.setText(self.tr("Set"))
        self.ca_group.setTitle(self.tr("Factory CA"))
        self.ca_state_label.setText(self.tr("State"))
        self.ca_name_label.setText(self.tr("Name (new CA)"))
        self.ca_passphrase_label.setText(self.tr("CA passphrase"))
        self.ca_repeat_label.setText(self.tr("Again (new CA)"))
        self.open_ca_button.setText(self.tr("Open CA"))
        self.create_ca_button.setText(self.tr("Create CA"))
        self.tokens_group.setTitle(self.tr("Activation tokens"))
        self.token_file_label.setText(self.tr("Token file"))
        self.token_browse.setText(self.tr("Browse…"))
        self.token_product_label.setText(self.tr("Product"))
        self.token_limit_label.setText(self.tr("Uses per token"))
        self.token_limit.setPlaceholderText(self.tr("no limit"))
        self.token_passphrase_label.setText(self.tr("Vault passphrase"))
        self.import_button.setText(self.tr("Import tokens"))
        self.slots_group.setTitle(self.tr("Slots"))
        self.slots_table.setHorizontalHeaderLabels(
            [self.tr("Name"), self.tr("Probe"), self.tr("Console port"), self.tr("Fixture label")]
        )
        self.add_slot_button.setText(self.tr("Add slot"))
        self.remove_slot_button.setText(self.tr("Remove slot"))
        self.discover_button.setText(self.tr("Find probes and ports"))
        self.apply_slots_button.setText(self.tr("Save slots"))
        self.people_group.setTitle(self.tr("People"))
        self.person_name_label.setText(self.tr("Name / badge id"))
        self.person_role_label.setText(self.tr("Role"))
        self.person_pin_label.setText(self.tr("PIN (supervisor, engineer)"))
        self.add_person_button.setText(self.tr("Register"))

    def refresh(self) -> None:
        line = self.line
        recipe = line.recipe
        if recipe is not None:
            self.recipe_path.setText(self.tr("In use: {path}").format(path=recipe.path))
        elif line.recipe_problem:
            self.recipe_path.setText(self.tr("Refused: {problem}").format(problem=line.recipe_problem))
        else:
            self.recipe_path.setText(self.tr("No recipe chosen."))
        if not self.work_order_field.hasFocus():
            self.work_order_field.setText(line.settings.work_order or "")
        in_token = line.engineer.ca_in_token()
        for widget in (self.ca_passphrase, self.ca_passphrase_label, self.ca_repeat, self.ca_repeat_label,
                       self.ca_name, self.ca_name_label, self.create_ca_button):  # fmt: skip
            widget.setVisible(not in_token)
        if line.ca_loaded:
            self.ca_state.setText(self.tr("open for this recipe"))
        elif in_token:
            self.ca_state.setText(self.tr("its key is in the token, not open: open it (the token's PIN comes from "
                                          "the station's PIN file)"))
        elif line.engineer.ca_exists():
            self.ca_state.setText(self.tr("exists, not open: give its passphrase"))
        else:
            self.ca_state.setText(self.tr("none yet: create one"))
        if recipe is not None and not self.token_product.text():
            self.token_product.setText(recipe.activation.token_pool)

    def show_current_recipe_check(self) -> None:
        recipe = self.line.recipe
        if recipe is None:
            return
        try:
            self.recipe_check.setPlainText(self.line.engineer.check_recipe_file(recipe.path))
        except StationError as error:
            self.recipe_check.setPlainText(str(error))

    # ---- recipe ----------------------------------------------------------------------------

    def _choose_file(self, title: str, pattern: str) -> Path | None:
        name, _ = QFileDialog.getOpenFileName(self, title, "", pattern)
        return Path(name) if name else None

    def check_recipe(self) -> None:
        path = self.choose_file(self.tr("Recipe"), self.tr("Recipes (*.toml)"))
        if path is None:
            return
        self._candidate = None
        self.use_button.setEnabled(False)
        try:
            self.recipe_check.setPlainText(self.line.engineer.check_recipe_file(path))
        except StationError as error:
            self.recipe_check.setPlainText(str(error))
            show_result(self.recipe_message, ActionResult(False, self.tr("Recipe refused.")))
            return
        self._candidate = path
        self.use_button.setEnabled(True)
        show_result(self.recipe_message, ActionResult(True, self.tr("Recipe checked: {name}").format(name=path.name)))

    def use_recipe(self) -> None:
        if self._candidate is None:
            return
        try:
            self.line.engineer.select_recipe(self._candidate)
        except StationError as error:
            show_result(self.recipe_message, ActionResult(False, str(error)))
            return
        self.use_button.setEnabled(False)
        show_result(self.recipe_message, ActionResult(True, self.tr("Recipe in use. Open the CA for it.")))

    def apply_work_order(self) -> None:
        try:
            self.line.engineer.set_work_order(self.work_order_field.text())
        except StationError as error:
            show_result(self.recipe_message, ActionResult(False, str(error)))
            return
        show_result(self.recipe_message, ActionResult(True, self.tr("Work order set.")))

    # ---- CA --------------------------------------------------------------------------------

    def open_ca(self) -> None:
        passphrase = self.ca_passphrase.text()
        self.ca_passphrase.clear()
        self.ca_repeat.clear()
        try:
            self.line.engineer.open_ca(passphrase, self._ca_result)
        except StationError as error:
            show_result(self.ca_message, ActionResult(False, str(error)))

    def create_ca(self) -> None:
        passphrase, repeat = self.ca_passphrase.text(), self.ca_repeat.text()
        self.ca_passphrase.clear()
        self.ca_repeat.clear()
        if passphrase != repeat:
            show_result(self.ca_message, ActionResult(False, self.tr("The two passphrases differ.")))
            return
        try:
            self.line.engineer.create_ca(self.ca_name.text().strip(), passphrase, self._ca_result)
        except StationError as error:
            show_result(self.ca_message, ActionResult(False, str(error)))

    def _ca_result(self, result: ActionResult) -> None:
        show_result(self.ca_message, result)
        self.refresh()

    # ---- tokens ----------------------------------------------------------------------------

    def _browse_tokens(self) -> None:
        path = self.choose_file(self.tr("Token file"), self.tr("Text files (*.txt *.csv);;All files (*)"))
        if path is not None:
            self.token_file.setText(str(path))

    def import_tokens(self) -> None:
        passphrase = self.token_passphrase.text()
        self.token_passphrase.clear()
        limit = int(self.token_limit.text()) if self.token_limit.text().strip() else None
        try:
            self.line.engineer.import_tokens(
                Path(self.token_file.text().strip()),
                self.token_product.text().strip(),
                limit,
                passphrase,
                lambda result: show_result(self.tokens_message, result),
            )
        except StationError as error:
            show_result(self.tokens_message, ActionResult(False, str(error)))

    # ---- slots -----------------------------------------------------------------------------

    def _load_slots(self) -> None:
        self.slots_table.setRowCount(0)
        for slot in self.line.settings.slots:
            self._add_slot_row(slot)

    def _combo(self, choices: list[tuple[str, str]], current: str) -> QComboBox:
        box = QComboBox()
        box.setEditable(True)
        for value, description in choices:
            box.addItem(f"{value}", value)
            box.setItemData(box.count() - 1, description)
        box.setEditText(current)
        return box

    def _add_slot_row(self, slot: SlotSettings | None) -> None:
        row = self.slots_table.rowCount()
        self.slots_table.insertRow(row)
        name = slot.name if slot is not None else str(row + 1)
        self.slots_table.setItem(row, 0, QTableWidgetItem(name))
        self.slots_table.setCellWidget(row, 1, self._combo(self._probes, slot.probe if slot else ""))
        self.slots_table.setCellWidget(row, 2, self._combo(self._ports, slot.console if slot else ""))
        self.slots_table.setItem(row, 3, QTableWidgetItem(slot.fixture_code or "" if slot else ""))

    def _remove_slot_row(self) -> None:
        row = self.slots_table.currentRow()
        if row >= 0:
            self.slots_table.removeRow(row)

    def slots_in_table(self) -> tuple[SlotSettings, ...]:
        slots = []
        for row in range(self.slots_table.rowCount()):
            name_item, fixture_item = self.slots_table.item(row, 0), self.slots_table.item(row, 3)
            probe, console = self.slots_table.cellWidget(row, 1), self.slots_table.cellWidget(row, 2)
            slots.append(
                SlotSettings(
                    name=name_item.text().strip() if name_item else "",
                    probe=probe.currentText().strip() if isinstance(probe, QComboBox) else "",
                    console=console.currentText().strip() if isinstance(console, QComboBox) else "",
                    fixture_code=(fixture_item.text().strip() or None) if fixture_item else None,
                )
            )
        return tuple(slots)

    def discover(self) -> None:
        self.discover_button.setEnabled(False)
        show_result(self.slots_message, ActionResult(True, self.tr("Looking for probes and ports…")))
        try:
            self.line.engineer.discover(self._discovered)
        except StationError as error:
            self.discover_button.setEnabled(True)
            show_result(self.slots_message, ActionResult(False, str(error)))

    def _discovered(self, probes: list[tuple[str, str]], ports: list[tuple[str, str]]) -> None:
        self.discover_button.setEnabled(True)
        self._probes, self._ports = probes, ports
        for row in range(self.slots_table.rowCount()):
            for column, choices in ((1, probes), (2, ports)):
                box = self.slots_table.cellWidget(row, column)
                if isinstance(box, QComboBox):
                    current = box.currentText()
                    self.slots_table.setCellWidget(row, column, self._combo(choices, current))
        show_result(
            self.slots_message,
            ActionResult(True, self.tr("Found {probes} probe(s) and {ports} serial port(s).").format(
                probes=len(probes), ports=len(ports))),
        )

    def apply_slots(self) -> None:
        try:
            self.line.engineer.apply_slots(self.slots_in_table())
        except StationError as error:
            show_result(self.slots_message, ActionResult(False, str(error)))
            return
        show_result(self.slots_message, ActionResult(True, self.tr("Slots saved.")))

    # ---- people ----------------------------------------------------------------------------

    def add_person(self) -> None:
        pin = self.person_pin.text() or None
        self.person_pin.clear()
        try:
            self.line.engineer.add_person(self.person_name.text().strip(), self.person_role.currentText(), pin)
        except StationError as error:
            show_result(self.people_message, ActionResult(False, str(error)))
            return
        show_result(self.people_message, ActionResult(True, self.tr("Registered.")))
        self.person_name.clear()
