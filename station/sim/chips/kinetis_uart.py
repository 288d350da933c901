"""UART0 of the K64F as far as the demo firmware uses it: its transmitter (RM chapter 52, UART).

The smallest faithful model, as :mod:`station.sim.chips.stm32_usart` is for the STM32: a byte the
CPU (or a debugger) stores in UART0_D goes out at once, appended to the unit's UART log
(:func:`station.sim.peripherals.append_uart_log`), so the console shows the firmware's lines. It
is sent only as the chip would send it: with UART0's clock gate on (SIM_SCGC4.UART0) and its
transmitter enabled (C2.TE); otherwise the store is only kept, as the register file keeps it.
The transmitter is never busy: UART0_S1 keeps TDRE and TC set (their reset value), so a firmware
that waits for them never waits. Not modelled: the receiver, the baud rate (BDH, BDL and C4 are
kept, not used), the FIFOs, parity and 9-bit words, interrupts and DMA, the pin multiplexing
(PORTB_PCR17 is kept, not checked), UART1-5.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from station.sim import peripherals
from station.sim.chips import k64f as chip

if TYPE_CHECKING:
    from station.sim.core_state import CoreState


class Uart0Transmitter:
    """What a store to UART0's data register sends (see the module docstring)."""

    def __init__(self, state: CoreState, unit_directory: Path) -> None:
        self._state = state
        self._log = unit_directory / peripherals.UART_LOG_NAME

    def on_data_write(self, value: int) -> None:
        state = self._state
        if not state.read_peripheral(chip.SIM_SCGC4) & chip.SIM_SCGC4_UART0:
            return  # no clock: the UART does nothing
        control_2 = (state.read_peripheral(chip.UART0_C2 & ~3) >> (8 * (chip.UART0_C2 & 3))) & 0xFF
        if not control_2 & chip.UART_C2_TE:
            return
        peripherals.append_uart_log(self._log, bytes([value & 0xFF]))
