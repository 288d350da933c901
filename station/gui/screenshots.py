"""Screenshots of the operator station: the training station driven through its screens.

``python -m station.app.screenshots`` builds the training station and calls
``take_screenshots``; it writes PNGs of the operator view (login, idle, running, PASS, FAIL,
amber, a banner over the results, every slot at work), and of the history, supervisor and
engineer views, so that anyone can look at what operators see. Four slots and more are shot on
a line PC's 1920x1080 screen, the window maximized as the station opens it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QCoreApplication

from station.gui.line import StationLine
from station.gui.main import StationWindow
from station.sim.demo import DEMO_ENGINEER, DEMO_ENGINEER_PIN, DEMO_SUPERVISOR, DEMO_SUPERVISOR_PIN
from station.sim.demo_slots import DemoFault

WINDOW_SIZE = (1400, 900)
LINE_SCREEN_SIZE = (1920, 1080)  # a line PC's screen: where four slots and more are shown


def take_screenshots(station: StationWindow, out: Path, suffix: str = "") -> list[Path]:
    """Drive the training station through its screens and save each as ``out/<name><suffix>.png``;
    the station is closed at the end."""
    out.mkdir(parents=True, exist_ok=True)
    window, line = station.window, station.line
    demo_bar = window.demo_bar
    assert demo_bar is not None
    written: list[Path] = []

    def settle(seconds: float = 0.3) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            QCoreApplication.processEvents()
            time.sleep(0.01)

    def wait(condition: Callable[[], bool], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError("the station did not get there in time")
            QCoreApplication.processEvents()
            time.sleep(0.005)

    def finished(current: StationLine, slot: str) -> bool:
        state = current.slot_states[slot]
        return not state.running and state.verdict is not None

    def shoot(name: str) -> None:
        settle()
        path = out / f"{name}{suffix}.png"
        window.grab().save(str(path))
        written.append(path)

    try:
        if len(line.slot_names) > 3:
            window.setGeometry(0, 0, *LINE_SCREEN_SIZE)
            window.showMaximized()
        else:
            window.resize(*WINDOW_SIZE)
            window.show()
        wait(lambda: not line.readiness_problems())
        shoot("operator-idle")

        demo_bar.simulate_scan()
        wait(lambda: line.slot_states["1"].current_step == "flash" and (line.slot_states["1"].progress or 0) > 0.4)
        shoot("operator-running")
        wait(lambda: finished(line, "1"))
        shoot("operator-pass")

        demo_bar.set_fault("2", DemoFault.DROP_WRITES, True)
        line.handle_scan("SLOT:2")  # the fixture label: the next unit goes to slot 2
        demo_bar.simulate_scan()
        wait(lambda: finished(line, "2"))
        shoot("operator-fail")

        demo_bar.clear_faults("2")
        demo_bar.set_fault("1", DemoFault.ARRIVES_LOCKED, True)
        line.handle_scan("SLOT:1")
        demo_bar.simulate_scan()
        wait(lambda: finished(line, "1"))
        shoot("operator-amber")
        demo_bar.clear_faults("1")

        line.handle_scan("LABEL-OF-ANOTHER-PRODUCT")  # a banner over the results: what was read
        wait(lambda: bool(line.banner.text))
        shoot("operator-banner")
        if len(line.slot_names) > 3:
            # Every slot at work, then every slot's result: the busiest the operator view gets.
            for _ in line.slot_names:
                demo_bar.simulate_scan()
            wait(lambda: all(finished(line, name) or state.current_step not in (None, "connect")
                             for name, state in line.slot_states.items()))  # fmt: skip
            shoot("operator-all-running")
            wait(lambda: all(finished(line, name) for name in line.slot_names))
            shoot("operator-all-results")

        window.show_view(window.history_view)
        window.history_view.refresh()
        window.history_view.table.selectRow(2)  # the unit that passed: steps and console transcript
        shoot("history")

        line.sign_in(DEMO_SUPERVISOR, DEMO_SUPERVISOR_PIN)
        window.show_view(window.supervisor_view)
        locked = line.slot_states["1"].serial
        window.supervisor_view.rework_serial.setText(locked)
        window.supervisor_view.rework_slot.setCurrentText("1")
        shoot("supervisor")

        line.sign_in(DEMO_ENGINEER, DEMO_ENGINEER_PIN)
        window.show_view(window.engineer_view)
        shoot("engineer")
        window.engineer_view.discover()
        wait(window.engineer_view.discover_button.isEnabled)
        window.engineer_view.ensureWidgetVisible(window.engineer_view.slots_group)
        shoot("engineer-slots")

        line.logout()
        shoot("operator-login")
    finally:
        station.close()
    return written

