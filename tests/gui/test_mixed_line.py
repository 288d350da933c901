"""A line of mixed chip families in the window: each slot its family's demo recipe and units."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from station.gui.main import StationWindow
from station.gui.slot_states import Verdict

from .conftest import wait_finished

StationFactory = Callable[..., StationWindow]


def test_a_mixed_line_scans_each_slot_s_product_and_every_unit_passes(
    station_factory: StationFactory, qtbot: Any
) -> None:
    station = station_factory(slots=2, targets=("nrf52840", "stm32f429xi"))
    line, window = station.line, station.window
    assert window.demo_bar is not None
    production = station.operations.production
    assert [recipe.target for recipe in production.recipes_in_use()] == ["nrf52840", "stm32f429xi"]
    assert "ACME-TOASTER" in window.operator_view.product_label.text()
    assert "ACME-KETTLE" in window.operator_view.product_label.text()
    first = window.demo_bar.simulate_scan()  # the next slot is 1: an nRF52840 toaster
    second = window.demo_bar.simulate_scan()  # slot 1 is busy: slot 2's STM32 kettle
    assert (first[:4], second[:4]) == ("TST-", "KET-")
    wait_finished(qtbot, line, "1", "2")
    states = line.slot_states
    assert (states["1"].serial, states["2"].serial) == (first, second)
    assert states["1"].verdict is Verdict.PASS and states["2"].verdict is Verdict.PASS
    assert len(states["2"].device_id) == 24  # the STM32's UID
    kettle = station.operations.database.attempts.latest_attempt(second)
    assert kettle is not None and kettle.product == "ACME-KETTLE"
