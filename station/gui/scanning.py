"""Scans reach the station two ways: a keyboard-emulation ("wedge") scanner, or a serial one.

A wedge scanner types the label's characters a few milliseconds apart and ends with Enter or
Tab. :class:`KeystrokeScanDetector` tells that from a person typing by the gaps between keys;
:class:`KeyboardWedgeFilter` feeds it every key press in the station's windows (the main window
and its dialogs), so scans are captured wherever the focus is, and never land in a text field.
A USB-CDC scanner is read by ``station.drivers.scanner`` on a worker thread
(:class:`SerialScannerWorker`). Either way a
repeat of the same scan within the debounce window (a double trigger) is dropped by
:class:`ScanDebouncer` before the scan goes anywhere.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import shiboken6
from PySide6.QtCore import QEvent, QObject, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtGui import QKeyEvent, QWindow
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDialog,
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


def is_secret_input(widget: QWidget | None) -> bool:
    """A field whose text is not shown (a PIN, a passphrase): what is typed there is a secret."""
    return isinstance(widget, QLineEdit) and widget.echoMode() != QLineEdit.EchoMode.Normal


def asks_for_a_secret(widget: QWidget | None) -> bool:
    """The focus is in a secret field, or in a dialog that has one (its focus elsewhere a
    moment, say on a button): keys typed there may be a PIN."""
    if widget is None:
        return False
    if is_secret_input(widget):
        return True
    window = widget.window()
    return window is not None and window.isWindow() and isinstance(window, QDialog) and any(
        is_secret_input(field) and field.isVisible() for field in window.findChildren(QLineEdit)
    )


END_KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Tab)
MODIFIER_KEYS = (Qt.Key.Key_Shift, Qt.Key.Key_Control, Qt.Key.Key_Alt, Qt.Key.Key_Meta, Qt.Key.Key_AltGr)
HOLD_SECONDS = 0.5


@dataclass(frozen=True)
class HeldKey:
    """A key press meant for a text field, held until it is known not to be part of a scan."""

    window: QWindow
    key: int
    modifiers: Qt.KeyboardModifier
    text: str


class KeyboardWedgeFilter(QObject):
    """An event filter on the station's QWindows that turns fast key bursts into scans.

    Installed on the windows (the main window's, each dialog's), not on the application, so
    that only what the window system delivers passes through Python: as an application filter
    it was called for every paint and every queued signal of every widget, each call waiting
    for the interpreter while the slots' threads worked, and the window stalled.

    A scan never lands in a text field, whichever view or dialog has the focus: a history
    search, a report filter, a PIN field. Where the focus is not a text field, the printable
    keys are taken (they have no other use there), and Enter or Tab ends a scan when keys are
    being collected. Where it is one, each printable key is held back while keys come at
    scanner speed: if Enter or Tab follows fast, the keys were a scan and never reach the
    field; when the next key comes after a pause (a person typing), or no key for
    ``hold_seconds``, or any other key or a click, the held keys are handed to the field in
    order, as typed. A person's typing reaches the field unchanged, each key as the next is
    pressed (the last within half a second, at once with Enter, Tab or a click).

    In a secret field (a PIN) fast keys may also be a person's PIN typed from memory: there a
    burst is a scan only if ``is_scan`` takes it (a unit's serial, a badge, a fixture code);
    anything else was typed, and reaches the field with its Enter -- never shown, never
    handled as a label.
    """

    scanned = Signal(str)
    typed_text_ignored = Signal()

    def __init__(
        self,
        window: QWidget,
        detector: KeystrokeScanDetector,
        clock: Clock = time.monotonic,
        *,
        is_scan: Callable[[str], bool] = lambda _text: True,
    ) -> None:
        super().__init__(window)
        self._window = window
        self._detector = detector
        self._is_scan = is_scan
        self._clock = clock
        self._held: list[HeldKey] = []
        self._held_at = 0.0  # the clock when the last key was held
        self._replaying = False
        self._hand_over_timer = QTimer(self)
        self._hand_over_timer.setSingleShot(True)
        self._hand_over_timer.timeout.connect(self._pause_after_held_keys)

    def set_detector(self, detector: KeystrokeScanDetector) -> None:
        self._release_held()
        self._detector = detector

    @property
    def hold_seconds(self) -> float:
        """How long the last key for a text field is held when no other key follows: long enough
        that a scan's next key is never late for it, even while the window is busy a moment."""
        return max(HOLD_SECONDS, 4 * self._detector.max_gap_seconds)

    @property
    def holding(self) -> bool:
        return bool(self._held)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if self._held and event.type() == QEvent.Type.MouseButtonPress:
            self._release_held()  # typed keys reach their field before a click on OK reads it
            return False
        if self._replaying or event.type() != QEvent.Type.KeyPress or not isinstance(event, QKeyEvent):
            return False
        if not isinstance(watched, QWindow):  # installed on windows only: keys reach a window first
            return False
        text_field = is_text_input(QApplication.focusWidget())
        now = self._stamp(event)
        key = event.key()
        if key in END_KEYS:
            return self._end_key(now, text_field=text_field, secret=asks_for_a_secret(
                QApplication.focusWidget() or QApplication.activeModalWidget() or QApplication.activeWindow()
            ))
        if key in MODIFIER_KEYS:  # a scanner's Shift between characters changes nothing
            return False
        text = event.text()
        plain = not event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier)
        if plain and len(text) == 1 and (text.isprintable() or text == "\x1d"):
            if text_field:
                if self._held and not self._detector.is_recent(now):
                    self._release_held()  # a pause came before this key: those were typed
                self._held.append(HeldKey(watched, key, event.modifiers(), text))
                self._held_at = self._clock()
                self._hand_over_timer.start(round(self.hold_seconds * 1000))
            self._detector.key(text, now)
            return True
        if text_field or self._held:  # Backspace, an arrow, a shortcut: after the typed keys
            self._release_held()
            self._detector.reset()
        return False

    def _stamp(self, event: QKeyEvent) -> float:
        # The window system's time stamp says when the key was pressed even if this thread was
        # busy meanwhile; synthetic events (tests, some platforms) have none: use the clock.
        stamp = event.timestamp()
        return stamp / 1000.0 if stamp > 0 else self._clock()

    def _end_key(self, now: float, *, text_field: bool, secret: bool) -> bool:
        """Enter or Tab: the end of a scan when the keys before came at scanner speed."""
        if not self._detector.collecting:
            self._release_held()
            return False
        scan = self._detector.end(now)
        if scan is not None and secret and not self._is_scan(scan):
            if text_field:
                self._release_held()  # a PIN typed fast: the field gets it, then its Enter
                return False
            return True  # typed into a PIN dialog outside its field: gone, and never shown

        if scan is not None:  # the held keys were its characters: they reach no field
            self._held.clear()
            self._hand_over_timer.stop()
            self.scanned.emit(scan)
            return True
        self._release_held()
        if text_field:
            return False  # typing: the field gets its keys, then the end key
        self.typed_text_ignored.emit()
        return True

    def _pause_after_held_keys(self) -> None:
        """No key for ``hold_seconds``: the held keys were typed; a scan never pauses that long."""
        waited = self._clock() - self._held_at
        if waited < self.hold_seconds:  # a key came meanwhile (the timer was late to fire)
            self._hand_over_timer.start(max(1, round((self.hold_seconds - waited) * 1000)))
            return
        self._detector.reset()
        self._release_held()

    def _release_held(self) -> None:
        """Hand the held keys to the window they were meant for, in order, as if just typed."""
        held, self._held = self._held, []
        self._hand_over_timer.stop()
        self._replaying = True
        try:
            for item in held:
                if shiboken6.isValid(item.window):  # a dialog may have closed meanwhile
                    QApplication.sendEvent(item.window, QKeyEvent(QEvent.Type.KeyPress, item.key, item.modifiers,
                                                                  item.text))  # fmt: skip
        finally:
            self._replaying = False


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
