"""The least flash work, through the station's probe driver and pyOCD's real flash algorithms on
simulated units of each family: blank pages programmed without an erase, a page holding other
data erased first (a single zero word is enough), an identical image not written again, and a
chip erase where it is cheaper and nothing it would take must be kept.

Busy time is the simulator's accounting (the modelled controller time, not the wall clock), at
a small timing factor: the station's estimate of its plan must equal it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

from station.domain.recipe import LockMethod, LockSettings
from station.drivers.probe import PyOcdProbe
from station.drivers.profiles import profile_for_target
from station.flow.flash_plan import ChipErasePermission, FlashReport, KeptRange
from station.sim import board
from station.sim.units import SimUnit, SimUnitStore

from .test_k64f import unsecured

FACTOR = 0.01  # modelled time is accounted at this factor, and slept at it
LOCKS = {
    "nrf52840": LockMethod.NRF52_APPROTECT,
    "stm32f429xi": LockMethod.STM32_RDP1,
    "k64f": LockMethod.KINETIS_FSEC,
}
# Where each family's test image goes: whole erase units away from vectors and special fields.
IMAGE_AT = {"nrf52840": 0x0002_0000, "stm32f429xi": 0x0800_4000, "k64f": 0x0002_0000}
IMAGE = b"".join(hashlib.sha256(bytes([index])).digest() for index in range(256))  # 8 KiB


@pytest.fixture(params=list(LOCKS))
def unit(request: pytest.FixtureRequest, sim_store: SimUnitStore) -> Iterator[SimUnit]:
    made = sim_store.create_unit(target=request.param, timing_factor=FACTOR)
    if request.param == "k64f":
        unsecured(made)  # a fresh K64F is secure; the station's rework or fresh-part erase opens it
    yield made
    made.close()


def probe_for(unit: SimUnit) -> PyOcdProbe:
    return PyOcdProbe(unit.probe_id, unit.info.target, LockSettings(LOCKS[unit.info.target]))


def program(
    unit: SimUnit, segments: list[tuple[int, bytes]], chip_erase: ChipErasePermission
) -> tuple[FlashReport, float]:
    """The driver's report, and the controller's modelled busy seconds it took."""
    before = unit.nvm_busy_seconds
    with probe_for(unit).attach() as session:
        report = session.program(segments, chip_erase=chip_erase)
    return report, (unit.nvm_busy_seconds - before) / FACTOR


def holding(unit: SimUnit, address: int, data: bytes) -> None:
    """Data the unit holds before the station starts (an older firmware, a stray word)."""
    with unit.locked():
        unit.program_nvm(address, data)


def test_a_blank_unit_is_programmed_without_an_erase(unit: SimUnit) -> None:
    address = IMAGE_AT[unit.info.target]
    report, busy = program(unit, [(address, IMAGE)], ChipErasePermission.allow())
    assert unit.read_nvm(address, len(IMAGE)) == IMAGE
    assert report.sectors_erased == 0 and not report.chip_erase and report.pages_blank >= 1, report
    timing = profile_for_target(unit.info.target).flash_timing
    assert busy == pytest.approx(timing.write_seconds(report.bytes_programmed), rel=1e-6)
    assert busy == pytest.approx(report.busy_seconds, rel=1e-6)  # the station's estimate is the chip's time


def test_a_page_holding_other_data_is_erased_first(unit: SimUnit) -> None:
    address = IMAGE_AT[unit.info.target]
    older = bytes(byte ^ 0x5A for byte in IMAGE)
    holding(unit, address, older)
    report, busy = program(unit, [(address, IMAGE)], ChipErasePermission.refuse("not in this test"))
    assert unit.read_nvm(address, len(IMAGE)) == IMAGE
    assert report.sectors_erased >= 1 and report.pages_blank == 0, report
    assert busy == pytest.approx(report.busy_seconds, rel=1e-6)


def test_a_page_that_looks_blank_but_holds_one_zero_word_is_erased(unit: SimUnit) -> None:
    address = IMAGE_AT[unit.info.target]
    holding(unit, address + 0x7F0, b"\x00\x00\x00\x00")  # deep inside, where a sampled check would miss it
    report, _ = program(unit, [(address, IMAGE)], ChipErasePermission.refuse("not in this test"))
    assert report.sectors_erased == 1, report
    assert unit.read_nvm(address, len(IMAGE)) == IMAGE  # without the erase, the zero word would stay


def test_the_same_image_again_programs_nothing(unit: SimUnit) -> None:
    address = IMAGE_AT[unit.info.target]
    program(unit, [(address, IMAGE)], ChipErasePermission.allow())
    report, busy = program(unit, [(address, IMAGE)], ChipErasePermission.allow())
    assert report.pages_programmed == 0 and report.sectors_erased == 0 and not report.chip_erase, report
    assert busy == 0.0
    assert "nothing to program" in report.decision


# ---- chip erase: the nRF52840, where one (200 ms) costs less than three page erases (85 ms each)


@pytest.fixture
def nrf52(sim_store: SimUnitStore) -> Iterator[SimUnit]:
    made = sim_store.create_unit(target="nrf52840", timing_factor=FACTOR)
    yield made
    made.close()


OLD_FIRMWARE = bytes(range(256)) * 64  # 16 KiB over four pages
NEW_FIRMWARE = IMAGE * 2  # the same four pages: four page erases (340 ms) cost more than a chip erase


def test_a_chip_erase_where_it_is_cheaper_takes_what_the_image_does_not_cover(nrf52: SimUnit) -> None:
    holding(nrf52, 0x2_0000, OLD_FIRMWARE)
    holding(nrf52, 0x8_0000, b"stale data beyond the new image")
    report, busy = program(nrf52, [(0x2_0000, NEW_FIRMWARE)], ChipErasePermission.allow())
    assert report.chip_erase and report.sectors_erased == 0, report
    assert "chip erase" in report.decision
    assert nrf52.read_nvm(0x2_0000, 0x4000) == NEW_FIRMWARE
    assert nrf52.read_nvm(0x8_0000, 0x1000) == b"\xff" * 0x1000
    assert busy == pytest.approx(report.busy_seconds, rel=1e-6)


def test_a_key_store_holding_data_is_never_touched_by_a_chip_erase(nrf52: SimUnit) -> None:
    holding(nrf52, 0x2_0000, OLD_FIRMWARE)
    key = b"the unit's own key, kept across firmware updates"
    holding(nrf52, board.KEY_STORE_ADDRESS, key)
    keep = (KeptRange("key_store region 'key_store'", board.KEY_STORE_ADDRESS, board.KEY_STORE_SIZE),)
    report, _ = program(nrf52, [(0x2_0000, NEW_FIRMWARE)], ChipErasePermission.allow(keep))
    assert not report.chip_erase and report.sectors_erased == 4, report
    assert "no chip erase: key_store region 'key_store' holds data" in report.decision
    assert nrf52.read_nvm(board.KEY_STORE_ADDRESS, len(key)) == key
    assert nrf52.read_nvm(0x2_0000, len(NEW_FIRMWARE)) == NEW_FIRMWARE


def test_uicr_configuration_keeps_the_nrf52_from_a_chip_erase(nrf52: SimUnit) -> None:
    holding(nrf52, 0x2_0000, OLD_FIRMWARE)
    holding(nrf52, board.UICR_BASE + 0x80, b"\x01\x02\x03\x04")  # CUSTOMER[0]
    report, _ = program(nrf52, [(0x2_0000, NEW_FIRMWARE)], ChipErasePermission.allow())
    assert not report.chip_erase, report
    assert "the UICR holds configuration (0x10001080 = 0x04030201)" in report.decision
    assert nrf52.read_nvm(board.UICR_BASE + 0x80, 4) == b"\x01\x02\x03\x04"


def test_a_recipe_that_forbids_the_chip_erase_gets_page_erases(nrf52: SimUnit) -> None:
    holding(nrf52, 0x2_0000, OLD_FIRMWARE)
    report, _ = program(nrf52, [(0x2_0000, NEW_FIRMWARE)], ChipErasePermission.refuse("the recipe forbids it"))
    assert not report.chip_erase and report.sectors_erased == 4
    assert "no chip erase: the recipe forbids it" in report.decision


def test_a_hardened_nrf52_keeps_its_port_open_after_a_chip_erase(sim_store: SimUnitStore) -> None:
    """ERASEALL takes the UICR, HwDisabled with it: the driver writes it again before any reset,
    or the unit would lock the station out at the next one."""
    unit = sim_store.create_unit(target="nrf52840", timing_factor=FACTOR, build_code="hardened")
    try:
        probe = probe_for(unit)
        probe.recovery_erase()  # a fresh hardened part ships protected: opened, HwDisabled written
        holding(unit, 0x2_0000, OLD_FIRMWARE)
        with probe.attach() as session:
            report = session.program([(0x2_0000, NEW_FIRMWARE)], chip_erase=ChipErasePermission.allow())
            assert report.chip_erase and "UICR.APPROTECT = HwDisabled" in report.decision, report.decision
            # Before any reset: the firmware that opens the port at boot needs HwDisabled there.
            assert unit.read_nvm(board.UICR_APPROTECT, 1)[0] == board.APPROTECT_HW_DISABLED
            assert session.read(0x2_0000, len(NEW_FIRMWARE)) == NEW_FIRMWARE
    finally:
        unit.close()


def test_a_page_the_image_fills_in_part_is_written_only_that_far(unit: SimUnit) -> None:
    """pyOCD's flash algorithm for the family writes the length it is given: 100 bytes are 25 words
    (13 phrases on a K64F), not a page of them, and the rest of the page stays erased."""
    address = IMAGE_AT[unit.info.target]
    short = IMAGE[:100]
    report, busy = program(unit, [(address, short)], ChipErasePermission.allow())
    timing = profile_for_target(unit.info.target).flash_timing
    assert report.bytes_programmed == -(-100 // timing.write_unit) * timing.write_unit
    assert busy == pytest.approx(report.busy_seconds, rel=1e-6)
    assert unit.read_nvm(address, 0x400) == short + b"\xff" * (0x400 - 100)
