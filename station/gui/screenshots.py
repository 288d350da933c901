"""Screenshots of the operator station, made by driving the training station on simulated units.

    python -m station.gui.screenshots OUTDIR [--language es] [--timing 0.5]

writes PNGs of the operator view (login, idle, running, PASS, FAIL, amber), and of the
history, supervisor and engineer views, so that anyone can look at what operators see.
Runs without a display (``QT_QPA_PLATFORM=offscreen`` is set when there is none); uses its
own temporary demo directory and leaves nothing else behind.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

WINDOW_SIZE = (1400, 900)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m station.gui.screenshots", description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="directory for the PNG files")
    parser.add_argument("--language", default="en", help="en, zh_CN or es (default en)")
    parser.add_argument("--timing", type=float, default=0.5, help="simulated units' timing factor (default 0.5)")
    parser.add_argument("--slots", type=int, default=2, help="how many slots (default 2)")
    arguments = parser.parse_args(argv)
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="station-screenshots-") as directory:
        os.environ["STATION_SIM_DIR"] = str(Path(directory) / "sim")
        written = take_screenshots(
            arguments.out, Path(directory), arguments.language, arguments.timing, arguments.slots
        )
    for path in written:
        print(path)
    return 0


def take_screenshots(out: Path, demo_root: Path, language: str, timing: float, slots: int = 2) -> list[Path]:
    from PySide6.QtCore import QCoreApplication

    from station.gui.demo_line import DemoFault
    from station.gui.line import StationLine
    from station.gui.main import (
        DEMO_ENGINEER,
        DEMO_ENGINEER_PIN,
        DEMO_SUPERVISOR,
        DEMO_SUPERVISOR_PIN,
        build_demo_station,
    )

    out.mkdir(parents=True, exist_ok=True)
    suffix = ("" if language == "en" else f"-{language}") + ("" if slots == 2 else f"-{slots}-slots")
    station = build_demo_station(demo_root, slots=slots, timing=timing, sounds=False, language=language)
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


if __name__ == "__main__":
    sys.exit(main())
