"""The demo firmware's programs: a reproducible build whose committed outputs match their sources,
and programs that really boot (run here in a bare unicorn engine up to the application's main loop)."""

from __future__ import annotations

import re
import shutil
import struct
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection
from unicorn import UC_ARCH_ARM, UC_HOOK_MEM_WRITE, UC_MODE_MCLASS, UC_MODE_THUMB, Uc
from unicorn.arm_const import UC_ARM_REG_PC, UC_ARM_REG_SP

from station.domain.errors import SimulationError
from station.sim import board
from station.sim.chips import chip_for
from station.sim.firmware import INITIAL_STACK_POINTER, DemoFirmware
from station.sim.firmware_build import (
    COMMITTED_DIR,
    FAMILIES,
    FLAGS,
    MANIFEST_FILE,
    OUTPUT_FILES,
    PREFIX_MAP_FLAG,
    SOURCE_DIR,
    SOURCE_FILES,
    BuildManifest,
    build_firmware,
    committed_file,
    differences,
    main,
    read_manifest,
    stale_sources,
    toolchain_versions,
)

TOOLCHAIN = toolchain_versions()
needs_toolchain = pytest.mark.skipif(
    TOOLCHAIN is None, reason="arm-none-eabi-gcc is missing (Debian gcc-arm-none-eabi; scripts/test installs it)"
)


def copy_sources(destination: Path) -> Path:
    destination.mkdir(parents=True)
    for name in SOURCE_FILES:
        (destination / name).parent.mkdir(exist_ok=True)  # the family's folder (nrf52840/)
        shutil.copyfile(SOURCE_DIR / name, destination / name)
    return destination


def copy_committed(destination: Path) -> Path:
    destination.mkdir(parents=True)
    for name in (*OUTPUT_FILES, MANIFEST_FILE):
        shutil.copyfile(COMMITTED_DIR / name, destination / name)
    return destination


# ---- the committed build and its record (no toolchain needed) ---------------------------------


def test_committed_build_record_matches_the_sources_and_outputs() -> None:
    manifest = read_manifest()
    assert stale_sources() == [], "firmware/demo changed: run `python -m station.sim.firmware_build` and commit"
    assert set(manifest.sources) == set(SOURCE_FILES)
    assert manifest.flags == (*FLAGS, PREFIX_MAP_FLAG)
    assert set(manifest.outputs) == set(OUTPUT_FILES)
    for name in OUTPUT_FILES:
        committed_file(name)  # raises when the file differs from its recorded hash
    assert BuildManifest.from_json((COMMITTED_DIR / MANIFEST_FILE).read_text(encoding="utf-8")) == manifest
    assert manifest.to_json() == (COMMITTED_DIR / MANIFEST_FILE).read_text(encoding="utf-8")


def test_a_source_changed_without_rebuilding_is_caught(tmp_path: Path) -> None:
    sources = copy_sources(tmp_path / "firmware" / "demo")
    assert stale_sources(sources) == []
    application = sources / "application.c"
    application.write_text(application.read_text(encoding="utf-8").replace("100u", "50u"), encoding="utf-8")
    (sources / "registers.h").unlink()
    assert stale_sources(sources) == ["application.c", "registers.h"]


def test_a_committed_output_that_differs_from_its_record_is_refused(tmp_path: Path) -> None:
    committed = copy_committed(tmp_path / "committed")
    damaged = bytearray((committed / "application.bin").read_bytes())
    damaged[8] ^= 0x01
    (committed / "application.bin").write_bytes(bytes(damaged))
    with pytest.raises(SimulationError, match=r"application\.bin differs from build\.json"):
        committed_file("application.bin", committed)
    committed_file("bootloader.bin", committed)  # the others are still good
    (committed / "bootloader.elf").unlink()
    with pytest.raises(SimulationError, match=r"bootloader\.elf is missing"):
        committed_file("bootloader.elf", committed)


@pytest.mark.parametrize("text", ["", "{}", '{"compiler": 1}', "[]", "not json"])
def test_a_damaged_build_record_is_a_clear_error(text: str) -> None:
    with pytest.raises(SimulationError, match="not a firmware build record"):
        BuildManifest.from_json(text)


def test_without_the_toolchain_the_build_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(SimulationError, match="gcc-arm-none-eabi"):
        build_firmware(tmp_path / "out")
    assert not (tmp_path / "out").exists()
    assert toolchain_versions() is None


# ---- building (the toolchain) ------------------------------------------------------------------


@needs_toolchain
def test_builds_are_byte_identical_and_equal_the_committed_build(tmp_path: Path) -> None:
    # Two builds, from the repository and from a copy elsewhere (the source folder's path must
    # not reach the outputs), are identical. They equal the committed outputs only when this
    # machine's toolchain is the one build.json records: another gcc may emit other bytes, and
    # then the committed sources' hashes (test_committed_build_record_matches_...) are all
    # that can be checked against build.json.
    first = build_firmware(tmp_path / "first")
    second = build_firmware(tmp_path / "second", source_dir=copy_sources(tmp_path / "elsewhere" / "demo"))
    assert first == second
    for name in (*OUTPUT_FILES, MANIFEST_FILE):
        assert (tmp_path / "first" / name).read_bytes() == (tmp_path / "second" / name).read_bytes(), name

    committed = read_manifest()
    assert first.sources == committed.sources
    if TOOLCHAIN == (committed.compiler, committed.binutils):
        assert differences(first, committed) == []
        for name in (*OUTPUT_FILES, MANIFEST_FILE):
            assert (tmp_path / "first" / name).read_bytes() == (COMMITTED_DIR / name).read_bytes(), name


@needs_toolchain
@pytest.mark.skipif(TOOLCHAIN is None, reason="arm-none-eabi-gcc is missing (Debian gcc-arm-none-eabi)")
@pytest.mark.parametrize("target", [target for target in FAMILIES if target != "nrf52840"])
def test_every_other_family_s_build_is_reproducible_and_equals_its_committed_one(tmp_path: Path, target: str) -> None:
    family = FAMILIES[target]
    built = build_firmware(tmp_path / "out", family=family)
    committed = read_manifest(family.committed_dir)
    assert built.sources == committed.sources and built.board == target
    if TOOLCHAIN == (committed.compiler, committed.binutils):
        assert differences(built, committed) == []


def test_the_check_command_compares_a_fresh_build_with_the_committed_one(capsys: pytest.CaptureFixture[str]) -> None:
    committed = read_manifest()
    if TOOLCHAIN != (committed.compiler, committed.binutils):
        pytest.skip("this machine's toolchain is not the one build.json records: its bytes may differ")
    assert main(["--check"]) == 0
    assert capsys.readouterr().out == "the committed demo firmware is current\n"


@needs_toolchain
def test_a_failed_build_writes_nothing(tmp_path: Path) -> None:
    sources = copy_sources(tmp_path / "demo")
    application = sources / "application.c"
    broken = application.read_text(encoding="utf-8") + "\nint broken(void) { return }\n"
    application.write_text(broken, encoding="utf-8")
    with pytest.raises(SimulationError, match=r"compiling the application failed \(exit 1\): .*application\.c"):
        build_firmware(tmp_path / "out", source_dir=sources)
    assert not (tmp_path / "out").exists()


@needs_toolchain
def test_a_stale_source_shows_in_the_comparison_with_the_committed_build(tmp_path: Path) -> None:
    sources = copy_sources(tmp_path / "demo")
    application = sources / "application.c"
    application.write_text(application.read_text(encoding="utf-8").replace("1.5f", "2.5f"), encoding="utf-8")
    built = build_firmware(tmp_path / "out", source_dir=sources)
    found = differences(built, read_manifest())
    assert "source application.c differs" in found
    assert "output application.bin differs" in found
    assert "source bootloader.c differs" not in found


# ---- the programs boot: a bare unicorn engine ----------------------------------------------------

UARTE0 = 0x4000_2000
TASKS_STARTTX, TASKS_STOPTX = UARTE0 + 0x008, UARTE0 + 0x00C
EVENTS_ENDTX, EVENTS_TXSTOPPED = UARTE0 + 0x120, UARTE0 + 0x158
TXD_PTR, TXD_MAXCNT = UARTE0 + 0x544, UARTE0 + 0x548
VTOR, CPACR = 0xE000_ED08, 0xE000_ED88
SYST_CSR, SYST_RVR = 0xE000_E010, 0xE000_E014


class BareBoard:
    """Flash, RAM, peripherals and the SCS as plain memory; every write to a peripheral or the
    SCS recorded. The only behaviour: UARTE0 raises ENDTX on STARTTX and TXSTOPPED on STOPTX."""

    def __init__(self, images: dict[int, bytes]) -> None:
        self.engine = Uc(UC_ARCH_ARM, UC_MODE_THUMB | UC_MODE_MCLASS)
        for base, size in (
            (board.FLASH_BASE, board.FLASH_SIZE),
            (board.FICR_BASE, board.FICR_SIZE + board.UICR_SIZE),
            (board.RAM_BASE, board.RAM_SIZE),
            (0x4000_0000, 0x4_0000),  # APB peripherals
            (0x5000_0000, 0x1000),  # GPIO
            (0xE000_0000, 0x10_0000),  # private peripheral bus: the SCS
        ):
            self.engine.mem_map(base, size)
        self.engine.mem_write(board.FLASH_BASE, b"\xff" * board.FLASH_SIZE)
        for address, data in images.items():
            self.engine.mem_write(address, data)
        self.writes: list[tuple[int, int]] = []
        self.engine.hook_add(UC_HOOK_MEM_WRITE, self._on_write, begin=0x4000_0000, end=0xFFFF_FFFF)

    def _on_write(self, engine: Uc, access: int, address: int, size: int, value: int, data: object) -> None:
        self.writes.append((address, value))
        if (address, value) == (TASKS_STARTTX, 1):
            engine.mem_write(EVENTS_ENDTX, struct.pack("<I", 1))
        elif (address, value) == (TASKS_STOPTX, 1):
            engine.mem_write(EVENTS_TXSTOPPED, struct.pack("<I", 1))

    def run_from_reset(self, instructions: int) -> None:
        stack_pointer, reset_vector = struct.unpack("<II", self.engine.mem_read(0, 8))
        self.engine.reg_write(UC_ARM_REG_SP, stack_pointer)
        self.engine.emu_start(reset_vector | 1, 0xFFFF_FFFF, count=instructions)

    def last_write(self, address: int) -> int | None:
        values = [value for written, value in self.writes if written == address]
        return values[-1] if values else None

    def word(self, address: int) -> int:
        value: int = struct.unpack("<I", self.engine.mem_read(address, 4))[0]
        return value

    @property
    def pc(self) -> int:
        value: int = self.engine.reg_read(UC_ARM_REG_PC)
        return value

    @property
    def sp(self) -> int:
        value: int = self.engine.reg_read(UC_ARM_REG_SP)
        return value


def application_symbols(firmware: DemoFirmware) -> dict[str, tuple[int, int]]:
    """Name -> (address, size) from the committed application ELF."""
    with firmware.application_symbols.open("rb") as stream:
        table = ELFFile(stream).get_section_by_name(".symtab")
        assert isinstance(table, SymbolTableSection)
        return {symbol.name: (symbol["st_value"], symbol["st_size"]) for symbol in table.iter_symbols()}


@pytest.mark.parametrize("header", ["valid", "erased"])
def test_the_demo_images_boot_into_the_application_main_loop(demo_firmware: DemoFirmware, header: str) -> None:
    images = {image.address: image.data for image in demo_firmware.images}
    if header == "erased":
        del images[board.APP_HEADER_ADDRESS]
    bare = BareBoard(images)
    bare.run_from_reset(200_000)

    # The bootloader: the application's vector table is active, its stack is the main stack.
    assert bare.writes[0] == (VTOR, board.APPLICATION_ADDRESS)
    assert INITIAL_STACK_POINTER - 64 <= bare.sp <= INITIAL_STACK_POINTER
    # The application's start-up: FPU on, one float computation in RAM, SysTick at 1 kHz of 64 MHz.
    symbols = application_symbols(demo_firmware)
    assert bare.last_write(CPACR) == 0xF << 20
    assert struct.unpack("<f", bare.engine.mem_read(symbols["fpu_result"][0], 4)) == (3.25,)
    assert (bare.last_write(SYST_RVR), bare.last_write(SYST_CSR)) == (63_999, 7)
    # The banner, sent from RAM by EasyDMA.
    pointer, count = bare.last_write(TXD_PTR), bare.last_write(TXD_MAXCNT)
    assert pointer is not None and count is not None
    assert board.RAM_BASE <= pointer < board.RAM_BASE + board.RAM_SIZE
    banner = bytes(bare.engine.mem_read(pointer, count))
    if header == "valid":
        assert banner == f"Gecko OS-sim demo application {demo_firmware.firmware_version} booting\r\n".encode()
    else:
        assert banner == b"Gecko OS-sim demo application header invalid\r\n"
    assert bare.writes.index((TASKS_STARTTX, 1)) < bare.writes.index((TASKS_STOPTX, 1))
    # And now it sleeps in its main loop, its counters (no interrupts here) still zero.
    main_address, main_size = symbols["application_main"]
    assert main_address & ~1 <= bare.pc < (main_address & ~1) + main_size
    assert bare.word(board.SYSTICK_COUNT_ADDRESS) == bare.word(board.HEARTBEAT_COUNT_ADDRESS) == 0
    assert symbols["systick_count"][0] == board.SYSTICK_COUNT_ADDRESS
    assert symbols["heartbeat_count"][0] == board.HEARTBEAT_COUNT_ADDRESS


def test_the_bootloader_waits_when_there_is_no_application(demo_firmware: DemoFirmware) -> None:
    bare = BareBoard({board.BOOTLOADER_ADDRESS: demo_firmware.bootloader.data})
    bare.run_from_reset(10_000)
    assert bare.writes == []  # no VTOR write, no jump into erased flash
    assert bare.pc < len(committed_file("bootloader.bin").read_bytes())
    assert bare.sp == INITIAL_STACK_POINTER


@pytest.mark.parametrize("target", list(FAMILIES))
def test_each_family_s_firmware_and_simulated_core_agree_on_the_clock(target: str) -> None:
    """The demo firmware sets SysTick for 1 ms from its board's CPU_CLOCK_HZ; the simulated core
    counts time at its chip's clock out of reset. Were they to differ, the firmware's timeouts
    would run fast or slow against the station's."""
    board_header = (SOURCE_DIR / target / "board.h").read_text(encoding="utf-8")
    found = re.search(r"#define CPU_CLOCK_HZ (\d+)u", board_header)
    assert found is not None, "board.h defines no CPU_CLOCK_HZ"
    assert int(found.group(1)) == chip_for(target).clock_hz
