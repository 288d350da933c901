"""CMSIS device packs for the tests, as far as no real vendor pack is needed.

``build_device_pack`` compiles a fixture's flash algorithm (C in ``tests/fixtures/pack``, linked by
the shared ``flash_algorithm.ld`` into Keil's FLM layout) with Debian's arm-none-eabi-gcc, and
zips it with the fixture's .pdsc and a cut-down SVD into a .pack that pyOCD reads as it reads a
vendor's. Two fixtures:

* :data:`NORDIC_PACK` (the default): Nordic's names (vendor "Nordic Semiconductor:54", family
  "nRF52 Series", device "nRF52840_xxAA") and an algorithm for the simulated nRF52840's NVMC;
  pyOCD makes the device a target of its NRF52 family class.
* :data:`SILICON_LABS_PACK`: Silicon Labs' names (vendor "Silicon Labs:21", family "EFR32MG12P",
  device "EFR32MG12P433F1024GM68") and an algorithm for the Series 1 MSC; pyOCD has no family
  class for Silicon Labs, so the device is a generic Cortex-M target.

Each algorithm loads where its pack's ``RAMstart``/``RAMsize`` put it, at the top of the first
16 KiB of RAM; the nRF52840's is not where pyOCD's built-in nRF52840 algorithm goes
(0x20000000): tests tell the two apart by that and by its code.
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
LINKER_SCRIPT: Final = "flash_algorithm.ld"
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
class PackFixture:
    """One vendor's pack as the tests fake it: its files and the names pyOCD gives them."""

    pdsc_name: str
    algorithm_source: str  # C, in FIXTURE_DIR
    flm_name: str  # as the .pdsc's <algorithm name> gives it
    svd_name: str  # as its <debug svd> gives it
    pack_name: str
    device: str  # the .pdsc's Dname
    target: str  # pyOCD's name for the device
    vendor: str  # the family's Dvendor without its number
    algorithm_ram: tuple[int, int]  # the .pdsc's RAMstart, RAMsize


NORDIC_PACK: Final = PackFixture(
    pdsc_name="NordicSemiconductor.nRF_DeviceFamilyPack_Fixture.pdsc",
    algorithm_source="nrf52_nvmc_flm.c",
    flm_name="Flash/nrf52840_fixture.flm",
    svd_name="SVD/nrf52840_nvmc.svd",
    pack_name="NordicSemiconductor.nRF_DeviceFamilyPack_Fixture.0.1.0.pack",
    device="nRF52840_xxAA",
    target="nrf52840_xxaa",
    vendor="Nordic Semiconductor",
    algorithm_ram=(0x2000_0000, 0x4000),
)
SILICON_LABS_PACK: Final = PackFixture(
    pdsc_name="SiliconLabs.GeckoPlatform_EFR32MG12P_DFP_Fixture.pdsc",
    algorithm_source="efr32_msc_flm.c",
    flm_name="Flash/EFR32MG12P_fixture.flm",
    svd_name="SVD/EFR32MG12P433F1024GM68.svd",
    pack_name="SiliconLabs.GeckoPlatform_EFR32MG12P_DFP_Fixture.0.1.0.pack",
    device="EFR32MG12P433F1024GM68",
    target="efr32mg12p433f1024gm68",
    vendor="Silicon Labs",
    algorithm_ram=(0x2000_0000, 0x4000),
)

# The Nordic fixture's names, as the tests that came first use them.
PDSC_NAME: Final = NORDIC_PACK.pdsc_name
FLM_NAME: Final = NORDIC_PACK.flm_name
SVD_NAME: Final = NORDIC_PACK.svd_name
PACK_NAME: Final = NORDIC_PACK.pack_name
PACK_DEVICE: Final = NORDIC_PACK.device
PACK_TARGET: Final = NORDIC_PACK.target
ALGORITHM_RAM: Final = NORDIC_PACK.algorithm_ram


@dataclass(frozen=True)
class BuiltPack:
    path: Path
    sha256: str
    flm: bytes  # the FLM (ELF) file in the pack
    fixture: PackFixture = NORDIC_PACK

    @property
    def pdsc(self) -> bytes:
        return (FIXTURE_DIR / self.fixture.pdsc_name).read_bytes()


def compile_flash_algorithm(out_dir: Path, fixture: PackFixture = NORDIC_PACK) -> Path:
    """The fixture's FLM from its C source and the shared linker script, built in ``out_dir``."""
    compiler = shutil.which(COMPILER)
    if compiler is None:
        raise AssertionError(f"{COMPILER} is not installed (Debian's gcc-arm-none-eabi, which scripts/test installs)")
    out_dir.mkdir(parents=True, exist_ok=True)
    flm = out_dir / Path(fixture.flm_name).name
    environment = {"PATH": os.environ.get("PATH", os.defpath), "LC_ALL": "C"}
    command = [compiler, *FLAGS, "-T", LINKER_SCRIPT, "-o", str(flm), fixture.algorithm_source]
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


def build_device_pack(out_dir: Path, fixture: PackFixture = NORDIC_PACK) -> BuiltPack:
    """The fixture's pack in ``out_dir``: the .pdsc at its top level, the compiled FLM, the SVD."""
    flm = compile_flash_algorithm(out_dir / "build", fixture).read_bytes()
    pdsc = (FIXTURE_DIR / fixture.pdsc_name).read_bytes()
    svd = (FIXTURE_DIR / fixture.svd_name).read_bytes()
    entries = {fixture.pdsc_name: pdsc, fixture.flm_name: flm, fixture.svd_name: svd}
    path = write_pack(out_dir / fixture.pack_name, entries)
    return BuiltPack(path, hashlib.sha256(path.read_bytes()).hexdigest(), flm, fixture)
