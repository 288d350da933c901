"""The operator floor's layout: where the next scan goes (marked on its tile), eight slots on a
1920x1080 screen with a banner and the longest sentence in every language, the recipe's step
instructions on the tile, and the engineer's live line per slot.

A slot's probe can be held at the connect step by a gate (a hand-written wrapper at the driver
boundary, ``GatedProbe``), so that "slot 1 still works while slots 2 and 3 have finished" is a
state the test makes, not a race it hopes to win.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QCoreApplication, QRect, Qt
from PySide6.QtGui import QColor, QFontMetrics, QImage
from PySide6.QtWidgets import QLabel, QWidget

from station.config.settings import SlotSettings
from station.domain.errors import (
    AlreadyPassedError,
    SerialInProgressError,
    StationError,
    UnitReworkedError,
    error_class_for,
)
from station.domain.outcome import AttemptOutcome
from station.domain.recipe import Recipe, StepInstruction, StepName
from station.domain.records import StepOutcome
from station.domain.text import escape_text
from station.flow.ports import AttachedUnit, UnitProbe
from station.flow.run import Slot
from station.gui.main import StationWindow
from station.gui.slot_states import BannerLevel, LogKind, SlotState, Verdict
from station.gui.slot_tile import SlotTile
from station.gui.wording import _messages, verdict_fail
from station.operations.slots import SlotProvider
from station.sim.demo import DEMO_ENGINEER, DEMO_ENGINEER_PIN, prepare_demo

from .conftest import LINE_SCREEN, all_demo_tokens, wait_drawn, wait_finished

StationFactory = Callable[..., StationWindow]
LANGUAGES = ("en", "es", "zh_CN")


# ---- a gate at the driver boundary -----------------------------------------------------------------


class GatedProbe:
    """The slot's real probe, whose sessions open only once the gate is open (or the step's
    watchdog interrupts the wait): the unit sits in the connect step until the test says."""

    def __init__(self, probe: UnitProbe, gate: threading.Event) -> None:
        self._probe = probe
        self._gate = gate
        self.probe_id = probe.probe_id

    def is_locked(self) -> bool:
        return self._probe.is_locked()

    def attach(self) -> AbstractContextManager[AttachedUnit]:
        self._gate.wait()
        return self._probe.attach()

    def recovery_erase(self) -> str:
        return self._probe.recovery_erase()

    def interrupt(self) -> None:
        self._gate.set()
        self._probe.interrupt()


class GatedSlots:
    """The station's slot provider, with the named slots' probes behind one gate."""

    def __init__(self, slots: SlotProvider, gated: set[str]) -> None:
        self._slots = slots
        self.gated = gated
        self.gate = threading.Event()

    def slot_for(self, settings: SlotSettings, serial: str, recipe: Recipe, *, kind: str) -> Slot:
        slot = self._slots.slot_for(settings, serial, recipe, kind=kind)
        if settings.name not in self.gated:
            return slot
        return dataclasses.replace(slot, probe=GatedProbe(slot.probe, self.gate))


@pytest.fixture
def gates() -> Iterator[list[GatedSlots]]:
    """Gates put in by a test; all opened at its end, so that no slot waits for ever."""
    made: list[GatedSlots] = []
    yield made
    for gated in made:
        gated.gate.set()


def gate_slots(station: StationWindow, gates: list[GatedSlots], *names: str) -> GatedSlots:
    units = station.operations.units
    gated = GatedSlots(units.slot_provider, set(names))
    units.slot_provider = gated
    gates.append(gated)
    return gated


def demo_recipe_with(demo_root: Path, name: str, extra: str = "") -> Path:
    """The demo recipe with a long connect deadline (a gated unit waits there) and ``extra`` tables."""
    environment = prepare_demo(demo_root)
    text = environment.recipe_path.read_text(encoding="utf-8")
    policy = "[steps.connect]\ntimeout_seconds = 10"
    assert policy in text
    path = environment.recipe_path.with_name(f"{name}.toml")
    path.write_text(text.replace(policy, "[steps.connect]\ntimeout_seconds = 600") + extra, encoding="utf-8")
    return path


# ---- the next scan's slot, marked ------------------------------------------------------------------


def marked_tiles(station: StationWindow) -> list[str]:
    """Slots whose tile shows the next-scan mark (and its frame) now."""
    tiles = station.window.operator_view.tiles
    shown = [name for name, tile in tiles.items() if tile.next_marker.isVisible()]
    framed = [name for name, tile in tiles.items() if tile.property("next")]
    assert shown == framed, (shown, framed)
    return shown


def test_the_mark_is_on_the_slot_the_next_scan_goes_to_as_units_finish_out_of_order(
    station_factory: StationFactory, qtbot: Any, tmp_path: Path, gates: list[GatedSlots]
) -> None:
    station = station_factory(slots=3, recipe_path=demo_recipe_with(tmp_path / "demo", "long-connect"))
    line, window = station.line, station.window
    demo_bar = window.demo_bar
    assert demo_bar is not None
    gated = gate_slots(station, gates, "1")

    def marked(slot: str | None) -> None:
        qtbot.waitUntil(lambda: marked_tiles(station) == ([] if slot is None else [slot]), timeout=5000)
        assert line.next_slots() == ([] if slot is None else [slot])

    marked("1")
    assert window.operator_view.tiles["1"].next_marker.text() == "Next scan →"
    first = demo_bar.simulate_scan()
    assert line.slot_states["1"].serial == first and line.slot_states["1"].running
    marked("2")
    second = demo_bar.simulate_scan()
    assert line.slot_states["2"].serial == second
    marked("3")
    third = demo_bar.simulate_scan()
    assert line.slot_states["3"].serial == third
    marked(None)  # every slot works: no mark

    # Slots 2 and 3 finish while slot 1 still waits at its gate: the first free slot is 2.
    wait_finished(qtbot, line, "2", "3")
    assert line.slot_states["1"].running and line.slot_states["1"].current_step == "connect"
    marked("2")
    fourth = demo_bar.simulate_scan()
    assert line.slot_states["2"].serial == fourth, "the scan went where the mark was"
    marked("3")

    # A fixture label moves the mark to its slot at once; a busy one refuses the scan and the
    # mark goes back to the first free slot.
    line.handle_scan("SLOT:1")
    marked("1")
    refused = demo_bar.simulate_scan()
    assert line.slot_states["1"].serial == first
    assert refused not in {state.serial for state in line.slot_states.values()}
    assert line.banner.level is BannerLevel.ATTENTION
    marked("3")
    wait_finished(qtbot, line, "2")
    marked("2")
    line.handle_scan("SLOT:3")
    marked("3")
    fifth = demo_bar.simulate_scan()
    assert line.slot_states["3"].serial == fifth
    marked("2")

    gated.gate.set()
    wait_finished(qtbot, line, "1", "2", "3")
    marked("1")
    assert [line.slot_states[name].verdict for name in ("1", "2", "3")] == [Verdict.PASS] * 3


# ---- eight slots on a 1920x1080 screen --------------------------------------------------------------


def failed_outcome(serial: str, code: str) -> AttemptOutcome:
    """A unit that failed with ``code``'s error: the tile's words come from the error's class,
    so the error is made as its class is, whatever its constructor asks for."""
    kind = error_class_for(code)
    error = kind.__new__(kind)
    StationError.__init__(error, f"{code} for the layout test")
    if isinstance(error, SerialInProgressError):
        error.holder = "line-1-station-2/3 since 2026-12-06 08:00:00 UTC"
    return AttemptOutcome(serial, error=error, failure_step="identity")


def longest_sentences() -> list[tuple[str, str]]:
    """(code, sentence) of every operator sentence, longest (as drawn) first, in the language now."""
    metrics = QFontMetrics(QLabel().font())
    sentences = sorted(_messages().items(), key=lambda item: metrics.horizontalAdvance(item[1]), reverse=True)
    return sentences


def clipped_labels(root: QWidget) -> list[str]:
    """Every shown label of ``root`` whose text does not fit its box: word-wrapped ones by their
    height for their width, one-line ones by their text's width (type measured, not pixels)."""
    problems = []
    for label in root.findChildren(QLabel):
        if not label.isVisibleTo(root) or not label.text():
            continue
        if label.wordWrap():
            if label.heightForWidth(label.width()) > label.height():
                problems.append(f"{label.objectName()}: {label.text()!r} needs {label.heightForWidth(label.width())} "
                                f"px of height at {label.width()}, has {label.height()}")
        else:
            room = label.contentsRect().width() - 2 * max(0, label.margin())
            advance = QFontMetrics(label.font()).horizontalAdvance(label.text())
            if advance > room:
                problems.append(f"{label.objectName()}: {label.text()!r} is {advance} px wide, has {room}")
    return problems


def overlapping_labels(tile: SlotTile) -> list[str]:
    """Shown labels of the tile that lie over each other (the FAIL word under its sentence)."""
    shown = [label for label in tile.findChildren(QLabel) if label.isVisibleTo(tile) and label.text()]
    places = [(label, QRect(label.mapTo(tile, label.rect().topLeft()), label.size())) for label in shown]
    problems = []
    for index, (label, place) in enumerate(places):
        for other, other_place in places[index + 1 :]:
            if place.intersects(other_place) and not (label.isAncestorOf(other) or other.isAncestorOf(label)):
                problems.append(f"{label.objectName()} over {other.objectName()}")
    return problems


def layout_problems(station: StationWindow) -> list[str]:
    window = station.window
    problems = []
    frame = window.frameGeometry()
    if frame.width() > LINE_SCREEN[0] or frame.height() > LINE_SCREEN[1]:
        problems.append(f"the window is {frame.width()}x{frame.height()}")
    hint = window.minimumSizeHint()
    if hint.width() > LINE_SCREEN[0] or hint.height() > LINE_SCREEN[1]:
        problems.append(f"the window asks for at least {hint.width()}x{hint.height()}")
    for name, tile in window.operator_view.tiles.items():
        place = QRect(tile.mapTo(window, tile.rect().topLeft()), tile.size())
        if not window.rect().contains(place):
            problems.append(f"tile {name} at {place} lies outside the window {window.rect()}")
        problems += [f"tile {name}: {problem}" for problem in clipped_labels(tile) + overlapping_labels(tile)]
    banner = window.operator_view.banner
    if banner.heightForWidth(banner.width()) > banner.height() or banner.toolTip():
        problems.append(f"banner: {banner.text()!r} is cut or needs {banner.heightForWidth(banner.width())} px")
    return problems


def settled(qtbot: Any, problems: Callable[[], list[str]]) -> None:
    """Until ``problems`` finds none (layouts are done by the event loop); else fail naming them."""
    with contextlib.suppress(qtbot.TimeoutError):
        qtbot.waitUntil(lambda: not problems(), timeout=5000)
    assert not problems(), problems()


@pytest.mark.parametrize("language", LANGUAGES)
def test_eight_slots_fit_a_1080_screen_with_a_banner_and_the_longest_sentence_unclipped(
    station_factory: StationFactory, qtbot: Any, language: str
) -> None:
    station = station_factory(slots=8, language=language)
    window, line, view = station.window, station.line, station.window.operator_view
    screen = window.screen().availableGeometry()
    if screen.width() >= LINE_SCREEN[0] and screen.height() >= LINE_SCREEN[1]:
        window.showMaximized()  # as the station opens on a line PC
    else:  # a platform whose screen is not the line's: the window at the line screen's size
        window.setGeometry(QRect(0, 0, *LINE_SCREEN))
    sentences = longest_sentences()
    (longest_code, longest), (second_code, _) = sentences[0], sentences[1]
    now = line.clock()
    states = line.slot_states
    for name, code in (("1", longest_code), ("2", second_code)):
        states[name].start("provision", f"TST-00010{name}", now)
        states[name].finish(failed_outcome(f"TST-00010{name}", code), now)
    states["3"].start("provision", "TST-000103", now)
    states["3"].finish(failed_outcome("TST-000103", "UNIT_LOCKED"), now)
    states["4"].start("provision", "TST-000104", now)
    states["5"].start("provision", "TST-000105", now)
    states["5"].current_step, states["5"].progress = "flash", 0.4
    for name in ("1", "2", "3", "4", "5"):
        line.slot_changed.emit(name)
    # The longest banner the station shows: an error, where it happened, and what to do.
    station.error_sink.report_message("application", "RuntimeError: Internal C++ object (SignInDialog) already deleted")
    assert line.banner.level is BannerLevel.ERROR and view.banner.isVisible()
    wait_drawn(qtbot, window)
    assert states["1"].verdict in (Verdict.FAIL, Verdict.NEEDS_PERSON)  # red or amber, both say FAIL
    assert view.tiles["1"].verdict_word.text() == verdict_fail() and view.tiles["1"].verdict_reason.text() == longest
    assert marked_tiles(station) == ["1"]  # the mark, the FAIL word and the longest sentence on one tile
    settled(qtbot, lambda: layout_problems(station))
    assert window.height() <= LINE_SCREEN[1] and view.tiles["8"].geometry().bottom() < view.height()

    # Every other sentence fits the same tile too.
    tile = view.tiles["2"]
    for code, sentence in sentences[1:]:
        states["2"].finish(failed_outcome("TST-000102", code), now)
        tile.show_state(states["2"], now)
        assert tile.verdict_reason.text() == states["2"].headline, (code, sentence)
        assert not tile.verdict_reason.toolTip(), (code, sentence)  # whole: not cut to fit
        settled(qtbot, lambda: clipped_labels(tile) + overlapping_labels(tile))  # laid out again


def tile_pages(state: SlotState, codes: list[str], instruction: StepInstruction) -> Iterator[str]:
    """Put ``state`` through every page a tile has, naming each: idle, running (steps, progress,
    an instruction), each failure sentence, PASS, already passed, erased."""
    yield "idle"
    state.start("provision", "TST-000101", 0.0)
    yield "running"
    state.step_started("flash", None)
    state.current_step, state.progress = "flash", 0.5
    yield "flashing"
    state.step_started("connect", instruction)
    yield "instruction"
    for code in codes:
        state.finish(failed_outcome("TST-000101", code), 1.0)
        yield f"failed {code}"
    state.start("provision", "TST-000101", 0.0)
    state.finish(AttemptOutcome("TST-000101", error=AlreadyPassedError("passed before")), 1.0)
    yield "already passed"
    state.finish(AttemptOutcome("TST-000101", error=UnitReworkedError("erased")), 1.0)
    yield "erased"


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_tile_at_its_smallest_shows_every_page_whole(
    station_factory: StationFactory, qtbot: Any, language: str
) -> None:
    """The smallest tile the operator view makes holds every word of each of its pages, in each
    language, the next-scan mark showing: type sized to it, nothing cut, nothing over anything."""
    from station.gui.slot_tile import TILE_MINIMUM_SIZE

    station = station_factory(slots=1, language=language)
    tile = SlotTile("8")
    qtbot.addWidget(tile)
    tile.set_training(True)
    tile.resize(TILE_MINIMUM_SIZE)
    tile.show()
    tile.set_next(True)
    state = SlotState("8")
    instruction = StepInstruction(StepName.CONNECT, "Place the unit in the fixture, close the lid, then wait for the "
                                  "green light before you let go of it.")  # fmt: skip
    codes = [code for code, _ in longest_sentences()]
    for page in tile_pages(state, codes, instruction):
        tile.show_state(state, 1.0)

        def problems(page: str = page) -> list[str]:
            outside = [f"{label.objectName()} outside the tile" for label in tile.findChildren(QLabel)
                       if label.isVisibleTo(tile) and label.text()
                       and not tile.contentsRect().contains(QRect(label.mapTo(tile, label.rect().topLeft()),
                                                                  label.size()))]  # fmt: skip
            return [f"{page}: {problem}" for problem in clipped_labels(tile) + overlapping_labels(tile) + outside]

        settled(qtbot, problems)
    assert station.window.isVisible()


def test_the_window_opens_maximized_and_never_larger_than_the_screen(station_factory: StationFactory) -> None:
    station = station_factory(slots=8)
    window = station.window
    window.hide()
    window.apply_kiosk()  # as `station gui` and `station demo` open it (kiosk: full screen)
    assert window.isMaximized()
    screen = window.screen().availableGeometry()
    hint = window.minimumSizeHint()
    assert hint.width() <= screen.width() and hint.height() <= screen.height(), (hint, screen)


# ---- the recipe's instruction for a step, on the tile ----------------------------------------------


INSTRUCTION = r"Place the unit in fixture 1 (guide C:\line), close the lid."


def test_the_tile_shows_the_steps_instruction_and_picture_while_the_step_runs(
    station_factory: StationFactory, qtbot: Any, tmp_path: Path, gates: list[GatedSlots]
) -> None:
    demo_root = tmp_path / "demo"
    picture = QImage(320, 200, QImage.Format.Format_RGB32)
    picture.fill(QColor("#00838f"))
    assert picture.save(str(prepare_demo(demo_root).recipe_path.parent / "fixture-1.png"))  # beside the recipe
    extra = f"\n[instructions.connect]\ntext = '{INSTRUCTION}'\npicture = \"fixture-1.png\"\n"
    station = station_factory(slots=1, recipe_path=demo_recipe_with(demo_root, "instructions", extra))
    line, window = station.line, station.window
    assert window.demo_bar is not None
    gated = gate_slots(station, gates, "1")
    window.demo_bar.simulate_scan()
    tile = window.operator_view.tiles["1"]
    panel = tile.instruction_panel
    qtbot.waitUntil(lambda: panel.isVisible() and panel.shown_text == escape_text(INSTRUCTION), timeout=10_000)
    assert panel.shown_text.count("\\") == 2  # escaped: the recipe's backslash shows doubled
    assert line.slot_states["1"].current_step == "connect" and not tile.steps_box.isVisible()
    assert panel.text_label.textFormat() == Qt.TextFormat.PlainText
    assert panel.step_label.text() == "Connect"
    shown = panel.picture.pixmap()
    assert not shown.isNull() and 0 < shown.width() <= panel.picture.width()
    assert shown.height() <= panel.picture.height()
    assert abs(shown.width() / shown.height() - 320 / 200) < 0.05  # scaled in proportion
    assert not clipped_labels(tile)

    gated.gate.set()  # the step goes on; its instruction goes with it
    wait_finished(qtbot, line, "1")
    assert line.slot_states["1"].verdict is Verdict.PASS and line.slot_states["1"].instruction is None
    wait_drawn(qtbot, window)
    assert not panel.isVisibleTo(tile)


# ---- the engineer's live line per slot ---------------------------------------------------------------


def test_the_engineer_sees_each_slots_latest_line_live_escaped_and_without_the_token(
    station_factory: StationFactory, qtbot: Any, tmp_path: Path, gates: list[GatedSlots]
) -> None:
    station = station_factory(slots=2, recipe_path=demo_recipe_with(tmp_path / "demo", "long-connect"))
    line, window = station.line, station.window
    assert window.demo_bar is not None
    line.sign_in(DEMO_ENGINEER, DEMO_ENGINEER_PIN)
    window.show_view(window.engineer_view)
    panel = window.engineer_view.live_group
    seen: list[tuple[str, Any]] = []
    line.slot_changed.connect(lambda name: seen.append((name, line.slot_states[name].log_line)))
    assert panel.shown("1") == "no unit yet"

    gated = gate_slots(station, gates, "1")
    window.demo_bar.simulate_scan()
    qtbot.waitUntil(lambda: panel.shown("1") == "connect: started", timeout=10_000)  # while the unit waits
    assert line.slot_states["1"].running
    gated.gate.set()
    wait_finished(qtbot, line, "1")
    qtbot.waitUntil(lambda: panel.shown("1") == "result PASS", timeout=5000)
    kinds = {log.kind for name, log in seen if name == "1" and log is not None}
    assert {LogKind.STARTED, LogKind.PASSED, LogKind.CONSOLE, LogKind.RESULT} <= kinds
    console = [log.text for name, log in seen if log is not None and log.kind is LogKind.CONSOLE]
    shown_everywhere = "\n".join([*console, panel.shown("1"), panel.rows["1"][1].toolTip()])
    assert not any(token in shown_everywhere for token in all_demo_tokens(station))

    # A console line from outside: control characters, a line break and markup show escaped and plain.
    hostile = "boot\x1b[2J\u202e<b>PASS</b>\nPASS TST-999999"
    line.runners["2"].console_line.emit("2", hostile)
    expected = escape_text(f"console {hostile}")
    qtbot.waitUntil(lambda: panel.shown("2") == expected, timeout=5000)
    label = panel.rows["2"][1]
    assert "\n" not in label.text() and "\x1b" not in label.text() and label.textFormat() == Qt.TextFormat.PlainText


def test_the_live_line_keeps_up_with_a_burst_without_drawing_every_line(
    station_factory: StationFactory, qtbot: Any
) -> None:
    """A burst of console lines is drawn once per frame, the newest shown (as the tiles are)."""
    station = station_factory(slots=1)
    line, window = station.line, station.window
    line.sign_in(DEMO_ENGINEER, DEMO_ENGINEER_PIN)
    window.show_view(window.engineer_view)
    panel = window.engineer_view.live_group
    label = panel.rows["1"][1]
    drawn: list[str] = []
    original = label.set_full_text

    def counting(text: str) -> None:
        drawn.append(text)
        original(text)

    label.set_full_text = counting  # type: ignore[method-assign]
    for number in range(200):
        line.runners["1"].console_line.emit("1", f"line {number}")
    qtbot.waitUntil(lambda: panel.shown("1") == "console line 199", timeout=5000)
    assert len(drawn) < 10, len(drawn)
    QCoreApplication.processEvents()


# ---- the state the tiles draw ------------------------------------------------------------------------


def test_a_slot_state_keeps_the_latest_line_and_the_running_steps_instruction() -> None:
    state = SlotState("1")
    state.start("provision", "TST-000001", 0.0)
    assert state.log_line is None and state.instruction is None
    state.step_started("connect", None)
    assert state.log_line is not None and (state.log_line.kind, state.log_line.step) == (LogKind.STARTED, "connect")
    state.console_line("<< R0 ver 1.4.2")
    assert state.log_line is not None and state.log_line.kind is LogKind.CONSOLE
    state.step_finished("connect", StepOutcome.PASSED.value, "device id 00AB")
    assert state.log_line is not None
    assert (state.log_line.kind, state.log_line.text) == (LogKind.PASSED, "device id 00AB")
