"""USART0 of the EFR32MG12 as far as the demo firmware uses it: its transmitter, asynchronous
(EFR32xG12 reference manual, "USART"; ``efr32mg12p_usart.h``).

The smallest faithful model, as :mod:`station.sim.chips.stm32_usart` is for the STM32: CMD's
TXEN and TXDIS set and clear STATUS.TXENS; a byte the CPU (or a debugger) stores in TXDATA goes
out at once, appended to the unit's UART log (:func:`station.sim.peripherals.append_uart_log`),
so the console shows the firmware's lines. It is sent only as the chip would send it: with
USART0's clock on (CMU_HFPERCLKEN0.USART0) and its transmitter enabled (STATUS.TXENS); otherwise
the store is only kept, as the register file keeps it. The transmitter is never busy: STATUS
keeps TXBL and TXIDLE set (their reset value) and TXC reads set once a byte went out, so a
firmware that waits for them never waits. Not modelled: the receiver, the baud rate (CLKDIV is
kept, not used), frames other than 8N1, interrupts and DMA, the pin routing (ROUTEPEN and
ROUTELOC0 are kept, not checked), USART1-3.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Final

from station.sim import peripherals
from station.sim.chips import efr32mg12 as chip

if TYPE_CHECKING:
    from station.sim.core_state import CoreState

CMD: Final = chip.USART0_BASE + chip.USART_CMD
STATUS: Final = chip.USART0_BASE + chip.USART_STATUS
TXDATA: Final = chip.USART0_BASE + chip.USART_TXDATA
CMD_TXEN: Final = 1 << 2
CMD_TXDIS: Final = 1 << 3
STATUS_TXENS: Final = 1 << 1
STATUS_TXC: Final = 1 << 5


class Usart0Transmitter:
    """What a store to USART0's command and data registers does (see the module docstring)."""

    def __init__(self, state: CoreState, unit_directory: Path) -> None:
        self._state = state
        self._log = unit_directory / peripherals.UART_LOG_NAME

    def on_command(self, value: int) -> None:
        state = self._state
        status = state.read_peripheral(STATUS)
        if value & CMD_TXDIS:
            status &= ~STATUS_TXENS
        elif value & CMD_TXEN:
            status |= STATUS_TXENS
        state.write_peripheral(STATUS, status)

    def on_data_write(self, value: int) -> None:
        state = self._state
        if not state.read_peripheral(chip.CMU_HFPERCLKEN0) & chip.CMU_HFPERCLKEN0_USART0:
            return  # no clock: the USART does nothing
        if not state.read_peripheral(STATUS) & STATUS_TXENS:
            return
        peripherals.append_uart_log(self._log, bytes([value & 0xFF]))
        state.write_peripheral(STATUS, state.read_peripheral(STATUS) | STATUS_TXC)
