"""Provisioning through a target that only a CMSIS pack describes: the fixture pack's
nRF52840_xxAA on simulated nRF52840 units, with the pack's own flash algorithm.

What proves that the pack's algorithm ran, not pyOCD's built-in nRF52840 one: pyOCD's target is
the class it made from the pack, its boot flash's algorithm is the fixture FLM's code at the
address the pack's RAMstart/RAMsize give (the built-in one loads at 0x20000000, with other
code), and after programming that code is in the unit's RAM there, put by nothing but pyOCD's
loading of it before it ran it.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import struct
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from device_pack import (
    ALGORITHM_RAM,
    FLM_NAME,
    PACK_DEVICE,
    PACK_TARGET,
    PDSC_NAME,
    BuiltPack,
    write_pack,
)
from flow.conftest import Line
from pyocd.target import TARGET
from pyocd.target.family.target_nRF52 import NRF52
from pyocd.target.pack.flash_algo import PackFlashAlgo

from station.domain.errors import ConfigurationError
from station.domain.recipe import DevicePack, LockMethod, LockSettings
from station.domain.scan import parse_scan
from station.drivers.console import SerialConsole
from station.drivers.probe import ProgressCallback, PyOcdProbe, PyOcdSession
from station.flow.flash_plan import NO_CHIP_ERASE, ChipErasePermission, FlashReport
from station.flow.ports import UnitConsole
from station.flow.run import Slot
from station.sim.units import SimUnit, SimUnitStore

NORDIC = "Nordic Semiconductor"
BUILTIN_ALGORITHM_ADDRESS = 0x2000_0000  # pyOCD's own nRF52840 FLASH_ALGO['load_address']
APPROTECT = LockSettings(LockMethod.NRF52_APPROTECT)


def algorithm_in_ram(flm: bytes, ram: tuple[int, int] = ALGORITHM_RAM) -> tuple[int, bytes]:
    """Where pyOCD puts an FLM's code (the top of the pack's algorithm RAM) and the bytes it
    writes there: its breakpoint header, then the FLM's code and data."""
    algorithm = PackFlashAlgo(io.BytesIO(flm))
    code = struct.pack("<I", 0xE7FDBE00) + bytes(algorithm.algo_data)
    code += b"\x00" * (-len(code) % 4)
    start, size = ram
    return start + size - len(code), code


def is_pack_target(target: Any) -> bool:
    """pyOCD's class made from the fixture pack's device (on its NRF52 family class)."""
    device = getattr(type(target), "_pack_device", None)
    return isinstance(target, NRF52) and device is not None and device.part_number == PACK_DEVICE


@pytest.fixture
def unit(sim_store: SimUnitStore) -> Iterator[SimUnit]:
    created = sim_store.create_unit()
    yield created
    created.close()


# ---- the probe driver


def test_the_probe_programs_through_the_pack_s_own_flash_algorithm(unit: SimUnit, device_pack: BuiltPack) -> None:
    pack = DevicePack(device_pack.path, device_pack.sha256, PACK_DEVICE, NORDIC)
    probe = PyOcdProbe(unit.probe_id, PACK_TARGET, APPROTECT, pack=pack)
    address, code = algorithm_in_ram(device_pack.flm)
    assert address != BUILTIN_ALGORITHM_ADDRESS
    data = bytes(range(256)) * 24  # one and a half 4 KiB pages
    with probe.attach() as session:
        assert is_pack_target(session.target)
        algorithm = session.target.memory_map.get_boot_memory().algo
        assert algorithm["load_address"] == address
        assert struct.pack(f"<{len(algorithm['instructions'])}I", *algorithm["instructions"]) == code
        assert session.read(address, len(code)) != code
        session.program([(0x2_0000, data)])
        assert session.read(address, len(code)) == code  # pyOCD loaded the pack's algorithm and ran it
        assert session.read(0x2_0000, len(data)) == data
        assert session.read_device_id() == f"{unit.reload().device_id:016X}"
    assert unit.read_nvm(0x2_0000, len(data)) == data


def test_a_pack_swapped_after_the_check_is_refused_before_any_session(
    unit: SimUnit, device_pack: BuiltPack, tmp_path: Path
) -> None:
    """Pinned, then replaced on disk before the station first used it: nothing is done."""
    pdsc = device_pack.pdsc.replace(b'Dname="nRF52840_xxAA"', b'Dname="nRF52840_QIAA"')
    path = write_pack(tmp_path / "Swapped.DFP.pack", {PDSC_NAME: pdsc, FLM_NAME: device_pack.flm})
    pinned = DevicePack(path, hashlib.sha256(path.read_bytes()).hexdigest(), "nRF52840_QIAA", NORDIC)
    write_pack(path, {PDSC_NAME: pdsc, FLM_NAME: device_pack.flm, "extra.txt": b"swapped"})
    probe = PyOcdProbe(unit.probe_id, "nrf52840_qiaa", APPROTECT, pack=pinned)
    with pytest.raises(ConfigurationError) as caught, probe.attach():
        pass
    assert f"the recipe's pack {path} changed since the recipe was checked" in str(caught.value)
    assert unit.reload().boot_count == 0  # never attached


def test_another_pack_for_the_same_device_name_brings_its_own_target(
    unit: SimUnit, device_pack: BuiltPack, tmp_path: Path
) -> None:
    """pyOCD keeps the first pack's target under a name for good; the station makes it take the
    recipe's pack (here: the same device with its algorithm in other RAM)."""
    first = DevicePack(device_pack.path, device_pack.sha256, PACK_DEVICE, NORDIC)
    with PyOcdProbe(unit.probe_id, PACK_TARGET, APPROTECT, pack=first).attach() as session:
        assert session.target.memory_map.get_boot_memory().algo["load_address"] == algorithm_in_ram(device_pack.flm)[0]
    moved = device_pack.pdsc.replace(b'RAMstart="0x20000000"', b'RAMstart="0x20010000"')
    path = write_pack(tmp_path / "Moved.DFP.pack", {PDSC_NAME: moved, FLM_NAME: device_pack.flm})
    second = DevicePack(path, hashlib.sha256(path.read_bytes()).hexdigest(), PACK_DEVICE, NORDIC)
    with PyOcdProbe(unit.probe_id, PACK_TARGET, APPROTECT, pack=second).attach() as session:
        expected = algorithm_in_ram(device_pack.flm, (0x2001_0000, ALGORITHM_RAM[1]))[0]
        assert session.target.memory_map.get_boot_memory().algo["load_address"] == expected
    with PyOcdProbe(unit.probe_id, PACK_TARGET, APPROTECT, pack=first).attach() as session:
        assert session.target.memory_map.get_boot_memory().algo["load_address"] == algorithm_in_ram(device_pack.flm)[0]


def test_a_probe_refuses_a_pack_target_pyocd_has_built_in(device_pack: BuiltPack) -> None:
    pack = DevicePack(device_pack.path, device_pack.sha256, "nRF52840", NORDIC)
    with pytest.raises(ConfigurationError, match="one of pyOCD's built-in targets"):
        PyOcdProbe("sim:unit-0001", "nrf52840", APPROTECT, pack=pack)


# ---- the station's flow, end to end


class RecordingSession(PyOcdSession):
    """The station's session, noting around each programming the target pyOCD made and what the
    unit's RAM holds where the pack's flash algorithm goes, before and after."""

    def __init__(self, session: PyOcdSession, ram_at: tuple[int, int], seen: list[tuple[bool, bytes, bytes]]) -> None:
        super().__init__(session._session, session._profile, session._lock)
        self.ram_at = ram_at
        self.seen = seen

    def program(
        self,
        segments: Sequence[tuple[int, bytes]],
        progress: ProgressCallback | None = None,
        chip_erase: ChipErasePermission = NO_CHIP_ERASE,
    ) -> FlashReport:
        before = self.read(*self.ram_at)
        statistics = super().program(segments, progress, chip_erase)
        self.seen.append((is_pack_target(self.target), before, self.read(*self.ram_at)))
        return statistics


class RecordingProbe(PyOcdProbe):
    """The station's probe driver, its sessions recording (see :class:`RecordingSession`)."""

    def __init__(self, *args: Any, ram_at: tuple[int, int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.ram_at = ram_at
        self.seen: list[tuple[bool, bytes, bytes]] = []

    @contextlib.contextmanager
    def attach(self) -> Iterator[PyOcdSession]:
        with super().attach() as session:
            yield RecordingSession(session, self.ram_at, self.seen)


def test_a_unit_provisions_end_to_end_through_the_pack_target(pack_line: Line, device_pack: BuiltPack) -> None:
    line = pack_line
    assert line.recipe.target == PACK_TARGET
    assert line.recipe.pack == DevicePack(device_pack.path, device_pack.sha256, PACK_DEVICE, NORDIC)
    unit = line.new_unit()
    address, code = algorithm_in_ram(device_pack.flm)
    probe = RecordingProbe(unit.probe_id, line.recipe.target, line.recipe.lock, pack=line.recipe.pack,
                           ram_at=(address, len(code)))  # fmt: skip
    console_path = line.environment.console_path(unit)

    def open_console() -> UnitConsole:
        return SerialConsole(console_path, line.recipe.console)

    serial = parse_scan("TST-000301", line.recipe.serial_rule)
    outcome = line.provisioner.provision(serial, Slot("test", probe, open_console), line.context)
    assert outcome.passed, outcome.summary

    # Images, then the credentials, programmed through the pack's target; its algorithm was not in
    # RAM before the first programming, and was after each.
    assert [(pack_target, before == code, after == code) for pack_target, before, after in probe.seen] == [
        (True, False, True), (True, True, True)
    ]
    for image in line.recipe.images:
        for segment in image.segments:
            assert unit.read_nvm(segment.address, len(segment.data)) == segment.data
    info = unit.reload()
    assert info.protected and not info.ever_erased
    assert outcome.device_id == f"{info.device_id:016X}"


def test_the_station_s_own_slots_take_the_recipe_s_pack_to_lock_and_rework(pack_line: Line) -> None:
    """The slots the station builds (hardware_slot) open every session with the recipe's pack:
    with the pack's target gone from pyOCD's table, as at start-up, a unit still provisions,
    reads back locked, and a supervisor's rework erases it through the same target."""
    TARGET.pop(PACK_TARGET, None)  # pyOCD's process-wide table: only the pack option brings it back
    unit = pack_line.new_unit()
    outcome = pack_line.provision("TST-000302", unit)
    assert outcome.passed, outcome.summary
    assert unit.reload().protected

    again = pack_line.provision("TST-000303", unit)  # the locked unit under another label
    assert again.failure_code == "UNIT_LOCKED"
    rework = pack_line.rework("TST-000303", unit, supervisor="sue")
    assert rework.failure_code == "REWORKED"
    info = unit.reload()
    assert info.ever_erased and not info.protected
    assert unit.read_nvm(0, 0x1000) == b"\xff" * 0x1000


# ---- stock pyOCD


@pytest.mark.slow
def test_stock_pyocd_loads_through_the_pack(unit: SimUnit, device_pack: BuiltPack, tmp_path: Path) -> None:
    image = tmp_path / "image.bin"
    data = bytes((index * 7) & 0xFF for index in range(6000))
    image.write_bytes(data)
    result = subprocess.run(
        [sys.executable, "-m", "pyocd", "load", "--pack", str(device_pack.path), "--target", PACK_TARGET,
         "-u", unit.probe_id, "--base-address", "0x30000", "--format", "bin", str(image)],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert unit.read_nvm(0x3_0000, len(data)) == data
    address, code = algorithm_in_ram(device_pack.flm)
    probe = PyOcdProbe(unit.probe_id, PACK_TARGET, APPROTECT,
                       pack=DevicePack(device_pack.path, device_pack.sha256, PACK_DEVICE, NORDIC))  # fmt: skip
    with probe.attach() as session:
        assert session.read(address, len(code)) == code  # pyOCD ran the pack's algorithm, not its own


def test_the_fixture_pack_is_what_pyocd_reads_as_a_vendor_pack(device_pack: BuiltPack) -> None:
    """The FLM as pyOCD's parser reads it: the CMSIS FlashDevice, every function, no stray sections."""
    algorithm = PackFlashAlgo(io.BytesIO(device_pack.flm))
    assert algorithm.flash_info.name == b"nRF52840 NVMC (station pack fixture)"
    assert (algorithm.flash_start, algorithm.flash_size, algorithm.page_size) == (0, 0x10_0000, 0x1000)
    assert algorithm.sector_sizes == [(0, 0x1000)]
    assert set(algorithm.symbols) == {"Init", "UnInit", "EraseSector", "EraseChip", "ProgramPage"}
    assert algorithm.ro_start == 0 and algorithm.rw_start == algorithm.ro_size
