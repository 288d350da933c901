"""The EFR32MG12's demo firmware: its committed build, its images on the product layout, and the
programs really running on a simulated unit: the application's USART0 carries the banner to the
console, SysTick and the heartbeat count."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest

from station.domain.formats import ApplicationHeader
from station.sim.chips import EFR32MG12
from station.sim.chips import efm32_usart as usart
from station.sim.chips import efr32mg12 as chip
from station.sim.dms import SimDeviceManagement
from station.sim.firmware import DemoFirmware, build_demo_firmware
from station.sim.firmware_build import FAMILIES, read_manifest, stale_sources
from station.sim.units import SimUnit, SimUnitStore

from .support import booted_demo

EFR32 = FAMILIES[EFR32MG12]
PRODUCT = chip.Efr32mg12.product
TOP_OF_RAM = 0x2004_0000  # RAM0 and RAM1: the stack's top in both programs
VECTOR_COUNT = 16 + 51  # Cortex-M system exceptions + the EFR32MG12's interrupts


@pytest.fixture(scope="module")
def efr32_firmware(tmp_path_factory: pytest.TempPathFactory) -> DemoFirmware:
    return build_demo_firmware(tmp_path_factory.mktemp("efr32-firmware"), target=EFR32MG12)


@pytest.fixture
def unit(sim_store: SimUnitStore) -> Iterator[SimUnit]:
    made = sim_store.create_unit(target=EFR32MG12)
    yield made
    made.close()


def test_the_efr32_build_is_committed_apart_and_current() -> None:
    assert EFR32.committed_dir.name == EFR32MG12 and EFR32.board == EFR32MG12
    assert stale_sources(family=EFR32) == [], f"run `python -m station.sim.firmware_build --target {EFR32MG12}`"
    assert {f"{EFR32MG12}/board.h", f"{EFR32MG12}/bootloader.ld", f"{EFR32MG12}/application.ld"} <= set(
        read_manifest(EFR32.committed_dir).sources
    )


def test_the_images_sit_in_the_efr32_product_layout(efr32_firmware: DemoFirmware) -> None:
    bootloader, app_header, application = efr32_firmware.images
    assert efr32_firmware.target == EFR32MG12
    assert (bootloader.address, app_header.address, application.address) == (0x0, 0x8000, 0x8800)
    assert bootloader.end <= PRODUCT.bootloader.end and app_header.end <= PRODUCT.app_header.end
    assert application.end <= PRODUCT.credentials.base
    for image in (bootloader, application):
        stack_pointer, reset, *others = struct.unpack_from(f"<{VECTOR_COUNT}I", image.data)
        assert stack_pointer == TOP_OF_RAM
        assert reset & 1 and image.address + VECTOR_COUNT * 4 <= reset & ~1 < image.address + 0x1000
        assert all(vector & 1 for vector in others if vector)
    assert application.address % 512 == 0  # VTOR: the table's size rounded up to a power of two
    header = ApplicationHeader.decode(app_header.data)
    assert header.app_address == 0x8800 and header.app_size == application.size


def test_the_demo_boots_on_an_efr32_unit_and_its_usart0_banner_reaches_the_console(
    sim_store: SimUnitStore, dms: SimDeviceManagement, unit: SimUnit, efr32_firmware: DemoFirmware
) -> None:
    with booted_demo(sim_store, dms, unit, efr32_firmware):
        # The application set USART0 up as emlib does: clocks, PA0 push-pull, 8N1, TX on location 0.
        state = unit.core_state
        assert state.read_peripheral(chip.CMU_HFPERCLKEN0) & chip.CMU_HFPERCLKEN0_USART0
        assert state.read_peripheral(chip.CMU_HFBUSCLKEN0) & (1 << 3)  # GPIO
        assert state.read_peripheral(chip.GPIO_BASE + 0x04) & 0xF == 4  # PA0 MODEL: PUSHPULL
        assert state.read_peripheral(chip.USART0_BASE + chip.USART_FRAME) == chip.USART_FRAME_RESET
        assert state.read_peripheral(usart.STATUS) & usart.STATUS_TXENS
        assert state.read_peripheral(chip.USART0_BASE + 0x74) == 1 << 1  # ROUTEPEN: TXPEN

