"""The nRF52840's peripheral address space as the simulated core and a debugger see it.

Every peripheral instance the nRF52840 has (one 4 KiB slot per instance on the APB, the GPIO
ports on the AHB) is memory in the unit's shared core state: what is written there is kept
and read back, and registers read their reset value until written. An address in a slot the
chip does not populate is a hole: the core takes a bus fault there and a debugger a transfer
fault, as on the chip. Two peripherals do more than keep values: the NVMC (in
:mod:`station.sim.device`, it programs flash) and UARTE0, whose EasyDMA transmitter sends
the bytes the firmware points it at to the unit's console (``uart-tx.log``, from which the
console server prints them).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Final

from station.sim import board
from station.sim.core_state import CoreState

SLOT_SIZE: Final = 0x1000
# APB slots with no peripheral on the nRF52840 (product specification, memory map); the chip
# model (:mod:`station.sim.chips.nrf52840`) makes them holes in its layout.
APB_HOLES: Final = frozenset({0x2A, 0x2B, 0x2C, 0x2E})


# ---- registers with behaviour ------------------------------------------------------------------
NVMC_BASE: Final = 0x4001_E000
NVMC_READY: Final = NVMC_BASE + 0x400
NVMC_READYNEXT: Final = NVMC_BASE + 0x408
NVMC_CONFIG: Final = NVMC_BASE + 0x504

UARTE0_BASE: Final = 0x4000_2000
UARTE_TASKS_STARTTX: Final = UARTE0_BASE + 0x008
UARTE_TASKS_STOPTX: Final = UARTE0_BASE + 0x00C
UARTE_EVENTS_ENDTX: Final = UARTE0_BASE + 0x120
UARTE_EVENTS_TXSTARTED: Final = UARTE0_BASE + 0x150
UARTE_EVENTS_TXSTOPPED: Final = UARTE0_BASE + 0x158
UARTE_ENABLE: Final = UARTE0_BASE + 0x500
UARTE_TXD_PTR: Final = UARTE0_BASE + 0x544
UARTE_TXD_MAXCNT: Final = UARTE0_BASE + 0x548
UARTE_TXD_AMOUNT: Final = UARTE0_BASE + 0x54C
UARTE_ENABLED: Final = 8
UART_LOG_NAME: Final = "uart-tx.log"
# Where a store does more than keep its value (the device model's _write_peripheral): the NVMC,
# UARTE0, and the hardened parts' APPROTECT registers.
BEHAVING_RANGES: Final = (
    (NVMC_BASE, NVMC_BASE + SLOT_SIZE - 1),
    (UARTE0_BASE, UARTE0_BASE + SLOT_SIZE - 1),
    (board.APPROTECT_FORCEPROTECT, board.APPROTECT_DISABLE + 3),
)
UART_LOG_LIMIT: Final = 64 * 1024  # a log that grows past this starts over

# Registers whose reset value is not zero (those a debugger or the demo firmware look at).
RESET_VALUES: Final[dict[int, int]] = {
    NVMC_READY: 1,
    NVMC_READYNEXT: 1,
    0x4000_2524: 0x0400_0000,  # UARTE0.BAUDRATE: 9600
    0x4000_2508: 0xFFFF_FFFF,  # UARTE0.PSEL.RTS
    0x4000_250C: 0xFFFF_FFFF,  # UARTE0.PSEL.TXD
    0x4000_2510: 0xFFFF_FFFF,  # UARTE0.PSEL.CTS
    0x4000_2514: 0xFFFF_FFFF,  # UARTE0.PSEL.RXD
}


def reset_peripherals(state: CoreState, pages: Iterable[int]) -> None:
    """What a chip reset does to the nRF52840's peripherals: every register back to its reset value."""
    write_reset_values(state, pages, RESET_VALUES)


def write_reset_values(state: CoreState, pages: Iterable[int], values: Mapping[int, int]) -> None:
    """Every register of ``pages`` to its reset value (``values``; zero where none is given), a
    page in one store: a process killed at any instant leaves each page as it was or as reset,
    never half way (a page zeroed and then killed before its values were written left NVMC READY
    at 0, and every later flash algorithm on that unit waited for it for ever)."""
    memory = state.memory
    written: set[int] = set()
    for base in pages:
        page = bytearray(SLOT_SIZE)
        for address, value in values.items():
            if base <= address < base + SLOT_SIZE:
                struct.pack_into("<I", page, (address & ~3) - base, value & 0xFFFF_FFFF)
                written.add(address)
        offset = state.peripheral_offset(base)
        assert offset is not None
        memory[offset : offset + SLOT_SIZE] = page
    for address, value in values.items():
        if address not in written:
            state.write_peripheral(address, value)


class Uarte:
    """UARTE0's EasyDMA transmitter: STARTTX sends TXD.MAXCNT bytes from RAM at TXD.PTR."""

    def __init__(self, state: CoreState, unit_directory: Path) -> None:
        self._state = state
        self._log = unit_directory / UART_LOG_NAME

    def on_write(self, address: int, value: int) -> None:
        state = self._state
        if address == UARTE_TASKS_STARTTX and value & 1:
            if state.read_peripheral(UARTE_ENABLE) != UARTE_ENABLED:
                return
            pointer = state.read_peripheral(UARTE_TXD_PTR)
            count = state.read_peripheral(UARTE_TXD_MAXCNT) & 0xFFFF
            state.write_peripheral(UARTE_EVENTS_TXSTARTED, 1)
            sent = 0
            if board.RAM_BASE <= pointer and pointer + count <= board.RAM_BASE + board.RAM_SIZE:
                self._send(state.read_ram(pointer, count))
                sent = count
            state.write_peripheral(UARTE_TXD_AMOUNT, sent)
            state.write_peripheral(UARTE_EVENTS_ENDTX, 1)  # EasyDMA only reads RAM: elsewhere, nothing is sent
        elif address == UARTE_TASKS_STOPTX and value & 1:
            state.write_peripheral(UARTE_EVENTS_TXSTOPPED, 1)

    def _send(self, data: bytes) -> None:
        append_uart_log(self._log, data)


def append_uart_log(log: Path, data: bytes) -> None:
    """Append what a UART sent to the unit's UART log, which the console server forwards to the
    pty (every family's UART model writes here)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND
    try:
        if log.stat().st_size > UART_LOG_LIMIT:
            flags |= os.O_TRUNC
    except FileNotFoundError:
        pass
    fd = os.open(log, flags, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
