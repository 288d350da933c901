"""The K64F's watchdog (WDOG, RM chapter 23) as far as start-up code and flash algorithms meet it.

The unlock sequence 0xC520, 0xD928 to WDOG_UNLOCK opens the write-once
registers (STCTRLH, STCTRLL, TOVAL, WIN, PRESC) while STCTRLH.ALLOWUPDATE allows it; outside it a
store to them is dropped. pyOCD's K64F flash algorithm does this at every init (STCTRLH = 0x01D2:
WDOGEN clear). A wrong unlock value (the chip resets) only restarts the sequence here; the unlock
window (256 bus clocks on the chip) stays open until the next reset; the watchdog never times out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from station.sim.chips import k64f as chip

if TYPE_CHECKING:
    from station.sim.core_state import CoreState

WDOG_STCTRLH: Final = 0x0
WDOG_STCTRLL: Final = 0x2
WDOG_REFRESH: Final = 0xC
WDOG_UNLOCK: Final = 0xE
WDOG_TMROUT: Final = (0x10, 0x12)
WDOG_RSTCNT: Final = 0x14
WDOG_END: Final = 0x18
WDOG_ALLOWUPDATE: Final = 1 << 4
UNLOCK_KEYS: Final = (0xC520, 0xD928)
_WDOG_STAGE: Final = chip.WDOG_BASE + 0x100  # 0, 1: keys seen so far; 2: unlocked until reset


class Watchdog:
    """The WDOG's registers in the unit's shared register file (its 16-bit registers two to a word)."""

    def __init__(self, state: CoreState) -> None:
        self._state = state

    def write(self, address: int, size: int, value: int) -> bool:
        """A store to the WDOG: taken here halfword by halfword (its registers are 16 bits)."""
        state = self._state
        with state.locked():
            first, end = address & ~1, address + size
            for half in range(first, end, 2):
                current = self._half(half)
                merged = current
                for byte in range(2):
                    if address <= half + byte < end:
                        shift = 8 * byte
                        lane = (value >> (8 * (half + byte - address))) & 0xFF
                        merged = (merged & ~(0xFF << shift)) | lane << shift
                self._write_half(half - chip.WDOG_BASE, merged, complete=half + 1 < end)
        return True

    def _half(self, address: int) -> int:
        return (self._state.read_peripheral(address & ~3) >> (8 * (address & 2))) & 0xFFFF

    def _put_half(self, offset: int, value: int) -> None:
        address = chip.WDOG_BASE + offset
        word = self._state.read_peripheral(address & ~3)
        shift = 8 * (address & 2)
        self._state.write_peripheral(address & ~3, (word & ~(0xFFFF << shift)) | (value & 0xFFFF) << shift)

    def _write_half(self, offset: int, value: int, *, complete: bool) -> None:
        """One 16-bit register; ``complete``: the store reached its high byte (a debugger's
        16-bit store arrives byte by byte: the unlock key counts once both bytes are in)."""
        state = self._state
        stage = state.read_peripheral(_WDOG_STAGE)
        if offset >= WDOG_END or offset in WDOG_TMROUT:
            return  # reserved, or read-only
        if offset == WDOG_UNLOCK:
            if not complete:
                self._put_half(offset, value)  # the key's low byte, until its high byte comes
                return
            self._put_half(offset, UNLOCK_KEYS[1])  # WDOG_UNLOCK reads 0xD928
            allowed = self._half(chip.WDOG_BASE + WDOG_STCTRLH) & WDOG_ALLOWUPDATE
            if stage < 2 and allowed and value == UNLOCK_KEYS[stage]:
                state.write_peripheral(_WDOG_STAGE, stage + 1)
            elif stage < 2:
                state.write_peripheral(_WDOG_STAGE, 0)
            return
        if offset == WDOG_REFRESH:
            self._put_half(offset, value)
        elif offset == WDOG_RSTCNT:
            self._put_half(offset, self._half(chip.WDOG_BASE + offset) & ~value)  # write one to clear
        elif offset == WDOG_STCTRLL:
            return  # INTFLG only: no interrupt is ever raised here
        elif stage == 2:
            self._put_half(offset, value)  # a write-once register, inside the unlock window
