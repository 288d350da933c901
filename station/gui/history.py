"""History: recent attempts from the store, filtered by serial, result and date, and a unit's story.

``AttemptHistoryModel`` is a table model over the store, not a copy of it: it asks for the
number of matching rows, and reads the rows a page at a time as the view scrolls to them,
keeping only a few pages. The detail pane shows every attempt of the selected unit with its
steps and console transcript; transcripts were stored with the activation token already
replaced by its fingerprint, so tokens are only ever shown as fingerprints.
"""

from __future__ import annotations

from collections import OrderedDict
from datetime import UTC, datetime, timedelta

from PySide6.QtCore import (
    QAbstractTableModel,
    QDate,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDateEdit,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from station.domain.records import AttemptFilter, AttemptRecord, AttemptResult
from station.domain.text import escape_text
from station.store.pages import AttemptPages

PAGE_SIZE = 100
PAGES_KEPT = 8
COLUMNS = ("started", "serial", "result", "step", "code", "operator", "device", "work_order", "attempt")
RESULT_COLOURS = {
    AttemptResult.PASSED: "#c8e6c9",
    AttemptResult.FAILED: "#ffcdd2",
    AttemptResult.NEEDS_INSPECTION: "#ffe082",
    AttemptResult.IN_PROGRESS: "#bbdefb",
}


def local_time(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


class AttemptHistoryModel(QAbstractTableModel):
    """Attempts matching a filter, newest first, read from the store a page at a time."""

    def __init__(self, attempts: AttemptPages, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._attempts = attempts
        self._filter = AttemptFilter()
        self._count = 0
        self._pages: OrderedDict[int, list[AttemptRecord]] = OrderedDict()
        self.pages_read = 0
        self.refresh()

    @property
    def current_filter(self) -> AttemptFilter:
        return self._filter

    def set_filter(self, wanted: AttemptFilter) -> None:
        self._filter = wanted
        self.refresh()

    def refresh(self) -> None:
        self.beginResetModel()
        self._pages.clear()
        self._count = self._attempts.count(self._filter)
        self.endResetModel()

    def attempt_at(self, row: int) -> AttemptRecord | None:
        if not 0 <= row < self._count:
            return None
        page_number = row // PAGE_SIZE
        page = self._pages.get(page_number)
        if page is None:
            page = self._attempts.page(self._filter, offset=page_number * PAGE_SIZE, limit=PAGE_SIZE)
            self.pages_read += 1
            self._pages[page_number] = page
            while len(self._pages) > PAGES_KEPT:
                self._pages.popitem(last=False)
        else:
            self._pages.move_to_end(page_number)
        index = row % PAGE_SIZE
        return page[index] if index < len(page) else None

    # ---- QAbstractTableModel ----------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else self._count

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(  # noqa: N802 - Qt's name
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> object:
        if role != Qt.ItemDataRole.DisplayRole or orientation != Qt.Orientation.Horizontal:
            return None
        titles = {
            "started": self.tr("Started"),
            "serial": self.tr("Serial"),
            "result": self.tr("Result"),
            "step": self.tr("Failed step"),
            "code": self.tr("Code"),
            "operator": self.tr("Operator"),
            "device": self.tr("Device id"),
            "work_order": self.tr("Work order"),
            "attempt": self.tr("Attempt"),
        }
        return titles[COLUMNS[section]] if 0 <= section < len(COLUMNS) else None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        if not index.isValid():
            return None
        attempt = self.attempt_at(index.row())
        if attempt is None:
            return None
        column = COLUMNS[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            results = {
                AttemptResult.PASSED: self.tr("Passed"),
                AttemptResult.FAILED: self.tr("Failed"),
                AttemptResult.NEEDS_INSPECTION: self.tr("Needs inspection"),
                AttemptResult.IN_PROGRESS: self.tr("In progress"),
            }
            result = results[attempt.result] + (self.tr(" (rework)") if attempt.is_rework else "")
            values = {
                "started": local_time(attempt.started_at),
                "serial": attempt.serial,
                "result": result,
                "step": attempt.failure_step or "",
                "code": attempt.failure_code or "",
                "operator": attempt.operator,
                "device": attempt.device_id or "",
                "work_order": attempt.work_order or "",
                "attempt": str(attempt.id),
            }
            return values[column]
        if role == Qt.ItemDataRole.BackgroundRole and column == "result":
            return QBrush(QColor(RESULT_COLOURS.get(attempt.result, "#ffffff")))
        if role == Qt.ItemDataRole.ToolTipRole and attempt.failure_message:
            return attempt.failure_message
        return None


def describe_unit(history: list[AttemptRecord]) -> str:
    """A unit's whole story as text: every attempt, its steps, and its console transcript."""
    if not history:
        return ""
    lines = [f"Unit {history[0].serial}: {len(history)} attempt(s)", ""]
    for attempt in history:
        lines.append(
            f"Attempt {attempt.id}{' (rework)' if attempt.is_rework else ''}: {attempt.result.value}"
            f"  {local_time(attempt.started_at)} - {local_time(attempt.ended_at)}"
        )
        lines.append(
            f"  station {attempt.station}, operator {attempt.operator}, work order {attempt.work_order or '-'}"
        )
        lines.append(
            f"  device {attempt.device_id or '-'}, probe {attempt.probe_id or '-'}, state {attempt.state.value}"
        )
        lines.append(f"  recipe {attempt.recipe_hash[:16]}…  product {attempt.product}")
        if attempt.certificate_fingerprint:
            lines.append(f"  certificate {attempt.certificate_fingerprint}")
        if attempt.token_fingerprint:
            lines.append(f"  activation token {attempt.token_fingerprint}")
        if attempt.failure_code:
            lines.append(f"  failed at {attempt.failure_step}: {attempt.failure_code}: {attempt.failure_message or ''}")
        for step in attempt.steps:
            seconds = ""
            if step.ended_at is not None:
                seconds = f"{(step.ended_at - step.started_at).total_seconds():6.2f} s"
            code = f" [{step.failure_code}]" if step.failure_code else ""
            lines.append(f"    {step.name:<13} {step.outcome.value:<8} {seconds:>9}{code}  {step.detail}")
        if attempt.console_transcript:
            lines.append("  console transcript:")
            lines += [f"    | {text}" for text in attempt.console_transcript.splitlines()]
        lines.append("")
    return "\n".join(escape_text(line) for line in lines)  # text from outside shown as it was sent


class HistoryView(QWidget):
    unit_shown = Signal(str)

    def __init__(self, attempts: AttemptPages, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._attempts = attempts
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 12)

        filters = QHBoxLayout()
        self.serial_label = QLabel()
        self.serial_field = QLineEdit()
        self.serial_field.setClearButtonEnabled(True)
        self.serial_field.returnPressed.connect(self.apply_filter)
        self.result_label = QLabel()
        self.result_box = QComboBox()
        self.dates_box = QCheckBox()
        self.since_field = QDateEdit(QDate.currentDate().addDays(-7))
        self.until_field = QDateEdit(QDate.currentDate())
        for field in (self.since_field, self.until_field):
            field.setCalendarPopup(True)
            field.setDisplayFormat("yyyy-MM-dd")
        self.apply_button = QPushButton()
        self.apply_button.setObjectName("primary")
        self.apply_button.clicked.connect(self.apply_filter)
        for widget in (self.serial_label, self.serial_field, self.result_label, self.result_box, self.dates_box,
                       self.since_field, self.until_field, self.apply_button):
            filters.addWidget(widget)
        filters.setStretchFactor(self.serial_field, 1)
        layout.addLayout(filters)

        self.model = AttemptHistoryModel(attempts, self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.selectionModel().currentRowChanged.connect(self._row_changed)
        self.detail = QPlainTextEdit()
        self.detail.setObjectName("monospace")
        self.detail.setReadOnly(True)
        self.detail.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.table)
        splitter.addWidget(self.detail)
        splitter.setSizes([400, 300])
        layout.addWidget(splitter, 1)
        self.retranslate()

    def retranslate(self) -> None:
        self.serial_label.setText(self.tr("Serial"))
        # A scan here starts the unit (scans never land in a text field): a serial is typed.
        self.serial_field.setPlaceholderText(self.tr("type a serial"))
        self.result_label.setText(self.tr("Result"))
        current = self.result_box.currentIndex()
        self.result_box.clear()
        self.result_box.addItem(self.tr("All"), None)
        self.result_box.addItem(self.tr("Passed"), AttemptResult.PASSED.value)
        self.result_box.addItem(self.tr("Failed"), AttemptResult.FAILED.value)
        self.result_box.addItem(self.tr("Needs inspection"), AttemptResult.NEEDS_INSPECTION.value)
        self.result_box.addItem(self.tr("In progress"), AttemptResult.IN_PROGRESS.value)
        self.result_box.setCurrentIndex(max(0, current))
        self.dates_box.setText(self.tr("From / to"))
        self.apply_button.setText(self.tr("Show"))

    def build_filter(self) -> AttemptFilter:
        serial = self.serial_field.text().strip()
        result = self.result_box.currentData()
        since = until = None
        if self.dates_box.isChecked():
            since = _local_midnight(self.since_field.date())
            until = _local_midnight(self.until_field.date()) + timedelta(days=1)
        return AttemptFilter(
            serials=(serial,) if serial else None,
            result=AttemptResult(result) if result else None,
            since=since,
            until=until,
        )

    def apply_filter(self) -> None:
        self.model.set_filter(self.build_filter())
        self.detail.clear()

    def refresh(self) -> None:
        self.model.refresh()

    def show_unit(self, serial: str) -> None:
        self.detail.setPlainText(describe_unit(self._attempts.history(serial)))
        self.unit_shown.emit(serial)

    def _row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        attempt = self.model.attempt_at(current.row())
        if attempt is not None:
            self.show_unit(attempt.serial)


def _local_midnight(date: QDate) -> datetime:
    local = datetime(date.year(), date.month(), date.day(), tzinfo=None).astimezone()
    return local.astimezone(UTC)
