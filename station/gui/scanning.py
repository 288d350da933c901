"""Scans reach the station two ways: a keyboard-emulation ("wedge") scanner, or a serial one.

A wedge scanner types the label's characters a few milliseconds apart and ends with Enter or
Tab. :class:`KeystrokeScanDetector` tells that from a person typing by the gaps between keys;
:class:`KeyboardWedgeFilter` feeds it every key press in the main window, except those meant
for a text field, so scans are captured wherever the focus is. A USB-CDC scanner is read by
``station.drivers.scanner`` on a worker thread (:class:`SerialScannerWorker`). Either way a
repeat of the same scan within the debounce window (a double trigger) is dropped by
:class:`ScanDebouncer` before the scan goes anywhere.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from PySide6.QtCore import QEvent, QObject, Qt, QThread, Signal, Slot
from PySide6.QtGui import QKeyEvent, QWindow
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

from station.domain.errors import StationError

LOG = logging.getLogger(__name__)
Clock = Callable[[], float]


@dataclass
class KeystrokeScanDetector:
    """Collects key presses and returns a scan when they came at scanner speed.

    A gap longer than ``max_gap_seconds`` between two keys starts the collection again, so a
    person's typing (a key every tenth of a second or more) never adds up to a scan; the end
    key (Enter or Tab) must also follow quickly. Shorter than ``minimum_length``: not a scan.
    """

    max_gap_seconds: float = 0.05
    minimum_length: int = 4
    _characters: list[str] = field(default_factory=list)
    _last_key_at: float | None = None

    def key(self, character: str, at: float) -> None:
        if self._last_key_at is not None and not 0 <= at - self._last_key_at <= self.max_gap_seconds:
            self._characters.clear()
        self._characters.append(character)
        self._last_key_at = at

    def end(self, at: float) -> str | None:
        """The end key: the scan if everything came fast enough, else None (and start over)."""
        fast = self._last_key_at is not None and 0 <= at - self._last_key_at <= self.max_gap_seconds
        text = "".join(self._characters)
        self.reset()
        if fast and len(text) >= self.minimum_length:
            return text
        return None

    def reset(self) -> None:
        self._characters.clear()
        self._last_key_at = None

    @property
    def collecting(self) -> bool:
        return bool(self._characters)

    def is_recent(self, at: float) -> bool:
        return self._last_key_at is not None and at - self._last_key_at <= self.max_gap_seconds


@dataclass
class ScanDebouncer:
    """Drops a scan equal to the one accepted less than ``window_seconds`` ago."""

    window_seconds: float = 1.5
    clock: Clock = time.monotonic
    _last_text: str | None = None
    _last_at: float = 0.0

    def accept(self, text: str) -> bool:
        now = self.clock()
        if text == self._last_text and now - self._last_at < self.window_seconds:
            return False
        self._last_text, self._last_at = text, now
        return True


TEXT_INPUT_TYPES = (QLineEdit, QTextEdit, QPlainTextEdit, QAbstractSpinBox)


def is_text_input(widget: QWidget | None) -> bool:
    """Keys for a text field belong to it; the login id field and filters are text fields."""
    if widget is None:
        return False
    if isinstance(widget, QComboBox):
        return widget.isEditable()
    return isinstance(widget, TEXT_INPUT_TYPES)


class KeyboardWedgeFilter(QObject):
    """An event filter on ``window``'s QWindow that turns fast key bursts into scans.

    Installed on the window (not the application), so that only what the window system
    delivers passes through Python: as an application filter it was called for every paint
    and every queued signal of every widget, each call waiting for the interpreter while the
    slots' threads worked, and the window stalled.

    Key presses aimed at a text field pass untouched. Everywhere else in the window the
    printable keys are taken (they have no other use there), and Enter or Tab ends a scan when
    keys are being collected; otherwise they go on as usual.
    """

    scanned = Signal(str)
    typed_text_ignored = Signal()

    def __init__(self, window: QWidget, detector: KeystrokeScanDetector, clock: Clock = time.monotonic) -> None:
        super().__init__(window)
        self._window = window
        self._detector = detector
        self._clock = clock

    def set_detector(self, detector: KeystrokeScanDetector) -> None:
        self._detector = detector

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() != QEvent.Type.KeyPress or not isinstance(event, QKeyEvent):
            return False
        if isinstance(watched, QWindow):  # where the station installs it: keys reach the window first
            if watched is not self._window.windowHandle():
                return False
        elif not isinstance(watched, QWidget) or watched.window() is not self._window or is_text_input(watched):
            return False
        focus = QApplication.focusWidget()
        if focus is not None and focus.window() is self._window and is_text_input(focus):
            return False
        return self._key_press(event)

    def _key_press(self, event: QKeyEvent) -> bool:
        # The window system's time stamp says when the key was pressed even if this thread was
        # busy meanwhile; synthetic events (tests, some platforms) have none: use the clock.
        stamp = event.timestamp()
        now = stamp / 1000.0 if stamp > 0 else self._clock()
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Tab):
            if not self._detector.collecting:
                return False
            scan = self._detector.end(now)
            if scan is not None:
                self.scanned.emit(scan)
            else:
                self.typed_text_ignored.emit()
            return True
        text = event.text()
        if event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier):
            return False
        if len(text) == 1 and (text.isprintable() or text == "\x1d"):
            self._detector.key(text, now)
            return True
        return False


class SerialScannerWorker(QObject):
    """Reads a USB-CDC scanner on its own thread; the port is opened in that thread."""

    scanned = Signal(str)
    failed = Signal(str)
    stopped = Signal()

    def __init__(self, port: str, baud_rate: int) -> None:
        super().__init__()
        self._port = port
        self._baud_rate = baud_rate
        self._stop_requested = False

    def request_stop(self) -> None:
        """Called from the GUI thread: the read loop ends within one read timeout."""
        self._stop_requested = True

    @Slot()
    def run(self) -> None:
        from station.drivers.scanner import SerialScanner

        try:
            with SerialScanner(self._port, baud_rate=self._baud_rate) as scanner:
                while not self._stop_requested:
                    scan = scanner.read_scan(0.2)
                    if scan is not None:
                        self.scanned.emit(scan)
        except StationError as error:
            LOG.warning("serial scanner %s: %s", self._port, error)
            self.failed.emit(str(error))
        except Exception as error:  # the thread must end cleanly whatever happens
            LOG.exception("serial scanner %s stopped", self._port)
            self.failed.emit(f"{type(error).__name__}")
        finally:
            self.stopped.emit()


class SerialScannerReader(QObject):
    """Owns the scanner worker and its QThread; ``stop`` waits until the thread has ended."""

    scanned = Signal(str)
    failed = Signal(str)

    def __init__(self, port: str, baud_rate: int, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.worker_thread = QThread()
        self.worker_thread.setObjectName(f"scanner {port}")
        self._worker = SerialScannerWorker(port, baud_rate)
        self._worker.moveToThread(self.worker_thread)
        self._worker.scanned.connect(self.scanned)
        self._worker.failed.connect(self.failed)
        self._worker.stopped.connect(self.worker_thread.quit)
        self.worker_thread.started.connect(self._worker.run)

    def start(self) -> None:
        self.worker_thread.start()

    def stop(self) -> None:
        self._worker.request_stop()
        self.worker_thread.quit()
        self.worker_thread.wait(5000)
