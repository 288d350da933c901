"""The Authentication Access Port (AAP) of EFM32/EFR32 Series 1 parts (EFR32xG12 reference
manual, "Debug Interface": "Debug Lock and Device Erase").

When the debug lock word held a lock at the last reset, the AHB-AP is locked out of the debug
port and the AAP answers in its place, as access port 0; an unlocked part has no AAP. Its
registers, as a debugger selects them (APSEL 0, bank 0 and bank 0xF):

* AAP_CMD (0x00): DEVICEERASE (bit 0) erases main flash and the lock bits page and clears RAM;
  SYSRESETREQ (bit 1) resets the system. A store takes effect only while AAP_CMDKEY holds the
  write key 0xCFACC118.
* AAP_CMDKEY (0x04): the key, kept as written.
* AAP_STATUS (0x08): ERASEBUSY (bit 0) reads 1 while the device erase runs (the data sheet's
  device erase time times the unit's timing factor).
* IDR (0xFC): 0x26E6_0011, which tells a debugger that the part is locked.

The device erase leaves the port locked until the next reset, which reads the erased debug lock
word and opens it. A unit whose flash held anything is a development unit for life from then on
(``ever_erased``), as after the nRF52's CTRL-AP ERASEALL; a blank part stays a new part. The
user data page is left as it was. The AAP's registers survive a system reset (the debug domain's).

Not modelled: AAP_CTRL and the errors of a device erase, the reset the AAP holds during it.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Final

from station.sim.chips import efr32mg12 as chip
from station.sim.chips.base import set_shared_float, shared_float
from station.sim.chips.efm32_msc import BASE as MSC_BASE
from station.sim.controller import poll_wait

if TYPE_CHECKING:
    from station.sim.core_state import CoreState
    from station.sim.device import SimDevice

LOG = logging.getLogger(__name__)

AAP_APSEL: Final = 0
IDR: Final = 0xFC
IDR_VALUE: Final = 0x26E6_0011
CMD: Final = 0x00
CMDKEY: Final = 0x04
STATUS: Final = 0x08
CMD_DEVICEERASE: Final = 1 << 0
CMD_SYSRESETREQ: Final = 1 << 1
CMDKEY_WRITEENABLE: Final = 0xCFAC_C118
STATUS_ERASEBUSY: Final = 1 << 0

# Kept in the MSC page's reserved space (every session shares them).
_CMDKEY: Final = MSC_BASE + 0x320
_ERASE_UNTIL: Final = MSC_BASE + 0x328  # float64, CLOCK_MONOTONIC


def kept_aap_registers(state: CoreState) -> dict[int, int]:
    """The AAP's key and its erase's end over a system reset, as words of the MSC page."""
    return {address: state.read_peripheral(address) for address in (_CMDKEY, _ERASE_UNTIL, _ERASE_UNTIL + 4)}


class Aap:
    """The AAP of one debug session (its registers are the chip's: in the shared state)."""

    apsel = AAP_APSEL

    def __init__(self, device: SimDevice) -> None:
        self._device = device
        self.unit = device.unit
        self._state = device.unit.core_state

    def read(self, register: int) -> int:
        if register == IDR:
            return IDR_VALUE
        if register == CMDKEY:
            return self._state.read_peripheral(_CMDKEY)
        if register == STATUS:
            until = shared_float(self._state, _ERASE_UNTIL)
            poll_wait(until)
            return STATUS_ERASEBUSY if time.monotonic() < until else 0
        return 0  # AAP_CMD and the rest read as zero

    def write(self, register: int, value: int) -> None:
        state = self._state
        if register == CMDKEY:
            with state.locked():
                state.write_peripheral(_CMDKEY, value)
            return
        if register != CMD:
            return
        if state.read_peripheral(_CMDKEY) != CMDKEY_WRITEENABLE:
            LOG.info("%s: AAP_CMD 0x%X ignored: AAP_CMDKEY does not hold the write key", self.unit.unit_id, value)
            return
        if value & CMD_DEVICEERASE and time.monotonic() >= shared_float(state, _ERASE_UNTIL):
            self._device_erase()
        if value & CMD_SYSRESETREQ:
            self._device.system_reset()

    def _device_erase(self) -> None:
        """Main flash, the lock bits page and RAM erased; the port stays locked until the next reset."""
        seconds = chip.DEVICE_ERASE_SECONDS * self._device.factor
        with self.unit.locked():
            info = self.unit.info
            held_something = not self.unit.is_blank()
            self.unit.erase_range(chip.FLASH_BASE, chip.FLASH_SIZE)
            self.unit.erase_range(chip.LOCKBITS_BASE, chip.INFO_PAGE_SIZE)
            self._device.core.sync()
            self.unit.core_state.clear_ram()
            self.unit.add_nvm_busy_seconds(seconds)
            info.ever_erased = info.ever_erased or held_something
            info.activated_product = None
            with self._state.locked():
                set_shared_float(self._state, _ERASE_UNTIL, time.monotonic() + seconds)
        LOG.info("%s: AAP device erase: main flash, lock bits and RAM erased", info.unit_id)
