"""The demo firmware: real programs at the start of deterministic images, the same bytes in BIN, HEX and ELF."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import pytest
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection
from intelhex import IntelHex

from station.domain.errors import SimulationError
from station.domain.formats import ApplicationHeader
from station.sim import board
from station.sim.firmware import (
    APP_HEADER_FILE,
    APPLICATION_FILE,
    BOOTLOADER_FILE,
    ELF_FILE,
    HEX_FILE,
    INITIAL_STACK_POINTER,
    VECTOR_COUNT,
    DemoFirmware,
    build_demo_firmware,
)
from station.sim.firmware_build import APPLICATION, BOOTLOADER, committed_program

ALL_FILES = (BOOTLOADER_FILE, APP_HEADER_FILE, APPLICATION_FILE, HEX_FILE, ELF_FILE)


def expected_images(firmware: DemoFirmware) -> dict[int, bytes]:
    return {image.address: image.data for image in firmware.images}


def test_same_inputs_give_byte_identical_files(tmp_path: Path) -> None:
    first = build_demo_firmware(tmp_path / "a")
    second = build_demo_firmware(tmp_path / "b")
    for name in ALL_FILES:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    assert first.image_sha256 == second.image_sha256
    assert (first.hex_sha256, first.elf_sha256) == (second.hex_sha256, second.elf_sha256)


def test_seed_and_version_change_the_images(tmp_path: Path, demo_firmware: DemoFirmware) -> None:
    reseeded = build_demo_firmware(tmp_path / "seed", seed="other")
    assert reseeded.bootloader.sha256 != demo_firmware.bootloader.sha256
    assert reseeded.application.sha256 != demo_firmware.application.sha256
    newer = build_demo_firmware(tmp_path / "version", firmware_version="1.5.0")
    assert newer.bootloader.sha256 == demo_firmware.bootloader.sha256
    assert newer.application.sha256 != demo_firmware.application.sha256
    assert ApplicationHeader.decode(newer.app_header.data).firmware_version == "1.5.0"


def test_images_sit_where_the_board_expects_them(demo_firmware: DemoFirmware) -> None:
    bootloader, app_header, application = demo_firmware.images
    assert bootloader.address == board.BOOTLOADER_ADDRESS
    assert bootloader.size == 16 * 1024
    assert bootloader.end <= board.APP_HEADER_ADDRESS
    assert app_header.address == board.APP_HEADER_ADDRESS
    assert app_header.end <= board.APPLICATION_ADDRESS
    assert application.address == board.APPLICATION_ADDRESS
    assert application.size == 64 * 1024
    assert all(image.end <= board.CREDENTIALS_ADDRESS for image in demo_firmware.images)


def test_vector_tables_are_the_programs(demo_firmware: DemoFirmware) -> None:
    for image, program in ((demo_firmware.bootloader, BOOTLOADER), (demo_firmware.application, APPLICATION)):
        code = committed_program(program)
        stack_pointer, *vectors = struct.unpack_from(f"<{VECTOR_COUNT}I", image.data)
        assert stack_pointer == INITIAL_STACK_POINTER == 0x2004_0000
        handlers = [vector for number, vector in enumerate(vectors, start=1) if number not in {7, 8, 9, 10, 13}]
        assert len(handlers) == VECTOR_COUNT - 6
        for vector in handlers:
            assert vector & 1, "Cortex-M vectors are Thumb addresses"
            assert image.address + VECTOR_COUNT * 4 <= vector & ~1 < image.address + len(code), "inside the program"


def test_images_start_with_the_committed_programs_then_identify_themselves(demo_firmware: DemoFirmware) -> None:
    for image, program, identification in (
        (demo_firmware.bootloader, BOOTLOADER, b"Gecko OS-sim bootloader, seed demo\0"),
        (demo_firmware.application, APPLICATION, b"Gecko OS-sim demo application 1.4.2\0"),
    ):
        code = committed_program(program)
        assert image.data.startswith(code)
        text_start = len(code) + -len(code) % 4
        assert image.data[text_start : text_start + len(identification)] == identification


def test_symbol_elfs_hold_the_bytes_each_image_starts_with(demo_firmware: DemoFirmware) -> None:
    """A debugger loads the committed ELFs and finds the same code the unit was flashed with."""
    for image, path in (
        (demo_firmware.bootloader, demo_firmware.bootloader_symbols),
        (demo_firmware.application, demo_firmware.application_symbols),
    ):
        with path.open("rb") as stream:
            elf = ELFFile(stream)
            loads = [
                (segment["p_paddr"], segment.data())
                for segment in elf.iter_segments()
                if segment["p_type"] == "PT_LOAD" and segment["p_filesz"]
            ]
            assert loads, path
            for address, data in loads:
                offset = address - image.address
                assert 0 <= offset and image.data[offset : offset + len(data)] == data, (path.name, hex(address))
            table = elf.get_section_by_name(".symtab")
            assert isinstance(table, SymbolTableSection)
            symbols = {symbol.name: symbol["st_value"] for symbol in table.iter_symbols()}
        assert symbols["vector_table"] == image.address
    # The application ELF, last above: what a debugger breaks at and watches.
    assert board.APPLICATION_ADDRESS <= symbols["heartbeat"] & ~1 < demo_firmware.application.end
    assert (symbols["systick_count"], symbols["heartbeat_count"]) == (
        board.SYSTICK_COUNT_ADDRESS, board.HEARTBEAT_COUNT_ADDRESS,
    )


def test_small_images_hold_the_program_and_larger_ones_only_add_padding(tmp_path: Path) -> None:
    code = committed_program(APPLICATION)
    smallest = len(code) + -len(code) % 4 + len(b"Gecko OS-sim demo application 1.4.2\0")
    smallest += -smallest % 4
    small = build_demo_firmware(tmp_path / "small", app_size=smallest)
    large = build_demo_firmware(tmp_path / "large", app_size=smallest + 4096)
    assert large.application.data[:smallest] == small.application.data
    with pytest.raises(SimulationError, match=f"between {smallest} and"):
        build_demo_firmware(tmp_path / "too-small", app_size=smallest - 4)


def test_header_describes_the_application(demo_firmware: DemoFirmware) -> None:
    header = ApplicationHeader.decode(demo_firmware.app_header.data)
    assert header == demo_firmware.header
    assert header.firmware_version == "1.4.2"
    assert header.app_address == board.APPLICATION_ADDRESS
    assert header.matches(demo_firmware.application.data)


def test_bin_files_and_digests_match_the_images(demo_firmware: DemoFirmware) -> None:
    for image in demo_firmware.images:
        data = image.bin_path.read_bytes()
        assert data == image.data
        assert image.sha256 == hashlib.sha256(data).hexdigest()
    assert demo_firmware.hex_sha256 == hashlib.sha256(demo_firmware.hex_path.read_bytes()).hexdigest()
    assert demo_firmware.elf_sha256 == hashlib.sha256(demo_firmware.elf_path.read_bytes()).hexdigest()
    assert set(demo_firmware.image_sha256) == {"bootloader", "app-header", "application"}


def test_hex_holds_the_same_bytes_at_the_same_addresses(demo_firmware: DemoFirmware) -> None:
    parsed = IntelHex(str(demo_firmware.hex_path))
    images = expected_images(demo_firmware)
    assert len(parsed) == sum(len(data) for data in images.values())
    segments = parsed.segments()
    assert [start for start, _ in segments] == sorted(images)
    for start, end in segments:
        assert parsed.tobinstr(start=start, end=end - 1) == images[start]
    assert parsed.start_addr == {"EIP": struct.unpack_from("<I", demo_firmware.bootloader.data, 4)[0]}


def test_elf_segments_and_sections_hold_the_images(demo_firmware: DemoFirmware) -> None:
    images = expected_images(demo_firmware)
    with demo_firmware.elf_path.open("rb") as stream:
        elf = ELFFile(stream)
        assert elf.elfclass == 32
        assert elf.little_endian
        assert elf["e_machine"] == "EM_ARM"
        assert elf["e_type"] == "ET_EXEC"
        # What pyOCD's FileProgrammer programs: PT_LOAD segments at their physical address.
        loads = {
            segment["p_paddr"]: segment.data()
            for segment in elf.iter_segments()
            if segment["p_type"] == "PT_LOAD" and segment["p_filesz"]
        }
        assert loads == images
        sections = {
            section["sh_addr"]: (section.name, section.data())
            for section in elf.iter_sections()
            if section["sh_type"] == "SHT_PROGBITS" and section["sh_flags"] & SH_FLAGS.SHF_ALLOC
        }
        assert {address: data for address, (_, data) in sections.items()} == images
        assert sorted(name for name, _ in sections.values()) == [".app_header", ".application", ".bootloader"]
        assert elf.get_section_by_name(".shstrtab") is not None


def test_pyocd_elf_reader_sees_the_images(demo_firmware: DemoFirmware) -> None:
    from pyocd.debug.elf.elf import ELFBinaryFile

    images = expected_images(demo_firmware)
    with demo_firmware.elf_path.open("rb") as stream:
        elf = ELFBinaryFile(stream)
        assert {section.start: bytes(section.data) for section in elf.sections} == images
        for address, data in images.items():
            assert bytes(elf.read(address, len(data))) == data


@pytest.mark.parametrize("app_size", [0, 100, 64 * 1024 + 2, board.APPLICATION_SIZE + 4])
def test_rejects_impossible_application_sizes(tmp_path: Path, app_size: int) -> None:
    with pytest.raises(SimulationError):
        build_demo_firmware(tmp_path, app_size=app_size)


def test_rejects_a_version_the_header_cannot_hold(tmp_path: Path) -> None:
    with pytest.raises(SimulationError):
        build_demo_firmware(tmp_path, firmware_version="v" * 33)
