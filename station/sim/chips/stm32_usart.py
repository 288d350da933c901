"""USART1 of the STM32F429 as far as the demo firmware uses it: its transmitter (RM0090 chapter 30).

The smallest faithful model: a byte the CPU (or a debugger) stores in USART_DR goes out at
once, appended to the unit's UART log exactly as the nRF52840's UARTE0 does
(:func:`station.sim.peripherals.append_uart_log`), so the console shows the firmware's lines.
It is sent only as the chip would send it: with USART1's clock enabled (RCC_APB2ENR.USART1EN)
and the USART and its transmitter enabled (CR1.UE and CR1.TE); otherwise the store is only
kept, as the register file keeps it. The transmitter is never busy: USART_SR keeps TXE and TC
set (their reset value), so a firmware that waits for them never waits. Not modelled: the
receiver, the baud rate (BRR is kept, not used), parity and 9-bit words, interrupts and DMA,
the other USARTs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

from station.sim import peripherals
from station.sim.chips import stm32f429 as chip

if TYPE_CHECKING:
    from station.sim.core_state import CoreState

CR1_TE: Final = 1 << 3
CR1_UE: Final = 1 << 13


class Usart1Transmitter:
    """What a store to USART1's data register sends (see the module docstring)."""

    def __init__(self, state: CoreState, unit_directory: Path) -> None:
        self._state = state
        self._log = unit_directory / peripherals.UART_LOG_NAME

    def on_data_write(self, value: int) -> None:
        state = self._state
        if not state.read_peripheral(chip.RCC_APB2ENR) & chip.RCC_APB2ENR_USART1EN:
            return  # no clock: the USART does nothing
        if state.read_peripheral(chip.USART1_CR1) & (CR1_UE | CR1_TE) != CR1_UE | CR1_TE:
            return
        peripherals.append_uart_log(self._log, bytes([value & 0xFF]))
