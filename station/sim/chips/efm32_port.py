"""The EFR32MG12's part of one debug session: the MSC (:mod:`station.sim.chips.efm32_msc`), the
AAP that answers in the AHB-AP's place while the debug lock holds
(:mod:`station.sim.chips.efm32_aap`), USART0's transmitter (:mod:`station.sim.chips.efm32_usart`),
and what the debug lock closes.

Locked (the debug lock word latched at the last reset), the AHB-AP is gone: a debugger that
scans the access ports finds the AAP at APSEL 0 and nothing else, and a session that was open
before the reset that locked the part gets a transfer fault for every memory access.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from pyocd.core import exceptions

from station.sim.chips import efr32mg12 as chip
from station.sim.chips.base import ClosedByProtection
from station.sim.chips.efm32_aap import Aap
from station.sim.chips.efm32_msc import BASE as MSC_BASE
from station.sim.chips.efm32_msc import Msc
from station.sim.chips.efm32_usart import CMD as USART0_CMD
from station.sim.chips.efm32_usart import TXDATA as USART0_TXDATA
from station.sim.chips.efm32_usart import Usart0Transmitter
from station.sim.chips.layout import SLOT_SIZE

if TYPE_CHECKING:
    from station.sim.device import SimDevice
    from station.sim.flash_copy import PageStores

LOG = logging.getLogger(__name__)


class Efm32Port(ClosedByProtection):
    """The family's part of one debug session (see the module docstring)."""

    closed_because = "the AHB-AP is locked out: the debug lock word holds a lock"

    def __init__(self, device: SimDevice) -> None:
        self._device = device
        self.unit = device.unit
        self.msc = Msc(device)
        self.aap = Aap(device)
        self._usart = Usart0Transmitter(device.unit.core_state, device.unit.directory)

    # ---- the debug lock -------------------------------------------------------------------------

    def read_ap(self, apsel: int, register: int) -> int | None:
        """The AAP, at APSEL 0 while locked; None elsewhere (the AHB-AP, or no AP at all)."""
        if apsel == self.aap.apsel and self.unit.info.protected:
            return self.aap.read(register)
        return None

    def write_ap(self, apsel: int, register: int, value: int) -> None:
        if apsel == self.aap.apsel and self.unit.info.protected:
            self.aap.write(register, value)

    # ---- registers ------------------------------------------------------------------------------

    def read_register(self, address: int) -> int | None:
        if MSC_BASE <= address < MSC_BASE + SLOT_SIZE:
            return self.msc.read(address)
        return None

    def write_register(self, address: int, size: int, value: int) -> bool:
        """Stores to the MSC: the family's own. A store that reaches USART0's command or data
        register does what it does there, and is kept as written."""
        if MSC_BASE <= address < MSC_BASE + SLOT_SIZE:
            self.msc.write(address, size, value)
            return True
        if address <= USART0_CMD < address + size:
            self._usart.on_command(value >> (8 * (USART0_CMD - address)))
        elif address <= USART0_TXDATA < address + size:
            self._usart.on_data_write(value >> (8 * (USART0_TXDATA - address)))
        return False

    # ---- non-volatile memory: only through the MSC ----------------------------------------------

    def nvm_write(self, address: int, size: int, value: int) -> None:
        raise exceptions.TransferFaultError(
            f"{chip.Efr32mg12.part_name} flash is written through the MSC, not by stores",
            fault_address=address,
            length=size,
        )

    def cpu_nvm_stores(self, stores: list[PageStores]) -> None:
        """Stores that reached the flash copy past the hook (none should): ignored, as all are."""

    def nvm_writable(self) -> bool:
        return False

    @property
    def nvm_store_hook(self) -> Callable[[int, int, int], bool]:
        """Every CPU store to flash is judged as it happens (and ignored)."""
        return self._ignore_cpu_store

    def commit_nvm_stores(self) -> None:
        """Nothing kept back: the MSC writes each word as it is told to, at once."""

    def _ignore_cpu_store(self, address: int, size: int, value: int) -> bool:
        LOG.debug("%s: CPU store to flash 0x%08X ignored (the MSC writes flash)", self.unit.unit_id, address)
        return False  # the core's copy is put back as flash holds it
