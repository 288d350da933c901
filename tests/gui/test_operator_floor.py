"""The operator floor as a newcomer meets it: dialogs that open again and again, scans that are
never lost in a text field, a rescanned good unit that stays good, banners that end with their
cause, a station that says when it cannot be heard, and a training window a trainee can follow.

Every test but the training pace one runs the training station at timing factor 0.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog, QDialogButtonBox, QLineEdit

from station.cli import build_parser
from station.config.settings import ScannerSettings
from station.domain.errors import (
    FlashError,
    NoFreeSlotError,
    StationError,
    UnitAlreadyRunningError,
    UnitLockedError,
)
from station.domain.outcome import AttemptOutcome
from station.gui.dialogs import OperatorIdDialog, PinDialog, SignInDialog
from station.gui.main import StationWindow
from station.gui.reports_view import ReportsView
from station.gui.slot_states import BannerLevel, SlotState, Verdict, rework_slot_for
from station.gui.sounds import FAIL, PASS, SCAN, SOUND_NAMES, EffectState, SoundBoard
from station.gui.wording import plain_words, refusal_words, sound_problem_words
from station.operations.station import TRAINING_WINDOW_TIMING
from station.sim.demo import DEMO_ENGINEER, DEMO_ENGINEER_PIN, DEMO_OPERATOR, DEMO_SUPERVISOR, DEMO_SUPERVISOR_PIN
from station.sim.demo_slots import DemoFault

from .conftest import running_qthreads, wait_drawn, wait_finished
from .test_operator_station import scanner_types, visible_texts

StationFactory = Callable[..., StationWindow]
NO_DEBOUNCE = ScannerSettings(debounce_seconds=0.0)


def deleted_later(qtbot: Any) -> None:
    """Let closed dialogs be deleted (WA_DeleteOnClose posts a DeferredDelete), as the event loop would."""
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    qtbot.wait(10)


def the_dialog(window: Any, kind: type[QDialog]) -> Any:
    dialogs = [dialog for dialog in window.open_dialogs if dialog.isVisible()]
    assert len(dialogs) == 1 and isinstance(dialogs[0], kind), dialogs
    return dialogs[0]


def started(line: Any, serial: str) -> bool:
    """The unit was given a slot (it may have finished already: a unit takes about a second)."""
    return any(state.serial == serial and state.started_at is not None for state in line.slot_states.values())


def press_ok(dialog: QDialog) -> None:
    buttons = dialog.findChild(QDialogButtonBox)
    assert buttons is not None
    buttons.button(QDialogButtonBox.StandardButton.Ok).click()


# ---- dialogs, opened again and again ---------------------------------------------------------------


def test_sign_in_badge_pin_and_type_my_id_dialogs_work_every_time(
    station_factory: StationFactory, qtbot: Any
) -> None:
    station = station_factory(scanner=NO_DEBOUNCE)  # the same badge is scanned again and again
    line, window = station.line, station.window
    for _ in range(3):
        # Supervisor or engineer sign-in from the header: Esc, then OK with the PIN.
        window.sign_in_button.click()
        dialog = the_dialog(window, SignInDialog)
        QTest.keyClick(dialog, Qt.Key.Key_Escape)
        assert not dialog.isVisible() and window.open_dialogs == []
        deleted_later(qtbot)
        window.sign_in_button.click()
        dialog = the_dialog(window, SignInDialog)
        dialog.name_field.setText(DEMO_ENGINEER)
        qtbot.keyClicks(dialog.pin_field, DEMO_ENGINEER_PIN)
        press_ok(dialog)
        assert line.user is not None and line.user.name == DEMO_ENGINEER
        assert window.open_dialogs == [] and dialog.pin_field.text() == ""
        deleted_later(qtbot)
        line.logout()

        # A supervisor's badge asks for the PIN: Esc, then the PIN and Enter.
        for answer in ("escape", "pin"):
            with qtbot.waitSignal(line.pin_needed, timeout=5_000):
                scanner_types(qtbot, window.operator_view, f"BADGE:{DEMO_SUPERVISOR}", gap_ms=1)
            dialog = the_dialog(window, SignInDialog)
            assert dialog.name_field.text() == DEMO_SUPERVISOR
            if answer == "escape":
                QTest.keyClick(dialog, Qt.Key.Key_Escape)
                assert line.user is None
            else:
                qtbot.keyClicks(dialog.pin_field, DEMO_SUPERVISOR_PIN)
                QTest.keyClick(dialog.pin_field, Qt.Key.Key_Return)
                assert line.user is not None and line.user.name == DEMO_SUPERVISOR
            assert window.open_dialogs == []
            deleted_later(qtbot)
        line.logout()

        # "Type my id" on the login page: Esc, then the operator's id.
        window.operator_view.type_id_button.click()
        QTest.keyClick(the_dialog(window, OperatorIdDialog), Qt.Key.Key_Escape)
        assert line.user is None and window.open_dialogs == []
        deleted_later(qtbot)
        window.operator_view.type_id_button.click()
        dialog = the_dialog(window, OperatorIdDialog)
        qtbot.keyClicks(dialog.id_field, DEMO_OPERATOR)
        press_ok(dialog)
        assert line.user is not None and line.user.name == DEMO_OPERATOR
        assert window.open_dialogs == []
        deleted_later(qtbot)
    assert station.error_sink.reported == []
    assert line.banner.level is not BannerLevel.ERROR


def test_a_dialog_that_fails_says_where_and_what_to_do(
    station_factory: StationFactory, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    station = station_factory()
    window, line = station.window, station.line

    def broken() -> QDialog:
        raise RuntimeError("a bug in a dialog")

    assert window._open_dialog(broken, window.tr("the sign-in window")) is None
    assert station.error_sink.reported == ["the sign-in window: RuntimeError"]
    assert line.banner.level is BannerLevel.ERROR
    assert "the sign-in window" in line.banner.text and "call an engineer" in line.banner.text
    assert "application" not in line.banner.text

    # OK in a dialog meets an unexpected error: the dialog says so, the banner says where.
    line.logout()
    window.operator_view.type_id_button.click()
    dialog = the_dialog(window, OperatorIdDialog)

    def broken_login(_scan: str) -> Any:
        raise ValueError("a bug behind the dialog")

    monkeypatch.setattr(line, "login_with_badge", broken_login)
    qtbot.keyClicks(dialog.id_field, DEMO_OPERATOR)
    press_ok(dialog)
    assert dialog.isVisible() and "station problem" in dialog.message.text()
    assert station.error_sink.reported[-1] == f"{dialog.windowTitle()}: ValueError"
    assert dialog.windowTitle() in line.banner.text and "ValueError" in line.banner.text
    dialog.reject()


# ---- scans are never lost in a text field -------------------------------------------------------------


def test_a_scan_starts_the_unit_whatever_has_the_focus_and_never_lands_in_a_field(
    station_factory: StationFactory, qtbot: Any
) -> None:
    station = station_factory(scanner=NO_DEBOUNCE)
    line, window = station.line, station.window

    # History's serial field.
    window.show_view(window.history_view)
    field = window.history_view.serial_field
    field.setFocus()
    qtbot.waitUntil(field.hasFocus)
    scanner_types(qtbot, field, "TST-000301", gap_ms=1)
    assert started(line, "TST-000301")
    assert field.text() == ""
    assert window.tabs.currentWidget() is window.operator_view  # where the unit and any banner show

    # Reports' work-order filter (an engineer's view).
    line.sign_in(DEMO_ENGINEER, DEMO_ENGINEER_PIN)
    reports = window.reports_view
    assert isinstance(reports, ReportsView)
    window.show_view(reports)
    qtbot.waitUntil(lambda: reports.last_figures is not None, timeout=20_000)
    work_order = reports.work_order_edit
    work_order.setFocus()
    qtbot.waitUntil(work_order.hasFocus)
    scanner_types(qtbot, work_order, "TST-000302", gap_ms=1)
    assert started(line, "TST-000302")
    assert work_order.text() == ""
    wait_finished(qtbot, line, *line.slot_names)

    # The PIN field of an open sign-in dialog: the unit starts, the PIN stays empty.
    window.open_sign_in()
    dialog = the_dialog(window, SignInDialog)
    dialog.pin_field.setFocus()
    qtbot.waitUntil(dialog.pin_field.hasFocus)
    scanner_types(qtbot, dialog.pin_field, "TST-000303", gap_ms=1)
    assert started(line, "TST-000303")
    assert dialog.pin_field.text() == "" and dialog.name_field.text() == ""
    assert dialog.isVisible()

    # A badge scanned into the dialog fills in the name (no second dialog); typing still types.
    dialog.name_field.setFocus()
    qtbot.waitUntil(dialog.name_field.hasFocus)
    scanner_types(qtbot, dialog.name_field, f"BADGE:{DEMO_SUPERVISOR}", gap_ms=1)
    assert the_dialog(window, SignInDialog) is dialog and dialog.name_field.text() == DEMO_SUPERVISOR
    qtbot.waitUntil(dialog.pin_field.hasFocus)
    scanner_types(qtbot, dialog.pin_field, DEMO_SUPERVISOR_PIN, gap_ms=150)  # a person, then Enter
    qtbot.waitUntil(lambda: line.user is not None and line.user.name == DEMO_SUPERVISOR, timeout=5_000)
    assert window.open_dialogs == []
    wait_finished(qtbot, line, *line.slot_names)
    assert station.error_sink.reported == []


def test_a_pin_typed_as_fast_as_a_scanner_signs_in_and_is_never_shown(
    station_factory: StationFactory, qtbot: Any
) -> None:
    """A PIN typed from memory can come as fast as a scanner's keys: in the PIN field a burst
    that is no serial, badge or fixture code is the PIN, never a label shown in a banner."""
    station = station_factory(scanner=NO_DEBOUNCE)
    line, window = station.line, station.window
    window.open_sign_in()
    dialog = the_dialog(window, SignInDialog)
    dialog.set_name(DEMO_SUPERVISOR)
    dialog.pin_field.setFocus()
    qtbot.waitUntil(dialog.pin_field.hasFocus)
    scanner_types(qtbot, dialog.pin_field, DEMO_SUPERVISOR_PIN, gap_ms=1)
    qtbot.waitUntil(lambda: line.user is not None and line.user.name == DEMO_SUPERVISOR, timeout=5_000)
    assert window.open_dialogs == []
    assert DEMO_SUPERVISOR_PIN not in line.banner.text
    assert all(DEMO_SUPERVISOR_PIN not in text for text in visible_texts(window))


def test_a_pin_typed_fast_into_a_pin_prompt_confirms_and_is_never_shown(
    station_factory: StationFactory, qtbot: Any
) -> None:
    """The PIN prompt of a guarded action has its field focused when it opens, and a PIN typed
    at scanner speed confirms the action; typed while the focus is elsewhere in the prompt, it
    is dropped, never shown as a label."""
    station = station_factory(scanner=NO_DEBOUNCE)
    line, window = station.line, station.window
    line.sign_in(DEMO_SUPERVISOR, DEMO_SUPERVISOR_PIN)
    window.show_view(window.supervisor_view)

    def type_into_the_prompt(into_field: bool) -> None:
        prompt = QApplication.activeModalWidget()
        if not isinstance(prompt, PinDialog):
            QTimer.singleShot(20, lambda: type_into_the_prompt(into_field))
            return
        qtbot.waitUntil(prompt.pin_field.hasFocus)  # focused on opening: no click needed
        if not into_field:
            buttons = prompt.findChild(QDialogButtonBox)
            assert buttons is not None
            buttons.setFocus()
            qtbot.waitUntil(lambda: not prompt.pin_field.hasFocus())
        scanner_types(qtbot, prompt.pin_field, DEMO_SUPERVISOR_PIN, gap_ms=1)
        if prompt.isVisible():
            prompt.reject()

    QTimer.singleShot(0, lambda: type_into_the_prompt(True))
    assert window.supervisor_view._ask_pin("Mark TST-000001 as a golden reference unit?") == DEMO_SUPERVISOR_PIN
    QTimer.singleShot(0, lambda: type_into_the_prompt(False))
    assert window.supervisor_view._ask_pin("Mark TST-000001 as a golden reference unit?") is None
    assert DEMO_SUPERVISOR_PIN not in line.banner.text
    assert all(DEMO_SUPERVISOR_PIN not in text for text in visible_texts(window))


def test_a_scan_into_a_pin_prompt_opened_with_exec_starts_the_unit(
    station_factory: StationFactory, qtbot: Any
) -> None:
    station = station_factory()
    line, window = station.line, station.window
    line.sign_in(DEMO_SUPERVISOR, DEMO_SUPERVISOR_PIN)
    window.show_view(window.supervisor_view)
    seen: dict[str, str] = {}

    def scan_into_the_prompt() -> None:
        prompt = QApplication.activeModalWidget()
        if not isinstance(prompt, PinDialog):
            QTimer.singleShot(20, scan_into_the_prompt)
            return
        try:
            prompt.pin_field.setFocus()
            qtbot.waitUntil(prompt.pin_field.hasFocus)
            scanner_types(qtbot, prompt.pin_field, "TST-000311", gap_ms=1)
            seen["pin"] = prompt.pin_field.text()
        finally:
            prompt.reject()

    QTimer.singleShot(0, scan_into_the_prompt)
    assert window.supervisor_view._ask_pin("Erase unit TST-000001 in slot 1?") is None
    assert seen == {"pin": ""}
    assert started(line, "TST-000311")
    wait_finished(qtbot, line, "1")


# ---- a unit that passed before -------------------------------------------------------------------------


def test_rescanning_a_passed_unit_keeps_its_pass_and_counts_no_fail(
    station_factory: StationFactory, qtbot: Any
) -> None:
    station = station_factory(scanner=NO_DEBOUNCE)
    line, window = station.line, station.window
    assert window.demo_bar is not None
    serial = window.demo_bar.simulate_scan()
    wait_finished(qtbot, line, "1")
    assert line.slot_states["1"].verdict is Verdict.PASS
    assert window.demo_bar.rescan("1") == serial
    wait_finished(qtbot, line, "1")
    state = line.slot_states["1"]
    assert (state.verdict, state.failure_code) == (Verdict.ALREADY_PASSED, "ALREADY_PASSED")
    assert line.sounds.played[-1] == PASS and FAIL not in line.sounds.played
    wait_drawn(qtbot, window)
    tile = window.operator_view.tiles["1"]
    assert tile.verdict_word.text() == "PASS"
    assert tile.verdict_reason.text() == plain_words("ALREADY_PASSED")
    assert tile.verdict_code.text() == ""
    assert tile.verdict_panel.property("verdict") == "already-passed"
    qtbot.waitUntil(lambda: line.figures().passed == 1, timeout=10_000)
    qtbot.waitUntil(lambda: not line._figures_running, timeout=10_000)
    assert line.figures().failed == 0
    assert window.operator_view.failed_box.value.text() == "0"


# ---- banners end with their cause ------------------------------------------------------------------------


def test_a_banner_about_a_busy_slot_goes_when_the_slot_is_free(station_factory: StationFactory, qtbot: Any) -> None:
    station = station_factory(slots=1, scanner=NO_DEBOUNCE)
    line, window = station.line, station.window
    assert window.demo_bar is not None
    serial = window.demo_bar.simulate_scan()
    assert line.slot_states["1"].running
    line.handle_scan(serial)
    assert line.banner.text == refusal_words(UnitAlreadyRunningError("", slot="1"))
    wait_finished(qtbot, line, "1")
    assert line.banner.level is BannerLevel.NONE

    window.demo_bar.simulate_scan()
    window.demo_bar.simulate_scan()
    assert line.banner.text == refusal_words(NoFreeSlotError(""))
    wait_finished(qtbot, line, "1")
    assert line.banner.level is BannerLevel.NONE
    assert not window.operator_view.banner.isVisible()


def test_the_invalid_scan_banner_shows_what_was_read_escaped_and_short(station_factory: StationFactory) -> None:
    station = station_factory()
    line, banner = station.line, station.window.operator_view.banner
    read = "<b>WRONG</b>\x1b[2J\u202e" + "9" * 80
    line.handle_scan(read)
    assert line.banner.level is BannerLevel.ATTENTION
    assert "<b>WRONG</b>\\x1b[2J\\u202e999" in line.banner.text
    assert "\x1b" not in line.banner.text and "\u202e" not in line.banner.text
    assert "9" * 40 not in line.banner.text and "…" in line.banner.text
    assert banner.textFormat() == Qt.TextFormat.PlainText and banner.text() == line.banner.text


# ---- dialogs readable on a line; the rework's slot -------------------------------------------------------


def test_dialog_type_is_as_large_as_the_operator_view(station_factory: StationFactory) -> None:
    station = station_factory()
    window = station.window
    window.open_sign_in()
    dialog = the_dialog(window, SignInDialog)
    operator_size = window.operator_view.login_hint.font().pixelSize()
    assert operator_size >= 20
    for widget in [*dialog.findChildren(QLineEdit), dialog.intro]:
        assert widget.font().pixelSize() >= operator_size, widget
    dialog.reject()


def test_the_rework_slot_is_the_amber_one(station_factory: StationFactory, qtbot: Any) -> None:
    station = station_factory()
    line, window = station.line, station.window
    assert window.demo_bar is not None
    window.demo_bar.set_fault("2", DemoFault.ARRIVES_LOCKED, True)
    window.demo_bar.simulate_scan()
    line.start_unit(window.demo_bar.demo.next_serial(line.is_used_serial), "2")
    wait_finished(qtbot, line, "1", "2")
    assert line.slot_states["2"].verdict is Verdict.NEEDS_PERSON
    line.sign_in(DEMO_SUPERVISOR, DEMO_SUPERVISOR_PIN)
    window.show_view(window.supervisor_view)
    view = window.supervisor_view
    qtbot.waitUntil(view.isVisible)
    assert view.rework_slot.currentText() == "2"
    assert view.rework_serial.text() == line.slot_states["2"].serial


def test_the_rework_slot_rule() -> None:
    def finished(name: str, error: StationError, at: float) -> SlotState:
        state = SlotState(name)
        state.start("provision", f"TST-{name}", 0.0)
        state.finish(AttemptOutcome(f"TST-{name}", error=error, failure_step="flash"), at)
        return state

    idle = {name: SlotState(name) for name in ("1", "2", "3")}
    assert rework_slot_for(idle) == "1"
    assert rework_slot_for(idle, "3") == "3"
    states = {"1": SlotState("1"), "2": finished("2", FlashError("x"), 5.0), "3": finished("3", FlashError("x"), 9.0)}
    assert rework_slot_for(states) == "3"  # the last to fail
    assert rework_slot_for(states, "2") == "2"  # the supervisor's own choice
    states["1"] = finished("1", UnitLockedError("locked"), 1.0)
    assert rework_slot_for(states, "2") == "1"  # a unit waiting for a person comes first


# ---- sound -------------------------------------------------------------------------------------------------


class FakeEffect:
    """A sound effect in a chosen state; counts its plays."""

    def __init__(self, state: EffectState) -> None:
        self.current = state
        self.plays = 0

    def state(self) -> EffectState:
        return self.current

    def play(self) -> None:
        self.plays += 1


class Beeps:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def board_with(state: EffectState, **options: Any) -> tuple[SoundBoard, dict[str, FakeEffect], Beeps]:
    effects = {name: FakeEffect(state) for name in SOUND_NAMES}
    beeps = Beeps()
    board = SoundBoard(effects=effects, beep=beeps, **options)
    return board, effects, beeps


def test_a_sound_that_failed_beeps_and_the_station_says_it_cannot_be_heard_once(
    qtbot: Any, caplog: pytest.LogCaptureFixture
) -> None:
    board, effects, beeps = board_with(EffectState.FAILED)
    reasons: list[str] = []
    board.problem_found.connect(reasons.append)
    with caplog.at_level(logging.WARNING, logger="station.gui.sounds"):
        board.play(PASS)
        board.play(FAIL)
        board.check()
    assert beeps.count == 2 and all(effect.plays == 0 for effect in effects.values())
    assert len(reasons) == 1 and board.problem == reasons[0]
    assert len([record for record in caplog.records if "cannot play" in record.getMessage()]) == 1


def test_a_sound_that_never_loads_beeps_and_is_reported_after_the_wait(qtbot: Any) -> None:
    board, effects, beeps = board_with(EffectState.LOADING, load_wait_ms=50)
    board.play(SCAN)
    assert beeps.count == 1 and effects[SCAN].plays == 0
    with qtbot.waitSignal(board.problem_found, timeout=5_000) as reported:
        pass
    assert "never finished loading" in reported.args[0]


def test_ready_sounds_play_and_nothing_is_reported(qtbot: Any) -> None:
    board, effects, beeps = board_with(EffectState.READY)
    board.play(PASS)
    board.check()
    assert effects[PASS].plays == 1 and beeps.count == 0 and board.problem is None


def test_the_window_says_when_the_station_cannot_be_heard(station_factory: StationFactory) -> None:
    station = station_factory()
    line, window = station.line, station.window
    line.sounds.problem_found.emit("no audio output device")
    assert line.banner.text == sound_problem_words() and line.banner.level is BannerLevel.INFO
    assert window.sound_label.isVisibleTo(window) and window.sound_label.toolTip() == "no audio output device"


# ---- the training window ---------------------------------------------------------------------------------


def test_the_training_window_runs_at_a_pace_a_trainee_can_follow(station_factory: StationFactory, qtbot: Any) -> None:
    station = station_factory(slots=1, timing=TRAINING_WINDOW_TIMING)
    line, window = station.line, station.window
    tile = window.operator_view.tiles["1"]
    assert "Simulate scan" in tile.idle_hint.text()
    assert window.demo_bar is not None
    window.demo_bar.simulate_scan()
    wait_finished(qtbot, line, "1", timeout=120_000)
    state = line.slot_states["1"]
    assert state.verdict is Verdict.PASS
    elapsed = state.elapsed(line.clock())
    # 16 flash pages of the demo image take 85 ms each to erase at the datasheet's pace.
    assert elapsed is not None and elapsed >= 1.0


def test_station_demo_opens_the_window_at_the_training_pace(
    tmp_path: Path, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("STATION_SIM_DIR", str(tmp_path / "demo" / "sim"))
    seen: dict[str, float] = {}

    def event_loop(_application: QApplication) -> int:
        for widget in QApplication.topLevelWidgets():
            demo_bar = getattr(widget, "demo_bar", None)
            if widget.isVisible() and demo_bar is not None:
                seen["timing"] = demo_bar.demo.timing_factor
        return 0

    monkeypatch.setattr(QApplication, "exec", event_loop)
    from station.app import CompositionRoot

    for arguments, timing in ((["demo", "--units", "1"], TRAINING_WINDOW_TIMING), (["demo", "--units", "1",
                                                                                    "--timing", "0"], 0.0)):
        parsed = build_parser().parse_args([*arguments, "--demo-dir", str(tmp_path / "demo")])
        assert CompositionRoot().run_demo_gui(parsed) == 0
        assert seen.pop("timing") == timing
    assert not running_qthreads()
