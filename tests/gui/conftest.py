"""Fixtures for the operator application: a demo station on simulated units, torn down cleanly."""

from __future__ import annotations

import gc
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QThread

from station.app import CompositionRoot
from station.app.screenshots import offscreen_platform
from station.app.windows import build_demo_window
from station.config.settings import ScannerSettings
from station.gui.line import StationLine
from station.gui.main import StationWindow
from station.security.vault import TokenVault
from station.sim.demo import DEMO_VAULT_PASSPHRASE, prepare_demo
from station.sim.units import SIM_DIR_ENVIRONMENT_VARIABLE
from station.store import open_database

DEFAULT_TIMEOUT_MS = 30_000
DEMO_PRODUCT = "ACME-TOASTER"
LINE_SCREEN = (1920, 1080)


def pytest_configure(config: pytest.Config) -> None:
    """Qt's offscreen platform has one 800x800 screen; the window is made for a line PC's
    1920x1080 one (it opens maximized there), so the tests' screen is that. Set before the
    QApplication exists, which pytest-qt creates for the first test that needs it."""
    if os.environ.get("QT_QPA_PLATFORM") != "offscreen":
        return
    directory = Path(tempfile.mkdtemp(prefix="station-offscreen-"))
    os.environ["QT_QPA_PLATFORM"] = offscreen_platform(directory, *LINE_SCREEN)
    config.add_cleanup(lambda: shutil.rmtree(directory, ignore_errors=True))


def running_qthreads() -> list[QThread]:
    gc.collect()
    found = []
    for thing in gc.get_objects():
        try:
            if isinstance(thing, QThread) and thing.isRunning() and thing is not QThread.currentThread():
                found.append(thing)
        except RuntimeError:  # the C++ object is gone already
            continue
    return found


def fast_console_recipe(demo_root: Path) -> Path:
    """The demo recipe with short console timeouts and no activation retry (a silent console
    then fails in half a second instead of many)."""
    environment = prepare_demo(demo_root)
    text = environment.recipe_path.read_text(encoding="utf-8")
    replacements = {
        r"command_timeout_seconds = [0-9.]+": "command_timeout_seconds = 0.5",
        r"boot_timeout_seconds = [0-9.]+": "boot_timeout_seconds = 1.0",
        r"activate_timeout_seconds = [0-9.]+": "activate_timeout_seconds = 2.0",
        r"(\[steps\.activate\]\ntimeout_seconds = [0-9]+\nretries = )[0-9]+": r"\g<1>0",
    }
    for pattern, replacement in replacements.items():
        text, count = re.subn(pattern, replacement, text)
        assert count == 1, pattern
    path = environment.recipe_path.with_name("recipe-fast-console.toml")
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def station_factory(
    tmp_path: Path, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[..., StationWindow]]:
    """Builds demo stations in this test's directory; closes them and checks no thread is left."""
    monkeypatch.setenv(SIM_DIR_ENVIRONMENT_VARIABLE, str(tmp_path / "demo" / "sim"))
    built: list[StationWindow] = []

    def build(**options: Any) -> StationWindow:
        options.setdefault("slots", 2)
        options.setdefault("timing", 0.0)  # units in about a second (the training window's own pace is slower)
        options.setdefault("language", "en")
        options.setdefault("sounds", False)
        options.setdefault("install_error_hooks", False)
        options.setdefault("scanner", ScannerSettings(debounce_seconds=1.0))
        station = build_demo_window(CompositionRoot(), tmp_path / "demo", **options)
        built.append(station)
        qtbot.addWidget(station.window)
        station.window.resize(1280, 800)
        station.window.show()
        wait_ready(qtbot, station.line)
        return station

    yield build
    for station in built:
        assert station.close(), "a slot or chore thread did not end"
    assert not running_qthreads(), "a QThread is still running after the station closed"


def wait_ready(qtbot: Any, line: StationLine) -> None:
    qtbot.waitUntil(lambda: not line.readiness_problems(), timeout=DEFAULT_TIMEOUT_MS)


def wait_finished(qtbot: Any, line: StationLine, *slots: str, timeout: int = DEFAULT_TIMEOUT_MS) -> None:
    def finished() -> bool:
        return all(not line.slot_states[name].running and line.slot_states[name].verdict is not None for name in slots)

    qtbot.waitUntil(finished, timeout=timeout)


def wait_drawn(qtbot: Any, window: Any) -> None:
    """Until the operator view has drawn every slot change (tiles are drawn once per frame)."""
    qtbot.waitUntil(lambda: not window.operator_view.frame_pending, timeout=2000)


def all_demo_tokens(station: StationWindow) -> list[str]:
    """Every activation token in the demo vault, in clear: what must never be shown."""
    database = open_database(station.operations.paths.db_url)
    try:
        vault = TokenVault(database.tokens).unlocked(DEMO_VAULT_PASSPHRASE)
        sealed = database.tokens.sealed_tokens(DEMO_PRODUCT)
        assert sealed
        return sorted({vault.open(token).secret() for token in sealed})
    finally:
        database.dispose()
