"""The station's window: a header (who is logged in), and the views each role may see.

Operators see the operator view and the history. A signed-in supervisor also sees the
supervisor view, an engineer the engineer view; both see the reports view when the reports
package provides one. Scans are captured anywhere in the window; idle time logs the person
out; in kiosk mode the window fills the screen and only an engineer may close it.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer
from PySide6.QtGui import QCloseEvent, QGuiApplication, QIcon, QShowEvent, QWindow
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QSizePolicy,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from station.gui.demo_bar import DemoBar
from station.gui.dialogs import OperatorIdDialog, SignInDialog
from station.gui.engineer_view import EngineerView
from station.gui.errors import ErrorSink
from station.gui.history import HistoryView
from station.gui.line import StationLine
from station.gui.operator_view import OperatorView
from station.gui.resources import icon_path
from station.gui.scanning import KeyboardWedgeFilter, KeystrokeScanDetector
from station.gui.supervisor_view import SupervisorView
from station.gui.wording import station_error_words
from station.operations.people import ENGINEER, SUPERVISOR
from station.sim.demo_slots import DemoUnits
from station.store.pages import AttemptPages

LOG = logging.getLogger(__name__)
USER_EVENTS = frozenset(
    {
        QEvent.Type.KeyPress,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.Wheel,
        QEvent.Type.TouchBegin,
    }
)


def load_reports_view(parent: QWidget, line: StationLine) -> QWidget | None:
    """The reports package's view (engineer and supervisor) when this build has it."""
    try:
        reports_view = importlib.import_module("station.gui.reports_view")
    except ImportError:
        return None
    view_class = getattr(reports_view, "ReportsView", None)
    if view_class is None:
        return None
    try:
        view: QWidget = view_class.for_station(line.station, parent)
    except Exception:
        LOG.exception("the reports view could not be created")
        return None
    return view


class IdleWatch(QObject):
    """Logs the person out after the idle time their role allows; any input restarts it.

    An event filter on the main window's QWindow (see KeyboardWedgeFilter for why not on the
    application): keys, clicks, wheel and touch arrive there before any widget.
    """

    def __init__(self, line: StationLine, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.line = line
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self._expired)
        line.session_changed.connect(self.restart)

    def restart(self) -> None:
        user = self.line.user
        minutes = self.line.settings.idle_logout.minutes_for(user.role) if user is not None else 0
        if minutes <= 0:
            self.timer.stop()
            return
        self.timer.start(minutes * 60_000)

    def poke(self) -> None:
        if self.timer.isActive():
            self.timer.start()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() in USER_EVENTS:
            self.poke()
        return False

    def _expired(self) -> None:
        self.line.logout("idle")


class MainWindow(QMainWindow):
    def __init__(
        self,
        line: StationLine,
        error_sink: ErrorSink,
        *,
        demo: DemoUnits | None = None,
        demo_operator: str = "",
        kiosk: bool = False,
    ) -> None:
        super().__init__()
        self.line = line
        self.error_sink = error_sink
        self.kiosk = kiosk
        self.allow_close = not kiosk
        self.force_close = False  # the application itself is ending (Station.close)
        self.open_dialogs: list[QDialog] = []
        self.setWindowTitle(self.tr("Provisioning station"))
        self.setWindowIcon(QIcon(str(icon_path("station"))))

        central = QWidget()
        central.setObjectName("centralArea")
        self.setCentralWidget(central)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)

        self.header = QFrame()
        self.header.setObjectName("header")
        header_layout = QHBoxLayout(self.header)
        header_layout.setContentsMargins(14, 8, 14, 8)
        logo = QLabel()
        logo.setPixmap(QIcon(str(icon_path("station"))).pixmap(QSize(40, 40)))
        self.station_title = QLabel()
        self.station_title.setObjectName("stationTitle")
        self.station_title.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.mode_label = QLabel()
        self.mode_label.setObjectName("modeLabel")
        self.mode_label.setVisible(demo is not None)
        self.user_icon = QLabel()
        self.user_label = QLabel()
        self.user_label.setObjectName("userLabel")
        self.sound_label = QLabel()  # says, for as long as the window is open, that it cannot be heard
        self.sound_label.setObjectName("soundLabel")
        self.sound_label.hide()
        self.sign_in_button = QPushButton()
        self.sign_in_button.setIcon(QIcon(str(icon_path("sign-in"))))
        self.sign_in_button.clicked.connect(self.open_sign_in)
        self.logout_button = QPushButton()
        self.logout_button.setIcon(QIcon(str(icon_path("log-out"))))
        self.logout_button.clicked.connect(lambda: self.line.logout("logout"))
        header_layout.addWidget(logo)
        header_layout.addWidget(self.mode_label)
        header_layout.addWidget(self.station_title, 1)
        header_layout.addWidget(self.sound_label)
        header_layout.addSpacing(8)
        header_layout.addWidget(self.user_label)
        header_layout.addSpacing(8)
        header_layout.addWidget(self.sign_in_button)
        header_layout.addWidget(self.logout_button)
        layout.addWidget(self.header)

        self.tabs = QTabWidget()
        self.tabs.setIconSize(QSize(26, 26))
        layout.addWidget(self.tabs, 1)
        self.operator_view = OperatorView(line)
        self.operator_view.type_id_requested.connect(self.open_operator_id)
        self.operator_view.sign_in_requested.connect(self.open_sign_in)
        self.history_view = HistoryView(AttemptPages(line.station.database))
        self.supervisor_view = SupervisorView(line)
        self.engineer_view = EngineerView(line)
        self.reports_view = load_reports_view(self, line)
        self.tabs.addTab(self.operator_view, QIcon(str(icon_path("operator"))), "")
        self.tabs.addTab(self.history_view, QIcon(str(icon_path("history"))), "")
        self.tabs.addTab(self.supervisor_view, QIcon(str(icon_path("supervisor"))), "")
        self.tabs.addTab(self.engineer_view, QIcon(str(icon_path("engineer"))), "")
        if self.reports_view is not None:
            self.tabs.addTab(self.reports_view, QIcon(str(icon_path("reports"))), "")
        self.tabs.currentChanged.connect(self._tab_changed)

        self.demo_bar: DemoBar | None = None
        if demo is not None:
            self.demo_bar = DemoBar(line, demo, demo_operator)
            self.operator_view.add_demo_controls(self.demo_bar)

        settings = line.settings.scanner
        self.scan_detector = KeystrokeScanDetector(settings.keystroke_gap_ms / 1000.0, settings.minimum_length)
        self.scan_filter = KeyboardWedgeFilter(self, self.scan_detector, is_scan=line.is_actionable_scan)
        self.scan_filter.scanned.connect(self._scanned)
        self.scan_filter.typed_text_ignored.connect(line.typed_text_ignored)
        self.idle_watch = IdleWatch(line, self)
        self.winId()  # the native window exists from now on: its input can be watched before it is shown
        self.watch_input(self)
        # Dialogs are windows of their own (a PIN prompt, a file chooser): scans and idle time
        # are watched in each of this window's dialogs as it takes the focus.
        application = QGuiApplication.instance()
        if isinstance(application, QGuiApplication):
            application.focusWindowChanged.connect(self._focus_window_changed)

        error_sink.error_reported.connect(self._error_reported)
        line.session_changed.connect(self._session_changed)
        line.pin_needed.connect(self.open_sign_in_for)
        line.slot_changed.connect(self._slot_changed)
        line.sounds.problem_found.connect(self._sound_problem)
        self.retranslate()
        self._session_changed()

    # ---- language and roles ------------------------------------------------------------------

    def retranslate(self) -> None:
        self.station_title.setText(self.tr("Provisioning station {name}").format(name=self.line.station_name))
        self.mode_label.setText(self.tr("TRAINING"))
        self.sign_in_button.setText(self.tr("Sign in"))
        self.logout_button.setText(self.tr("Log out"))
        self.sound_label.setText(self.tr("No sound"))
        titles = [self.tr("Operator"), self.tr("History"), self.tr("Supervisor"), self.tr("Engineer"),
                  self.tr("Reports")]
        for index in range(self.tabs.count()):
            self.tabs.setTabText(index, titles[index])
        self._session_changed()

    def _session_changed(self) -> None:
        user = self.line.user
        role = user.role if user is not None else None
        roles = {
            SUPERVISOR: self.tr("supervisor"),
            ENGINEER: self.tr("engineer"),
        }
        if user is None:
            self.user_label.setText(self.tr("Nobody logged in"))
        elif role in roles:
            self.user_label.setText(self.tr("{name} ({role})").format(name=user.name, role=roles[role]))
        else:
            self.user_label.setText(user.name)
        self.logout_button.setVisible(user is not None)
        self.tabs.setTabVisible(1, user is not None)
        self.tabs.setTabVisible(2, role == SUPERVISOR)
        self.tabs.setTabVisible(3, role == ENGINEER)
        if self.reports_view is not None:
            self.tabs.setTabVisible(4, role in (SUPERVISOR, ENGINEER))
        if not self.tabs.isTabVisible(self.tabs.currentIndex()):
            self.tabs.setCurrentIndex(0)
        self.allow_close = not self.kiosk or role == ENGINEER

    def show_view(self, view: QWidget) -> None:
        index = self.tabs.indexOf(view)
        if index >= 0 and self.tabs.isTabVisible(index):
            self.tabs.setCurrentIndex(index)

    def _tab_changed(self, index: int) -> None:
        if self.tabs.widget(index) is self.history_view:
            self.history_view.refresh()
        elif self.tabs.widget(index) is self.supervisor_view:
            self.supervisor_view.refresh()

    def _slot_changed(self, name: str) -> None:
        state = self.line.slot_states.get(name)
        if state is None or state.running:  # the history only changes when a unit has finished
            return
        if self.tabs.currentWidget() is self.history_view:
            self.history_view.refresh()

    # ---- scans --------------------------------------------------------------------------------

    def _scanned(self, text: str) -> None:
        """A scan from any of this window's views or dialogs: its result and any banner are on
        the operator view, so that view is shown (a dialog stays open over it)."""
        self.show_view(self.operator_view)
        self.line.handle_scan(text)

    # ---- dialogs -----------------------------------------------------------------------------

    def open_operator_id(self) -> None:
        self._open_dialog(lambda: OperatorIdDialog(self.line, self), self.tr("the operator id window"))

    def open_sign_in(self) -> None:
        self.open_sign_in_for("")

    def open_sign_in_for(self, name: str) -> None:
        """A badge of a supervisor or engineer scanned: their name in the sign-in dialog, which is
        opened, or given the name when it is open already (the badge scanned into it)."""
        for dialog in self.open_dialogs:
            if isinstance(dialog, SignInDialog) and dialog.isVisible():
                if name:
                    dialog.set_name(name)
                return
        self._open_dialog(lambda: SignInDialog(self.line, name, self), self.tr("the sign-in window"))

    def _open_dialog(self, make: Callable[[], QDialog], where: str) -> QDialog | None:
        """Window-modal but not blocking: slots keep running and scans keep arriving meanwhile.

        Each dialog deletes itself when it closes; it leaves ``open_dialogs`` as it finishes (or
        is destroyed), so that no one touches a dialog whose C++ object is gone.
        """
        try:
            dialog = make()
        except Exception as error:  # a dialog that cannot open must not look like a dead button
            self.error_sink.report(where, error)
            return None
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        dialog.finished.connect(lambda _result, closed=dialog: self._forget_dialog(closed))
        dialog.destroyed.connect(lambda _object=None, closed=dialog: self._forget_dialog(closed))
        self.open_dialogs.append(dialog)
        dialog.open()
        self.watch_input(dialog)
        return dialog

    def _forget_dialog(self, dialog: QDialog) -> None:
        self.open_dialogs = [existing for existing in self.open_dialogs if existing is not dialog]

    # ---- errors, sound and closing -----------------------------------------------------------

    def _error_reported(self, where: str, shown: str) -> None:
        place = self.tr("the station") if where == "application" else where
        self.line.show_error(station_error_words(place, shown))

    def _sound_problem(self, reason: str) -> None:
        self.sound_label.setToolTip(reason)
        self.sound_label.show()

    def watch_input(self, widget: QWidget) -> None:
        """Watch keys and clicks where the window system delivers them: on ``widget``'s QWindow
        (this window's, which a change of window flags replaces, hence again on every show; a
        dialog's). Installing a filter twice keeps one."""
        handle = widget.windowHandle()
        if handle is None:
            return
        handle.installEventFilter(self.scan_filter)
        handle.installEventFilter(self.idle_watch)

    def _focus_window_changed(self, window: QWindow | None) -> None:
        """A window of this station took the focus (a dialog, also one opened with exec())."""
        if window is None:
            return
        for widget in QApplication.topLevelWidgets():
            if widget.windowHandle() is window and self._owns(widget):
                self.watch_input(widget)
                return

    def _owns(self, widget: QWidget) -> bool:
        ancestor: QWidget | None = widget
        while ancestor is not None:
            if ancestor is self:
                return True
            ancestor = ancestor.parentWidget()
        return False

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        self.watch_input(self)

    def apply_kiosk(self) -> None:
        """Open as a station is used: full screen in kiosk mode, else maximized (a window sized
        in pixels opened 1,400 px wide on a 1,920 px screen, and taller than a 1080 one)."""
        screen = self.screen()
        if screen is not None:
            # Maximizing is the window manager's work; a kiosk X server often runs none, and the
            # window would keep its size. Taking the screen's room first holds either way.
            self.setGeometry(screen.geometry() if self.kiosk else screen.availableGeometry())
        if self.kiosk:
            self.setWindowFlag(Qt.WindowType.FramelessWindowHint, True)
            self.showFullScreen()
        else:
            self.showMaximized()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        if not self.allow_close:
            event.ignore()
            self.line.show_error(self.tr("Only an engineer may close the station."))
            return
        if not self.force_close and any(runner.busy for runner in self.line.runners.values()):
            event.ignore()  # a unit half provisioned is a unit to recover: let it finish
            self.line.show_error(self.tr("Units are still running. Close the station when every slot has a result."))
            return
        application = QApplication.instance()
        if application is not None:
            application.removeEventFilter(self.scan_filter)
            application.removeEventFilter(self.idle_watch)
        self.shutdown_views()
        event.accept()

    def shutdown_views(self) -> None:
        """Views with threads of their own (reports) stop them before the window goes."""
        shutdown = getattr(self.reports_view, "shutdown", None)
        if callable(shutdown):
            shutdown()
