"""The flash step's progress through the station's flash writer and pyOCD's flash algorithm: one
bar over the erases and the programming, by the share of the controller's time each takes, full
only once programming is done. (pyOCD's own loader reports its erase pass and then its
programming pass each from 0 to 1: a bar that only rises sat full from the end of the erases.)"""

from __future__ import annotations

from station.domain.recipe import LockMethod, LockSettings
from station.drivers.probe import PyOcdProbe
from station.sim.units import SimUnitStore


def test_programming_progress_only_rises_and_is_full_only_when_the_last_page_is_programmed(
    sim_store: SimUnitStore,
) -> None:
    unit = sim_store.create_unit(target="stm32f429xi", timing_factor=0.01)
    reports: list[tuple[float, bytes]] = []
    address = 0x0800_C000  # sector 3 (16 KiB) into sector 4 (64 KiB): two of pyOCD's flash regions
    image = bytes((index * 7) & 0xFF for index in range(0x8000))
    last_page = address + len(image) - 4
    with unit.locked():  # an older build there: both sectors are erased first
        unit.program_nvm(address, bytes(byte ^ 0xFF for byte in image))

    def progress(fraction: float) -> None:
        reports.append((fraction, unit.read_nvm(last_page, 4)))  # what the unit holds at that moment

    try:
        probe = PyOcdProbe(unit.probe_id, "stm32f429xi", LockSettings(LockMethod.STM32_RDP1))
        with probe.attach() as attached:
            report = attached.program([(address, image)], progress)
    finally:
        unit.close()
    fractions = [fraction for fraction, _ in reports]
    assert fractions == sorted(fractions) and 0.0 <= fractions[0] and fractions[-1] == 1.0
    assert report.sectors_erased == 2, report
    erases = 0.400 + 1.200  # the 16 KiB and the 64 KiB sector, as pyOCD's algorithm erases them (x8)
    assert any(erases / report.busy_seconds < fraction < 1.0 for fraction in fractions)  # programming moves it too
    full = [held for fraction, held in reports if fraction >= 1.0]
    assert full and all(held == image[-4:] for held in full)  # full only once the last word is in flash
