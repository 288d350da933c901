"""Fixed facts of the simulated nRF52840-class board: memory map and flash layout.

The flash layout is what the simulated unit's firmware is built for (on a real board it is
compiled into the bootloader and application): the demo recipe in ``resources/`` names the
same regions. Credential and key-store regions are the last two 4 KiB pages, which firmware
programming must never touch.
"""

from __future__ import annotations

from typing import Final

FLASH_BASE: Final = 0x0000_0000
FLASH_SIZE: Final = 0x0010_0000  # 1 MiB
PAGE_SIZE: Final = 0x1000  # 4 KiB erase unit
RAM_BASE: Final = 0x2000_0000
RAM_SIZE: Final = 0x0004_0000  # 256 KiB

FICR_BASE: Final = 0x1000_0000
FICR_SIZE: Final = 0x1000
FICR_DEVICEID: Final = 0x1000_0060  # two words: the unit's unique id
FICR_PART: Final = 0x1000_0100
FICR_VARIANT: Final = 0x1000_0104
FICR_PACKAGE: Final = 0x1000_0108
FICR_RAM: Final = 0x1000_010C  # KiB
FICR_FLASH: Final = 0x1000_0110  # KiB

UICR_BASE: Final = 0x1000_1000
UICR_SIZE: Final = 0x1000
UICR_APPROTECT: Final = 0x1000_1208

PART_NRF52840: Final = 0x52840
VARIANT_AAF0: Final = int.from_bytes(b"AAF0", "big")  # build code F0: hardened APPROTECT
VARIANT_AAD0: Final = int.from_bytes(b"AAD0", "big")  # build code D0: legacy APPROTECT
APPROTECT_FORCEPROTECT: Final = 0x4000_0550  # hardened parts: write 0 to close the port until reset
APPROTECT_DISABLE: Final = 0x4000_0558  # hardened parts: 0x5A (SwDisable) opens it, with UICR HwDisabled
APPROTECT_HW_DISABLED: Final = 0x5A
PACKAGE_QI: Final = 0x2004

# Flash layout of the simulated product (the demo recipe pins the same numbers).
BOOTLOADER_ADDRESS: Final = 0x0000_0000
BOOTLOADER_SIZE: Final = 0x0001_0000
APP_HEADER_ADDRESS: Final = 0x0001_0000
APP_HEADER_SIZE: Final = 0x1000
APPLICATION_ADDRESS: Final = 0x0001_1000
APPLICATION_SIZE: Final = 0x000F_E000 - APPLICATION_ADDRESS
CREDENTIALS_ADDRESS: Final = 0x000F_E000
CREDENTIALS_SIZE: Final = 0x1000
KEY_STORE_ADDRESS: Final = 0x000F_F000
KEY_STORE_SIZE: Final = 0x1000

# RAM words of the demo application, the same on every family (firmware/demo/<family>/application.ld
# fixes them; the build checks).
SYSTICK_COUNT_ADDRESS: Final = 0x2000_0000  # uint32: SysTick interrupts taken, 1 kHz
HEARTBEAT_COUNT_ADDRESS: Final = 0x2000_0004  # uint32: calls of heartbeat(), one per 100 ticks

# Physical timing of the nRF52840 NVMC (datasheet), in seconds, before the unit's factor.
PAGE_ERASE_SECONDS: Final = 0.085
WORD_WRITE_SECONDS: Final = 0.000041
CHIP_ERASE_SECONDS: Final = 0.200
