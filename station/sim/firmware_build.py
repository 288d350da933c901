"""The demo firmware's two programs, built from ``firmware/demo/`` with the Arm GNU toolchain.

The demo images start with real programs (a bootloader and an application, in C) so that a
simulated core runs what a real chip would. The C sources and the Cortex-M registers
(``registers.h``) are shared; each chip family has a folder of its own (``nrf52840/``,
``stm32f429xi/``, ``k64f/``, ``efr32mg12p433f1024gm68/``: ``board.h`` with its flash layout,
clock and UART, and the two linker scripts), put first on the include path when that family is
built (:class:`Family`).

The demo must run, and its recipe pin the same hashes, on a machine without the toolchain; so
each family's outputs are committed (``resources/firmware/demo/`` for the nRF52840,
``resources/firmware/<target>/`` for the others) next to a ``build.json`` that records the
compiler, the flags, the board folder and the SHA-256 of every source and every output, and
:func:`committed_program` reads them back only when they still match that record.
``python -m station.sim.firmware_build`` rebuilds every family (``--check`` builds afresh and
compares instead).

The build is reproducible: fixed flags, the source folder mapped to the fixed name
``firmware/demo`` in debug information (``-ffile-prefix-map``), no build id, the C locale and a
bare environment, so the same sources and toolchain give the same bytes wherever they are.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from elftools.common.exceptions import ELFError
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from station.domain.errors import SimulationError
from station.sim import board
from station.sim.chips import EFR32MG12, K64F, NRF52840, STM32F429XI, chip_for

REPOSITORY_DIR: Final = Path(__file__).resolve().parents[2]
SOURCE_DIR: Final = REPOSITORY_DIR / "firmware" / "demo"
FIRMWARE_DIR: Final = REPOSITORY_DIR / "resources" / "firmware"
COMMITTED_DIR: Final = FIRMWARE_DIR / "demo"  # the nRF52840's (the first family's, kept where it was)
MANIFEST_FILE: Final = "build.json"
MAPPED_SOURCE_NAME: Final = "firmware/demo"  # what debug information calls the source folder

COMPILER: Final = "arm-none-eabi-gcc"
OBJCOPY: Final = "arm-none-eabi-objcopy"
TOOLCHAIN_PACKAGE: Final = "gcc-arm-none-eabi"  # Debian; brings binutils-arm-none-eabi
_TOOL_TIMEOUT_SECONDS: Final = 120.0

# The target, then what makes a freestanding program (no libc: none is installed) that always
# builds the same way. -fno-tree-loop-distribute-patterns: gcc would turn the start-up copy
# loops into memcpy/memset calls, which do not exist without a libc.
FLAGS: Final = (
    "-mcpu=cortex-m4",
    "-mthumb",
    "-mfloat-abi=hard",
    "-mfpu=fpv4-sp-d16",
    "-Os",
    "-g",
    "-std=gnu11",
    "-ffreestanding",
    "-nostdlib",
    "-fno-common",
    "-fno-tree-loop-distribute-patterns",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Wl,--build-id=none",
)
PREFIX_MAP_FLAG: Final = f"-ffile-prefix-map=<source folder>={MAPPED_SOURCE_NAME}"  # as build.json records it


@dataclass(frozen=True)
class Program:
    """One program of the demo firmware for one family: its sources (relative to the source
    folder), where its vector table is linked, and where its build is committed."""

    name: str
    address: int
    region_size: int
    sources: tuple[str, ...]
    board: str  # the family's folder: its board.h and linker scripts
    committed_dir: Path
    fixed_symbols: tuple[tuple[str, int], ...] = ()  # (name, address) the board names

    @property
    def elf_file(self) -> str:
        return f"{self.name}.elf"

    @property
    def bin_file(self) -> str:
        return f"{self.name}.bin"

    @property
    def linker_script(self) -> str:
        return f"{self.board}/{self.name}.ld"


@dataclass(frozen=True)
class Family:
    """The demo firmware of one chip family (a pyOCD target): its two programs, built from the
    shared sources with the family's folder first on the include path."""

    target: str
    bootloader: Program
    application: Program

    @property
    def board(self) -> str:
        return self.bootloader.board

    @property
    def committed_dir(self) -> Path:
        return self.bootloader.committed_dir

    @property
    def programs(self) -> tuple[Program, Program]:
        return (self.bootloader, self.application)

    @property
    def source_files(self) -> tuple[str, ...]:
        return tuple(sorted({name for program in self.programs for name in program.sources}))

    @property
    def output_files(self) -> tuple[str, ...]:
        return tuple(sorted(name for program in self.programs for name in (program.elf_file, program.bin_file)))


def _family(target: str, committed_dir: Path) -> Family:
    """A family's programs, where its product layout (the chip model's) puts them. Every family's
    application keeps the two counters first in RAM at the same addresses (board.py names them)."""
    product = chip_for(target).product
    shared = ("registers.h", f"{target}/board.h")
    return Family(
        target,
        Program(
            "bootloader",
            product.bootloader.base,
            product.bootloader.size,
            ("bootloader.c", f"{target}/bootloader.ld", *shared),
            target,
            committed_dir,
        ),
        Program(
            "application",
            product.application.base,
            product.application.size,
            ("application.c", f"{target}/application.ld", *shared),
            target,
            committed_dir,
            # What application.ld places at fixed addresses, so that tests read them without the ELF.
            fixed_symbols=(
                ("systick_count", board.SYSTICK_COUNT_ADDRESS),
                ("heartbeat_count", board.HEARTBEAT_COUNT_ADDRESS),
            ),
        ),
    )


FAMILIES: Final = {
    NRF52840: _family(NRF52840, COMMITTED_DIR),
    STM32F429XI: _family(STM32F429XI, FIRMWARE_DIR / STM32F429XI),
    K64F: _family(K64F, FIRMWARE_DIR / K64F),
    EFR32MG12: _family(EFR32MG12, FIRMWARE_DIR / EFR32MG12),
}
NRF52840_FAMILY: Final = FAMILIES[NRF52840]
# The nRF52840's, by the names the first family's callers use.
BOOTLOADER: Final = NRF52840_FAMILY.bootloader
APPLICATION: Final = NRF52840_FAMILY.application
PROGRAMS: Final = NRF52840_FAMILY.programs
SOURCE_FILES: Final = NRF52840_FAMILY.source_files
OUTPUT_FILES: Final = NRF52840_FAMILY.output_files


def family_for(target: str) -> Family:
    """The demo firmware of a simulated target; a SimulationError names the targets that have one."""
    family = FAMILIES.get(target)
    if family is None:
        raise SimulationError(f"no demo firmware for target {target!r} (one of: {', '.join(FAMILIES)})")
    return family


@dataclass(frozen=True)
class BuildManifest:
    """``build.json``: which toolchain and flags made the outputs, and every file's SHA-256."""

    compiler: str
    binutils: str
    flags: tuple[str, ...]
    board: str  # the family folder put first on the include path (``-iquote``)
    sources: Mapping[str, str]
    outputs: Mapping[str, str]

    def to_json(self) -> str:
        document = {
            "compiler": self.compiler,
            "binutils": self.binutils,
            "flags": list(self.flags),
            "board": self.board,
            "sources": dict(sorted(self.sources.items())),
            "outputs": dict(sorted(self.outputs.items())),
        }
        return json.dumps(document, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> BuildManifest:
        try:
            document = json.loads(text)
            manifest = cls(
                compiler=_text(document["compiler"]),
                binutils=_text(document["binutils"]),
                flags=tuple(_text(flag) for flag in document["flags"]),
                board=_text(document["board"]),
                sources=_digests(document["sources"]),
                outputs=_digests(document["outputs"]),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise SimulationError(f"{MANIFEST_FILE} is not a firmware build record: {error}") from None
        return manifest


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, found {type(value).__name__}")
    return value


def _digests(value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        raise TypeError(f"expected a table of digests, found {type(value).__name__}")
    return {_text(name): _text(digest) for name, digest in value.items()}


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def source_digests(source_dir: Path = SOURCE_DIR, family: Family = NRF52840_FAMILY) -> dict[str, str]:
    """SHA-256 of every source file the family's build reads; a missing one is a SimulationError."""
    missing = [name for name in family.source_files if not (source_dir / name).is_file()]
    if missing:
        raise SimulationError(f"firmware source {', '.join(missing)} missing from {source_dir}")
    return {name: sha256_file(source_dir / name) for name in family.source_files}


def build_firmware(
    out_dir: Path, *, source_dir: Path = SOURCE_DIR, family: Family = NRF52840_FAMILY
) -> BuildManifest:
    """Build the family's two programs into ``out_dir`` (``<name>.elf`` and ``<name>.bin`` each,
    and ``build.json``). Builds in a scratch folder first: a failed build writes nothing."""
    source_dir = source_dir.resolve()
    sources = source_digests(source_dir, family)
    environment = _toolchain_environment()
    compiler = _tool(COMPILER, environment)
    objcopy = _tool(OBJCOPY, environment)
    with tempfile.TemporaryDirectory(prefix="firmware-build-") as scratch:
        scratch_dir = Path(scratch)
        for program in family.programs:
            elf_path = scratch_dir / program.elf_file
            _run(
                [
                    compiler,
                    *FLAGS,
                    f"-ffile-prefix-map={source_dir}={MAPPED_SOURCE_NAME}",
                    "-iquote",
                    family.board,  # the sources' #include "board.h" finds the family's
                    "-T",
                    program.linker_script,
                    "-o",
                    str(elf_path),
                    f"{program.name}.c",
                ],
                cwd=source_dir,
                environment=environment,
                what=f"compiling the {program.name}",
            )
            _run(
                [objcopy, "-O", "binary", str(elf_path), str(scratch_dir / program.bin_file)],
                cwd=scratch_dir,
                environment=environment,
                what=f"extracting the {program.name}'s binary",
            )
            _check_program(program, elf_path, scratch_dir / program.bin_file)
        manifest = BuildManifest(
            compiler=_version(compiler, environment),
            binutils=_version(objcopy, environment),
            flags=(*FLAGS, PREFIX_MAP_FLAG),
            board=family.board,
            sources=sources,
            outputs={name: sha256_file(scratch_dir / name) for name in family.output_files},
        )
        if source_digests(source_dir, family) != sources:
            raise SimulationError(f"firmware sources in {source_dir} changed during the build; nothing was written")
        out_dir.mkdir(parents=True, exist_ok=True)
        for name in family.output_files:
            (out_dir / name).write_bytes((scratch_dir / name).read_bytes())
        (out_dir / MANIFEST_FILE).write_text(manifest.to_json(), encoding="utf-8")
    return manifest


def toolchain_versions() -> tuple[str, str] | None:
    """The installed compiler's and binutils' version lines, or None without the toolchain."""
    environment = _toolchain_environment()
    try:
        return _version(_tool(COMPILER, environment), environment), _version(_tool(OBJCOPY, environment), environment)
    except SimulationError:
        return None


def read_manifest(directory: Path = COMMITTED_DIR) -> BuildManifest:
    path = directory / MANIFEST_FILE
    if not path.is_file():
        raise SimulationError(f"no firmware build record {path}: run `python -m station.sim.firmware_build`")
    return BuildManifest.from_json(path.read_text(encoding="utf-8"))


def stale_sources(
    source_dir: Path = SOURCE_DIR, directory: Path | None = None, *, family: Family = NRF52840_FAMILY
) -> list[str]:
    """Source files that differ from what the family's committed build was made from (changed
    without a rebuild), by name; empty when the committed build is current. Needs no toolchain."""
    recorded = read_manifest(family.committed_dir if directory is None else directory).sources
    present = {name: sha256_file(source_dir / name) for name in family.source_files if (source_dir / name).is_file()}
    return sorted(name for name in set(recorded) | set(present) if recorded.get(name) != present.get(name))


def committed_file(name: str, directory: Path = COMMITTED_DIR) -> Path:
    """A committed build output, after checking it is the one ``build.json`` records."""
    manifest = read_manifest(directory)
    expected = manifest.outputs.get(name)
    path = directory / name
    if expected is None or not path.is_file():
        raise SimulationError(f"demo firmware output {name} is missing from {directory}")
    if sha256_file(path) != expected:
        raise SimulationError(
            f"demo firmware output {path} differs from {MANIFEST_FILE}: rebuild it with "
            "`python -m station.sim.firmware_build`"
        )
    return path


def committed_program(program: Program, directory: Path | None = None) -> bytes:
    """The committed binary of ``program``: what a demo image starts with."""
    return committed_file(program.bin_file, program.committed_dir if directory is None else directory).read_bytes()


def committed_elf(program: Program, directory: Path | None = None) -> Path:
    """The committed ELF of ``program``, with symbols and debug information for a debugger."""
    return committed_file(program.elf_file, program.committed_dir if directory is None else directory)


# ---- running the toolchain ---------------------------------------------------------------------


def _toolchain_environment() -> dict[str, str]:
    """A bare environment: nothing from the caller's (CPATH, GCC_EXEC_PREFIX, a locale) may
    change what the compiler does or says."""
    environment = {"PATH": os.environ.get("PATH", os.defpath), "LC_ALL": "C"}
    if "TMPDIR" in os.environ:
        environment["TMPDIR"] = os.environ["TMPDIR"]
    return environment


def _tool(name: str, environment: Mapping[str, str]) -> str:
    path = shutil.which(name, path=environment["PATH"])
    if path is None:
        raise SimulationError(
            f"{name} is not installed: building the demo firmware needs the Arm GNU toolchain "
            f"(Debian package {TOOLCHAIN_PACKAGE}); the committed build in {COMMITTED_DIR} needs none"
        )
    return path


def _run(command: Sequence[str], *, cwd: Path | None, environment: Mapping[str, str], what: str) -> str:
    try:
        completed = subprocess.run(
            list(command),
            cwd=cwd,
            env=dict(environment),
            capture_output=True,
            text=True,
            timeout=_TOOL_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise SimulationError(f"{what} took longer than {_TOOL_TIMEOUT_SECONDS:.0f} s") from None
    except OSError as error:
        raise SimulationError(f"{what} failed to start: {error.strerror or error}") from None
    if completed.returncode != 0:
        output = (completed.stderr or completed.stdout).strip()
        raise SimulationError(f"{what} failed (exit {completed.returncode}): {output}")
    return completed.stdout


def _version(tool: str, environment: Mapping[str, str]) -> str:
    output = _run([tool, "--version"], cwd=None, environment=environment, what=f"asking {tool} its version")
    return output.splitlines()[0].strip() if output.strip() else "unknown"


def _check_program(program: Program, elf_path: Path, bin_path: Path) -> None:
    """The program is linked where the board expects it and fits its region."""
    size = bin_path.stat().st_size
    if not 0 < size <= program.region_size:
        raise SimulationError(f"the {program.name} is {size} bytes; its region holds {program.region_size}")
    symbols = _symbols(elf_path)
    for name, address in (("vector_table", program.address), *program.fixed_symbols):
        if symbols.get(name) != address:
            found = symbols.get(name)
            where = "missing" if found is None else f"at 0x{found:08X}"
            raise SimulationError(f"the {program.name}'s {name} is {where}, not at 0x{address:08X} (board.py)")


def _symbols(elf_path: Path) -> dict[str, int]:
    try:
        with elf_path.open("rb") as stream:
            elf = ELFFile(stream)
            table = elf.get_section_by_name(".symtab")
            if not isinstance(table, SymbolTableSection):
                raise SimulationError(f"{elf_path.name} has no symbol table")
            return {symbol.name: int(symbol["st_value"]) for symbol in table.iter_symbols() if symbol.name}
    except ELFError as error:
        raise SimulationError(f"{elf_path.name} is not a readable ELF file: {error}") from None


# ---- python -m station.sim.firmware_build -------------------------------------------------------


def differences(built: BuildManifest, committed: BuildManifest) -> list[str]:
    """What differs between two build records, one line each (empty when they agree)."""
    lines = []
    for label, new, old in (
        ("compiler", built.compiler, committed.compiler),
        ("binutils", built.binutils, committed.binutils),
    ):
        if new != old:
            lines.append(f"{label}: {new!r}, committed build used {old!r}")
    if built.flags != committed.flags:
        lines.append("flags differ")
    if built.board != committed.board:
        lines.append(f"board: {built.board!r}, committed build used {committed.board!r}")
    for kind, new_digests, old_digests in (
        ("source", built.sources, committed.sources),
        ("output", built.outputs, committed.outputs),
    ):
        for name in sorted(set(new_digests) | set(old_digests)):
            if new_digests.get(name) != old_digests.get(name):
                lines.append(f"{kind} {name} differs")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m station.sim.firmware_build",
        description=f"Build every family's demo firmware from {SOURCE_DIR} into {FIRMWARE_DIR}.",
    )
    parser.add_argument("--check", action="store_true", help="build afresh and compare with the committed builds")
    parser.add_argument("--target", choices=sorted(FAMILIES), help="only this family (default: every family)")
    arguments = parser.parse_args(argv)
    families = [FAMILIES[arguments.target]] if arguments.target else list(FAMILIES.values())
    try:
        if arguments.check:
            problems = []
            for family in families:
                committed = read_manifest(family.committed_dir)
                with tempfile.TemporaryDirectory(prefix="firmware-check-") as scratch:
                    built = build_firmware(Path(scratch), family=family)
                prefix = f"{family.target}: " if len(families) > 1 else ""
                problems += [f"{prefix}{line}" for line in differences(built, committed)]
            for line in problems:
                print(line)
            print("the committed demo firmware is stale" if problems else "the committed demo firmware is current")
            return 1 if problems else 0
        built_families = [(family, build_firmware(family.committed_dir, family=family)) for family in families]
    except SimulationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for family, manifest in built_families:
        for name, digest in manifest.outputs.items():
            print(f"{digest}  {family.committed_dir / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
