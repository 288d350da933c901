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
    station = station_factory(slots=3, targets=("nrf52840", "stm32f429xi", "k64f"))
    line, window = station.line, station.window
    assert window.demo_bar is not None
    production = station.operations.production
    assert [recipe.target for recipe in production.recipes_in_use()] == ["nrf52840", "stm32f429xi", "k64f"]
    for product in ("ACME-TOASTER", "ACME-KETTLE", "ACME-FRIDGE"):
        assert product in window.operator_view.product_label.text()
    view = window.operator_view
    tiles = view.tiles  # each tile says what its slot makes, on a row of its own
    assert [tiles[name].name_label.text() for name in ("1", "2", "3")] == ["Slot 1", "Slot 2", "Slot 3"]
    assert [tiles[name].product_label.text() for name in ("1", "2", "3")] == [
        "ACME-TOASTER", "ACME-KETTLE", "ACME-FRIDGE"]  # fmt: skip
    # Each product's next scan has its own slot: every free slot here makes another product.
    qtbot.waitUntil(lambda: view.marked_slots == ["1", "2", "3"], timeout=5000)
    for tile in tiles.values():  # the mark is whole beside the slot's name, not cut
        assert tile.next_marker.text() == "Next scan →", tile.next_marker.text()
    # Each family's label in turn; the label decides the slot, whichever slot is free first.
    serials = [window.demo_bar.simulate_scan() for _ in range(3)]
    assert [serial[:4] for serial in serials] == ["TST-", "KET-", "FRG-"]
    qtbot.waitUntil(lambda: view.marked_slots == [] or all(not state.running for state in line.slot_states.values()),
                    timeout=5000)  # fmt: skip
    wait_finished(qtbot, line, "1", "2", "3")
    states = line.slot_states
    assert [states[name].serial for name in ("1", "2", "3")] == serials
    assert all(states[name].verdict is Verdict.PASS for name in ("1", "2", "3"))
    assert [len(states[name].device_id) for name in ("1", "2", "3")] == [16, 24, 32]
    products = [station.operations.database.attempts.latest_attempt(serial) for serial in serials]
    assert [attempt.product if attempt else None for attempt in products] == [
        "ACME-TOASTER", "ACME-KETTLE", "ACME-FRIDGE"]  # fmt: skip
