"""A unit without a label on the window: in a work order with a serial rule, scanning a slot's
fixture starts the unit there; its tile shows the serial the rule gave it once the unit is
identified, and the next unit gets the next serial."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from station.domain.serial_numbers import SerialState
from station.gui.main import StationWindow
from station.gui.slot_states import Verdict
from station.operations.serials import serial_allocator
from station.sim.demo import DEMO_SUPERVISOR, DEMO_SUPERVISOR_PIN

from .conftest import wait_drawn, wait_finished
from .test_operator_station import scanner_types

StationFactory = Callable[..., StationWindow]


def test_a_fixture_scan_starts_an_unlabelled_unit_with_the_rules_next_serial(
    station_factory: StationFactory, qtbot: Any
) -> None:
    station = station_factory()
    line, view, operations = station.line, station.window.operator_view, station.operations
    # Before the rule: a fixture scan only chooses the slot for the next label.
    scanner_types(qtbot, view, "slot:1", gap_ms=1)
    assert not line.slot_states["1"].running and "Slot 1 chosen" in view.banner.text()

    operations.units.work_order = "WO-UNLABELLED"
    serial_allocator(operations).set_rule("WO-UNLABELLED", "TST-{seq:06d}", 800001, 800100, DEMO_SUPERVISOR,
                                          DEMO_SUPERVISOR_PIN)  # fmt: skip
    line.production_changed.emit()  # the window looks again: its idle tiles say how unlabelled units start
    assert "scan this slot's fixture label" in view.tiles["2"].idle_hint.text()
    scanner_types(qtbot, view, "slot-1", gap_ms=1)  # the same fixture (another spelling: not a repeat)
    assert line.slot_states["1"].running
    wait_finished(qtbot, line, "1")
    state = line.slot_states["1"]
    assert state.verdict is Verdict.PASS and state.serial == "TST-800001"
    wait_drawn(qtbot, station.window)
    assert "TST-800001" in view.tiles["1"].serial_label.text()
    record = operations.database.serials.get("TST-800001")
    assert record is not None and record.state is SerialState.USED and record.device_id == state.device_id

    scanner_types(qtbot, view, "slot:2", gap_ms=1)  # the next unit, the next serial
    wait_finished(qtbot, line, "2")
    assert line.slot_states["2"].verdict is Verdict.PASS and line.slot_states["2"].serial == "TST-800002"
