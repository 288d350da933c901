"""The two nRF52 APPROTECT generations of the simulated unit (Nordic IN141; issue 16, item 4).

A part of a hardened build code leaves the factory with its access port closed, closes it at
every reset, and opens it only when its firmware writes APPROTECT.DISABLE while UICR.APPROTECT
holds HwDisabled (0x5A). A legacy part obeys UICR.APPROTECT at reset and nothing else.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from station.sim import board
from station.sim.chips.nrf52840 import CTRL_AP, CTRL_AP_APPROTECTSTATUS, CTRL_AP_ERASEALL
from station.sim.core_state import RunState
from station.sim.device import SimDevice
from station.sim.firmware import DemoFirmware
from station.sim.units import SimUnit, SimUnitStore

from .support import write_firmware

HW_DISABLED = b"\x5a\xff\xff\xff"


def port_open(device: SimDevice) -> bool:
    """What a debugger asks the CTRL-AP, which answers even while the port is closed."""
    return device.read_ap((CTRL_AP << 24) | CTRL_AP_APPROTECTSTATUS) == 1


def ticks(unit: SimUnit) -> int:
    """The demo application's SysTick counter in RAM."""
    return int.from_bytes(unit.core_state.read_ram(board.SYSTICK_COUNT_ADDRESS, 4), "little")


def wait_until(condition: object, timeout: float = 20.0) -> bool:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return bool(condition())


@pytest.fixture
def hardened(sim_store: SimUnitStore) -> Iterator[SimUnit]:
    unit = sim_store.create_unit(build_code="hardened")
    yield unit
    unit.close()


def test_a_fresh_hardened_part_arrives_with_its_port_closed_and_says_its_build_code(hardened: SimUnit) -> None:
    device = SimDevice(hardened)
    try:
        assert hardened.info.protected and not port_open(device)
        with pytest.raises(Exception, match="APPROTECT"):
            device.read_block(board.FICR_VARIANT, 4)
        device.write_ap((CTRL_AP << 24) | CTRL_AP_ERASEALL, 1)  # the only way in
        assert device.read_block(board.FICR_VARIANT, 4)[::-1] == b"AAF0"  # build code F0: what pyOCD reads
    finally:
        device.close()


def test_a_legacy_part_arrives_open_and_reads_as_an_older_build_code(sim_store: SimUnitStore) -> None:
    unit = sim_store.create_unit()
    device = SimDevice(unit)
    try:
        assert not unit.info.protected and port_open(device)
        assert device.read_block(board.FICR_VARIANT, 4)[::-1] == b"AAD0"
        device.system_reset()  # UICR erased: a legacy part stays open
        assert port_open(device)
    finally:
        device.close()
        unit.close()


def test_an_erased_hardened_part_closes_again_at_reset_without_hw_disabled(hardened: SimUnit) -> None:
    device = SimDevice(hardened)
    try:
        device.write_ap((CTRL_AP << 24) | CTRL_AP_ERASEALL, 1)
        assert port_open(device), "the erase opens the port until the next reset"
        device.system_reset()
        assert not port_open(device), "UICR erased: the port is closed again"
    finally:
        device.close()


def test_firmware_opens_the_port_at_each_boot_only_when_uicr_says_hw_disabled(
    hardened: SimUnit, demo_firmware: DemoFirmware
) -> None:
    device = SimDevice(hardened)  # its runner executes the bootloader after each reset
    try:
        device.write_ap((CTRL_AP << 24) | CTRL_AP_ERASEALL, 1)
        write_firmware(hardened, demo_firmware)
        device.system_reset()
        assert wait_until(lambda: ticks(hardened) > 0), "the application runs: the bootloader is done"
        assert not port_open(device), "without HwDisabled the firmware cannot open the port"

        device.write_ap((CTRL_AP << 24) | CTRL_AP_ERASEALL, 1)
        write_firmware(hardened, demo_firmware)
        with hardened.locked():
            hardened.program_nvm(board.UICR_APPROTECT, HW_DISABLED)
        for _ in range(2):  # at every boot, not once
            device.system_reset()
            assert wait_until(lambda: port_open(device)), "the bootloader's APPROTECT.DISABLE opens the port"
            assert device.read_block(board.FLASH_BASE, 8) == demo_firmware.bootloader.data[:8]
    finally:
        device.close()


def test_without_firmware_even_hw_disabled_leaves_a_hardened_part_closed(hardened: SimUnit) -> None:
    """The regression guard of the station's sequence: HwDisabled alone is not enough, the
    firmware has to run and open the port; a blank part stays closed after a reset."""
    device = SimDevice(hardened)
    try:
        device.write_ap((CTRL_AP << 24) | CTRL_AP_ERASEALL, 1)
        with hardened.locked():
            hardened.program_nvm(board.UICR_APPROTECT, HW_DISABLED)
        device.system_reset()
        assert wait_until(lambda: hardened.core_state.run_state == RunState.LOCKUP), "blank vectors: locked up"
        assert not port_open(device)
    finally:
        device.close()


def test_station_sim_create_makes_hardened_units(sim_dir: object) -> None:
    created = subprocess.run(
        [sys.executable, "-m", "station", "sim", "create", "--build-code", "hardened", "--json"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    unit = json.loads(created.stdout)["units"][0]
    assert unit["build_code"] == "hardened"
    shown = subprocess.run(
        [sys.executable, "-m", "station", "sim", "show", unit["unit"], "--json"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stderr
    details = json.loads(shown.stdout)
    assert details["build_code"] == "hardened" and details["locked"] is True
    refused = subprocess.run(
        [sys.executable, "-m", "station", "sim", "create", "--build-code", "newest"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert refused.returncode == 2 and "build-code" in refused.stderr
