"""Labels in the window: a PASS's tile says whether its label printed or is pending (printer
down), the supervisor's Labels group lists what is pending, retries it, and reprints a passed
unit's label only with the supervisor's PIN, audited. Simulated units; a loopback printer on
127.0.0.1 (tests/label_printer.py) that keeps every label it receives, stopped to be "down"."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from label_printer import LoopbackPrinter

from station.domain.label import LabelState
from station.gui.main import StationWindow
from station.gui.slot_states import Verdict
from station.gui.wording import label_words, plain_words
from station.sim.demo import DEMO_SUPERVISOR, DEMO_SUPERVISOR_PIN, prepare_demo

from .conftest import DEFAULT_TIMEOUT_MS, wait_drawn, wait_finished

StationFactory = Callable[..., StationWindow]
TEMPLATE = "^XA\n^FO20,20^A0N,30,30^FD{serial}^FS\n^FO20,60^A0N,20,20^FD{product} {firmware}^FS\n^XZ\n"


@pytest.fixture
def printer() -> Iterator[LoopbackPrinter]:
    with LoopbackPrinter() as started:
        yield started


def labelled_recipe(demo_root: Path, port: int) -> Path:
    """The demo recipe with a ``[label]`` table that prints to 127.0.0.1:``port``."""
    environment = prepare_demo(demo_root)
    template = environment.recipe_path.with_name("label.zpl")
    template.write_text(TEMPLATE, encoding="ascii")
    pinned = hashlib.sha256(template.read_bytes()).hexdigest()
    table = (
        f'[label]\ntemplate = "{template.name}"\ntemplate_sha256 = "{pinned}"\nprinter = "tcp://127.0.0.1:{port}"\n'
        'gtin = "09506000134352"\ntimeout_seconds = 3.0\n\n[activation]\n'
    )
    text = environment.recipe_path.read_text(encoding="utf-8")
    assert text.count("[activation]\n") == 1
    path = environment.recipe_path.with_name("recipe-labelled.toml")
    path.write_text(text.replace("[activation]\n", table), encoding="utf-8")
    return path


def pass_one_unit(station: StationWindow, qtbot: Any) -> str:
    assert station.window.demo_bar is not None
    serial = station.window.demo_bar.simulate_scan()
    wait_finished(qtbot, station.line, "1")
    assert station.line.slot_states["1"].verdict is Verdict.PASS
    wait_drawn(qtbot, station.window)
    return serial


def reprint_events(station: StationWindow) -> list[str]:
    entries = station.operations.database.audit_log().entries()
    return [f"{entry.actor} {entry.detail}" for entry in entries if entry.action == "label.reprint"]


def test_a_pass_with_the_printer_down_shows_label_pending_and_a_retry_prints_it_once(
    station_factory: StationFactory, tmp_path: Path, qtbot: Any, printer: LoopbackPrinter
) -> None:
    printer.stop()  # the printer is down: nothing listens on its port
    station = station_factory(recipe_path=labelled_recipe(tmp_path / "demo", printer.port), slots=1)
    line, window = station.line, station.window
    line.labels.retry_timer.stop()  # only the supervisor's retries here: each try is counted
    serial = pass_one_unit(station, qtbot)

    state, tile = line.slot_states["1"], window.operator_view.tiles["1"]
    assert state.label is not None and state.label.state is LabelState.PENDING  # the unit is PASSED all the same
    assert tile.verdict_word.text() == "PASS"
    assert tile.verdict_code.isVisible() and tile.verdict_code.property("label") == "pending"
    assert tile.verdict_code.text() == label_words(state.label)
    assert tile.verdict_code.text().startswith("LABEL PENDING.") and plain_words("PRINTER") in tile.verdict_code.text()

    line.sign_in(DEMO_SUPERVISOR, DEMO_SUPERVISOR_PIN)
    view = window.supervisor_view
    window.show_view(view)
    group = view.labels_group
    qtbot.waitUntil(lambda: group.pending_list.count() == 1, timeout=DEFAULT_TIMEOUT_MS)
    listed = group.pending_list.item(0).text()
    assert serial in listed and printer.address in listed and "refused the connection" in listed
    assert group.retry_button.isEnabled()

    group.retry_now()  # still down: the label stays pending, tried once more
    qtbot.waitUntil(lambda: group.message.property("level") == "error", timeout=DEFAULT_TIMEOUT_MS)
    assert "0 label(s) printed, 1 still pending" in group.message.text()
    assert [job.tries for job in line.labels.pending] == [2]

    printer.start()  # back, on the same port
    group.retry_now()
    qtbot.waitUntil(lambda: "1 label(s) printed" in group.message.text(), timeout=DEFAULT_TIMEOUT_MS)
    assert group.message.text() == "1 label(s) printed, 0 still pending."
    assert group.message.property("level") == "ok"
    assert len(printer.wait_for(1)) == 1 and serial.encode() in printer.jobs[0]
    qtbot.waitUntil(lambda: group.pending_list.count() == 0, timeout=DEFAULT_TIMEOUT_MS)
    assert line.labels.pending == [] and not group.retry_button.isEnabled()
    # The tile, still showing that unit, says its label printed now.
    qtbot.waitUntil(lambda: tile.verdict_code.property("label") == "printed", timeout=DEFAULT_TIMEOUT_MS)
    assert tile.verdict_code.text() == "Label printed."

    group.retry_now()  # nothing pending: nothing sent again
    qtbot.waitUntil(lambda: "No label is pending" in group.message.text(), timeout=DEFAULT_TIMEOUT_MS)
    [job] = station.operations.database.labels.for_serial(serial)
    assert job.state is LabelState.PRINTED and job.tries == 3 and len(printer.jobs) == 1


def test_a_reprint_needs_the_supervisors_pin_and_is_audited(
    station_factory: StationFactory, tmp_path: Path, qtbot: Any, printer: LoopbackPrinter
) -> None:
    station = station_factory(recipe_path=labelled_recipe(tmp_path / "demo", printer.port), slots=1)
    line, window = station.line, station.window
    serial = pass_one_unit(station, qtbot)
    tile = window.operator_view.tiles["1"]
    assert tile.verdict_code.text() == "Label printed." and tile.verdict_code.property("label") == "printed"
    assert len(printer.wait_for(1)) == 1

    view = window.supervisor_view
    group = view.labels_group
    asked: list[str] = []

    def answer(pin: str) -> Callable[[str], str]:
        def ask(what: str) -> str:
            asked.append(what)
            return pin

        return ask

    group.reprint_serial.setText(serial)
    view.ask_pin = answer(DEMO_SUPERVISOR_PIN)
    group.reprint()  # nobody signed in as a supervisor: refused before any PIN is asked
    assert group.message.property("level") == "error" and "supervisor" in group.message.text()

    line.sign_in(DEMO_SUPERVISOR, DEMO_SUPERVISOR_PIN)
    view.ask_pin = lambda what: None
    group.reprint()  # the supervisor cancels the PIN dialog: nothing happens
    view.ask_pin = answer("0000-wrong")
    group.reprint()
    qtbot.waitUntil(lambda: group.message.property("level") == "error", timeout=DEFAULT_TIMEOUT_MS)
    assert "0000-wrong" not in group.message.text()
    assert asked == [f"Print another label for {serial}? It is recorded under your name."]
    assert reprint_events(station) == [] and len(station.operations.database.labels.for_serial(serial)) == 1

    view.ask_pin = lambda what: DEMO_SUPERVISOR_PIN
    group.reprint()
    qtbot.waitUntil(lambda: "was printed" in group.message.text(), timeout=DEFAULT_TIMEOUT_MS)
    assert group.message.text() == f"Another label for {serial} was printed."
    assert group.message.property("level") == "ok"
    assert len(printer.wait_for(2)) == 2 and printer.jobs[0] == printer.jobs[1]  # the same label again
    first, again = station.operations.database.labels.for_serial(serial)
    assert again.reprint_of == first.id and again.supervisor == DEMO_SUPERVISOR and again.state is LabelState.PRINTED
    [event] = reprint_events(station)
    assert event.startswith(f"supervisor:{DEMO_SUPERVISOR} ") and f"reprints job {first.id}" in event
    assert DEMO_SUPERVISOR_PIN not in event


def test_a_reprint_of_a_unit_that_did_not_pass_is_refused_and_prints_nothing(
    station_factory: StationFactory, tmp_path: Path, qtbot: Any, printer: LoopbackPrinter
) -> None:
    station = station_factory(recipe_path=labelled_recipe(tmp_path / "demo", printer.port), slots=1)
    station.line.sign_in(DEMO_SUPERVISOR, DEMO_SUPERVISOR_PIN)
    view = station.window.supervisor_view
    group = view.labels_group
    view.ask_pin = lambda what: DEMO_SUPERVISOR_PIN
    group.reprint()  # no serial given
    assert group.message.property("level") == "error" and group.message.text() == "Give the serial of the unit."
    group.reprint_serial.setText("TST-000999")
    group.reprint()
    qtbot.waitUntil(lambda: group.message.property("level") == "error", timeout=DEFAULT_TIMEOUT_MS)
    assert "has not passed" in group.message.text()
    assert printer.jobs == [] and reprint_events(station) == []


def test_the_stations_own_retry_prints_a_pending_label_once_the_printer_is_back(
    station_factory: StationFactory, tmp_path: Path, qtbot: Any, printer: LoopbackPrinter
) -> None:
    printer.stop()
    station = station_factory(recipe_path=labelled_recipe(tmp_path / "demo", printer.port), slots=1)
    line, tile = station.line, station.window.operator_view.tiles["1"]
    serial = pass_one_unit(station, qtbot)
    assert tile.verdict_code.property("label") == "pending"
    qtbot.waitUntil(lambda: len(line.labels.pending) == 1, timeout=DEFAULT_TIMEOUT_MS)

    printer.start()
    line.labels.retry_timer.setInterval(50)  # the station's retry, sooner than every half minute
    qtbot.waitUntil(lambda: tile.verdict_code.property("label") == "printed", timeout=DEFAULT_TIMEOUT_MS)
    assert tile.verdict_code.text() == "Label printed." and line.labels.pending == []
    assert line.slot_states["1"].label is not None and line.slot_states["1"].label.state is LabelState.PRINTED
    [job] = station.operations.database.labels.for_serial(serial)
    assert job.state is LabelState.PRINTED and len(printer.wait_for(1)) == 1
