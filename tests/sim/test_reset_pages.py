"""A chip reset writes each peripheral page whole: a process killed at any instant of it leaves
no register half reset (a zeroed NVMC READY once stalled every later flash algorithm on a unit
that a crash test had killed in the middle of a reset)."""

from __future__ import annotations

import pytest

from station.sim import peripherals
from station.sim.chips import TARGETS
from station.sim.units import SimUnitStore


@pytest.mark.parametrize("target", TARGETS)
def test_a_reset_writes_every_register_in_one_store_per_page(
    sim_store: SimUnitStore, target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    unit = sim_store.create_unit(target=target)
    try:
        state = unit.core_state
        pages = list(unit.info.chip.layout.present_pages())
        for base in pages:  # what a reset killed half way once left: a page of zeros
            offset = state.peripheral_offset(base)
            assert offset is not None
            state.memory[offset : offset + peripherals.SLOT_SIZE] = bytes(peripherals.SLOT_SIZE)
        stores: list[int] = []

        def one_register_at_a_time(address: int, value: int) -> None:
            stores.append(address)

        monkeypatch.setattr(type(state), "write_peripheral",
                            lambda self, address, value: one_register_at_a_time(address, value))  # fmt: skip
        peripherals.write_reset_values(state, pages, peripherals.RESET_VALUES if target == "nrf52840" else {})
        monkeypatch.undo()
        assert stores == []  # nothing written register by register, after the pages
        if target == "nrf52840":
            assert state.read_peripheral(peripherals.NVMC_READY) == 1
            assert state.read_peripheral(peripherals.NVMC_READYNEXT) == 1
        unit.info.chip.reset_peripherals(state, unit.read_nvm)  # the family's own reset, whole
        if target == "nrf52840":
            assert state.read_peripheral(peripherals.NVMC_READY) == 1
    finally:
        unit.close()
