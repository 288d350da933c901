"""The operator application around a built station: the window, its threads, its closing.

The composition root (``station.app``) builds the ``station.operations.Station`` -- for a real
line from the station settings, or the training station on simulated units -- and hands it
here. ``open_window`` puts the window, the slot workers and the serial scanner around it
without running the event loop, so that tests, benchmarks and the screenshot tool drive the
very same application; ``run`` runs it until the window closes.
"""

from __future__ import annotations

import gc
import logging
import sys
from dataclasses import dataclass, field

from PySide6.QtCore import QTranslator
from PySide6.QtWidgets import QApplication

from station.gui.errors import ErrorSink
from station.gui.i18n import install_translators, pick_language, remove_translators
from station.gui.line import StationLine
from station.gui.main_window import MainWindow
from station.gui.resources import style_sheet_text
from station.gui.scanning import SerialScannerReader
from station.gui.sounds import SoundBoard
from station.operations.station import Station
from station.sim.demo import DEMO_OPERATOR
from station.sim.demo_slots import DemoUnits

LOG = logging.getLogger(__name__)
WINDOW_SIZE = (1400, 900)


def application(argv: list[str] | None = None) -> QApplication:
    """The one QApplication, created on first use, with the station's style sheet."""
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        app = existing
    else:
        app = QApplication(argv if argv is not None else sys.argv[:1])
        app.setApplicationName("Provisioning station")
        app.setOrganizationName("provisioning-station")
    app.setStyleSheet(style_sheet_text())
    return app


@dataclass
class StationWindow:
    """A station with its window: everything the application must close at the end."""

    operations: Station
    line: StationLine
    window: MainWindow
    error_sink: ErrorSink
    translators: list[QTranslator] = field(default_factory=list)
    scanner: SerialScannerReader | None = None
    closed: bool = False

    def __post_init__(self) -> None:
        # Everything built so far lives as long as the station. Left to the cyclic garbage
        # collector, each full pass walked all of it -- 70 to 110 ms with every other thread
        # stopped, a visible stall of the window while slots run. Frozen, a pass walks only
        # what was made since.
        gc.collect()
        gc.freeze()

    @property
    def demo(self) -> DemoUnits | None:
        """The simulated units of a training station (None on a line)."""
        training = self.operations.training
        return None if training is None else training.units

    def close(self) -> bool:
        """Close the window, end every thread, release the station; True when all threads ended."""
        if self.closed:
            return True
        self.closed = True
        self.window.allow_close = True
        self.window.force_close = True
        self.window.close()
        if self.scanner is not None:
            self.scanner.stop()
        stopped = self.line.shutdown()
        self.operations.close()
        self.error_sink.uninstall()
        app = QApplication.instance()
        if app is not None:
            remove_translators(app, self.translators)
        self.window.deleteLater()
        gc.unfreeze()  # what the station held may be collected again
        return stopped

    def run(self) -> int:
        """Show the window and run the event loop until it closes; then close everything."""
        screen = self.window.screen().availableGeometry()  # the size it has when not maximized
        self.window.resize(min(WINDOW_SIZE[0], screen.width()), min(WINDOW_SIZE[1], screen.height()))
        self.window.apply_kiosk()
        try:
            return application().exec()
        finally:
            self.close()


def open_window(
    station: Station,
    *,
    kiosk: bool = False,
    language: str | None = None,
    sounds: bool | None = None,
    install_error_hooks: bool = True,
) -> StationWindow:
    """The window around ``station``; a training station starts signed in as the demo operator."""
    app = application()
    settings = station.settings
    translators = install_translators(app, pick_language(language or settings.language))
    error_sink = ErrorSink()
    if install_error_hooks:
        error_sink.install()
    sound_board = SoundBoard(enabled=settings.sounds if sounds is None else sounds)
    line = StationLine(station, error_sink=error_sink, sounds=sound_board)
    sound_board.setParent(line)
    training = station.training
    if training is not None:
        line.login_with_badge(DEMO_OPERATOR)
    window = MainWindow(
        line,
        error_sink,
        demo=None if training is None else training.units,
        demo_operator=DEMO_OPERATOR if training is not None else "",
        kiosk=kiosk or settings.kiosk,
    )
    scanner = None
    if settings.scanner.serial_port:
        scanner = SerialScannerReader(settings.scanner.serial_port, settings.scanner.baud_rate, line)
        scanner.scanned.connect(line.handle_scan)
        scanner.scanned.connect(window.idle_watch.poke)
        scanner.failed.connect(lambda message: error_sink.report_message("serial scanner", message))
        scanner.start()
    return StationWindow(station, line, window, error_sink, translators, scanner=scanner)
