"""The Silicon Labs EFR32MG12P433F1024GM68 (Mighty Gecko, Series 1) as the simulator models it:
facts from the EFR32xG12 Wireless Gecko Reference Manual, the EFR32MG12 data sheet and the part's
CMSIS headers (``efr32mg12p433f1024gm68.h``, ``efr32mg12p_msc.h``, ``efr32mg12p_devinfo.h``).

pyOCD has no target of its own for the part: it knows it only from Silicon Labs' CMSIS device
pack, as a generic Cortex-M target; the station's EFM32 profile does the family's things itself.

Memory map:

* main flash 1 MiB at 0, in 2 KiB pages, written and erased only through the MSC
  (:mod:`station.sim.chips.efm32_msc`); the information blocks: the user data page at
  0x0FE0_0000 and the lock bits page at 0x0FE0_4000 (2 KiB each, kept in ``nvm.bin`` after
  flash; the simulator maps 4 KiB for each, the rest reads erased), the device information (DI)
  page at 0x0FE0_8000 (read-only: the unit's identity);
* RAM0 and RAM1, 256 KiB at 0x2000_0000 (the 2 KiB RAM2 at 0x2004_0000 and the code-bus aliases
  at 0x1000_0000 are not modelled);
* the MSC at 0x400E_0000, the CMU at 0x400E_4000 (HFBUSCLKEN0 0xB0, HFPERCLKEN0 0xC0), the GPIO
  at 0x4000_A000, USART0-3 at 0x4001_0000 (:mod:`station.sim.chips.efm32_usart`: USART0's
  transmitter carries the firmware's log to the console), the WDOGs, LDMA, EMU, RMU, PRS as
  register files.

The lock bits page (RM "Lock Bits (LB) Page Description"): words 0-15 lock the 512 main-flash
pages (bit n of word n / 32; 0 locks), word 122 is CLW0, 125 the mass lock word, 126 the user
data lock word, and word 127 (0x0FE0_41FC) the debug lock word (DLW). When its lowest four bits
are not 0xF at reset, the debug port's AHB-AP is locked out and only the Authentication Access
Port answers in its place (:mod:`station.sim.chips.efm32_aap`); the AAP's device erase erases
main flash and the lock bits page, so that the next reset opens the port again. The simulator
latches the DLW at every reset of the chip; Silicon Labs' example asks for a pin or power-on
reset, and the station uses the pin.

The DI page (``DEVINFO`` at 0x0FE0_81B0): MEMINFO (2 KiB pages, QFN68, -40 to 85 degrees C),
UNIQUEL and UNIQUEH (the 64-bit unique number, an EUI-64 with a Silicon Labs OUI), MSIZE (1024
KiB flash, 256 KiB RAM), PART (family 28, EFR32MG12P; device number 433). The calibration words
are not modelled: they read erased.

The simulated product's flash layout: the bootloader in pages 0-15 (32 KiB), the application
header alone in page 16 (0x8000), the application from page 17 (0x8800) up to the last 8 KiB,
which hold the credentials (0xFE000) and the key store (0xFF000), 4 KiB (two pages) each.

Not modelled: the radio, the DC-DC converter, clocks (the core runs at the 19 MHz HFRCO, as at
reset; CMU keeps what is written), the bootloader area at 0x0FE1_0000, interrupts, the
peripherals' behaviour beyond their reset values (their registers keep what is written).
"""

from __future__ import annotations

import secrets
import struct
from typing import TYPE_CHECKING, Final

from station.domain.errors import SimulationError
from station.sim.chips.base import ChipModel, FamilyPort, ProductLayout, ReadNvm
from station.sim.chips.layout import SLOT_SIZE, MemoryLayout, Window
from station.sim.peripherals import write_reset_values

if TYPE_CHECKING:
    from station.sim.core_state import CoreState
    from station.sim.device import SimDevice
    from station.sim.units import SimUnit, UnitInfo

FLASH_BASE: Final = 0x0000_0000
FLASH_SIZE: Final = 0x0010_0000
PAGE_SIZE: Final = 0x800
MAIN_REGION_SIZE: Final = 0x8_0000  # ERASEMAIN0 and ERASEMAIN1 each erase 512 KiB
RAM_BASE: Final = 0x2000_0000
RAM_SIZE: Final = 0x0004_0000
USERDATA_BASE: Final = 0x0FE0_0000
LOCKBITS_BASE: Final = 0x0FE0_4000
INFO_PAGE_SIZE: Final = 0x800  # the user data and lock bits pages: 2 KiB each
DI_PAGE: Final = 0x0FE0_8000
DEVINFO_BASE: Final = 0x0FE0_81B0

# The lock bits page's words.
PAGE_LOCK_WORDS: Final = FLASH_SIZE // PAGE_SIZE // 32  # words 0-15
CLW0_ADDRESS: Final = LOCKBITS_BASE + 122 * 4
MLW_ADDRESS: Final = LOCKBITS_BASE + 125 * 4
ULW_ADDRESS: Final = LOCKBITS_BASE + 126 * 4
DLW_ADDRESS: Final = LOCKBITS_BASE + 127 * 4  # 0x0FE0_41FC
DLW_UNLOCKED: Final = 0xF  # the lowest four bits, all set: the debug port open

# DEVINFO (efr32mg12p_devinfo.h).
DEVINFO_MEMINFO: Final = DEVINFO_BASE + 0x34
DEVINFO_UNIQUEL: Final = DEVINFO_BASE + 0x40  # 0x0FE0_81F0
DEVINFO_UNIQUEH: Final = DEVINFO_BASE + 0x44
DEVINFO_MSIZE: Final = DEVINFO_BASE + 0x48
DEVINFO_PART: Final = DEVINFO_BASE + 0x4C
MEMINFO_VALUE: Final = 1 << 24 | 68 << 16 | 0x4D << 8 | 0  # page 2^(1+10), 68 pins, QFN, -40..85 C
MSIZE_VALUE: Final = (RAM_SIZE // 1024) << 16 | FLASH_SIZE // 1024
PART_FAMILY_EFR32MG12P: Final = 28
PART_DEVICE_NUMBER: Final = 433
PART_VALUE: Final = PART_FAMILY_EFR32MG12P << 16 | PART_DEVICE_NUMBER  # production revision 0
SILICON_LABS_OUIS: Final = (0x00_0B_57, 0x14_B4_57, 0x90_FD_9F)

# Peripherals (efr32mg12p433f1024gm68.h, "Peripheral Memory Map").
GPIO_BASE: Final = 0x4000_A000
USART0_BASE: Final = 0x4001_0000
USART_STRIDE: Final = 0x400
WDOG_BASE: Final = 0x4005_2000
MSC_BASE: Final = 0x400E_0000
CMU_BASE: Final = 0x400E_4000
CMU_CTRL: Final = CMU_BASE + 0x00
CMU_HFBUSCLKEN0: Final = CMU_BASE + 0xB0
CMU_HFPERCLKEN0: Final = CMU_BASE + 0xC0
CMU_HFPERCLKEN0_USART0: Final = 1 << 4
USART_FRAME: Final = 0x04
USART_CMD: Final = 0x0C
USART_STATUS: Final = 0x10
USART_TXDATA: Final = 0x34
USART_FRAME_RESET: Final = 0x0000_1005  # 8 data bits, no parity, one stop bit
USART_STATUS_RESET: Final = 0x0000_2040  # TXBL and TXIDLE: nothing to send yet

# Data sheet, "Flash Memory Characteristics", typical values, in seconds (before the timing factor).
WORD_WRITE_SECONDS: Final = 68.3e-6  # tW_PROG, a single word (WRITEONCE)
BURST_WORD_WRITE_SECONDS: Final = 26e-6  # tW_PROG, a word of a burst (WRITETRIG), on average
PAGE_ERASE_SECONDS: Final = 26e-3  # tPERASE
MASS_ERASE_SECONDS: Final = 26e-3  # tMERASE, one ERASEMAINn
DEVICE_ERASE_SECONDS: Final = 52.5e-3  # tDERASE, the AAP's device erase

RESET_VALUES: Final[dict[int, int]] = {
    CMU_CTRL: 0x0030_0000,
    **{USART0_BASE + index * USART_STRIDE + USART_FRAME: USART_FRAME_RESET for index in range(4)},
    **{USART0_BASE + index * USART_STRIDE + USART_STATUS: USART_STATUS_RESET for index in range(4)},
}

_PERIPHERALS: Final = (
    Window(GPIO_BASE, SLOT_SIZE),
    Window(USART0_BASE, SLOT_SIZE),  # USART0-3
    Window(WDOG_BASE, SLOT_SIZE),  # WDOG0, WDOG1
    Window(MSC_BASE, 7 * SLOT_SIZE),  # MSC, FPUEH, LDMA, EMU, CMU, RMU, PRS
)


def dlw_locks(dlw: int) -> bool:
    """Whether a debug lock word locks the debug port (its lowest four bits not all set)."""
    return dlw & DLW_UNLOCKED != DLW_UNLOCKED


def unique_words(device_id: int) -> tuple[int, int]:
    """DEVINFO UNIQUEL, UNIQUEH of a 64-bit unique number."""
    return device_id & 0xFFFF_FFFF, device_id >> 32


class Efr32mg12(ChipModel):
    target = "efr32mg12p433f1024gm68"
    part_name = "EFR32MG12P433F1024GM68"
    clock_hz = 19_000_000  # HFRCO at its 19 MHz reset band
    layout = MemoryLayout(
        nvm=(
            Window(FLASH_BASE, FLASH_SIZE),
            Window(USERDATA_BASE, SLOT_SIZE),
            Window(LOCKBITS_BASE, SLOT_SIZE),
        ),
        ram=(Window(RAM_BASE, RAM_SIZE),),
        id_page=Window(DI_PAGE, SLOT_SIZE),
        peripherals=_PERIPHERALS,
        mmio_pages=(MSC_BASE,),
    )
    product = ProductLayout(
        bootloader=Window(FLASH_BASE, 0x8000),
        app_header=Window(0x0000_8000, PAGE_SIZE),
        application=Window(0x0000_8800, 0x000F_E000 - 0x0000_8800),
        credentials=Window(0x000F_E000, 0x1000),
        key_store=Window(0x000F_F000, 0x1000),
        extra_regions=(("lock-bits", Window(LOCKBITS_BASE, INFO_PAGE_SIZE)),),
    )
    device_id_digits = 16
    device_id_source = f"DEVINFO UNIQUEL, UNIQUEH (0x{DEVINFO_UNIQUEL:08X}, 64 bits)"
    # USART0's command register (TXEN) and its transmit data register: what the CPU stores there
    # has effects (the MSC's page is the family's own: mmio_pages).
    behaving_ranges = (
        (USART0_BASE + USART_CMD, USART0_BASE + USART_CMD + 3),
        (USART0_BASE + USART_TXDATA, USART0_BASE + USART_TXDATA + 3),
    )

    def random_device_id(self) -> int:
        """An EUI-64 as Silicon Labs writes them: its OUI, 0xFFFE, then 24 bits of the device."""
        oui = secrets.choice(SILICON_LABS_OUIS)
        return oui << 40 | 0xFFFE << 24 | secrets.randbits(24)

    def check_device_id(self, device_id: int) -> None:
        if not 0 < device_id < 1 << 64:
            raise SimulationError("an EFR32 unique number is 64 bits (DEVINFO UNIQUEH, UNIQUEL), not zero")

    def blank_nvm(self) -> bytes:
        return b"\xff" * self.layout.nvm_size

    def is_blank(self, nvm: bytes) -> bool:
        """Main flash and the lock bits page erased: what the AAP's device erase erases."""
        lock_bits = self.layout.nvm_offset(LOCKBITS_BASE, SLOT_SIZE)
        assert lock_bits is not None
        erased = b"\xff" * SLOT_SIZE
        return nvm[:FLASH_SIZE] == b"\xff" * FLASH_SIZE and nvm[lock_bits : lock_bits + SLOT_SIZE] == erased

    def id_image(self, info: UnitInfo) -> bytes:
        page = bytearray(b"\xff" * SLOT_SIZE)
        low, high = unique_words(info.device_id)
        for address, value in (
            (DEVINFO_MEMINFO, MEMINFO_VALUE),
            (DEVINFO_UNIQUEL, low),
            (DEVINFO_UNIQUEH, high),
            (DEVINFO_MSIZE, MSIZE_VALUE),
            (DEVINFO_PART, PART_VALUE),
        ):
            struct.pack_into("<I", page, address - DI_PAGE, value)
        return bytes(page)

    def reset_peripherals(self, state: CoreState, read_nvm: ReadNvm) -> None:
        from station.sim.chips import efm32_msc

        values = RESET_VALUES | efm32_msc.msc_reset_values(state)
        write_reset_values(state, self.layout.present_pages(), values)

    def latch_protection(self, unit: SimUnit) -> None:
        """The debug lock word is read as the chip comes out of reset: it decides the AHB-AP."""
        dlw = struct.unpack("<I", unit.read_nvm(DLW_ADDRESS, 4))[0]
        unit.info.protected = dlw_locks(dlw)
        unit.info.protection_level = 1 if unit.info.protected else 0

    def lock_words(self, unit: SimUnit) -> tuple[str, bool]:
        latched = unit.info.protected
        stored = dlw_locks(struct.unpack("<I", unit.read_nvm(DLW_ADDRESS, 4))[0])
        words = "LOCKED (debug lock word)" if latched else "unlocked"
        if stored and not latched:
            words += ", debug lock word cleared: locks at next reset"
        elif latched and not stored:
            words += ", lock bits erased: opens at next reset"
        return words, stored != latched

    def lock_as_delivered(self, unit: SimUnit) -> None:
        """A unit back from a previous run: its debug lock word cleared (the caller resets it)."""
        unit.program_nvm(DLW_ADDRESS, bytes(4))

    def initial_protection(self, build_code: str) -> bool:
        """Silicon Labs ships the parts with the lock bits page erased: the debug port open."""
        return False

    def make_port(self, device: SimDevice) -> FamilyPort:
        from station.sim.chips.efm32_port import Efm32Port

        return Efm32Port(device)
