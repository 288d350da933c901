"""The simulated unit through the real pyOCD code: programming, locking, erasing, faults."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pyocd.core import exceptions
from pyocd.core.session import Session
from pyocd.flash.file_programmer import FileProgrammer
from pyocd.flash.loader import FlashLoader

from station.sim import board
from station.sim.firmware import DemoFirmware
from station.sim.units import Faults, SimUnit, SimUnitStore

from .support import session_for

SHORT_FLASH_TIMEOUTS = {
    "flash.timeout.init": 0.5,
    "flash.timeout.program": 0.5,
    "flash.timeout.erase_sector": 0.5,
    "flash.timeout.erase_all": 0.5,
    "flash.timeout.analyzer": 0.5,
}


def program(unit: SimUnit, path: Path, **kwargs: Any) -> None:
    with session_for(unit) as session:
        FileProgrammer(session).program(str(path), **kwargs)


def assert_images_in_flash(unit: SimUnit, firmware: DemoFirmware) -> None:
    for image in firmware.images:
        assert unit.read_nvm(image.address, image.size) == image.data, image.name


def lock_and_reset(unit: SimUnit) -> None:
    with session_for(unit) as session:
        session.target.write_uicr(board.UICR_APPROTECT, 0x00)
        session.target.reset()


def ctrl_ap_erase_all(unit: SimUnit) -> None:
    """What a supervisor's rework does: the Nordic CTRL-AP erase, the only way past APPROTECT."""
    options = {"target_override": "cortex_m", "allow_no_cores": True}
    with session_for(unit, **options) as session:
        ctrl_ap = session.target.dp.aps[1]
        ctrl_ap.write_reg(0x04, 1)
        while ctrl_ap.read_reg(0x08) != 0:
            pass
        ctrl_ap.write_reg(0x00, 1)
        ctrl_ap.write_reg(0x00, 0)


def approtect_status(unit: SimUnit) -> int:
    options = {"target_override": "cortex_m", "allow_no_cores": True}
    with session_for(unit, **options) as session:
        return int(session.target.dp.aps[1].read_reg(0x0C))


@pytest.fixture
def unit(sim_store: SimUnitStore) -> Iterator[SimUnit]:
    created = sim_store.create_unit()
    yield created
    created.close()


def set_faults(unit: SimUnit, **faults: Any) -> None:
    with unit.locked():
        unit.info.faults = Faults(**faults)


# ---- programming ------------------------------------------------------------------------------


def test_file_programmer_programs_bin_files_at_their_addresses(unit: SimUnit, demo_firmware: DemoFirmware) -> None:
    with session_for(unit) as session:
        programmer = FileProgrammer(session)
        for image in demo_firmware.images:
            programmer.program(str(image.bin_path), file_format="bin", base_address=image.address)
    assert_images_in_flash(unit, demo_firmware)


@pytest.mark.parametrize("kind", ["hex", "elf"])
def test_file_programmer_programs_hex_and_elf(unit: SimUnit, demo_firmware: DemoFirmware, kind: str) -> None:
    program(unit, demo_firmware.hex_path if kind == "hex" else demo_firmware.elf_path)
    assert_images_in_flash(unit, demo_firmware)


def test_debugger_reads_back_what_was_programmed(unit: SimUnit, demo_firmware: DemoFirmware) -> None:
    program(unit, demo_firmware.hex_path)
    application = demo_firmware.application
    with session_for(unit) as session:
        read_back = bytes(session.target.read_memory_block8(application.address, application.size))
    assert hashlib.sha256(read_back).hexdigest() == application.sha256


def _program_with_builder(session: Session, address: int, data: bytes) -> Any:
    flash = session.target.memory_map.get_boot_memory().flash
    builder = flash.get_flash_builder()
    builder.add_data(address, list(data))
    builder.erase(smart_flash=True)  # what FlashLoader.commit() does before programming
    return builder.program(smart_flash=True)


def test_programming_the_same_image_again_reports_identical_pages(unit: SimUnit, demo_firmware: DemoFirmware) -> None:
    application = demo_firmware.application
    pages = application.size // board.PAGE_SIZE
    with session_for(unit) as session:
        first = _program_with_builder(session, application.address, application.data)
        second = _program_with_builder(session, application.address, application.data)
    assert first.program_page_count == pages and first.skipped_page_count == 0
    assert second.skipped_page_count == pages and second.program_page_count == 0

    # The CRC analyzer really ran on the emulated core: damage one page behind pyOCD's back
    # and exactly that page is no longer identical.
    with unit.locked():
        unit.program_nvm(application.address + 5 * board.PAGE_SIZE + 16, b"\x00\x00\x00\x00")
    with session_for(unit) as session:
        third = _program_with_builder(session, application.address, application.data)
    assert third.skipped_page_count == pages - 1 and third.program_page_count == 1
    assert unit.read_nvm(application.address, application.size) == application.data


def test_flash_bits_only_go_from_one_to_zero(unit: SimUnit) -> None:
    with unit.locked():
        unit.program_nvm(0x2000, bytes([0b1100_1100]))
        unit.program_nvm(0x2000, bytes([0b1010_1010]))
    assert unit.read_nvm(0x2000, 1) == bytes([0b1000_1000])


def test_unit_identity_is_readable_from_ficr(unit: SimUnit) -> None:
    with session_for(unit) as session:
        low, high = session.target.read_memory_block32(board.FICR_DEVICEID, 2)
        part = session.target.read32(board.FICR_PART)
    assert (high << 32) | low == unit.info.device_id
    assert part == 0x52840


def test_each_unit_has_its_own_device_id(sim_store: SimUnitStore) -> None:
    ids = {sim_store.create_unit().info.device_id for _ in range(5)}
    assert len(ids) == 5


def test_a_unit_opened_while_it_is_being_created_is_never_seen_half_made(sim_store: SimUnitStore) -> None:
    """Regression: the demo line opened a unit while another thread created it and mapped a
    counters file of length 0 ("mmap length is greater than file size")."""
    import threading

    failures: list[BaseException] = []
    stop = threading.Event()

    def open_every_listed_unit() -> None:
        while not stop.is_set():
            for unit_id in sim_store.unit_ids():
                try:
                    sim_store.open_unit(unit_id).close()
                except BaseException as error:  # collected and asserted below
                    failures.append(error)

    readers = [threading.Thread(target=open_every_listed_unit) for _ in range(3)]
    for reader in readers:
        reader.start()
    try:
        for _ in range(30):
            sim_store.create_unit().close()
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    assert failures == []
    # And a unit from before counters were kept still opens (the file is made on first open).
    unit = sim_store.create_unit()
    unit.close()
    (unit.directory / "counters.bin").unlink()
    reopened = sim_store.open_unit(unit.unit_id)
    assert reopened.nvm_busy_seconds == 0.0
    reopened.close()


# ---- locking and erasing ----------------------------------------------------------------------


def test_approtect_takes_effect_at_reset_and_leaves_flash_untouched(unit: SimUnit, demo_firmware: DemoFirmware) -> None:
    program(unit, demo_firmware.hex_path)
    with session_for(unit) as session:
        session.target.write_uicr(board.UICR_APPROTECT, 0x00)
        # Not yet locked: protection latches at the next reset.
        assert approtect_status_in(session) == 1
        assert session.target.read32(demo_firmware.application.address) != 0
        session.target.reset()
    flash_before = unit.read_nvm(0, board.FLASH_SIZE)

    assert approtect_status(unit) == 0
    # Exactly what pyOCD does with auto_unlock=False on a locked nRF52.
    with pytest.raises(KeyError, match="no selected core"), session_for(unit):
        pass
    assert unit.reload().protected
    assert not unit.info.ever_erased
    assert unit.read_nvm(0, board.FLASH_SIZE) == flash_before


def approtect_status_in(session: Session) -> int:
    return int(session.target.dp.aps[1].read_reg(0x0C))


def test_locked_unit_refuses_memory_access_on_the_ahb_ap(unit: SimUnit, demo_firmware: DemoFirmware) -> None:
    program(unit, demo_firmware.hex_path)
    lock_and_reset(unit)
    options = {"target_override": "cortex_m", "allow_no_cores": True}
    with session_for(unit, **options) as session:
        ahb_ap = session.target.dp.aps[0]
        assert not ahb_ap.is_enabled
        with pytest.raises(exceptions.TransferFaultError):
            ahb_ap.read32(demo_firmware.application.address)


def test_ctrl_ap_erase_removes_credentials_and_marks_the_unit_for_life(
    unit: SimUnit, demo_firmware: DemoFirmware
) -> None:
    program(unit, demo_firmware.hex_path)
    with unit.locked():
        unit.program_nvm(board.CREDENTIALS_ADDRESS, b"SCRD" + b"\x01" * 60)
    lock_and_reset(unit)

    ctrl_ap_erase_all(unit)

    info = unit.reload()
    assert info.ever_erased and not info.protected
    assert unit.read_nvm(board.CREDENTIALS_ADDRESS, board.CREDENTIALS_SIZE) == b"\xff" * board.CREDENTIALS_SIZE
    assert unit.read_nvm(0, board.FLASH_SIZE) == b"\xff" * board.FLASH_SIZE
    assert unit.read_nvm(board.UICR_BASE, board.UICR_SIZE) == b"\xff" * board.UICR_SIZE
    assert approtect_status(unit) == 1
    # Unlocked again: the debugger can program it (as a development unit).
    program(unit, demo_firmware.hex_path)
    assert unit.reload().ever_erased


# ---- faults -------------------------------------------------------------------------------------


def test_dropped_writes_pass_programming_and_are_caught_only_by_reading_back(
    unit: SimUnit, demo_firmware: DemoFirmware
) -> None:
    application = demo_firmware.application
    dropped = (application.address + 0x2000, application.address + 0x3000)
    set_faults(unit, drop_writes=dropped)
    program(unit, demo_firmware.hex_path)  # pyOCD reports success: it does not verify
    read_back = unit.read_nvm(application.address, application.size)
    assert read_back != application.data
    offset = dropped[0] - application.address
    assert read_back[offset : offset + 0x1000] == b"\xff" * 0x1000
    assert read_back[:offset] == application.data[:offset]


def test_dropped_writes_inside_a_page_leave_only_those_words_erased(sim_store: SimUnitStore) -> None:
    """The NVMC model programs a page at once; a dropped range is cut out word-exactly, and
    every word the algorithm stored is charged a word write's time, the dropped ones and the
    erased value stored over erased words too."""
    unit = sim_store.create_unit(timing_factor=1.0)
    address = 0x8_0000
    data = bytes(range(256)) * 16
    data = data[:0x40] + b"\xff" * 8 + data[0x48:]  # two words the algorithm stores erased
    dropped = (address + 0x0A4, address + 0x0B0)  # three words in the middle of the page
    try:
        set_faults(unit, drop_writes=dropped)
        busy_before = unit.nvm_busy_seconds
        with session_for(unit) as session:
            loader = FlashLoader(session, progress=lambda _fraction: None, smart_flash=False)
            loader.add_data(address, data)
            loader.commit()
        read_back = unit.read_nvm(address, len(data))
        busy = unit.nvm_busy_seconds - busy_before
    finally:
        unit.close()
    low, high = dropped[0] - address, dropped[1] - address
    assert read_back[:low] == data[:low]
    assert read_back[low:high] == b"\xff" * (high - low)
    assert read_back[high:] == data[high:]
    words = len(data) // 4  # every word of the page is one store of the algorithm
    assert busy == pytest.approx(board.PAGE_ERASE_SECONDS + words * board.WORD_WRITE_SECONDS)


def test_transfer_fault_at_an_address(unit: SimUnit) -> None:
    set_faults(unit, transfer_fault_address=0x4_0010)
    with session_for(unit) as session:
        session.target.read_memory_block8(0x4_0100, 16)  # elsewhere is fine
        with pytest.raises(exceptions.TransferFaultError) as raised:
            session.target.read_memory_block8(0x4_0000, 64)
    assert raised.value.fault_address == 0x4_0010


def test_probe_disconnects_after_a_number_of_bytes(unit: SimUnit, demo_firmware: DemoFirmware) -> None:
    set_faults(unit, disconnect_after_bytes=20_000)
    with pytest.raises(exceptions.ProbeDisconnected):
        program(unit, demo_firmware.hex_path)


def test_flash_algorithm_that_never_returns_times_out(unit: SimUnit, demo_firmware: DemoFirmware) -> None:
    set_faults(unit, algo_hang=True)
    with pytest.raises(exceptions.Error), session_for(unit, **SHORT_FLASH_TIMEOUTS) as session:
        FileProgrammer(session).program(str(demo_firmware.hex_path))
    assert unit.read_nvm(demo_firmware.application.address, 16) == b"\xff" * 16


def test_unit_that_resets_by_itself_breaks_programming(unit: SimUnit, demo_firmware: DemoFirmware) -> None:
    boots_before = unit.info.boot_count
    set_faults(unit, reset_after_transfers=200)
    with pytest.raises(exceptions.Error), session_for(unit, **SHORT_FLASH_TIMEOUTS) as session:
        FileProgrammer(session).program(str(demo_firmware.hex_path))
    assert unit.reload().boot_count > boots_before
    assert unit.read_nvm(demo_firmware.application.address, demo_firmware.application.size) != (
        demo_firmware.application.data
    )


# ---- processes ----------------------------------------------------------------------------------

_WORKER = textwrap.dedent(
    """
    import sys
    from pyocd.core import exceptions
    from pyocd.core.helpers import ConnectHelper
    from pyocd.flash.file_programmer import FileProgrammer
    probe, path, address, resets = sys.argv[1], sys.argv[2], int(sys.argv[3], 0), int(sys.argv[4])
    options = {"auto_unlock": False}
    with ConnectHelper.session_with_chosen_probe(unique_id=probe, options=options) as session:
        if resets == 0:
            FileProgrammer(session).program(path, file_format="bin", base_address=address)
        expected = open(path, "rb").read()
        for _ in range(resets):
            for left in reversed(range(5)):
                try:
                    session.target.reset_and_halt()
                    break
                except exceptions.Error:
                    # The other debugger reset the core between this one's halt and its register
                    # read (a real chip with two debuggers on it does the same): reset again.
                    if not left:
                        raise
            assert bytes(session.target.read_memory_block8(address, len(expected))) == expected
    """
)


def test_two_processes_working_on_one_unit_leave_it_consistent(unit: SimUnit, tmp_path: Path) -> None:
    first = bytes(range(256)) * 64  # 16 KiB
    second = hashlib.sha256(b"second").digest() * 512  # 16 KiB
    (tmp_path / "first.bin").write_bytes(first)
    (tmp_path / "second.bin").write_bytes(second)
    resets = 15
    env = {**os.environ}

    def start(name: str, address: int, count: int) -> subprocess.Popen[bytes]:
        arguments = [unit.probe_id, str(tmp_path / name), hex(address), str(count)]
        return subprocess.Popen(
            [sys.executable, "-c", _WORKER, *arguments], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )

    # The unit has one core and one RAM, as a chip does: two debuggers do not run flash
    # algorithms on it at the same time. Each programs its image in turn; then both reset and
    # read the unit concurrently, each finding what the other process programmed.
    images = (("first.bin", 0x2_0000), ("second.bin", 0x4_0000))
    for name, address in images:
        programmer = start(name, address, 0)
        output, _ = programmer.communicate(timeout=120)
        assert programmer.returncode == 0, output.decode(errors="replace")
    workers = [start(name, address, resets) for name, address in images]
    for worker in workers:
        output, _ = worker.communicate(timeout=120)
        assert worker.returncode == 0, output.decode(errors="replace")
    assert unit.read_nvm(0x2_0000, len(first)) == first
    assert unit.read_nvm(0x4_0000, len(second)) == second
    # Every reset of both processes was counted: no lost update of the unit's state file.
    assert unit.reload().boot_count >= 2 * resets


# ---- stock pyOCD command-line tools ---------------------------------------------------------------


def run_pyocd(*arguments: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pyocd", *arguments],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.slow
def test_stock_pyocd_list_load_and_mass_erase(unit: SimUnit, demo_firmware: DemoFirmware) -> None:
    listing = run_pyocd("list")
    assert listing.returncode == 0 and unit.unit_id in listing.stdout

    loaded = run_pyocd("load", "-u", unit.probe_id, str(demo_firmware.hex_path))
    assert loaded.returncode == 0, loaded.stderr
    assert_images_in_flash(unit, demo_firmware)

    erased = run_pyocd("erase", "--mass", "-u", unit.probe_id)
    assert erased.returncode == 0, erased.stderr
    assert unit.read_nvm(0, board.FLASH_SIZE) == b"\xff" * board.FLASH_SIZE
    assert unit.reload().ever_erased


@pytest.mark.slow
def test_stock_pyocd_server_serves_a_remote_client(unit: SimUnit, demo_firmware: DemoFirmware) -> None:
    import socket

    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        port = probe_socket.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "pyocd", "server", "-u", unit.probe_id, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert server.stdout is not None
        for line in server.stdout:
            if "Serving debug probe" in line:
                break
        loaded = run_pyocd("load", "-u", f"remote:localhost:{port}", "-t", "nrf52840", str(demo_firmware.elf_path))
        assert loaded.returncode == 0, loaded.stderr
        device_id = run_pyocd(
            "cmd", "-u", f"remote:localhost:{port}", "-t", "nrf52840", "-c", f"read32 0x{board.FICR_DEVICEID:X} 8"
        )
        assert device_id.returncode == 0, device_id.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert_images_in_flash(unit, demo_firmware)
    low, high = unit.info.device_id & 0xFFFFFFFF, unit.info.device_id >> 32
    assert f"{low:08x} {high:08x}" in device_id.stdout


# ---- the plugin and pyOCD's plugin loading ----------------------------------------------------------


def test_every_simulation_module_can_be_the_first_one_imported() -> None:
    """Importing pyOCD loads this package's probe plugin; whichever module of the package a
    program imports first, neither it nor the plugin is found half-made."""
    import pkgutil

    import station.sim

    modules = [f"station.sim.{info.name}" for info in pkgutil.iter_modules(station.sim.__path__)]
    modules.append("station.drivers.probe")
    processes = {
        module: subprocess.Popen(
            [sys.executable, "-c", f"import {module}"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        for module in modules
    }
    failures = {}
    for module, process in processes.items():
        output, _ = process.communicate(timeout=120)
        if process.returncode != 0:
            failures[module] = output.decode(errors="replace").strip().splitlines()[-1]
    assert "station.sim.probe" in processes
    assert failures == {}


def test_closing_a_unit_twice_leaves_other_files_alone(sim_store: SimUnitStore, tmp_path: Path) -> None:
    """A second close() must not close descriptors the first one freed and someone reused."""
    unit = sim_store.create_unit()
    unit.close()
    others = [os.open(tmp_path / f"other-{index}", os.O_RDWR | os.O_CREAT) for index in range(8)]
    try:
        unit.close()
        for fd in others:
            os.fstat(fd)  # still open: raises OSError (EBADF) if the second close took it
    finally:
        for fd in others:
            os.close(fd)
