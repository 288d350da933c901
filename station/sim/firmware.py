"""The demo firmware for the simulated board: real programs, padded to size from a seed.

The bootloader and the application images each start with a real program built from the C
sources in ``firmware/demo/`` for the unit's chip family (:mod:`station.sim.firmware_build`;
the built programs are committed under ``resources/firmware/``, so no toolchain is needed
here): real vector tables (initial stack pointer at the top of RAM), a bootloader that starts
the application, and an application that enables the FPU, runs SysTick and sends a boot
banner through the family's UART (the nRF52840's UARTE0, the STM32F429's USART1). The images
sit where the family's product layout (:attr:`station.sim.chips.base.ChipModel.product`) puts
bootloader, application header and application. After
the program come an identification string and then pseudo-random bytes from SHAKE-256 of the
seed, up to the requested size, so that images of any size (the benchmarks' ``app_size``) can
be flashed, verified and pinned in a recipe. The application header (``SAPH``) describes the
application so the unit's firmware can tell whether the application is intact.

The same inputs always give byte-identical files, in three formats a recipe may use:

* BIN: ``bootloader.bin``, ``app-header.bin``, ``application.bin`` (one image each);
* Intel HEX: ``firmware.hex``, all three images at their load addresses;
* ELF: ``firmware.elf``, ELF32 little-endian ARM with one ``PT_LOAD`` segment and one
  ``SHF_ALLOC`` ``SHT_PROGBITS`` section per image. It is written by the small writer below
  because no well-kept ELF-writing library exists; pyOCD's loader reads the segments, its
  ``ELFBinaryFile`` and pyelftools read the sections. It has no symbols: a debugger takes the
  committed programs' ELFs (:attr:`DemoFirmware.bootloader_symbols`,
  :attr:`DemoFirmware.application_symbols`), whose loadable bytes are where each image starts.
"""

from __future__ import annotations

import hashlib
import io
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from intelhex import IntelHex

from station.domain.errors import SimulationError
from station.domain.formats import ApplicationHeader
from station.sim import board
from station.sim.chips import DEFAULT_TARGET, chip_for
from station.sim.firmware_build import committed_elf, committed_program, family_for

BOOTLOADER_IMAGE_SIZE: Final = 16 * 1024
# The nRF52840's (the other families' are in the tests of their firmware).
INITIAL_STACK_POINTER: Final = board.RAM_BASE + board.RAM_SIZE  # 0x20040000, top of RAM
VECTOR_COUNT: Final = 16 + 48  # Cortex-M system exceptions + nRF52840 interrupts

BOOTLOADER_FILE: Final = "bootloader.bin"
APP_HEADER_FILE: Final = "app-header.bin"
APPLICATION_FILE: Final = "application.bin"
HEX_FILE: Final = "firmware.hex"
ELF_FILE: Final = "firmware.elf"


@dataclass(frozen=True)
class FirmwareImage:
    """One image with the address it loads at and the digest a recipe pins."""

    name: str
    address: int
    data: bytes = field(repr=False)
    sha256: str
    bin_path: Path

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def end(self) -> int:
        """First address after the image."""
        return self.address + len(self.data)


@dataclass(frozen=True)
class DemoFirmware:
    """Everything :func:`build_demo_firmware` wrote, with the digests a recipe needs."""

    directory: Path
    target: str  # the pyOCD target (chip family) the programs are built for
    firmware_version: str
    bootloader: FirmwareImage
    app_header: FirmwareImage
    application: FirmwareImage
    header: ApplicationHeader
    hex_path: Path
    elf_path: Path
    hex_sha256: str
    elf_sha256: str
    # The committed programs' ELFs, with symbols: what a debugger loads (``break heartbeat``).
    bootloader_symbols: Path
    application_symbols: Path

    @property
    def images(self) -> tuple[FirmwareImage, FirmwareImage, FirmwareImage]:
        """Images in address order."""
        return (self.bootloader, self.app_header, self.application)

    @property
    def image_sha256(self) -> dict[str, str]:
        """SHA-256 hex per image name, as a recipe pins them."""
        return {image.name: image.sha256 for image in self.images}


def build_demo_firmware(
    out_dir: Path,
    *,
    app_size: int = 64 * 1024,
    firmware_version: str = "1.4.2",
    seed: str = "demo",
    target: str = DEFAULT_TARGET,
) -> DemoFirmware:
    """Write the demo bootloader, application header and application for ``target`` (a
    simulated chip family) in BIN, HEX and ELF."""
    if not firmware_version or len(firmware_version.encode("utf-8")) > 32:
        raise SimulationError("firmware version must be 1 to 32 bytes of UTF-8")
    family = family_for(target)
    product = chip_for(target).product
    bootloader_prefix = _image_prefix(committed_program(family.bootloader), f"Gecko OS-sim bootloader, seed {seed}")
    application_prefix = _image_prefix(
        committed_program(family.application), f"Gecko OS-sim demo application {firmware_version}"
    )
    if app_size % 4 or not len(application_prefix) <= app_size <= product.application.size:
        raise SimulationError(
            f"application size must be a multiple of 4 between {len(application_prefix)} "
            f"and {product.application.size} bytes"
        )
    if len(bootloader_prefix) > min(BOOTLOADER_IMAGE_SIZE, product.bootloader.size):
        raise SimulationError("the bootloader program does not fit its image")

    bootloader = _pad(bootloader_prefix, BOOTLOADER_IMAGE_SIZE, stream_label=f"bootloader\0{seed}")
    application = _pad(application_prefix, app_size, stream_label=f"application\0{seed}\0{firmware_version}")
    header = ApplicationHeader.for_image(product.application.base, application, firmware_version)
    header_bytes = header.encode()
    if len(header_bytes) > product.app_header.size:
        raise SimulationError("application header does not fit its region")

    out_dir.mkdir(parents=True, exist_ok=True)
    images = (
        _write_image(out_dir / BOOTLOADER_FILE, "bootloader", product.bootloader.base, bootloader),
        _write_image(out_dir / APP_HEADER_FILE, "app-header", product.app_header.base, header_bytes),
        _write_image(out_dir / APPLICATION_FILE, "application", product.application.base, application),
    )
    entry = int.from_bytes(bootloader[4:8], "little")

    hex_path = out_dir / HEX_FILE
    hex_bytes = _intel_hex(images, entry)
    hex_path.write_bytes(hex_bytes)

    elf_path = out_dir / ELF_FILE
    elf_bytes = elf32_arm_image(
        [
            ElfSegment(".bootloader", product.bootloader.base, bootloader, executable=True),
            ElfSegment(".app_header", product.app_header.base, header_bytes, executable=False),
            ElfSegment(".application", product.application.base, application, executable=True),
        ],
        entry=entry,
    )
    elf_path.write_bytes(elf_bytes)

    return DemoFirmware(
        directory=out_dir,
        target=target,
        firmware_version=firmware_version,
        bootloader=images[0],
        app_header=images[1],
        application=images[2],
        header=header,
        hex_path=hex_path,
        elf_path=elf_path,
        hex_sha256=hashlib.sha256(hex_bytes).hexdigest(),
        elf_sha256=hashlib.sha256(elf_bytes).hexdigest(),
        bootloader_symbols=committed_elf(family.bootloader),
        application_symbols=committed_elf(family.application),
    )


def _image_prefix(program: bytes, identification: str) -> bytes:
    """The program (vector table first), then a NUL-terminated identification string, word aligned."""
    prefix = program + b"\0" * (-len(program) % 4) + identification.encode("utf-8") + b"\0"
    return prefix + b"\0" * (-len(prefix) % 4)


def _pad(prefix: bytes, size: int, *, stream_label: str) -> bytes:
    """``prefix``, then seeded bytes up to ``size``."""
    return prefix + hashlib.shake_256(stream_label.encode("utf-8")).digest(size - len(prefix))


def _write_image(path: Path, name: str, address: int, data: bytes) -> FirmwareImage:
    path.write_bytes(data)
    return FirmwareImage(name, address, data, hashlib.sha256(data).hexdigest(), path)


def _intel_hex(images: Sequence[FirmwareImage], entry: int) -> bytes:
    """All images in one HEX file; written via a string so line ends never depend on the OS."""
    combined = IntelHex()
    for image in images:
        combined.frombytes(image.data, offset=image.address)
    combined.start_addr = {"EIP": entry}
    text = io.StringIO()
    combined.write_hex_file(text, write_start_addr=True, eolstyle="native", byte_count=16)
    return text.getvalue().encode("ascii")


# ---- a minimal ELF32 writer -------------------------------------------------------------------

_ELF_HEADER = struct.Struct("<16sHHIIIIIHHHHHH")
_PROGRAM_HEADER = struct.Struct("<IIIIIIII")
_SECTION_HEADER = struct.Struct("<IIIIIIIIII")
_ET_EXEC = 2
_EM_ARM = 40
_EF_ARM_EABI_VER5_SOFT_FLOAT = 0x0500_0200
_PT_LOAD = 1
_PF_X, _PF_R = 1, 4
_SHT_PROGBITS, _SHT_STRTAB = 1, 3
_SHF_ALLOC, _SHF_EXECINSTR = 0x2, 0x4
_ALIGNMENT = 4


@dataclass(frozen=True)
class ElfSegment:
    """One loadable piece of an ELF image: becomes a PT_LOAD segment and a PROGBITS section."""

    name: str
    address: int
    data: bytes = field(repr=False)
    executable: bool


def elf32_arm_image(segments: Sequence[ElfSegment], *, entry: int) -> bytes:
    """An ELF32 little-endian ARM executable holding ``segments`` at their addresses.

    Layout: ELF header, program headers, the segments' data (each 4-byte aligned), the
    section-name string table, then section headers (null, one per segment, ``.shstrtab``).
    """
    for segment in segments:
        if segment.address % _ALIGNMENT:
            raise SimulationError("ELF segment address is not word aligned", address=segment.address)

    names = bytearray(b"\0")
    name_offsets: list[int] = []
    for segment in segments:
        name_offsets.append(len(names))
        names += segment.name.encode("ascii") + b"\0"
    shstrtab_name = len(names)
    names += b".shstrtab\0"

    headers_size = _ELF_HEADER.size + _PROGRAM_HEADER.size * len(segments)
    body = bytearray()
    data_offsets: list[int] = []
    for segment in segments:
        body += b"\0" * (-(headers_size + len(body)) % _ALIGNMENT)
        data_offsets.append(headers_size + len(body))
        body += segment.data
    names_offset = headers_size + len(body)
    body += names
    body += b"\0" * (-(headers_size + len(body)) % _ALIGNMENT)
    section_headers_offset = headers_size + len(body)

    program_headers = b"".join(
        _PROGRAM_HEADER.pack(
            _PT_LOAD,
            data_offset,
            segment.address,
            segment.address,
            len(segment.data),
            len(segment.data),
            _PF_R | (_PF_X if segment.executable else 0),
            _ALIGNMENT,
        )
        for segment, data_offset in zip(segments, data_offsets, strict=True)
    )
    section_headers = [_SECTION_HEADER.pack(0, 0, 0, 0, 0, 0, 0, 0, 0, 0)]
    for segment, data_offset, name_offset in zip(segments, data_offsets, name_offsets, strict=True):
        flags = _SHF_ALLOC | (_SHF_EXECINSTR if segment.executable else 0)
        section_headers.append(
            _SECTION_HEADER.pack(
                name_offset,
                _SHT_PROGBITS,
                flags,
                segment.address,
                data_offset,
                len(segment.data),
                0,
                0,
                _ALIGNMENT,
                0,
            )
        )
    section_headers.append(_SECTION_HEADER.pack(shstrtab_name, _SHT_STRTAB, 0, 0, names_offset, len(names), 0, 0, 1, 0))

    identification = b"\x7fELF" + bytes([1, 1, 1, 0]) + b"\0" * 8  # ELFCLASS32, LSB, version 1
    header = _ELF_HEADER.pack(
        identification,
        _ET_EXEC,
        _EM_ARM,
        1,
        entry,
        _ELF_HEADER.size,
        section_headers_offset,
        _EF_ARM_EABI_VER5_SOFT_FLOAT,
        _ELF_HEADER.size,
        _PROGRAM_HEADER.size,
        len(segments),
        _SECTION_HEADER.size,
        len(section_headers),
        len(section_headers) - 1,
    )
    return header + program_headers + bytes(body) + b"".join(section_headers)
