"""The NXP Kinetis K64F (MK64FN1M0VLL12) as the simulator models it: facts from the K64 Sub-Family
Reference Manual (K64P144M120SF5RM) and the K64 data sheet.

Memory map (RM chapter 4, "Memory map"; pyOCD's ``target_MK64FN1M0xxx12.py`` agrees):

* program flash 1 MiB at 0, 4 KiB sectors, 8-byte phrases, two blocks of 512 KiB (no FlexNVM on
  the FN1M0); the flash configuration field at 0x400-0x40F: backdoor key (8 bytes), FPROT3..0
  (0x408..0x40B), FSEC (0x40C), FOPT (0x40D), FEPROT and FDPROT (0x40E, 0x40F);
* SRAM_L 64 KiB at 0x1FFF_0000 and SRAM_U 192 KiB at 0x2000_0000, adjacent: kept as one RAM
  window of 256 KiB, as pyOCD's memory map has them (its flash algorithm runs at 0x2000_0000,
  its flash analyzer at 0x1FFF_F000);
* the FTFE at 0x4002_0000 (:mod:`station.sim.chips.kinetis_ftfe`), the SIM at 0x4004_7000 with
  SIM_SDID, SIM_FCFG1/FCFG2 and the 128-bit unique id SIM_UIDH..UIDL (0x4004_8054..0x4004_8060),
  the WDOG at 0x4005_2000 (its unlock sequence gates its control registers), UART0's
  transmitter at 0x4006_A000 (:mod:`station.sim.chips.kinetis_uart`: what the firmware sends
  reaches the unit's console), and the other peripherals a start-up code or a debugger touches
  (AIPS, MPU, FMC, PORTs, MCG, OSC, UART1-3, LLWU, PMC, SMC, RCM, GPIO) as register files; the
  MDM-AP is access port 1.

The chip has no memory-mapped factory page: the simulator's read-only id page (a page the
layout needs) lies at 0x1000_0000, reserved on the FN1M0 (FlexNVM's place on the FX parts), and
holds a copy of the SIM's identification registers at their SIM offsets; nothing reads it.

Security (RM "Flash Security", FTFE_FSEC): FSEC loads from 0x40C at every reset. SEC = 10b is
unsecure, anything else secure: an erased part (FSEC = 0xFF) is secure, with mass erase enabled
-- a factory-fresh K64F arrives secure, and a debugger's first act is the MDM-AP mass erase (pyOCD
does it when ``auto_unlock`` is on; the station never lets it). MEEN = 10b disables mass erase
while secure (nothing then reopens the unit but the firmware's backdoor key, KEYEN = 10b).

The simulated product's flash layout, in 4 KiB sectors: the bootloader in sectors 0-7 (32 KiB:
the vector table at 0 and the flash configuration field at 0x400 belong to it, its code follows
from 0x410), the application header alone in sector 8, the application from sector 9 up to the
last two sectors, which hold the credentials and the key store (as on the nRF52840).

Not modelled: clock generation (MCG, OSC and SIM_CLKDIV keep what is written), the bit-band
aliases, FlexBus, the FlexRAM at 0x1400_0000, the peripherals' behaviour beyond their reset values
(registers keep what is written; no interrupts), the SIM's low-power and USB options.
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
SECTOR_SIZE: Final = 0x1000
PHRASE_SIZE: Final = 8
BLOCK_SIZE: Final = 0x8_0000  # two program flash blocks of 512 KiB
PROTECTION_REGION: Final = FLASH_SIZE // 32  # FPROT: 32 regions of 32 KiB
SRAM_L_BASE: Final = 0x1FFF_0000
SRAM_U_BASE: Final = 0x2000_0000
RAM_BASE: Final = SRAM_L_BASE
RAM_SIZE: Final = 0x0004_0000
ID_PAGE: Final = 0x1000_0000

# The flash configuration field.
FLASH_CONFIG: Final = 0x400
BACKDOOR_KEY: Final = 0x400
FPROT_FIELD: Final = 0x408  # FPROT3 at 0x408 ... FPROT0 at 0x40B: bit n of the word guards region n
FSEC_ADDRESS: Final = 0x40C
FOPT_ADDRESS: Final = 0x40D
FSEC_UNSECURE: Final = 0xFE
SEC_UNSECURE: Final = 0b10
MEEN_DISABLED: Final = 0b10
KEYEN_ENABLED: Final = 0b10

# Peripherals (RM chapter 4, "Peripheral bridge (AIPS-Lite) memory map").
FTFE_BASE: Final = 0x4002_0000
SIM_LOW: Final = 0x4004_7000  # SIM_SOPT1, SIM_SOPT1CFG
SIM_BASE: Final = 0x4004_8000  # SIM_SOPT2 ... SIM_UIDL
SIM_SDID: Final = SIM_BASE + 0x24
SIM_SCGC4: Final = SIM_BASE + 0x34
SIM_SCGC4_UART0: Final = 1 << 10
SIM_SCGC5: Final = SIM_BASE + 0x38
SIM_SCGC6: Final = SIM_BASE + 0x3C
SIM_SCGC7: Final = SIM_BASE + 0x40
SIM_CLKDIV1: Final = SIM_BASE + 0x44
SIM_FCFG1: Final = SIM_BASE + 0x4C
SIM_FCFG2: Final = SIM_BASE + 0x50
SIM_UIDH: Final = SIM_BASE + 0x54  # UIDH, UIDMH, UIDML, UIDL: most significant first
SIM_UIDL: Final = SIM_BASE + 0x60
WDOG_BASE: Final = 0x4005_2000
MCG_BASE: Final = 0x4006_4000
UART0_BASE: Final = 0x4006_A000  # 8-bit registers: BDH, BDL, C1, C2, S1, S2, C3, D, ...
UART0_C2: Final = UART0_BASE + 0x03
UART0_S1: Final = UART0_BASE + 0x04
UART0_D: Final = UART0_BASE + 0x07
UART_C2_TE: Final = 1 << 3
UART_S1_RESET: Final = 0xC0  # TDRE and TC: nothing to send yet
PMC_BASE: Final = 0x4007_D000
SMC_BASE: Final = 0x4007_E000
RCM_BASE: Final = 0x4007_F000

# SIM_SDID: FAMILYID 6 (K6x), SUBFAMID 4 (Kx4), SERIESID 0 (K), REVID and DIEID 0 (not given by
# the manual at hand), FAMID 100b (K6x, the older field), PINID 1000b (100 pins: VLL12 is LQFP100).
SDID_VALUE: Final = 0x6400_0048
# SIM_FCFG1: NVMSIZE 0 (no FlexNVM), PFSIZE 1111b (1 MiB), EESIZE 1111b (no EEPROM), DEPART 1111b.
FCFG1_VALUE: Final = 0x0F0F_0F00
# SIM_FCFG2: MAXADDR0 = MAXADDR1 = 0x40 (x 8 KiB: 512 KiB blocks), PFLSH = 1 (program flash only).
FCFG2_VALUE: Final = 0x40C0_0000
ID_REGISTERS: Final = (SIM_SDID, SIM_FCFG1, SIM_FCFG2, SIM_UIDH, SIM_UIDH + 4, SIM_UIDH + 8, SIM_UIDL)

# Reset values of the registers a debugger, a flash algorithm or start-up code look at.
RESET_VALUES: Final[dict[int, int]] = {
    SIM_LOW: 0x8000_B000,  # SIM_SOPT1: USBREGEN, RAMSIZE 1011b (256 KiB)
    SIM_SCGC4: 0xF010_0030,  # UART0's clock gate (bit 10) off
    SIM_SCGC5: 0x0004_0182,
    SIM_SCGC6: 0x4000_0001,  # FTF (the flash controller's clock) on
    SIM_SCGC7: 0x0000_0006,
    SIM_CLKDIV1: 0x0001_0000,
    WDOG_BASE + 0x0: 0x0001_01D3,  # STCTRLH 0x01D3 (WDOGEN, ALLOWUPDATE, ...), STCTRLL 0x0001
    WDOG_BASE + 0x4: 0x4B4C_004C,  # TOVALH, TOVALL
    WDOG_BASE + 0x8: 0x0010_0000,  # WINH, WINL
    WDOG_BASE + 0xC: 0xD928_B480,  # REFRESH, UNLOCK
    WDOG_BASE + 0x14: 0x0400_0000,  # RSTCNT, PRESC
    MCG_BASE + 0x0: 0x1004_8004,  # C1 0x04 (IREFS), C2 0x80, C3 and C4: factory trim
    MCG_BASE + 0x4: 0x0010_0000,  # C5, C6, S 0x10 (IREFST: FLL on the slow internal reference)
    MCG_BASE + 0x8: 0x0000_0002,  # SC
    MCG_BASE + 0xC: 0x0000_8000,  # C7, C8 0x80
    PMC_BASE + 0x0: 0x0004_0010,  # LVDSC1 0x10, LVDSC2 0x00, REGSC 0x04
    SMC_BASE + 0x0: 0x0103_0000,  # PMPROT, PMCTRL, VLLSCTRL 0x03, PMSTAT 0x01 (RUN)
    RCM_BASE + 0x0: 0x0000_0082,  # SRS0: POR and LVD
    UART0_BASE + 0x0: 0x0000_0400,  # BDH 0x00, BDL 0x04, C1 and C2 0x00 (transmitter off)
    UART0_BASE + 0x4: UART_S1_RESET,  # S1 0xC0, S2, C3, D 0x00
}

# Data sheet, "Flash (FTFE) electrical specifications", command execution times, in seconds:
# typical values where the data sheet gives one, else its maximum (the read commands).
PROGRAM_PHRASE_SECONDS: Final = 90e-6  # tpgm8
ERASE_SECTOR_SECONDS: Final = 15e-3  # tersscr
ERASE_BLOCK_SECONDS: Final = 110e-3 * 2  # tersblk256k, per 256 KiB: a 512 KiB block is two
ERASE_ALL_SECONDS: Final = 870e-3  # tersall
READ_1S_SECTION_SECONDS: Final = 100e-6  # trd1sec4k (maximum)
READ_1S_BLOCK_SECONDS: Final = 1.7e-3 * 2  # trd1blk256k (maximum), a 512 KiB block
READ_1S_ALL_SECONDS: Final = 1.8e-3  # trd1allx (maximum)
PROGRAM_CHECK_SECONDS: Final = 95e-6  # tpgmchk (maximum)
READ_RESOURCE_SECONDS: Final = 40e-6  # trdrsrc (maximum)
VERIFY_KEY_SECONDS: Final = 30e-6  # tvfykey (maximum)

_PERIPHERALS: Final = (
    Window(0x4000_0000, SLOT_SIZE),  # AIPS0
    Window(0x4000_8000, SLOT_SIZE),  # DMA
    Window(0x4000_D000, SLOT_SIZE),  # MPU
    Window(0x4001_F000, 2 * SLOT_SIZE),  # FMC, FTFE
    Window(0x4002_1000, SLOT_SIZE),  # DMAMUX
    Window(0x4003_2000, SLOT_SIZE),  # CRC
    Window(0x4003_7000, SLOT_SIZE),  # PIT
    Window(0x4003_D000, SLOT_SIZE),  # RTC
    Window(SIM_LOW, 7 * SLOT_SIZE),  # SIM (two pages), PORTA-PORTE
    Window(WDOG_BASE, SLOT_SIZE),
    Window(MCG_BASE, 2 * SLOT_SIZE),  # MCG, OSC
    Window(0x4006_A000, 4 * SLOT_SIZE),  # UART0-UART3
    Window(0x4007_C000, 4 * SLOT_SIZE),  # LLWU, PMC, SMC, RCM
    Window(0x400F_F000, SLOT_SIZE),  # GPIO
)


def fsec_fields(fsec: int) -> tuple[bool, bool, bool]:
    """(secure, mass erase disabled, backdoor key enabled) as an FSEC byte says them."""
    return fsec & 0b11 != SEC_UNSECURE, (fsec >> 4) & 0b11 == MEEN_DISABLED, (fsec >> 6) & 0b11 == KEYEN_ENABLED


def uid_words(device_id: int) -> tuple[int, int, int, int]:
    """SIM_UIDH, UIDMH, UIDML, UIDL of a 128-bit unique id."""
    high, middle_high, middle_low, low = (device_id >> shift & 0xFFFF_FFFF for shift in (96, 64, 32, 0))
    return high, middle_high, middle_low, low


def id_register(address: int, device_id: int) -> int | None:
    """The value of one of the SIM's read-only identification registers, or None."""
    if address == SIM_SDID:
        return SDID_VALUE
    if address == SIM_FCFG1:
        return FCFG1_VALUE
    if address == SIM_FCFG2:
        return FCFG2_VALUE
    if SIM_UIDH <= address <= SIM_UIDL and address % 4 == 0:
        return uid_words(device_id)[(address - SIM_UIDH) // 4]
    return None


class K64f(ChipModel):
    target = "k64f"
    part_name = "Kinetis K64F (MK64FN1M0VLL12)"
    clock_hz = 20_971_520  # FEI: the FLL at 640 x the 32.768 kHz slow IRC out of reset
    layout = MemoryLayout(
        nvm=(Window(FLASH_BASE, FLASH_SIZE),),
        ram=(Window(RAM_BASE, RAM_SIZE),),
        id_page=Window(ID_PAGE, SLOT_SIZE),
        peripherals=_PERIPHERALS,
        mmio_pages=(FTFE_BASE, SIM_BASE, WDOG_BASE),
    )
    product = ProductLayout(
        bootloader=Window(FLASH_BASE, 0x8000),
        app_header=Window(0x0000_8000, SECTOR_SIZE),
        application=Window(0x0000_9000, 0x000F_E000 - 0x0000_9000),
        credentials=Window(0x000F_E000, SECTOR_SIZE),
        key_store=Window(0x000F_F000, SECTOR_SIZE),
        extra_regions=(("flash-config", Window(FLASH_CONFIG, 16)),),
    )
    device_id_digits = 32
    device_id_source = f"SIM_UIDH..SIM_UIDL (0x{SIM_UIDH:08X}, 128 bits)"
    # The FTFE, SIM and WDOG pages are the family's own (mmio_pages); UART0's data register
    # sends what the CPU stores there.
    behaving_ranges = ((UART0_D, UART0_D),)

    def random_device_id(self) -> int:
        return 1 + secrets.randbelow((1 << 128) - 1)

    def check_device_id(self, device_id: int) -> None:
        if not 0 < device_id < 1 << 128:
            raise SimulationError("a Kinetis unique id is 128 bits (SIM_UIDH..SIM_UIDL), not zero")

    def blank_nvm(self) -> bytes:
        return b"\xff" * FLASH_SIZE

    def is_blank(self, nvm: bytes) -> bool:
        return nvm[:FLASH_SIZE] == b"\xff" * FLASH_SIZE

    def id_image(self, info: UnitInfo) -> bytes:
        page = bytearray(b"\xff" * SLOT_SIZE)
        for address in ID_REGISTERS:
            value = id_register(address, info.device_id)
            assert value is not None
            struct.pack_into("<I", page, address - SIM_BASE, value)
        return bytes(page)

    def reset_peripherals(self, state: CoreState, read_nvm: ReadNvm) -> None:
        from station.sim.chips import kinetis_ftfe

        kept = kinetis_ftfe.kept_over_reset(state)
        values = RESET_VALUES | kinetis_ftfe.ftfe_reset_values(read_nvm, kept)
        write_reset_values(state, self.layout.present_pages(), values)
        kinetis_ftfe.clear_ftfe_times(state)

    def latch_protection(self, unit: SimUnit) -> None:
        """FSEC loads at reset: SEC decides security; with MEEN disabled it is level 2 (no mass erase).

        The simulator resets a unit when its reset pin is released; the chip loads FSEC as the
        reset begins. A mass erase done while the reset was held (as pyOCD and the station do
        it) therefore leaves the part unsecure through the release, as on the chip."""
        from station.sim.chips.kinetis_mdm import ERASED_IN_RESET

        if unit.core_state.read_peripheral(ERASED_IN_RESET):
            unit.info.protected = False
            unit.info.protection_level = 0
            return
        secure, no_mass_erase, _backdoor = fsec_fields(unit.read_nvm(FSEC_ADDRESS, 1)[0])
        unit.info.protected = secure
        unit.info.protection_level = (2 if no_mass_erase else 1) if secure else 0

    def lock_words(self, unit: SimUnit) -> tuple[str, bool]:
        fsec = unit.read_nvm(FSEC_ADDRESS, 1)[0]
        stored_secure, stored_no_erase, backdoor = fsec_fields(fsec)
        level = max(unit.info.protection_level, 1) if unit.info.protected else 0
        words = {0: "unsecure", 1: "SECURE (FSEC)", 2: "SECURE FOR GOOD (FSEC, mass erase disabled)"}[level]
        stored_level = (2 if stored_no_erase else 1) if stored_secure else 0
        pending = stored_level != level
        if pending:
            words += f", FSEC 0x{fsec:02X} in flash: {'secure' if stored_secure else 'unsecure'} at next reset"
        if backdoor and stored_secure:
            words += " (backdoor key enabled)"
        return words, pending

    def lock_as_delivered(self, unit: SimUnit) -> None:
        """A unit back from a previous run: its configuration field says secure (FSEC 0xFF)."""
        sector = bytearray(unit.read_nvm(FLASH_BASE, SECTOR_SIZE))
        sector[FSEC_ADDRESS] = 0xFF
        unit.erase_range(FLASH_BASE, SECTOR_SIZE)
        unit.program_nvm(FLASH_BASE, bytes(sector))

    def initial_protection(self, build_code: str) -> bool:
        """Erased flash reads FSEC = 0xFF: SEC = 11b, secure. A fresh part arrives secure."""
        return True

    def make_port(self, device: SimDevice) -> FamilyPort:
        from station.sim.chips.kinetis_ftfe import KinetisPort

        return KinetisPort(device)
