"""The K64F's MDM-AP (access port 1, RM chapter 9 "Debug").

The MDM-AP answers whatever the security state; IDR 0x001C_0000 (version 0, as pyOCD expects).

* Status (0x00): Flash Mass Erase Acknowledge (set once a mass erase starts, cleared at reset and
  at the next request), Flash Ready (the FTFE finished its start-up: always, here), System
  Security (the part is secure), System Reset (0 while the reset pin or System Reset Request
  holds it), Mass Erase Enable (0 only while secure with FSEC's MEEN = 10b), Backdoor Access Key
  Enable (KEYEN = 10b), Core Halted, Core SLEEPING.
* Control (0x04): Flash Mass Erase in Progress -- set by the debugger, cleared by the chip when
  the erase (the data sheet's Erase All Blocks time times the unit's timing factor) is over;
  while mass erase is disabled the request does nothing and the bit stays set until the next
  system reset, as the manual says. A mass erase erases all flash and leaves the part unsecure
  until the next reset, whether or not the reset pin is held (the manual does not ask for it;
  the station and pyOCD hold it). The chip loads FSEC as a reset begins, and the simulator
  resets a unit as its reset pin is released: a mass erase done while the system is held in
  reset (``ERASED_IN_RESET``) keeps the part unsecure through that release, the end of the same
  reset; the next reset loads the erased FSEC (0xFF) and secures it again. A unit whose flash
  held anything is a development unit for life from then on (``ever_erased``), as after the
  nRF52's CTRL-AP ERASEALL; a factory-fresh, blank part stays a new part. Debug Disable, Debug
  Request, System Reset Request, Core Hold Reset and the low-power bits are kept; while the part
  is secure only bit 0 takes a write (MDM-AP version 0). Releasing System Reset Request resets
  the chip; Debug Request halts the core when halting debug is enabled (DHCSR.C_DEBUGEN), and a
  core that comes out of reset while it is set is halted at the MDM-AP's next look. The register
  survives a system reset (bit 0 aside).

Not modelled: Core Hold Reset does not hold the core (the core runs from reset until the debug
request halts it), Debug Disable does not disable debug, the low-power handshakes.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Final

from station.sim.chips import k64f as chip
from station.sim.chips.base import set_shared_float, shared_float
from station.sim.controller import poll_wait
from station.sim.core_state import RunState, Slot
from station.sim.scs import C_DEBUGEN

if TYPE_CHECKING:
    from station.sim.chips.kinetis_ftfe import KinetisPort
    from station.sim.core_state import CoreState
    from station.sim.device import SimDevice

LOG = logging.getLogger(__name__)

MDM_AP: Final = 1
IDR: Final = 0xFC
IDR_VALUE: Final = 0x001C_0000
STATUS: Final = 0x00
CONTROL: Final = 0x04

STATUS_MASS_ERASE_ACK: Final = 1 << 0
STATUS_FLASH_READY: Final = 1 << 1
STATUS_SYSTEM_SECURITY: Final = 1 << 2
STATUS_SYSTEM_RESET: Final = 1 << 3  # 1: not in reset
STATUS_MASS_ERASE_ENABLE: Final = 1 << 5
STATUS_BACKDOOR_ENABLE: Final = 1 << 6
STATUS_CORE_HALTED: Final = 1 << 16
STATUS_CORE_SLEEPING: Final = 1 << 18

CONTROL_MASS_ERASE: Final = 1 << 0
CONTROL_DEBUG_DISABLE: Final = 1 << 1
CONTROL_DEBUG_REQUEST: Final = 1 << 2
CONTROL_SYSTEM_RESET_REQUEST: Final = 1 << 3
CONTROL_CORE_HOLD_RESET: Final = 1 << 4
CONTROL_WRITABLE: Final = 0xFF

# Kept beside the FTFE's registers in its page's reserved space (every session shares them).
_CONTROL: Final = chip.FTFE_BASE + 0x310
_ACK: Final = chip.FTFE_BASE + 0x314
_ERASE_UNTIL: Final = chip.FTFE_BASE + 0x318  # float64, CLOCK_MONOTONIC
# 1: a mass erase happened while the system was held in reset; the end of that reset is not a
# new one (FSEC loaded as it began), so the part stays unsecure through it. Cleared at every reset.
ERASED_IN_RESET: Final = chip.FTFE_BASE + 0x320



def kept_mdm_registers(state: CoreState) -> dict[int, int]:
    """The MDM-AP control register over a system reset: all but Flash Mass Erase in Progress."""
    return {_CONTROL: state.read_peripheral(_CONTROL) & ~CONTROL_MASS_ERASE}


def mdm_reset_values(kept: dict[int, int]) -> dict[int, int]:
    """The MDM-AP's registers after a system reset (written with the FTFE page, in one store)."""
    return {**kept, _ACK: 0}


def clear_mass_erase_time(state: CoreState) -> None:
    set_shared_float(state, _ERASE_UNTIL, 0.0)


class MdmAp:
    """The MDM-AP of one debug session (its registers are the chip's: in the shared state)."""

    apsel = MDM_AP

    def __init__(self, device: SimDevice, port: KinetisPort) -> None:
        self._device = device
        self._port = port
        self.unit = device.unit
        self._state = device.unit.core_state

    # ---- reads ----------------------------------------------------------------------------------

    def read(self, register: int) -> int:
        if register == IDR:
            return IDR_VALUE
        if register == STATUS:
            return self._status()
        if register == CONTROL:
            return self._control()
        return 0

    def _status(self) -> int:
        state = self._state
        control = state.read_peripheral(_CONTROL)
        if control & CONTROL_DEBUG_REQUEST:
            self._halt_if_debugging()
        with self.unit.locked():
            secure = self.unit.info.protected
        _secure_field, no_mass_erase, backdoor = chip.fsec_fields(self._port.fsec_register())
        value = STATUS_FLASH_READY | state.read_peripheral(_ACK) & STATUS_MASS_ERASE_ACK
        if secure:
            value |= STATUS_SYSTEM_SECURITY
        if not (self._device.reset_pin_asserted or control & CONTROL_SYSTEM_RESET_REQUEST):
            value |= STATUS_SYSTEM_RESET
        if not (secure and no_mass_erase):
            value |= STATUS_MASS_ERASE_ENABLE
        if backdoor:
            value |= STATUS_BACKDOOR_ENABLE
        run_state = state.run_state
        if run_state == RunState.HALTED and self._device.controller.halted:
            value |= STATUS_CORE_HALTED
        elif run_state == RunState.SLEEPING:
            value |= STATUS_CORE_SLEEPING
        return value

    def _control(self) -> int:
        state = self._state
        control = state.read_peripheral(_CONTROL)
        if control & CONTROL_MASS_ERASE and state.read_peripheral(_ACK):
            until = shared_float(state, _ERASE_UNTIL)
            poll_wait(until)
            if time.monotonic() >= until:
                with state.locked():
                    control = state.read_peripheral(_CONTROL) & ~CONTROL_MASS_ERASE
                    state.write_peripheral(_CONTROL, control)
        return control

    # ---- writes ---------------------------------------------------------------------------------

    def write(self, register: int, value: int) -> None:
        if register != CONTROL:
            return
        with self.unit.locked():
            state = self._state
            old = state.read_peripheral(_CONTROL)
            if self.unit.info.protected:
                value = (old & ~CONTROL_MASS_ERASE) | (value & CONTROL_MASS_ERASE)
            new = (value & CONTROL_WRITABLE) | (old & CONTROL_MASS_ERASE)  # bit 0: the chip clears it
            state.write_peripheral(_CONTROL, new)
            if value & CONTROL_MASS_ERASE and not old & CONTROL_MASS_ERASE:
                self._mass_erase()
        if old & CONTROL_SYSTEM_RESET_REQUEST and not new & CONTROL_SYSTEM_RESET_REQUEST:
            self._device.system_reset()
        if new & CONTROL_DEBUG_REQUEST:
            self._halt_if_debugging()

    def _mass_erase(self) -> None:
        """Flash Mass Erase in Progress set (caller holds the unit's lock)."""
        info = self.unit.info
        _secure_field, no_mass_erase, _backdoor = chip.fsec_fields(self._port.fsec_register())
        state = self._state
        state.write_peripheral(_ACK, 0)
        if info.protected and no_mass_erase:
            LOG.info("%s: MDM-AP mass erase refused: mass erase disabled in FSEC", info.unit_id)
            return  # the request bit stays set until the next system reset
        held_something = not self.unit.is_blank()
        seconds = chip.ERASE_ALL_SECONDS * self._device.factor
        self.unit.add_nvm_busy_seconds(seconds)
        set_shared_float(state, _ERASE_UNTIL, time.monotonic() + seconds)
        state.write_peripheral(_ACK, 1)
        control = state.read_peripheral(_CONTROL)
        if self._device.reset_pin_asserted or control & CONTROL_SYSTEM_RESET_REQUEST:
            state.write_peripheral(ERASED_IN_RESET, 1)
        self._port.erase_everything()
        info.ever_erased = info.ever_erased or held_something
        info.activated_product = None
        LOG.info("%s: MDM-AP mass erase: flash erased, unsecure until the next reset", info.unit_id)

    def _halt_if_debugging(self) -> None:
        state = self._state
        if state.get(Slot.DEBUG_CONTROL) & C_DEBUGEN and state.run_state != RunState.HALTED:
            self._device.controller.halt()
