"""Demo and training controls on the operator view: simulate a scan, and break units on purpose.

"Simulate scan" produces the next valid demo serial (``TST-000001`` …) as if the scanner had
read it; "Scan again" repeats a slot's last serial (a rescan after a failure); the fault menu
lets a trainer make a slot's unit drop flash writes, fall silent on its console, or arrive
locked, so that operators learn what each failure looks like and what to do.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QIcon
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QMenu, QPushButton, QSizePolicy, QToolButton, QWidget

from station.gui.line import StationLine
from station.gui.resources import icon_path
from station.sim.demo_slots import DemoFault, DemoUnits


class DemoBar(QFrame):
    def __init__(
        self, line: StationLine, demo: DemoUnits, operator_badge: str, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.line = line
        self.demo = demo
        self.operator_badge = operator_badge
        self.setObjectName("demoBar")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(12, 6, 12, 6)
        self.title = QLabel()
        self.title.setObjectName("demoTitle")
        self.scan_button = QPushButton()
        self.scan_button.setObjectName("primary")
        self.scan_button.setIcon(QIcon(str(icon_path("scan"))))
        self.scan_button.setIconSize(QSize(28, 28))
        self.scan_button.clicked.connect(self.simulate_scan)
        self.badge_button = QPushButton()
        self.badge_button.setObjectName("primary")
        self.badge_button.setIcon(QIcon(str(icon_path("scan"))))
        self.badge_button.setIconSize(QSize(28, 28))
        self.badge_button.clicked.connect(self.simulate_badge)
        self.rescan_button = QToolButton()
        self.rescan_menu = QMenu(self)
        self.rescan_menu.aboutToShow.connect(self._fill_rescan_menu)
        self.rescan_button.setMenu(self.rescan_menu)
        self.rescan_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.fault_button = QToolButton()
        self.fault_button.setIcon(QIcon(str(icon_path("fault"))))
        self.fault_menu = QMenu(self)
        self.fault_menu.aboutToShow.connect(self._fill_fault_menu)
        self.fault_button.setMenu(self.fault_menu)
        self.fault_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        for button in (self.rescan_button, self.fault_button):
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            button.setMinimumHeight(44)
        self.faults_label = QLabel()
        self.faults_label.setWordWrap(True)
        self.faults_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout.addWidget(self.title)
        layout.addSpacing(12)
        layout.addWidget(self.scan_button)
        layout.addWidget(self.badge_button)
        layout.addWidget(self.rescan_button)
        layout.addWidget(self.fault_button)
        layout.addSpacing(12)
        layout.addWidget(self.faults_label, 1)
        line.session_changed.connect(self._session_changed)
        self.retranslate()
        self._session_changed()

    def _session_changed(self) -> None:
        logged_in = self.line.user is not None
        self.scan_button.setVisible(logged_in)
        self.rescan_button.setVisible(logged_in)
        self.badge_button.setVisible(not logged_in)

    def simulate_badge(self) -> None:
        """Scan the training operator's badge."""
        self.line.handle_scan(f"BADGE:{self.operator_badge}")

    def retranslate(self) -> None:
        self.title.setText(self.tr("Training mode: simulated units"))
        self.scan_button.setText(self.tr("Simulate scan"))
        self.badge_button.setText(self.tr("Simulate badge scan"))
        self.rescan_button.setText(self.tr("Scan again"))
        self.fault_button.setText(self.tr("Faults"))
        self._show_faults()

    def simulate_scan(self) -> str:
        """Scan the next free demo serial, as the scanner would."""
        # On a line of mixed families each family's product in turn: the label decides the slot.
        serial = self.demo.next_serial(self.line.is_used_serial)
        self.line.handle_scan(serial)
        return serial

    def rescan(self, slot_name: str) -> str | None:
        serial = self.demo.last_serial(slot_name)
        if serial is not None:
            self.line.handle_scan(serial)
        return serial

    def fault_names(self) -> dict[DemoFault, str]:
        return {
            DemoFault.DROP_WRITES: self.tr("Drop flash writes"),
            DemoFault.SILENT_CONSOLE: self.tr("Silent console"),
            DemoFault.ARRIVES_LOCKED: self.tr("Next unit arrives locked"),
            DemoFault.FLASH_HANGS: self.tr("Flash algorithm hangs"),
        }

    def set_fault(self, slot_name: str, fault: DemoFault, on: bool) -> None:
        self.demo.set_fault(slot_name, fault, on)
        self._show_faults()

    def clear_faults(self, slot_name: str) -> None:
        self.demo.clear_faults(slot_name)
        self._show_faults()

    def _fill_rescan_menu(self) -> None:
        self.rescan_menu.clear()
        for name in self.line.slot_names:
            serial = self.demo.last_serial(name)
            if serial is None:
                continue
            action = QAction(self.tr("Slot {slot}: {serial}").format(slot=name, serial=serial), self.rescan_menu)
            action.triggered.connect(lambda _checked=False, slot=name: self.rescan(slot))
            self.rescan_menu.addAction(action)
        if self.rescan_menu.isEmpty():
            empty = QAction(self.tr("No unit scanned yet"), self.rescan_menu)
            empty.setEnabled(False)
            self.rescan_menu.addAction(empty)

    def _fill_fault_menu(self) -> None:
        self.fault_menu.clear()
        names = self.fault_names()
        for slot in self.line.slot_names:
            submenu = self.fault_menu.addMenu(self.tr("Slot {slot}").format(slot=slot))
            active = self.demo.faults(slot)
            for fault, title in names.items():
                action = QAction(title, submenu)
                action.setCheckable(True)
                action.setChecked(fault in active)
                action.toggled.connect(partial(self.set_fault, slot, fault))
                submenu.addAction(action)
            submenu.addSeparator()
            clear = QAction(self.tr("Clear faults"), submenu)
            clear.triggered.connect(lambda _checked=False, name=slot: self.clear_faults(name))
            submenu.addAction(clear)

    def _show_faults(self) -> None:
        names = self.fault_names()
        parts = []
        for slot in self.line.slot_names:
            active = self.demo.faults(slot)
            if active:
                parts.append(self.tr("Slot {slot}: {faults}").format(
                    slot=slot, faults=", ".join(names[fault] for fault in sorted(active))))
        self.faults_label.setText("   ".join(parts))
