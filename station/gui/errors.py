"""The one error sink: every unexpected error becomes a log entry and an operator message.

Worker threads, Qt slots that raise, and anything else that reaches ``sys.excepthook`` or
``threading.excepthook`` end up here. The full traceback goes to the log; the window shows a
short message and keeps running: never a frozen or vanished station. Messages shown are the
error's type and, for the station's own errors (whose messages are written to hold no
secret), its text.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from types import TracebackType

from PySide6.QtCore import QObject, Signal

from station.domain.errors import StationError
from station.domain.text import escape_text

LOG = logging.getLogger("station.gui")

ExceptHook = Callable[[type[BaseException], BaseException, TracebackType | None], object]


def describe_error(error: BaseException) -> str:
    """What may be shown about an error: the station's own messages, other errors by type only."""
    if isinstance(error, StationError):
        return f"[{error.code}] {escape_text(str(error))}"
    return type(error).__name__


class ErrorSink(QObject):
    """Receives errors from any thread; ``error_reported`` reaches the GUI thread queued."""

    error_reported = Signal(str, str)  # where, what may be shown

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._previous_excepthook: ExceptHook | None = None
        self._previous_threading_hook: Callable[[threading.ExceptHookArgs], object] | None = None
        self.reported: list[str] = []

    def report(self, where: str, error: BaseException) -> None:
        LOG.error("%s: unexpected error", where, exc_info=(type(error), error, error.__traceback__))
        shown = describe_error(error)
        self.reported.append(f"{where}: {shown}")
        self.error_reported.emit(where, shown)

    def report_message(self, where: str, message: str) -> None:
        """An error already put in words (a worker's failure signal)."""
        LOG.error("%s: %s", where, message)
        self.reported.append(f"{where}: {message}")
        self.error_reported.emit(where, message)

    def install(self) -> None:
        """Route uncaught exceptions of every thread here (undone by ``uninstall``)."""
        self._previous_excepthook = sys.excepthook
        self._previous_threading_hook = threading.excepthook
        sys.excepthook = self._excepthook
        threading.excepthook = self._threading_excepthook

    def uninstall(self) -> None:
        if self._previous_excepthook is not None:
            sys.excepthook = self._previous_excepthook
            self._previous_excepthook = None
        if self._previous_threading_hook is not None:
            threading.excepthook = self._previous_threading_hook
            self._previous_threading_hook = None

    def _excepthook(
        self, kind: type[BaseException], error: BaseException, traceback: TracebackType | None
    ) -> None:
        if issubclass(kind, KeyboardInterrupt):
            if self._previous_excepthook is not None:
                self._previous_excepthook(kind, error, traceback)
            return
        error.__traceback__ = traceback
        self.report("application", error)

    def _threading_excepthook(self, arguments: threading.ExceptHookArgs) -> None:
        error = arguments.exc_value
        if error is None:
            return
        name = arguments.thread.name if arguments.thread is not None else "thread"
        self.report(f"thread {name}", error)
