"""A simulated EFR32MG12 under the stock ``pyocd`` commands in other processes, with the Silicon
Labs fixture pack: its flash algorithm programs and erases through the MSC, pyOCD (auto_unlock on,
as its commands have it) finds nothing to unlock on a locked part and leaves it untouched, and
the AAP recovery Silicon Labs documents, typed into ``pyocd cmd``, erases and reopens it. Also
``station sim create`` and ``show`` for the part, and the station's own probe driver."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from device_pack import BuiltPack

from station.app import main
from station.domain.errors import FlashError, UnitLockedError
from station.domain.recipe import DevicePack, LockMethod, LockSettings
from station.drivers.probe import PyOcdProbe
from station.sim.chips import EFR32MG12
from station.sim.chips import efm32_aap as aap
from station.sim.chips import efr32mg12 as chip
from station.sim.host import HostedDevice, SimulatorHost
from station.sim.units import SimUnit, SimUnitStore, lock_unit_as_delivered

UNIQUE = 0x90FD_9FFF_FE65_4321
DEBUG_LOCK_WORD = LockSettings(LockMethod.EFM32_DEBUG_LOCK_WORD)


@pytest.fixture
def unit(sim_store: SimUnitStore) -> Iterator[SimUnit]:
    made = sim_store.create_unit(target=EFR32MG12, device_id=UNIQUE)
    yield made
    made.close()


def image(size: int) -> bytes:
    return bytes((index * 7 + 3) & 0xFF for index in range(size))


def pyocd(unit: SimUnit, pack: BuiltPack, *arguments: str, target: str = EFR32MG12) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pyocd", *arguments, "--pack", str(pack.path), "-t", target, "-u", unit.probe_id],
        capture_output=True, text=True, env=dict(os.environ), timeout=180, check=False,
    )  # fmt: skip


def station_probe(unit: SimUnit, pack: BuiltPack) -> PyOcdProbe:
    """The station's probe driver on the unit, its sessions opened with the pack."""
    device_pack = DevicePack(pack.path, pack.sha256, "EFR32MG12P433F1024GM68", "Silicon Labs")
    return PyOcdProbe(unit.probe_id, EFR32MG12, DEBUG_LOCK_WORD, pack=device_pack)


def test_stock_pyocd_loads_reads_and_erases_through_the_pack_s_msc_algorithm(
    unit: SimUnit, efr32_pack: BuiltPack, tmp_path: Path
) -> None:
    data = image(6000)
    firmware = tmp_path / "image.bin"
    firmware.write_bytes(data)

    def run(*arguments: str) -> str:
        done = pyocd(unit, efr32_pack, *arguments)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    run("load", "--base-address", "0x30000", "--format", "bin", str(firmware))
    assert unit.read_nvm(0x3_0000, len(data)) == data
    shown = run("cmd", "-c", "read32 0x0FE081F0 8")  # DEVINFO UNIQUEL, UNIQUEH
    assert shown.split()[1:3] == ["fe654321", "90fd9fff"]
    run("erase", "--sector", "0x30800")  # one 2 KiB page, by the MSC's ERASEPAGE
    assert unit.read_nvm(0x3_0800, chip.PAGE_SIZE) == b"\xff" * chip.PAGE_SIZE
    assert unit.read_nvm(0x3_0000, chip.PAGE_SIZE) == data[: chip.PAGE_SIZE]
    run("erase", "--chip")  # the algorithm's EraseChip: ERASEMAIN0 and ERASEMAIN1, MASSLOCK unlocked
    assert unit.read_nvm(chip.FLASH_BASE, chip.FLASH_SIZE) == b"\xff" * chip.FLASH_SIZE
    info = unit.reload()
    assert not info.protected and not info.ever_erased  # the MSC's erases: no debug-port erase


def test_stock_pyocd_leaves_a_locked_part_untouched_and_the_aap_recovery_reopens_it(
    unit: SimUnit, efr32_pack: BuiltPack, tmp_path: Path
) -> None:
    data = image(0x1000)
    firmware = tmp_path / "image.bin"
    firmware.write_bytes(data)
    loaded = pyocd(unit, efr32_pack, "load", "--base-address", "0x30000", "--format", "bin", str(firmware))
    assert loaded.returncode == 0, loaded.stderr
    lock_unit_as_delivered(unit)  # the DLW cleared and latched at a reset
    assert unit.reload().protected

    refused = pyocd(unit, efr32_pack, "cmd", "-c", "read32 0x30000 4")  # auto_unlock on: nothing to unlock
    assert refused.returncode != 0 and "No cores were discovered" in refused.stdout + refused.stderr
    assert unit.read_nvm(0x3_0000, len(data)) == data and unit.reload().protected

    # AN0062's sequence through the AAP: the key, DEVICEERASE, ERASEBUSY read, SYSRESETREQ.
    recovery = pyocd(
        unit, efr32_pack, "cmd", "-O", "allow_no_cores=true", "-c", "readap 0 0xfc",
        "-c", f"writeap 0 0x04 0x{aap.CMDKEY_WRITEENABLE:08X}", "-c", "writeap 0 0x00 1", "-c", "readap 0 0x08",
        "-c", "writeap 0 0x00 2", target="cortex_m",
    )  # fmt: skip
    assert recovery.returncode == 0, recovery.stdout + recovery.stderr
    assert f"AP register 0xfc = 0x{aap.IDR_VALUE:08x}" in recovery.stdout
    info = unit.reload()
    assert not info.protected and info.ever_erased  # a debug-port erase of firmware: a development unit
    assert unit.is_blank()


def test_the_station_s_probe_driver_erases_an_open_part_through_the_msc(unit: SimUnit, efr32_pack: BuiltPack) -> None:
    """Rework of a unit that never got locked: there is no AAP, so the MSC erases main flash and
    the lock bits page, and the port stays open."""
    probe = station_probe(unit, efr32_pack)
    data = image(0x1800)
    with probe.attach() as session:
        assert session.read_device_id() == "90FD9FFFFE654321"
        session.program([(0x1_0000, data)])
    with unit.locked():
        unit.program_nvm(chip.LOCKBITS_BASE, bytes(4))  # pages 0-31 locked: the erase must take it too
    assert not probe.is_locked()
    said = probe.recovery_erase()
    assert said == "EFM32/EFR32: lock bits page erased (debug lock word 0xFFFFFFFF), open at every reset"
    assert unit.read_nvm(chip.FLASH_BASE, chip.FLASH_SIZE) == b"\xff" * chip.FLASH_SIZE
    assert unit.read_nvm(chip.LOCKBITS_BASE, chip.INFO_PAGE_SIZE) == b"\xff" * chip.INFO_PAGE_SIZE
    assert not probe.is_locked() and not unit.reload().protected


def test_the_station_s_probe_driver_refuses_a_locked_part_untouched(unit: SimUnit, efr32_pack: BuiltPack) -> None:
    probe = station_probe(unit, efr32_pack)
    with probe.attach() as session:
        session.program([(0x1_0000, image(0x800))])
        session.apply_lock()  # the DLW written through the MSC, then the pin reset
    assert unit.reload().protected and probe.is_locked()
    before = unit.read_nvm(chip.FLASH_BASE, chip.FLASH_SIZE)
    boots = unit.info.boot_count
    with pytest.raises(UnitLockedError), probe.attach():
        pass
    assert unit.read_nvm(chip.FLASH_BASE, chip.FLASH_SIZE) == before
    info = unit.reload()
    assert info.protected and not info.ever_erased and info.boot_count == boots  # not even reset


def test_injected_faults_apply_to_an_efr32(unit: SimUnit, efr32_pack: BuiltPack) -> None:
    """Lost words: the MSC does not verify, the algorithm succeeds, the station's read-back sees it."""
    with unit.locked():
        unit.info.faults.drop_writes = (0x1_0100, 0x1_0200)
    data = image(chip.PAGE_SIZE)
    with station_probe(unit, efr32_pack).attach() as session:
        session.program([(0x1_0000, data)])
        assert session.read(0x1_0000, len(data)) != data
    assert unit.read_nvm(0x1_0100, 0x100) == b"\xff" * 0x100
    assert unit.read_nvm(0x1_0000, 0x100) == data[:0x100]
    with unit.locked():
        unit.info.faults.drop_writes = None
        unit.info.faults.transfer_fault_address = chip.DEVINFO_UNIQUEL
    with pytest.raises(FlashError), station_probe(unit, efr32_pack).attach() as session:
        session.read_device_id()


def test_an_efr32_served_by_the_simulator_host(sim_dir: Path, unit: SimUnit, efr32_pack: BuiltPack) -> None:
    """Sessions in the host's processes: the pack's algorithm, the lock's pin reset and the AAP there."""
    probe = station_probe(unit, efr32_pack)
    data = image(chip.PAGE_SIZE)
    with SimulatorHost(sim_dir):
        with probe.attach() as session:
            assert isinstance(session._session.probe.device, HostedDevice)
            session.program([(0x1_0000, data)])
            session.apply_lock()
        assert probe.is_locked() and unit.read_nvm(0x1_0000, len(data)) == data
        probe.recovery_erase()
        assert not probe.is_locked()
    info = unit.reload()
    assert not info.protected and info.ever_erased and unit.is_blank()


def test_station_sim_create_and_show_speak_efr32(sim_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "create", "--target", EFR32MG12, "--json"]) == 0
    created = json.loads(capsys.readouterr().out)["units"][0]
    assert created["target"] == EFR32MG12
    assert main(["sim", "show", created["unit"], "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert len(shown["device_id"]) == 16 and not shown["locked"]
    assert shown["lock_state"] == "unlocked"


def test_the_pack_s_algorithm_on_the_core_spends_the_data_sheet_s_time(
    sim_store: SimUnitStore, efr32_pack: BuiltPack
) -> None:
    """Three blank 2 KiB pages: no erase (the station reads them first), 1536 words of write
    sequences, at the unit's factor (the algorithm's halt is delayed by it, as on the chip); the
    station's estimate of its plan, by the EFM32 profile's figures, is the chip's time."""
    made = sim_store.create_unit(target=EFR32MG12, timing_factor=0.05)
    try:
        probe = station_probe(made, efr32_pack)
        before = made.nvm_busy_seconds
        with probe.attach() as session:
            statistics = session.program([(0x4_0000, image(3 * chip.PAGE_SIZE))])
        assert statistics.pages_programmed == 3 and statistics.pages_blank == 3 and statistics.sectors_erased == 0
        expected = 3 * chip.PAGE_SIZE // 4 * chip.BURST_WORD_WRITE_SECONDS
        assert made.nvm_busy_seconds - before == pytest.approx(0.05 * expected)
        assert statistics.busy_seconds == pytest.approx(expected)
    finally:
        made.close()
