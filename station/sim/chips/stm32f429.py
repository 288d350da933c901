"""The STM32F429xI (2 MiB, dual bank) as the simulator models it: facts from RM0090 and the datasheet.

Memory map (RM0090 section 2.3, datasheet figure "memory map"):

* flash 2 MiB at 0x0800_0000, two banks of 1 MiB (bank 2 at 0x0810_0000), each of sectors
  4 x 16 KiB, 1 x 64 KiB, 7 x 128 KiB; booting from flash aliases it at 0x0000_0000;
* SRAM 192 KiB at 0x2000_0000 (SRAM1 112 KiB, SRAM2 16 KiB, SRAM3 64 KiB; pyOCD's map gives
  0x30000) and CCM data RAM 64 KiB at 0x1000_0000 (the core's only: no debugger-visible
  difference modelled);
* system memory page with the OTP area (0x1FFF_7800, 528 bytes, erased and read-only here), the
  96-bit unique device id at 0x1FFF_7A10 and the flash size in KiB at 0x1FFF_7A22;
* option bytes of bank 1 at 0x1FFF_C000 and of bank 2 at 0x1FFE_C000 (kept in ``nvm.bin``
  after flash); each 16-bit value is followed by its complement, as the device stores it;
* the FLASH interface at 0x4002_3C00 (:mod:`station.sim.chips.stm32f4_flash`), USART1's
  transmitter at 0x4001_1000 (:mod:`station.sim.chips.stm32_usart`: what the firmware sends
  reaches the unit's console), RCC, GPIO and the other APB1/APB2/AHB1 peripherals as register
  files; DBGMCU at 0xE004_2000.

The simulated product's flash layout: bootloader in sectors 0-1 (32 KiB), the application
header alone in sector 2 (16 KiB, so that it can be rewritten without the application), the
application from sector 3 to the end of bank 1; the credentials in sector 12 and the key store
in sector 13, the first two 16 KiB sectors of bank 2 -- small, separately erasable, and out of
reach of an application image, which ends with bank 1.

The unique id (RM0090 section 39.1): bits 31:0 the X and Y wafer coordinates, bits 39:32 the
wafer number, bits 95:40 the lot number in seven ASCII characters. The station reads it as
three words from 0x1FFF_7A10 and shows it as 24 hex digits, word 2 first (the id as one
96-bit number, little-endian in memory, as the nRF52840's 64-bit DEVICEID is).
"""

from __future__ import annotations

import secrets
import string
import struct
from typing import TYPE_CHECKING, Final

from station.domain.errors import SimulationError
from station.sim.chips.base import ChipModel, FamilyPort, ProductLayout, ReadNvm
from station.sim.chips.layout import SLOT_SIZE, Alias, MemoryLayout, Window
from station.sim.peripherals import write_reset_values

if TYPE_CHECKING:
    from station.sim.core_state import CoreState
    from station.sim.device import SimDevice
    from station.sim.units import SimUnit, UnitInfo

FLASH_BASE: Final = 0x0800_0000
FLASH_SIZE: Final = 0x0020_0000
BANK_SIZE: Final = 0x0010_0000
BANK2_BASE: Final = FLASH_BASE + BANK_SIZE
SECTOR_SIZES: Final = (0x4000,) * 4 + (0x1_0000,) + (0x2_0000,) * 7  # one bank's sectors
SECTOR_OFFSETS: Final = tuple(sum(SECTOR_SIZES[:index]) for index in range(len(SECTOR_SIZES)))
SRAM_BASE: Final = 0x2000_0000
SRAM_SIZE: Final = 0x0003_0000
CCM_BASE: Final = 0x1000_0000
CCM_SIZE: Final = 0x0001_0000

SYSTEM_PAGE: Final = 0x1FFF_7000
OTP_BASE: Final = 0x1FFF_7800
UID_BASE: Final = 0x1FFF_7A10
FLASH_SIZE_REGISTER: Final = 0x1FFF_7A22
OPTION_BYTES_BANK1: Final = 0x1FFF_C000
OPTION_BYTES_BANK2: Final = 0x1FFE_C000

FLASH_INTERFACE: Final = 0x4002_3C00
RCC_BASE: Final = 0x4002_3800
RCC_APB2ENR: Final = RCC_BASE + 0x44
RCC_APB2ENR_USART1EN: Final = 1 << 4
USART1_BASE: Final = 0x4001_1000
USART1_SR: Final = USART1_BASE + 0x00
USART1_DR: Final = USART1_BASE + 0x04
USART1_CR1: Final = USART1_BASE + 0x0C
USART_SR_RESET: Final = 0x0000_00C0  # TC and TXE: nothing to send yet
DBGMCU_BASE: Final = 0xE004_2000
DBGMCU_IDCODE: Final = DBGMCU_BASE
DBGMCU_CR: Final = DBGMCU_BASE + 0x4
DBGMCU_APB1_FZ: Final = DBGMCU_BASE + 0x8
DBGMCU_APB2_FZ: Final = DBGMCU_BASE + 0xC
IDCODE_VALUE: Final = 0x2001_0419  # REV_ID 0x2001 (revision 3), DEV_ID 0x419 (STM32F42x/43x)

# Option bytes (RM0090 section 3.6): RDP levels and the factory values.
RDP_LEVEL_0: Final = 0xAA
RDP_LEVEL_2: Final = 0xCC
RDP_LEVEL_1_DEFAULT: Final = 0xBB  # any value but 0xAA and 0xCC is level 1
FACTORY_USER: Final = 0xEC  # nRST_STDBY, nRST_STOP, WDG_SW set; BOR off (BOR_LEV 11)
FACTORY_NWRP: Final = 0x0FFF  # no sector write-protected; DB1M, SPRMOD clear

# Datasheet (STM32F427xx/F429xx, "Flash memory programming"), typical values at 25 degrees C,
# in seconds, by parallelism x8, x16, x32 (x64 as x32): before the unit's timing factor.
WORD_PROGRAM_SECONDS: Final = 16e-6
SECTOR_ERASE_SECONDS: Final = {
    0x4000: (0.400, 0.300, 0.250),
    0x1_0000: (1.200, 0.700, 0.550),
    0x2_0000: (2.000, 1.300, 1.000),
}
MASS_ERASE_SECONDS: Final = (16.0, 11.0, 8.0)
OPTION_PROGRAM_SECONDS: Final = SECTOR_ERASE_SECONDS[0x4000]  # the user configuration sector: 16 KiB

# Reset values of the registers a debugger may look at (RM0090 register maps).
RESET_VALUES: Final[dict[int, int]] = {
    RCC_BASE + 0x00: 0x0000_0083,  # RCC_CR: HSION, HSIRDY
    RCC_BASE + 0x04: 0x2400_3010,  # RCC_PLLCFGR
    RCC_BASE + 0x74: 0x0E00_0000,  # RCC_CSR: reset flags
    USART1_SR: USART_SR_RESET,
    DBGMCU_IDCODE: IDCODE_VALUE,
}
# DBGMCU_CR and the freeze registers keep their values over a system reset (power-on reset only).
_KEPT_OVER_SYSTEM_RESET: Final = (DBGMCU_CR, DBGMCU_APB1_FZ, DBGMCU_APB2_FZ)


def sector_of(address: int) -> tuple[int, int, int] | None:
    """The sector holding a flash address: (sector number 0-23, base, size), or None."""
    if not FLASH_BASE <= address < FLASH_BASE + FLASH_SIZE:
        return None
    bank, offset = divmod(address - FLASH_BASE, BANK_SIZE)
    # Sectors 0-3 of 16 KiB, 4 of 64 KiB, 5-11 of 128 KiB: worked out, not looked up (a flash
    # algorithm's every word asks).
    index = offset >> 14 if offset < 0x1_0000 else 4 if offset < 0x2_0000 else 4 + (offset >> 17)
    base = FLASH_BASE + bank * BANK_SIZE + SECTOR_OFFSETS[index]
    return 12 * bank + index, base, SECTOR_SIZES[index]


def sector(number: int) -> tuple[int, int]:
    """A sector's (base, size) by number 0-23."""
    bank, index = divmod(number, 12)
    base = FLASH_BASE + bank * BANK_SIZE + SECTOR_OFFSETS[index]
    return base, SECTOR_SIZES[index]


def rdp_level(rdp: int) -> int:
    """The protection level an RDP byte means: 0xAA level 0, 0xCC level 2, anything else 1."""
    return 0 if rdp == RDP_LEVEL_0 else 2 if rdp == RDP_LEVEL_2 else 1


def with_complement(value: int) -> bytes:
    """A 16-bit option value as the device keeps it: the value, then its complement."""
    return struct.pack("<HH", value, ~value & 0xFFFF)


def option_image(user: int, rdp: int, nwrp: int) -> bytes:
    """The first 16 bytes of bank 1's option bytes: USER and RDP, then nWRP (with DB1M, SPRMOD)."""
    return with_complement((rdp << 8) | (user & 0xFC)) + bytes(4) + with_complement(nwrp) + bytes(4)


def option_image_bank2(nwrp: int) -> bytes:
    return bytes(8) + with_complement(nwrp) + bytes(4)


class Stm32f429xi(ChipModel):
    target = "stm32f429xi"
    part_name = "STM32F429xI"
    clock_hz = 16_000_000  # HSI: the part runs from its 16 MHz RC oscillator out of reset
    layout = MemoryLayout(
        nvm=(
            Window(FLASH_BASE, FLASH_SIZE),
            Window(OPTION_BYTES_BANK1, SLOT_SIZE),
            Window(OPTION_BYTES_BANK2, SLOT_SIZE),
        ),
        ram=(Window(SRAM_BASE, SRAM_SIZE), Window(CCM_BASE, CCM_SIZE)),
        id_page=Window(SYSTEM_PAGE, SLOT_SIZE),
        peripherals=(
            Window(0x4000_0000, 0x8000),  # APB1
            Window(0x4001_0000, 0x8000),  # APB2
            Window(0x4002_0000, 0x1_0000),  # AHB1: GPIO, CRC, RCC, FLASH, DMA, ...
            Window(DBGMCU_BASE, SLOT_SIZE),
        ),
        mmio_pages=(FLASH_INTERFACE & ~(SLOT_SIZE - 1), DBGMCU_BASE),
        boot_alias=Alias(Window(0x0000_0000, FLASH_SIZE), FLASH_BASE),
    )
    product = ProductLayout(
        bootloader=Window(FLASH_BASE, 0x8000),
        app_header=Window(0x0800_8000, 0x4000),
        application=Window(0x0800_C000, BANK2_BASE - 0x0800_C000),
        credentials=Window(BANK2_BASE, 0x4000),
        key_store=Window(BANK2_BASE + 0x4000, 0x4000),
        extra_regions=(("option-bytes", Window(OPTION_BYTES_BANK1, 16)),),
    )
    device_id_digits = 24
    device_id_source = f"UID (0x{UID_BASE:08X}, 96 bits)"
    # The FLASH interface and DBGMCU pages are the family's own (mmio_pages); USART1's data
    # register sends what the CPU stores there.
    behaving_ranges = ((USART1_DR, USART1_DR + 3),)

    def random_device_id(self) -> int:
        """Wafer X and Y (16 bits each), wafer number, seven ASCII characters of lot number."""
        x, y = secrets.randbelow(200), secrets.randbelow(200)
        wafer = 1 + secrets.randbelow(25)
        lot = "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(7)).encode("ascii")
        return int.from_bytes(struct.pack("<HHB", x, y, wafer) + lot, "little")

    def check_device_id(self, device_id: int) -> None:
        if not 0 <= device_id < 1 << 96 or not 0x20 < device_id >> 88 < 0x7F:
            raise SimulationError(
                "an STM32 unique id is 96 bits whose top byte is a lot-number character (printable ASCII)"
            )

    def blank_nvm(self) -> bytes:
        page = SLOT_SIZE
        bank1 = option_image(FACTORY_USER, RDP_LEVEL_0, FACTORY_NWRP).ljust(page, b"\xff")
        bank2 = option_image_bank2(FACTORY_NWRP).ljust(page, b"\xff")
        return b"\xff" * FLASH_SIZE + bank1 + bank2

    def is_blank(self, nvm: bytes) -> bool:
        return nvm[:FLASH_SIZE] == b"\xff" * FLASH_SIZE

    def id_image(self, info: UnitInfo) -> bytes:
        page = bytearray(b"\xff" * SLOT_SIZE)
        offset = UID_BASE - SYSTEM_PAGE
        page[offset : offset + 12] = info.device_id.to_bytes(12, "little")
        struct.pack_into("<H", page, FLASH_SIZE_REGISTER - SYSTEM_PAGE, FLASH_SIZE // 1024)
        return bytes(page)

    def reset_peripherals(self, state: CoreState, read_nvm: ReadNvm) -> None:
        from station.sim.chips import stm32f4_flash

        kept = {address: state.read_peripheral(address) for address in _KEPT_OVER_SYSTEM_RESET}
        values = RESET_VALUES | kept | stm32f4_flash.flash_interface_reset_values(read_nvm)
        write_reset_values(state, self.layout.present_pages(), values)
        stm32f4_flash.clear_flash_interface_time(state)

    def latch_protection(self, unit: SimUnit) -> None:
        """The option bytes load at reset: the RDP level they hold is the one in force."""
        level = rdp_level(unit.read_nvm(OPTION_BYTES_BANK1 + 1, 1)[0])
        unit.info.protection_level = level
        unit.info.protected = level >= 1

    def lock_words(self, unit: SimUnit) -> tuple[str, bool]:
        active = unit.info.protection_level
        stored = rdp_level(unit.read_nvm(OPTION_BYTES_BANK1 + 1, 1)[0])
        words = {0: "unlocked (RDP level 0)", 1: "LOCKED (RDP level 1)", 2: "LOCKED FOR GOOD (RDP level 2)"}[active]
        pending = stored != active
        if pending:
            words += f", option bytes hold level {stored}: in force at next reset"
        return words, pending

    def lock_as_delivered(self, unit: SimUnit) -> None:
        current = unit.read_nvm(OPTION_BYTES_BANK1, 2)[0]
        unit.write_nvm_raw(OPTION_BYTES_BANK1, with_complement((RDP_LEVEL_1_DEFAULT << 8) | current))

    def initial_protection(self, build_code: str) -> bool:
        return False

    def make_port(self, device: SimDevice) -> FamilyPort:
        from station.sim.chips.stm32f4_flash import Stm32Port

        return Stm32Port(device)
