"""A chip reset writes each peripheral page whole: a process killed at any instant of it leaves
no register half reset (a zeroed NVMC READY once stalled every later flash algorithm on a unit
that a crash test had killed in the middle of a reset)."""

from __future__ import annotations

import pytest

from station.sim import peripherals
from station.sim.chips import TARGETS, efm32_msc
from station.sim.chips import kinetis_ftfe as ftfe
from station.sim.chips import stm32f4_flash as stm32_flash
from station.sim.units import SimUnitStore

# A register each family's flash controller must never be left without by a reset: READY (nRF),
# OPTCR with its lock bit (STM32, its RDP byte would read as level 1), FSTAT's CCIF (K64F),
# STATUS.WDATAREADY (EFR32: a flash algorithm would wait for it for ever).
MUST_BE_SET = {
    "nrf52840": (peripherals.NVMC_READY, 1),
    "stm32f429xi": (stm32_flash.OPTCR, stm32_flash.OPTCR_OPTLOCK),
    "k64f": (ftfe.FSTAT, ftfe.CCIF),
    "efr32mg12p433f1024gm68": (efm32_msc.STATUS, efm32_msc.STATUS_WDATAREADY),
}


@pytest.mark.parametrize("target", TARGETS)
def test_a_reset_writes_every_register_in_one_store_per_page(
    sim_store: SimUnitStore, target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    unit = sim_store.create_unit(target=target)
    try:
        state = unit.core_state
        chip = unit.info.chip
        for base in chip.layout.present_pages():  # what a reset killed half way once left: zeros
            offset = state.peripheral_offset(base)
            assert offset is not None
            state.memory[offset : offset + peripherals.SLOT_SIZE] = bytes(peripherals.SLOT_SIZE)
        address, bits = MUST_BE_SET[target]
        assert state.read_peripheral(address) & bits == 0
        stores: list[int] = []
        monkeypatch.setattr(type(state), "write_peripheral", lambda self, at, value: stores.append(at))
        chip.reset_peripherals(state, unit.read_nvm)
        monkeypatch.undo()
        assert stores == []  # nothing written one register at a time after the pages
        assert state.read_peripheral(address) & bits == bits
    finally:
        unit.close()
