"""The operator station end to end: the real sequence on simulated units, driven as people would.

Every test builds the training station (``station demo``'s window) on its own simulated units
and database, with timing factor 0 so that a unit takes about a second.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QComboBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTableView,
    QTextEdit,
    QWidget,
)

from station.cli import build_parser
from station.config.settings import ScannerSettings, SlotSettings
from station.domain.errors import AccessError, LockedOutError
from station.domain.recipe import Recipe
from station.domain.records import AttemptResult, StepOutcome
from station.flow.run import Slot as UnitSlot
from station.gui.main import StationWindow
from station.gui.slot_states import StepState, Verdict
from station.gui.wording import plain_words
from station.sim import board
from station.sim.demo import DEMO_ENGINEER, DEMO_ENGINEER_PIN, DEMO_SUPERVISOR, DEMO_SUPERVISOR_PIN, prepare_demo
from station.sim.demo_slots import DemoFault

from .conftest import all_demo_tokens, fast_console_recipe, running_qthreads, wait_drawn, wait_finished

StationFactory = Callable[..., StationWindow]


def scanner_types(qtbot: Any, widget: QWidget, text: str, *, gap_ms: int) -> None:
    """Keys as a keyboard-wedge scanner sends them: through the window system to ``widget``'s
    window, which hands them to the focused widget (QTest would send them to the widget itself)."""
    window = widget.window().windowHandle()
    assert window is not None, "the station window has a native window"
    for character in text:
        key = ord(character.upper()) if character.isprintable() else Qt.Key.Key_unknown  # Qt's codes are ASCII
        for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
            QApplication.sendEvent(window, QKeyEvent(kind, key, Qt.KeyboardModifier.NoModifier, character))
        qtbot.wait(gap_ms)
    for kind in (QEvent.Type.KeyPress, QEvent.Type.KeyRelease):
        QApplication.sendEvent(window, QKeyEvent(kind, Qt.Key.Key_Return, Qt.KeyboardModifier.NoModifier, "\r"))
    qtbot.wait(gap_ms)


def attempts_for(station: StationWindow, serial: str) -> list[Any]:
    return station.operations.database.attempts.history(serial)


def visible_texts(root: QWidget) -> list[str]:
    """Every text a person could read in the window: labels, buttons, fields, tables, tooltips."""
    texts = [root.windowTitle()]
    for widget in [root, *root.findChildren(QWidget)]:
        texts.append(widget.toolTip())
        if isinstance(widget, QLabel | QAbstractButton | QLineEdit):
            texts.append(widget.text())
        if isinstance(widget, QPlainTextEdit | QTextEdit):
            texts.append(widget.toPlainText())
        if isinstance(widget, QComboBox):
            texts += [widget.itemText(index) for index in range(widget.count())]
        if isinstance(widget, QTableView) and widget.model() is not None:
            model = widget.model()
            for row in range(min(model.rowCount(), 200)):
                for column in range(model.columnCount()):
                    for role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
                        value = model.data(model.index(row, column), role)
                        if value is not None:
                            texts.append(str(value))
    return texts


# ---- scanning ---------------------------------------------------------------------------------


def test_scanner_speed_starts_a_unit_and_a_repeat_within_the_debounce_window_is_ignored(
    station_factory: StationFactory, qtbot: Any
) -> None:
    station = station_factory()
    line, view = station.line, station.window.operator_view
    scanner_types(qtbot, view, "TST-000101", gap_ms=1)
    assert line.slot_states["1"].running and line.slot_states["1"].serial == "TST-000101"
    scanner_types(qtbot, view, "TST-000101", gap_ms=1)  # the scanner's double trigger
    assert not line.slot_states["2"].running and line.slot_states["2"].serial == ""
    wait_finished(qtbot, line, "1")
    assert line.slot_states["1"].verdict is Verdict.PASS
    # Tiles are redrawn at the next frame (operator_view.TILE_FRAME_MS), not at every signal.
    wait_drawn(qtbot, station.window)
    assert station.window.operator_view.tiles["1"].verdict_word.text() == "PASS"
    assert [attempt.result for attempt in attempts_for(station, "TST-000101")] == [AttemptResult.PASSED]


def test_the_same_text_typed_at_human_speed_starts_nothing(station_factory: StationFactory, qtbot: Any) -> None:
    station = station_factory()
    line, view = station.line, station.window.operator_view
    with qtbot.waitSignal(station.window.scan_filter.typed_text_ignored, timeout=10_000):
        scanner_types(qtbot, view, "TST-000102", gap_ms=100)
    assert not any(state.running or state.serial for state in line.slot_states.values())
    assert attempts_for(station, "TST-000102") == []
    assert "scan the unit's label" in station.window.operator_view.banner.text()


def test_keys_typed_into_a_text_field_stay_there(station_factory: StationFactory, qtbot: Any) -> None:
    """A person's typing reaches the field, in order; a scan at scanner speed never does (it starts
    the unit: tests/gui/test_operator_floor.py)."""
    station = station_factory()
    station.window.tabs.setCurrentWidget(station.window.history_view)
    field = station.window.history_view.serial_field
    field.setFocus()
    qtbot.waitUntil(field.hasFocus)
    scanner_types(qtbot, field, "TST-000103", gap_ms=120)
    assert field.text() == "TST-000103"
    assert not any(state.running for state in station.line.slot_states.values())
    assert not station.window.scan_filter.holding


# ---- two slots at once --------------------------------------------------------------------------


def test_two_slots_reach_pass_at_once_and_the_window_keeps_answering(
    station_factory: StationFactory, qtbot: Any
) -> None:
    station = station_factory()
    line = station.line
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start()
    demo_bar = station.window.demo_bar
    assert demo_bar is not None
    first, second = demo_bar.simulate_scan(), demo_bar.simulate_scan()
    assert line.slot_states["1"].running and line.slot_states["2"].running
    assert (line.slot_states["1"].serial, line.slot_states["2"].serial) == (first, second)
    wait_finished(qtbot, line, "1", "2")
    timer.stop()
    assert [line.slot_states[name].verdict for name in ("1", "2")] == [Verdict.PASS, Verdict.PASS]
    gaps = [later - earlier for earlier, later in itertools.pairwise(ticks)]
    assert len(ticks) > 10
    assert max(gaps) < 1.5, f"the event loop stalled for {max(gaps):.2f} s while two slots ran"
    # The counters are computed off the GUI thread, after the units' records are committed.
    qtbot.waitUntil(lambda: line.figures().passed == 2, timeout=10_000)
    figures = line.figures()
    assert (figures.passed, figures.failed, figures.first_pass_yield) == (2, 0, 1.0)
    assert station.window.operator_view.passed_box.value.text() == "2"


def test_units_running_and_finishing_never_lay_out_the_window_again(
    station_factory: StationFactory, qtbot: Any
) -> None:
    """Tiles keep their places and sizes whatever they show, and a new counter figure stays in
    its box: a relayout that reaches the tabs repaints the whole window (it did, dozens of
    times a second with eight slots running)."""
    station = station_factory(slots=3)
    window, line = station.window, station.line
    view = window.operator_view
    demo_bar = window.demo_bar
    assert demo_bar is not None
    demo_bar.set_fault("2", DemoFault.DROP_WRITES, True)  # the training bar says so: a relayout, before
    wait_drawn(qtbot, window)
    qtbot.wait(50)
    places = {name: tile.geometry() for name, tile in view.tiles.items()}
    counter_size = view.passed_box.size()
    relayouts: list[str] = []

    class CountRelayouts(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
            if event.type() == QEvent.Type.LayoutRequest:
                relayouts.append(watched.objectName() or type(watched).__name__)
            return False

    counter = CountRelayouts()
    window.tabs.installEventFilter(counter)
    try:
        demo_bar.simulate_scan()
        demo_bar.simulate_scan()
        wait_finished(qtbot, line, "1", "2")
        qtbot.waitUntil(lambda: view.passed_box.value.text() == "1" and view.failed_box.value.text() == "1",
                        timeout=10_000)
        wait_drawn(qtbot, window)
        qtbot.wait(50)
    finally:
        window.tabs.removeEventFilter(counter)
    assert [line.slot_states[name].verdict for name in ("1", "2")] == [Verdict.PASS, Verdict.FAIL]
    assert relayouts == []
    assert {name: tile.geometry() for name, tile in view.tiles.items()} == places
    assert view.passed_box.size() == counter_size
    # A resize still shares the space out: equal tiles, side by side.
    window.resize(window.width() + 150, window.height())
    qtbot.waitUntil(lambda: view.tiles["1"].width() > places["1"].width(), timeout=2000)
    widths = {tile.width() for tile in view.tiles.values()}
    assert max(widths) - min(widths) <= 1
    assert view.tiles["1"].geometry().right() < view.tiles["2"].geometry().left()


def test_eight_slots_fit_a_1080_line_screen_and_no_tile_is_cut_at_its_smallest(
    station_factory: StationFactory, qtbot: Any
) -> None:
    """Line PCs have 1920x1080 screens: eight slots (two rows of four) fit one with the training
    bar, and with room for a taskbar without it. (That a tile's smallest size still holds every
    word of each of its pages, its type sized to it, is test_floor_layout's
    test_a_tile_at_its_smallest_shows_every_page_whole.)"""
    station = station_factory(slots=8)
    window = station.window
    demo_bar = window.demo_bar
    assert demo_bar is not None
    wait_drawn(qtbot, window)
    smallest = window.minimumSizeHint()
    assert smallest.width() <= 1920 and smallest.height() <= 1080, smallest
    demo_bar.hide()
    qtbot.waitUntil(lambda: window.minimumSizeHint().height() < smallest.height(), timeout=2000)  # laid out again
    assert window.minimumSizeHint().height() <= 1080 - 40, window.minimumSizeHint()


# ---- a locked unit, and the supervisor's rework --------------------------------------------------


def test_a_locked_unit_is_amber_untouched_and_only_a_rework_with_the_pin_erases_it(
    station_factory: StationFactory, qtbot: Any
) -> None:
    station = station_factory()
    line, window = station.line, station.window
    demo = station.demo
    assert demo is not None and window.demo_bar is not None
    window.demo_bar.set_fault("1", DemoFault.ARRIVES_LOCKED, True)
    serial = window.demo_bar.simulate_scan()
    wait_finished(qtbot, line, "1")
    state = line.slot_states["1"]
    assert (state.verdict, state.failure_code, state.failure_step) == (Verdict.NEEDS_PERSON, "UNIT_LOCKED", "connect")
    wait_drawn(qtbot, window)
    tile = window.operator_view.tiles["1"]
    assert tile.verdict_word.text() == "FAIL"
    assert tile.verdict_reason.text() == plain_words("UNIT_LOCKED")
    assert "UNIT_LOCKED" in tile.verdict_code.text()
    assert tile.verdict_panel.property("verdict") == "needs-person"

    unit = demo.unit("1")
    assert unit is not None
    flash_before = unit.read_nvm(board.FLASH_BASE, board.FLASH_SIZE)
    uicr_before = unit.read_nvm(board.UICR_BASE, board.UICR_SIZE)
    assert flash_before == b"\xff" * board.FLASH_SIZE  # the blank unit, locked, as it arrived
    info = unit.reload()
    assert info.protected and not info.ever_erased

    # A supervisor signs in; a rework without the PIN, or with a wrong one, is refused.
    line.sign_in(DEMO_SUPERVISOR, DEMO_SUPERVISOR_PIN)
    supervisor_view = window.supervisor_view
    window.show_view(supervisor_view)
    supervisor_view.rework_serial.setText(serial)
    supervisor_view.rework_slot.setCurrentText("1")
    for typed in ("", "9999"):

        def typed_pin(_what: str, pin: str = typed) -> str:
            return pin

        supervisor_view.ask_pin = typed_pin
        supervisor_view.start_rework()
        assert supervisor_view.rework_message.property("level") == "error"
        assert not line.slot_states["1"].running
    assert unit.read_nvm(board.FLASH_BASE, board.FLASH_SIZE) == flash_before
    assert unit.read_nvm(board.UICR_BASE, board.UICR_SIZE) == uicr_before
    assert unit.reload().protected
    assert not any(attempt.is_rework for attempt in attempts_for(station, serial))

    supervisor_view.ask_pin = lambda _what: DEMO_SUPERVISOR_PIN
    supervisor_view.start_rework()
    assert line.slot_states["1"].running
    wait_finished(qtbot, line, "1")
    state = line.slot_states["1"]
    assert (state.verdict, state.failure_code) == (Verdict.REWORKED, "REWORKED")
    info = unit.reload()
    assert not info.protected and info.ever_erased
    record = station.operations.database.units.get_unit(serial)
    assert record is not None and record.is_development
    actions = [entry.action for entry in station.operations.database.audit_log().entries()]
    assert actions.count("access.refused") == 2 and "access.approved" in actions and "unit.rework" in actions


# ---- a silent console, then a rescan --------------------------------------------------------------


def test_a_silent_console_fails_at_activation_and_a_rescan_resumes_and_passes(
    station_factory: StationFactory, qtbot: Any, tmp_path: Path
) -> None:
    station = station_factory(
        recipe_path=fast_console_recipe(tmp_path / "demo"), scanner=ScannerSettings(debounce_seconds=0.2)
    )
    line, window = station.line, station.window
    assert window.demo_bar is not None
    window.demo_bar.set_fault("1", DemoFault.SILENT_CONSOLE, True)
    serial = window.demo_bar.simulate_scan()
    wait_finished(qtbot, line, "1")
    state = line.slot_states["1"]
    assert (state.verdict, state.failure_step, state.failure_code) == (Verdict.FAIL, "activate", "CONSOLE_TIMEOUT")
    wait_drawn(qtbot, window)
    tile = window.operator_view.tiles["1"]
    assert tile.verdict_word.text() == "FAIL"
    assert tile.verdict_reason.text() == plain_words("CONSOLE_TIMEOUT")
    assert "CONSOLE_TIMEOUT" in tile.verdict_code.text()

    window.demo_bar.clear_faults("1")
    qtbot.wait(250)  # past the debounce window: a deliberate rescan, not a double trigger
    assert window.demo_bar.rescan("1") == serial
    assert line.slot_states["1"].running
    wait_finished(qtbot, line, "1")
    state = line.slot_states["1"]
    assert state.verdict is Verdict.PASS
    assert state.steps["flash"] is StepState.SKIPPED and state.steps["activate"] is StepState.PASSED
    history = attempts_for(station, serial)
    assert [attempt.result for attempt in history] == [AttemptResult.FAILED, AttemptResult.PASSED]
    flash_steps = [step for step in history[-1].steps if step.name == "flash"]
    assert [step.outcome for step in flash_steps] == [StepOutcome.SKIPPED]
    assert history[0].certificate_fingerprint == history[1].certificate_fingerprint
    qtbot.waitUntil(lambda: line.figures().passed == 1, timeout=10_000)
    figures = line.figures()
    assert (figures.passed, figures.failed, figures.first_pass_yield) == (1, 1, 0.0)


def test_a_serial_another_station_is_provisioning_shows_amber_with_where_and_the_unit_is_untouched(
    station_factory: StationFactory, qtbot: Any
) -> None:
    from station.domain.records import AttemptOwner

    station = station_factory()
    line, window = station.line, station.window
    demo = station.demo
    assert demo is not None and window.demo_bar is not None and line.recipe is not None
    serial = demo.next_serial(line.is_used_serial)
    # Another station of the line, on another host, is working on this serial right now.
    station.operations.database.attempts.create_attempt(
        serial=serial, station="station-b", operator="bob",
        recipe_hash=line.recipe.content_hash, product=line.recipe.product,
        owner=AttemptOwner(station="station-b", host="line-host-2", pid=4242, process_start="boot:1", slot="2"),
    )  # fmt: skip
    line.handle_scan(serial)
    wait_finished(qtbot, line, "1")
    state = line.slot_states["1"]
    assert (state.verdict, state.failure_code, state.failure_step) == (
        Verdict.NEEDS_PERSON, "SERIAL_IN_PROGRESS", "scan",
    )  # fmt: skip
    wait_drawn(qtbot, window)
    tile = window.operator_view.tiles["1"]
    assert tile.verdict_panel.property("verdict") == "needs-person"  # amber
    assert tile.verdict_reason.text().startswith("This unit is being provisioned at station-b/2 since ")
    assert "Leave it there" in tile.verdict_reason.text()
    unit = demo.unit("1")
    assert unit is not None
    assert unit.read_nvm(board.FLASH_BASE, board.FLASH_SIZE) == b"\xff" * board.FLASH_SIZE  # never touched
    assert not unit.reload().ever_erased
    assert [attempt.station for attempt in attempts_for(station, serial)] == ["station-b"]


def test_a_pass_the_database_would_not_commit_is_never_shown_and_a_rescan_passes(
    station_factory: StationFactory, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from station.domain.errors import StoreError
    from station.store.attempts import AttemptRepository

    original = AttemptRepository.finish_attempt
    refusals = [StoreError("the store could not complete the change: database or disk is full")]

    def finish(self: AttemptRepository, attempt_id: int, result: AttemptResult, **fields: Any) -> Any:
        if result is AttemptResult.PASSED and refusals:  # the store's boundary: the final commit fails
            raise refusals.pop()
        return original(self, attempt_id, result, **fields)

    monkeypatch.setattr(AttemptRepository, "finish_attempt", finish)
    station = station_factory(scanner=ScannerSettings(debounce_seconds=0.2))
    line, window = station.line, station.window
    assert window.demo_bar is not None
    serial = window.demo_bar.simulate_scan()
    wait_finished(qtbot, line, "1")
    state = line.slot_states["1"]
    assert (state.verdict, state.failure_step, state.failure_code) == (Verdict.FAIL, "record", "NOT_RECORDED")
    wait_drawn(qtbot, window)
    tile = window.operator_view.tiles["1"]
    assert tile.verdict_word.text() == "FAIL"
    assert tile.verdict_reason.text() == plain_words("NOT_RECORDED")
    assert [tile.verdict_word.text() for tile in window.operator_view.tiles.values()].count("PASS") == 0
    assert line.figures().passed == 0
    assert [attempt.result for attempt in attempts_for(station, serial)] == [AttemptResult.IN_PROGRESS]

    qtbot.wait(250)
    assert window.demo_bar.rescan("1") == serial
    wait_finished(qtbot, line, "1")
    assert line.slot_states["1"].verdict is Verdict.PASS
    history = attempts_for(station, serial)
    assert [attempt.result for attempt in history] == [AttemptResult.FAILED, AttemptResult.PASSED]
    database = station.operations.database
    assert len(database.credentials.credentials_for_serial(serial)) == 1
    with database.engine.connect() as connection:
        from sqlalchemy import text

        uses = connection.execute(text("SELECT attempt_id, state FROM token_uses")).all()
    assert [tuple(use) for use in uses] == [(history[0].id, "used")]  # the first attempt's, confirmed once


def flash_deadline_recipe(demo_root: Path, seconds: int = 3) -> Path:
    """The demo recipe whose flash step may take ``seconds`` and is not retried."""
    environment = prepare_demo(demo_root)
    text = environment.recipe_path.read_text(encoding="utf-8")
    policy = "[steps.flash]\ntimeout_seconds = 120\nretries = 1"
    assert policy in text
    path = environment.recipe_path.with_name("recipe-flash-deadline.toml")
    path.write_text(text.replace(policy, f"[steps.flash]\ntimeout_seconds = {seconds}\nretries = 0"), encoding="utf-8")
    return path


def test_a_hung_flash_algorithm_fails_at_its_deadline_and_the_slot_frees_itself(
    station_factory: StationFactory, qtbot: Any, tmp_path: Path
) -> None:
    station = station_factory(recipe_path=flash_deadline_recipe(tmp_path / "demo"), slots=1)
    line, window = station.line, station.window
    assert window.demo_bar is not None
    window.demo_bar.set_fault("1", DemoFault.FLASH_HANGS, True)
    serial = window.demo_bar.simulate_scan()
    started = time.monotonic()
    wait_finished(qtbot, line, "1")
    elapsed = time.monotonic() - started
    state = line.slot_states["1"]
    assert (state.verdict, state.failure_step, state.failure_code) == (Verdict.FAIL, "flash", "STEP_TIMEOUT")
    assert "deadline of 3 s" in state.detail
    assert not line.runners["1"].busy and elapsed < 3 + 20  # not the minutes of pyOCD's own timeouts
    wait_drawn(qtbot, window)
    assert window.operator_view.tiles["1"].verdict_reason.text() == plain_words("STEP_TIMEOUT")
    [attempt] = attempts_for(station, serial)
    assert attempt.result is AttemptResult.FAILED and attempt.failure_code == "STEP_TIMEOUT"
    # The next unit on the same slot (and probe wiring) provisions normally.
    window.demo_bar.clear_faults("1")
    qtbot.wait(1100)  # past the debounce window
    window.demo_bar.simulate_scan()
    wait_finished(qtbot, line, "1")
    assert line.slot_states["1"].verdict is Verdict.PASS


def test_wrong_pins_lock_a_supervisor_out_of_the_window_too(station_factory: StationFactory) -> None:
    station = station_factory()
    line = station.line
    for _ in range(4):
        with pytest.raises(AccessError, match="wrong name or PIN"):
            line.sign_in(DEMO_SUPERVISOR, "9999")
    with pytest.raises(LockedOutError, match="locked out after too many wrong PINs"):
        line.sign_in(DEMO_SUPERVISOR, "9999")
    with pytest.raises(LockedOutError):
        line.sign_in(DEMO_SUPERVISOR, DEMO_SUPERVISOR_PIN)  # even the right PIN, until the time passes
    assert line.user is not None and line.user.role == "operator"  # the operator stays signed in
    entries = [(entry.actor, entry.action) for entry in station.operations.database.audit_log().entries()]
    assert entries.count((f"supervisor:{DEMO_SUPERVISOR}", "access.locked-out")) == 1
    # The lock-out is the station's, not the window's: the command line refuses the PIN as well.
    with pytest.raises(LockedOutError):
        station.operations.people.approve(DEMO_SUPERVISOR, DEMO_SUPERVISOR_PIN, "supervisor", "rework")


# ---- secrets -------------------------------------------------------------------------------------


def test_the_token_is_never_shown_or_logged(
    station_factory: StationFactory, qtbot: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    station = station_factory()
    line, window = station.line, station.window
    assert window.demo_bar is not None
    serial = window.demo_bar.simulate_scan()
    wait_finished(qtbot, line, "1")
    assert line.slot_states["1"].verdict is Verdict.PASS
    window.show_view(window.history_view)
    window.history_view.refresh()
    window.history_view.table.selectRow(0)
    detail = window.history_view.detail.toPlainText()
    assert serial in detail and "activation token tok:" in detail and "dms_activate tok:" in detail
    line.sign_in(DEMO_ENGINEER, DEMO_ENGINEER_PIN)
    window.show_view(window.engineer_view)
    texts = "\n".join(visible_texts(window))
    tokens = all_demo_tokens(station)
    assert tokens
    shown = [token for token in tokens if token in texts]
    assert not shown, "an activation token is shown in the window"
    logs = caplog.text + "".join(
        path.read_text(errors="replace") for path in station.operations.paths.log_dir.glob("*.log*")
    )
    assert not [token for token in tokens if token in logs], "an activation token reached the log"


# ---- sessions, errors, engineer ------------------------------------------------------------------


def test_badges_pins_and_idle_logout(station_factory: StationFactory, qtbot: Any) -> None:
    station = station_factory()
    line, window = station.line, station.window
    line.logout()
    assert window.operator_view.pages.currentIndex() == 0  # the login page
    scanner_types(qtbot, window.operator_view, "TST-000104", gap_ms=1)  # a unit before a badge: refused
    assert line.user is None and not line.slot_states["1"].running
    assert line.banner.text == "Scan your badge first."
    with qtbot.waitSignal(line.pin_needed, timeout=5_000) as asked:
        scanner_types(qtbot, window.operator_view, f"BADGE:{DEMO_SUPERVISOR}", gap_ms=1)
    assert asked.args == [DEMO_SUPERVISOR] and line.user is None
    dialogs = [dialog for dialog in window.open_dialogs if dialog.isVisible()]
    assert len(dialogs) == 1 and dialogs[0].findChildren(QLineEdit)[0].text() == DEMO_SUPERVISOR
    dialogs[0].reject()
    scanner_types(qtbot, window.operator_view, "BADGE:demo-operator", gap_ms=1)
    assert line.user is not None and line.user.name == "demo-operator"
    assert window.operator_view.pages.currentIndex() == 1
    assert not window.tabs.isTabVisible(window.tabs.indexOf(window.supervisor_view))
    line.sign_in(DEMO_ENGINEER, DEMO_ENGINEER_PIN)
    assert window.tabs.isTabVisible(window.tabs.indexOf(window.engineer_view))
    window.idle_watch.timer.start(50)
    qtbot.waitUntil(lambda: line.user is None, timeout=5_000)
    assert not window.tabs.isTabVisible(window.tabs.indexOf(window.engineer_view))
    actions = [entry.action for entry in station.operations.database.audit_log().entries()]
    assert actions.count("session.login") >= 3 and "session.logout" in actions


def test_a_worker_error_and_an_uncaught_exception_become_a_message_not_a_frozen_window(
    station_factory: StationFactory, qtbot: Any
) -> None:
    station = station_factory(install_error_hooks=True)
    line = station.line

    class BrokenSlots:
        def slot_for(self, settings: SlotSettings, serial: str, recipe: Recipe, *, kind: str) -> UnitSlot:
            raise RuntimeError("a bug in a driver")

    station.operations.units.slot_provider = BrokenSlots()
    assert station.window.demo_bar is not None
    station.window.demo_bar.simulate_scan()
    wait_finished(qtbot, line, "1")
    assert (line.slot_states["1"].verdict, line.slot_states["1"].failure_code) == (Verdict.FAIL, "INTERNAL")
    assert any("RuntimeError" in entry for entry in station.error_sink.reported)

    def boom() -> None:
        raise ValueError("from a Qt slot")

    QTimer.singleShot(0, boom)
    qtbot.waitUntil(lambda: any("ValueError" in entry for entry in station.error_sink.reported), timeout=5_000)
    assert line.banner.level.value == "error" and "ValueError" in station.window.operator_view.banner.text()
    assert station.window.isVisible()
    assert not line.runners["1"].busy  # the slot is free for the next unit


def test_engineer_sets_slots_with_discovered_probes_and_the_recipe_check(
    station_factory: StationFactory, qtbot: Any
) -> None:
    station = station_factory()
    line, window = station.line, station.window
    training = station.operations.training
    assert training is not None
    with pytest.raises(Exception, match="engineer"):
        line.engineer.apply_slots((SlotSettings("X", "sim:unit-9999", "/dev/null"),))
    line.sign_in(DEMO_ENGINEER, DEMO_ENGINEER_PIN)
    training.environment.create_units(1)
    view = window.engineer_view
    view.discover()
    qtbot.waitUntil(lambda: view.discover_button.isEnabled(), timeout=20_000)
    probe = view.slots_table.cellWidget(0, 1)
    assert isinstance(probe, QComboBox)
    assert any("unit-0001" in probe.itemText(index) for index in range(probe.count()))
    assert "ACME-TOASTER" in view.recipe_check.toPlainText() and "sha256" in view.recipe_check.toPlainText()
    view.choose_file = lambda *_arguments: training.environment.recipe_path
    view.check_recipe()
    assert view.use_button.isEnabled()
    view._add_slot_row(None)
    name_item = view.slots_table.item(2, 0)
    assert name_item is not None, "a new slot row has an item in its name column"
    name_item.setText("3")
    console = view.slots_table.cellWidget(2, 2)
    probe = view.slots_table.cellWidget(2, 1)
    assert isinstance(console, QComboBox) and isinstance(probe, QComboBox)
    probe.setEditText("sim:unit-0042")
    console.setEditText("/dev/ttyACM2")
    view.apply_slots()
    assert line.slot_names == ["1", "2", "3"]
    assert set(window.operator_view.tiles) == {"1", "2", "3"}
    actions = [entry.action for entry in station.operations.database.audit_log().entries()]
    assert "slots.set" in actions
    reports = window.reports_view  # the reports view has threads of its own: they end with the window
    assert reports is not None and window.tabs.isTabVisible(window.tabs.indexOf(reports))
    window.show_view(reports)
    qtbot.waitUntil(lambda: getattr(reports, "last_figures", None) is not None, timeout=20_000)


def test_station_gui_is_a_command() -> None:
    arguments = build_parser().parse_args(["gui", "--kiosk", "--language", "es"])
    assert arguments.kiosk and arguments.language == "es"


def test_station_demo_opens_the_training_window_and_ends_every_thread(
    tmp_path: Path, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `station demo` runs where a display exists: the window, its event loop, a clean close.

    The event loop is stood in for (running the real one and quitting it would end the
    application for every later test), so the test sees the window while it "runs".
    """
    monkeypatch.setenv("STATION_SIM_DIR", str(tmp_path / "demo" / "sim"))
    arguments = build_parser().parse_args(["demo", "--units", "2", "--demo-dir", str(tmp_path / "demo")])
    seen: dict[str, list[str]] = {}

    def event_loop(_application: QApplication) -> int:
        qtbot.wait(500)
        seen["titles"] = [widget.windowTitle() for widget in QApplication.topLevelWidgets() if widget.isVisible()]
        return 0

    monkeypatch.setattr(QApplication, "exec", event_loop)
    from station.app import CompositionRoot

    assert CompositionRoot().run_demo_gui(arguments) == 0
    assert len(seen["titles"]) == 1
    assert not running_qthreads()
