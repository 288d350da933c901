"""The engineer's live line per slot: the latest thing each slot's unit did, as it happens.

Step started, passed or failed (with the step's detail), the unit's console lines, and the
result: one line per slot, the newest replacing the last. The text comes from outside (console
replies, details), so it is escaped (``escape_text``) and shown as plain text, never markup;
console lines carry secrets' labels only, never a token (see ``station.flow.console_log``).
Like the slot tiles, the lines are redrawn at most once per frame, whatever the slots send.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QResizeEvent, QShowEvent
from PySide6.QtWidgets import QGridLayout, QGroupBox, QLabel, QSizePolicy, QWidget

from station.domain.text import escape_text
from station.gui.fitting import elide_line
from station.gui.line import StationLine
from station.gui.slot_states import LogKind, SlotLogLine

LOG_FRAME_MS = 100  # as the slot tiles: at most ten redraws a second


class ElidedLine(QLabel):
    """One line of text, cut with an ellipsis to the width it is given (the whole in its tooltip)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.full_text = ""

    def set_full_text(self, text: str) -> None:
        self.full_text = text
        elide_line(self, text, self.width())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's name
        super().resizeEvent(event)
        elide_line(self, self.full_text, self.width())


class SlotLogPanel(QGroupBox):
    def __init__(self, line: StationLine, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.line = line
        self.rows: dict[str, tuple[QLabel, ElidedLine]] = {}
        self._grid = QGridLayout(self)
        self._grid.setHorizontalSpacing(12)
        self._grid.setColumnStretch(1, 1)
        self._dirty: set[str] = set()
        self._frame_timer = QTimer(self)
        self._frame_timer.setSingleShot(True)
        self._frame_timer.timeout.connect(self._draw)
        line.slot_changed.connect(self._slot_changed)
        line.slots_replaced.connect(self._rebuild)
        self._rebuild()
        self.retranslate()

    def retranslate(self) -> None:
        self.setTitle(self.tr("Slots now: each slot's latest step or console line"))
        for name, (label, _) in self.rows.items():
            label.setText(self.tr("Slot {name}").format(name=name))
        self._dirty.update(self.rows)
        self._draw()

    def text_for(self, log: SlotLogLine | None) -> str:
        """The line as shown: its words, then the text from outside, all of it escaped."""
        if log is None:
            return self.tr("no unit yet")
        words = {
            LogKind.STARTED: self.tr("{step}: started"),
            LogKind.PASSED: self.tr("{step}: passed"),
            LogKind.FAILED: self.tr("{step}: failed"),
            LogKind.SKIPPED: self.tr("{step}: skipped"),
            LogKind.CONSOLE: self.tr("console"),
            LogKind.RESULT: self.tr("result"),
        }
        head = words[log.kind].format(step=log.step)
        return escape_text(f"{head} {log.text}" if log.text else head)

    def shown(self, slot: str) -> str:
        """The slot's whole line as it is shown (before any ellipsis)."""
        return self.rows[slot][1].full_text

    def _rebuild(self) -> None:
        for label, text in self.rows.values():
            for widget in (label, text):
                self._grid.removeWidget(widget)
                widget.deleteLater()
        self.rows.clear()
        for row, name in enumerate(self.line.slot_names):
            label = QLabel(self.tr("Slot {name}").format(name=name))
            label.setObjectName("slotLogName")
            text = ElidedLine()
            text.setObjectName("slotLogLine")
            self._grid.addWidget(label, row, 0)
            self._grid.addWidget(text, row, 1)
            self.rows[name] = (label, text)
        self._dirty = set(self.rows)
        self._draw()

    def _slot_changed(self, name: str) -> None:
        self._dirty.add(name)
        if not self._frame_timer.isActive():
            self._frame_timer.start(LOG_FRAME_MS)

    @property
    def frame_pending(self) -> bool:
        return bool(self._dirty) and self.isVisible()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self._draw()

    def _draw(self) -> None:
        """Draw the changed lines; while the view is hidden they wait (and are drawn when it shows)."""
        if not self.isVisible():
            return
        dirty, self._dirty = self._dirty, set()
        for name in dirty:
            state, row = self.line.slot_states.get(name), self.rows.get(name)
            if state is None or row is None:
                continue
            text = self.text_for(state.log_line)
            if row[1].full_text != text:
                row[1].set_full_text(text)
