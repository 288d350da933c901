"""The STM32F429xI's demo firmware: its committed build, its images on the product layout, and the
programs really running on a simulated unit, whose USART1 carries the banner to the console."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import pytest
from pyocd.core.helpers import ConnectHelper

from station.domain.errors import SimulationError
from station.domain.formats import ApplicationHeader
from station.sim.chips import stm32f429 as chip
from station.sim.dms import SimDeviceManagement
from station.sim.firmware import DemoFirmware, build_demo_firmware
from station.sim.firmware_build import (
    FAMILIES,
    FLAGS,
    MANIFEST_FILE,
    PREFIX_MAP_FLAG,
    BuildManifest,
    committed_file,
    family_for,
    read_manifest,
    stale_sources,
    toolchain_versions,
)
from station.sim.peripherals import UART_LOG_NAME
from station.sim.units import SimUnit, SimUnitStore

from .support import booted_demo

STM32 = FAMILIES["stm32f429xi"]
PRODUCT = chip.Stm32f429xi.product
TOP_OF_SRAM = chip.SRAM_BASE + chip.SRAM_SIZE  # 0x20030000
VECTOR_COUNT = 16 + 91  # Cortex-M system exceptions + the STM32F42x/43x's interrupts
TOOLCHAIN = toolchain_versions()


@pytest.fixture(scope="module")
def stm32_firmware(tmp_path_factory: pytest.TempPathFactory) -> DemoFirmware:
    return build_demo_firmware(tmp_path_factory.mktemp("stm32-firmware"), target="stm32f429xi")


@pytest.fixture
def unit(sim_store: SimUnitStore) -> Iterator[SimUnit]:
    made = sim_store.create_unit(target="stm32f429xi")
    yield made
    made.close()


# ---- the committed build -------------------------------------------------------------------------


def test_every_family_has_a_current_committed_build_of_its_own() -> None:
    assert set(FAMILIES) == {"nrf52840", "stm32f429xi", "k64f", "efr32mg12p433f1024gm68"}
    assert STM32.committed_dir.name == "stm32f429xi" and STM32.board == "stm32f429xi"
    for family in FAMILIES.values():
        manifest = read_manifest(family.committed_dir)
        assert stale_sources(family=family) == [], f"{family.target}: run `python -m station.sim.firmware_build`"
        assert manifest.board == family.board and manifest.flags == (*FLAGS, PREFIX_MAP_FLAG)
        assert set(manifest.sources) == set(family.source_files)
        # The C sources and registers.h are shared; board.h and the linker scripts are the family's.
        assert {"application.c", "bootloader.c", "registers.h", f"{family.board}/board.h"} <= set(manifest.sources)
        for name in family.output_files:
            committed_file(name, family.committed_dir)
    assert FAMILIES["nrf52840"].committed_dir != STM32.committed_dir


def test_a_build_record_without_its_board_is_refused() -> None:
    text = (STM32.committed_dir / MANIFEST_FILE).read_text(encoding="utf-8").replace('"board"', '"bored"')
    with pytest.raises(SimulationError, match="not a firmware build record"):
        BuildManifest.from_json(text)


def test_an_unknown_family_is_a_clear_error() -> None:
    with pytest.raises(SimulationError, match="no demo firmware for target 'k99'"):
        family_for("k99")
    with pytest.raises(SimulationError, match="no demo firmware for target 'k99'"):
        build_demo_firmware(Path("unused"), target="k99")


# ---- the images --------------------------------------------------------------------------------


def test_the_images_sit_in_the_stm32_product_layout(stm32_firmware: DemoFirmware) -> None:
    bootloader, app_header, application = stm32_firmware.images
    assert stm32_firmware.target == "stm32f429xi"
    assert (bootloader.address, app_header.address, application.address) == (0x0800_0000, 0x0800_8000, 0x0800_C000)
    assert bootloader.end <= PRODUCT.bootloader.end and app_header.end <= PRODUCT.app_header.end
    assert application.end <= PRODUCT.credentials.base
    for image in (bootloader, application):
        stack_pointer, reset, *others = struct.unpack_from(f"<{VECTOR_COUNT}I", image.data)
        assert stack_pointer == TOP_OF_SRAM
        assert reset & 1 and image.address + VECTOR_COUNT * 4 <= reset & ~1 < image.address + 0x1000
        assert all(vector & 1 for vector in others if vector)
    header = ApplicationHeader.decode(app_header.data)
    assert header.app_address == 0x0800_C000 and header.app_size == application.size


# ---- running on a simulated unit -------------------------------------------------------------------


def test_the_demo_boots_on_an_stm32_unit_and_its_usart1_banner_reaches_the_console(
    sim_store: SimUnitStore, dms: SimDeviceManagement, unit: SimUnit, stm32_firmware: DemoFirmware
) -> None:
    with booted_demo(sim_store, dms, unit, stm32_firmware):
        pass  # the banner through USART1, SysTick and the heartbeat: what booted_demo checks


def test_usart1_sends_only_with_its_clock_and_transmitter_enabled(unit: SimUnit) -> None:
    log = unit.directory / UART_LOG_NAME
    session = ConnectHelper.session_with_chosen_probe(unique_id=unit.probe_id, options={"auto_unlock": False})
    assert session is not None
    with session:
        target = session.target
        assert target.read32(chip.USART1_SR) == chip.USART_SR_RESET  # TXE and TC: ready
        target.write32(chip.USART1_CR1, 1 << 13 | 1 << 3)  # UE, TE
        target.write32(chip.USART1_DR, ord("a"))  # no clock yet: nothing goes out
        assert not log.exists()
        target.write32(chip.RCC_APB2ENR, chip.RCC_APB2ENR_USART1EN)
        target.write32(chip.USART1_CR1, 1 << 13)  # the transmitter off
        target.write32(chip.USART1_DR, ord("b"))
        assert not log.exists()
        target.write32(chip.USART1_CR1, 1 << 13 | 1 << 3)
        for character in b"ok\r\n":
            target.write32(chip.USART1_DR, character)
        assert log.read_bytes() == b"ok\r\n"
        assert target.read32(chip.USART1_SR) == chip.USART_SR_RESET  # never busy
