"""The Kinetis K64F's demo firmware: its committed build, its images on the product layout (the
bootloader carrying the flash configuration field, unsecure), and the programs really running on
a simulated unit: the bootloader disables the watchdog, the application's UART0 carries the
banner to the console."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest

from station.domain.formats import ApplicationHeader
from station.sim.chips import k64f as chip
from station.sim.dms import SimDeviceManagement
from station.sim.firmware import DemoFirmware, build_demo_firmware
from station.sim.firmware_build import (
    FAMILIES,
    committed_program,
    read_manifest,
    stale_sources,
    toolchain_versions,
)
from station.sim.peripherals import UART_LOG_NAME
from station.sim.units import SimUnit, SimUnitStore

from .support import booted_demo, session_for
from .test_k64f import unsecured

K64F = FAMILIES["k64f"]
PRODUCT = chip.K64f.product
TOP_OF_SRAM_U = 0x2003_0000  # the stack's top in NXP's start-up code and in both programs
VECTOR_COUNT = 16 + 86  # Cortex-M system exceptions + the K64F's interrupts
FLASH_CONFIG = b"\xff" * 12 + bytes([chip.FSEC_UNSECURE, 0xFF, 0xFF, 0xFF])  # as NXP's start-up code
TOOLCHAIN = toolchain_versions()
WDOG_STCTRLH = chip.WDOG_BASE


@pytest.fixture(scope="module")
def k64f_firmware(tmp_path_factory: pytest.TempPathFactory) -> DemoFirmware:
    return build_demo_firmware(tmp_path_factory.mktemp("k64f-firmware"), target="k64f")


@pytest.fixture
def unit(sim_store: SimUnitStore) -> Iterator[SimUnit]:
    made = sim_store.create_unit(target="k64f")
    yield made
    made.close()


def test_the_k64f_build_is_committed_apart_and_current() -> None:
    assert K64F.committed_dir.name == "k64f" and K64F.board == "k64f"
    assert stale_sources(family=K64F) == [], "run `python -m station.sim.firmware_build --target k64f`"
    assert {"k64f/board.h", "k64f/bootloader.ld", "k64f/application.ld"} <= set(
        read_manifest(K64F.committed_dir).sources
    )


def test_only_the_bootloader_carries_the_flash_configuration_field_unsecure() -> None:
    bootloader = committed_program(K64F.bootloader)
    assert bootloader[chip.FLASH_CONFIG : chip.FLASH_CONFIG + 16] == FLASH_CONFIG
    assert bootloader[chip.FSEC_ADDRESS] == 0xFE and not chip.fsec_fields(bootloader[chip.FSEC_ADDRESS])[0]
    # The vector table before it, the code after it.
    assert struct.unpack_from("<I", bootloader, 0)[0] == TOP_OF_SRAM_U
    reset = struct.unpack_from("<I", bootloader, 4)[0]
    assert reset & 1 and chip.FLASH_CONFIG + 16 <= reset & ~1 < len(bootloader)
    assert FLASH_CONFIG not in committed_program(K64F.application)


def test_the_images_sit_in_the_k64f_product_layout(k64f_firmware: DemoFirmware) -> None:
    bootloader, app_header, application = k64f_firmware.images
    assert k64f_firmware.target == "k64f"
    assert (bootloader.address, app_header.address, application.address) == (0x0, 0x8000, 0x9000)
    assert bootloader.end <= PRODUCT.bootloader.end and app_header.end <= PRODUCT.app_header.end
    assert application.end <= PRODUCT.credentials.base
    assert bootloader.data[chip.FLASH_CONFIG : chip.FLASH_CONFIG + 16] == FLASH_CONFIG
    for image in (bootloader, application):
        stack_pointer, reset, *others = struct.unpack_from(f"<{VECTOR_COUNT}I", image.data)
        assert stack_pointer == TOP_OF_SRAM_U
        assert reset & 1 and image.address + VECTOR_COUNT * 4 <= reset & ~1 < image.address + 0x1000
        assert all(vector & 1 for vector in others if vector)
    header = ApplicationHeader.decode(app_header.data)
    assert header.app_address == 0x9000 and header.app_size == application.size


def test_the_demo_boots_on_a_k64f_unit_with_its_watchdog_off_and_its_uart0_banner_on_the_console(
    sim_store: SimUnitStore, dms: SimDeviceManagement, unit: SimUnit, k64f_firmware: DemoFirmware
) -> None:
    assert unit.info.protected  # fresh: erased FSEC reads secure
    with booted_demo(sim_store, dms, unit, k64f_firmware):
        assert not unit.info.protected  # the bootloader's FSEC 0xFE, loaded at the reset
        # The bootloader unlocked the watchdog and cleared WDOGEN (reset value 0x01D3).
        assert unit.core_state.read_peripheral(WDOG_STCTRLH) & 0xFFFF == 0x01D2


def test_uart0_sends_only_with_its_clock_gate_and_transmitter_on(unit: SimUnit) -> None:
    unsecured(unit)  # no firmware: nothing but this test writes to UART0
    log = unit.directory / UART_LOG_NAME
    with session_for(unit) as session:
        target = session.target
        target.halt()
        assert target.read8(chip.UART0_S1) == chip.UART_S1_RESET  # TDRE and TC: ready
        assert not target.read32(chip.SIM_SCGC4) & chip.SIM_SCGC4_UART0
        target.write8(chip.UART0_C2, chip.UART_C2_TE)
        target.write8(chip.UART0_D, ord("a"))  # no clock yet: nothing goes out
        assert not log.exists()
        target.write32(chip.SIM_SCGC4, target.read32(chip.SIM_SCGC4) | chip.SIM_SCGC4_UART0)
        target.write8(chip.UART0_C2, 0)  # the transmitter off
        target.write8(chip.UART0_D, ord("b"))
        assert not log.exists()
        target.write8(chip.UART0_C2, chip.UART_C2_TE)
        for character in b"ok\r\n":
            target.write8(chip.UART0_D, character)
        assert log.read_bytes() == b"ok\r\n"
        assert target.read8(chip.UART0_S1) == chip.UART_S1_RESET  # never busy
