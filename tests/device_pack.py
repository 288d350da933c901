"""A CMSIS device pack for the tests, as far as no real vendor pack is needed.

``build_device_pack`` compiles the flash algorithm in ``tests/fixtures/pack`` (C and a linker
script for the simulated nRF52840's NVMC) with Debian's arm-none-eabi-gcc into an FLM, and
zips it with the fixture's .pdsc, which uses Nordic's names (vendor "Nordic Semiconductor:54",
family "nRF52 Series", device "nRF52840_xxAA"), and a cut-down SVD into a .pack that pyOCD
reads as it reads a vendor's. The algorithm loads where the pack's ``RAMstart``/``RAMsize``
put it, at the top of the first 16 KiB of RAM, not where pyOCD's built-in nRF52840 algorithm
goes (0x20000000): tests tell the two apart by that and by its code.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

FIXTURE_DIR: Final = Path(__file__).resolve().parent / "fixtures" / "pack"
PDSC_NAME: Final = "NordicSemiconductor.nRF_DeviceFamilyPack_Fixture.pdsc"
FLM_NAME: Final = "Flash/nrf52840_fixture.flm"  # as the .pdsc's <algorithm name> gives it
SVD_NAME: Final = "SVD/nrf52840_nvmc.svd"  # as its <debug svd> gives it
PACK_NAME: Final = "NordicSemiconductor.nRF_DeviceFamilyPack_Fixture.0.1.0.pack"
PACK_DEVICE: Final = "nRF52840_xxAA"
PACK_TARGET: Final = "nrf52840_xxaa"  # pyOCD's name for the device
ALGORITHM_RAM: Final = (0x2000_0000, 0x4000)  # the .pdsc's RAMstart, RAMsize
COMPILER: Final = "arm-none-eabi-gcc"
FLAGS: Final = (
    "-mcpu=cortex-m4",
    "-mthumb",
    "-mfloat-abi=soft",
    "-Os",
    "-std=gnu11",
    "-ffreestanding",
    "-nostdlib",
    "-fno-common",
    "-fno-jump-tables",  # a table of absolute addresses would tie the code to one load address
    "-fno-tree-loop-distribute-patterns",  # no memcpy/memset calls: there is no libc
    "-fno-unwind-tables",
    "-fno-asynchronous-unwind-tables",
    "-Wall",
    "-Wextra",
    "-Werror",
    "-Wl,--build-id=none",
    "-Wl,--no-warn-rwx-segments",
)
_ZIP_TIME: Final = (2026, 12, 6, 0, 0, 0)  # fixed, so that the same sources give the same pack


@dataclass(frozen=True)
class BuiltPack:
    path: Path
    sha256: str
    flm: bytes  # the FLM (ELF) file in the pack

    @property
    def pdsc(self) -> bytes:
        return (FIXTURE_DIR / PDSC_NAME).read_bytes()


def compile_flash_algorithm(out_dir: Path) -> Path:
    """The FLM from the fixture's C source and linker script, built in ``out_dir``."""
    compiler = shutil.which(COMPILER)
    if compiler is None:
        raise AssertionError(f"{COMPILER} is not installed (Debian's gcc-arm-none-eabi, which scripts/test installs)")
    out_dir.mkdir(parents=True, exist_ok=True)
    flm = out_dir / "nrf52840_fixture.flm"
    environment = {"PATH": os.environ.get("PATH", os.defpath), "LC_ALL": "C"}
    command = [compiler, *FLAGS, "-T", "nrf52_nvmc_flm.ld", "-o", str(flm), "nrf52_nvmc_flm.c"]
    result = subprocess.run(
        command, cwd=FIXTURE_DIR, env=environment, capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise AssertionError(f"compiling the flash algorithm failed:\n{result.stdout}{result.stderr}")
    return flm


def write_pack(path: Path, entries: dict[str, bytes]) -> Path:
    """A zip with these entries (name -> bytes), as a .pack is."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(zipfile.ZipInfo(name, date_time=_ZIP_TIME), data)
    return path


def build_device_pack(out_dir: Path) -> BuiltPack:
    """The fixture pack in ``out_dir``: the .pdsc at its top level, the compiled FLM, the SVD."""
    flm = compile_flash_algorithm(out_dir / "build").read_bytes()
    pdsc = (FIXTURE_DIR / PDSC_NAME).read_bytes()
    svd = (FIXTURE_DIR / SVD_NAME).read_bytes()
    path = write_pack(out_dir / PACK_NAME, {PDSC_NAME: pdsc, FLM_NAME: flm, SVD_NAME: svd})
    return BuiltPack(path, hashlib.sha256(path.read_bytes()).hexdigest(), flm)
