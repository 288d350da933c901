"""The EFM32/EFR32 Series 1 Memory System Controller (MSC) at 0x400E_0000, at register level
(EFR32xG12 reference manual, "MSC - Memory System Controller"; ``efr32mg12p_msc.h``).

The registers are the chip's, kept in the unit's shared register file with the controller's
internal state (its address register ADDR, whether a write sequence runs, until when it is busy),
so that every session and process sees one MSC:

* LOCK (0x040): writing the unlock code 0x1B71 unlocks, any other value locks; it reads 1 while
  locked. While locked, stores to CTRL, READCTRL, WRITECTRL, WRITECMD, ADDRB, WDATA, MASSLOCK,
  CACHECMD, STARTUP and CMD are ignored. It resets unlocked.
* WRITECTRL (0x008): WREN enables writing and erasing (IRQERASEABORT, RWWEN kept).
* ADDRB (0x010) and WRITECMD's LADDRIM load ADDR; STATUS.INVADDR tells an address outside main
  flash, the user data page and the lock bits page (their first 2 KiB). ADDR counts on by a word
  after every word written, within its page (emlib loads it once per page).
* WDATA (0x018): a store fills the write buffer (STATUS.WDATAREADY clears until a write takes
  it). WRITECMD's WRITEONCE writes it at ADDR; WRITETRIG writes it and starts a write sequence,
  in which every further WDATA store is written at once, until WRITEEND. Bits only go from 1 to
  0: a word written over one that was not erased holds the AND of both.
* WRITECMD's ERASEPAGE erases the 2 KiB page holding ADDR; ERASEMAIN0 and ERASEMAIN1 erase the
  first and the second 512 KiB of main flash, only with MASSLOCK (0x054) unlocked by its code
  0x631A (it resets locked). CLEARWDATA empties the write buffer. All of them need WREN.
* STATUS (0x01C): BUSY reads 1 while the data sheet's time of the operation (times the unit's
  timing factor) passes; a flash algorithm's halt is delayed by it instead, as on the other
  families. LOCKED tells an erase or write refused by a page lock (the lock bits page's words
  0-15: bit n % 32 of word n / 32 is page n, 0 locks it) or, for a mass erase, by MASSLOCK.
  A store to the MSC while it is busy waits until it is not, as the bus stalls.

Flash is written only through these registers: a debugger's store to flash is a transfer
fault, a CPU store is ignored. The injected ``drop_writes`` fault loses the words in its range
without a word said (the MSC does not verify). The AAP's device erase is
:mod:`station.sim.chips.efm32_aap`; its registers live in this page's reserved space too.

Not modelled: interrupts (IF, IFS, IFC and IEN keep their bits only), the mass lock word and
the user data lock word, the write timeouts (WORDTIMEOUT), ERASEABORT (an erase is never
interrupted), read-while-write, double-word writes, the cache, the bootloader area.
"""

from __future__ import annotations

import contextlib
import logging
import struct
import time
from typing import TYPE_CHECKING, Final

from station.sim.chips import efr32mg12 as chip
from station.sim.chips.base import shared_float, spend_flash_time
from station.sim.controller import poll_wait

if TYPE_CHECKING:
    from station.sim.core_state import CoreState
    from station.sim.device import SimDevice

LOG = logging.getLogger(__name__)

BASE: Final = chip.MSC_BASE
CTRL: Final = BASE + 0x000
READCTRL: Final = BASE + 0x004
WRITECTRL: Final = BASE + 0x008
WRITECMD: Final = BASE + 0x00C
ADDRB: Final = BASE + 0x010
WDATA: Final = BASE + 0x018
STATUS: Final = BASE + 0x01C
IF: Final = BASE + 0x030
IFS: Final = BASE + 0x034
IFC: Final = BASE + 0x038
LOCK: Final = BASE + 0x040
CACHECMD: Final = BASE + 0x044
MASSLOCK: Final = BASE + 0x054
STARTUP: Final = BASE + 0x05C
CMD: Final = BASE + 0x074
RESERVED: Final = BASE + 0x300  # the model's internal state from here: reads as zero
# The internal state, kept beside the registers (every session and process shares it).
_ADDR: Final = BASE + 0x300
_SEQUENCE: Final = BASE + 0x304  # 1: a WRITETRIG write sequence runs
_BUSY_UNTIL: Final = BASE + 0x308  # float64, CLOCK_MONOTONIC

WRITECTRL_WREN: Final = 1 << 0
WRITECTRL_WRITABLE: Final = 0x23  # WREN, IRQERASEABORT, RWWEN
WRITECMD_LADDRIM: Final = 1 << 0
WRITECMD_ERASEPAGE: Final = 1 << 1
WRITECMD_WRITEEND: Final = 1 << 2
WRITECMD_WRITEONCE: Final = 1 << 3
WRITECMD_WRITETRIG: Final = 1 << 4
WRITECMD_ERASEABORT: Final = 1 << 5
WRITECMD_ERASEMAIN0: Final = 1 << 8
WRITECMD_ERASEMAIN1: Final = 1 << 9
WRITECMD_CLEARWDATA: Final = 1 << 12
STATUS_BUSY: Final = 1 << 0
STATUS_LOCKED: Final = 1 << 1
STATUS_INVADDR: Final = 1 << 2
STATUS_WDATAREADY: Final = 1 << 3
IF_ERASE: Final = 1 << 0
IF_WRITE: Final = 1 << 1
LOCK_UNLOCK: Final = 0x1B71
MASSLOCK_UNLOCK: Final = 0x631A
LOCKED: Final = 1

# The registers MSC_LOCK guards.
_GUARDED: Final = frozenset({CTRL, READCTRL, WRITECTRL, WRITECMD, ADDRB, WDATA, MASSLOCK, CACHECMD, STARTUP, CMD})
_WORD: Final = struct.Struct("<I")


def msc_reset_values(state: CoreState) -> dict[int, int]:
    """The MSC page at reset, the AAP's registers in it kept (a debugger's: a system reset leaves
    them), for the caller to write with the page in one store."""
    from station.sim.chips.efm32_aap import kept_aap_registers

    return {
        CTRL: 0x0000_0001,
        READCTRL: 0x0100_0100,
        STATUS: STATUS_WDATAREADY,
        MASSLOCK: LOCKED,
        STARTUP: 0x1300_104D,
        **kept_aap_registers(state),
    }


def writable_window(address: int) -> tuple[int, int] | None:
    """(base, size) of the flash area the MSC writes and erases at ``address``, or None."""
    for base, size in (
        (chip.FLASH_BASE, chip.FLASH_SIZE),
        (chip.USERDATA_BASE, chip.INFO_PAGE_SIZE),
        (chip.LOCKBITS_BASE, chip.INFO_PAGE_SIZE),
    ):
        if base <= address < base + size:
            return base, size
    return None


class Msc:
    """The MSC of one debug session (its registers are the chip's: in the shared state)."""

    def __init__(self, device: SimDevice) -> None:
        self._device = device
        self.unit = device.unit
        self._state = state = device.unit.core_state
        self._memory = state.memory
        offset = state.peripheral_offset(BASE)
        assert offset is not None
        self._page = offset - BASE  # the registers straight from the shared map

    def _get(self, address: int) -> int:
        """A word of the MSC page (a flash algorithm reads STATUS thousands of times a second)."""
        value: int = _WORD.unpack_from(self._memory, self._page + address)[0]
        return value

    def _put(self, address: int, value: int) -> None:
        _WORD.pack_into(self._memory, self._page + address, value & 0xFFFF_FFFF)

    def _set_status(self, set_bits: int = 0, clear_bits: int = 0) -> None:
        self._put(STATUS, (self._get(STATUS) & ~clear_bits) | set_bits)

    # ---- time -----------------------------------------------------------------------------------

    def busy(self) -> bool:
        if self._device.controller.in_emulation:
            return False  # the time is spent when the core halts (see spend_flash_time)
        return time.monotonic() < shared_float(self._state, _BUSY_UNTIL)

    def _spend(self, seconds: float) -> None:
        spend_flash_time(self._device, seconds, _BUSY_UNTIL)

    def _wait_while_busy(self) -> None:
        """A store to the MSC while it works stalls the bus until it is done."""
        while self.busy():
            time.sleep(min(0.05, max(0.0, shared_float(self._state, _BUSY_UNTIL) - time.monotonic())))

    # ---- registers ------------------------------------------------------------------------------

    def read(self, address: int) -> int:
        word = address & ~3
        if word == STATUS:
            if not self._device.controller.in_emulation:
                poll_wait(shared_float(self._state, _BUSY_UNTIL))
            return self._get(STATUS) | (STATUS_BUSY if self.busy() else 0)
        if word in (WRITECMD, IFS, IFC) or word >= RESERVED:
            return 0  # write-only; the reserved space (the model's state) reads as zero
        return self._get(word)

    @property
    def locked(self) -> bool:
        return self._get(LOCK) == LOCKED

    def write(self, address: int, size: int, value: int) -> None:
        """A store to the MSC page, from the CPU or a debugger."""
        word = address & ~3
        if size < 4:  # a narrower store merges into the register as it reads
            shift = 8 * (address & 3)
            mask = ((1 << (8 * size)) - 1) << shift
            value = (self.read(word) & ~mask) | ((value << shift) & mask)
        if word in (WRITECMD, WDATA):
            self._wait_while_busy()  # outside the locks: other sessions may look meanwhile
        # What erases or programs takes the flash's lock before the state's (the order every lock
        # holder keeps); the registers alone need the state's.
        changes_flash = word == WRITECMD or (word == WDATA and self._get(_SEQUENCE))
        with self.unit.nvm_locked() if changes_flash else contextlib.nullcontext(), self._state.locked():
            self._write_word(word, value & 0xFFFF_FFFF)

    def _write_word(self, word: int, value: int) -> None:
        if word == LOCK:
            self._put(LOCK, 0 if value & 0xFFFF == LOCK_UNLOCK else LOCKED)
            return
        if word in _GUARDED and self.locked:
            LOG.debug("%s: MSC store to 0x%08X ignored: MSC_LOCK is locked", self.unit.unit_id, word)
            return
        if word == WRITECTRL:
            self._put(WRITECTRL, value & WRITECTRL_WRITABLE)
        elif word == MASSLOCK:
            self._put(MASSLOCK, 0 if value & 0xFFFF == MASSLOCK_UNLOCK else LOCKED)
        elif word == WDATA:
            self._put(WDATA, value)
            if self._get(_SEQUENCE):
                self._write_at_address(chip.BURST_WORD_WRITE_SECONDS)
            else:
                self._set_status(clear_bits=STATUS_WDATAREADY)
        elif word == WRITECMD:
            self._command(value)
        elif word == IFS:
            self._put(IF, self._get(IF) | value)
        elif word == IFC:
            self._put(IF, self._get(IF) & ~value)
        elif word != STATUS and word < RESERVED:  # STATUS is read-only, the reserved space the model's
            self._put(word, value)

    # ---- commands -------------------------------------------------------------------------------

    def _command(self, bits: int) -> None:
        enabled = bool(self._get(WRITECTRL) & WRITECTRL_WREN)
        if bits & WRITECMD_LADDRIM:
            self._load_address()
        if bits & WRITECMD_CLEARWDATA:
            self._set_status(STATUS_WDATAREADY)
        if bits & WRITECMD_WRITEEND:
            self._put(_SEQUENCE, 0)
        if not enabled:
            if bits & ~(WRITECMD_LADDRIM | WRITECMD_CLEARWDATA | WRITECMD_WRITEEND | WRITECMD_ERASEABORT):
                LOG.debug("%s: MSC command 0x%X ignored: WRITECTRL.WREN is clear", self.unit.unit_id, bits)
            return
        if bits & WRITECMD_ERASEPAGE:
            self._erase_page()
        if bits & WRITECMD_WRITETRIG:  # a sequence's words cost a burst's time each
            self._write_at_address(chip.BURST_WORD_WRITE_SECONDS)
            self._put(_SEQUENCE, 1)
        elif bits & WRITECMD_WRITEONCE:
            self._write_at_address(chip.WORD_WRITE_SECONDS)
        for bit, region in ((WRITECMD_ERASEMAIN0, 0), (WRITECMD_ERASEMAIN1, 1)):
            if bits & bit:
                self._erase_main(region)

    def _load_address(self) -> None:
        """LADDRIM: ADDRB into ADDR; INVADDR if nothing the MSC writes is there."""
        address = self._get(ADDRB)
        self._put(_ADDR, address)
        invalid = writable_window(address) is None
        self._set_status(STATUS_INVADDR if invalid else 0, STATUS_LOCKED | (0 if invalid else STATUS_INVADDR))

    def page_locked(self, address: int) -> bool:
        """A main-flash page whose bit in the lock bits page is 0."""
        if not chip.FLASH_BASE <= address < chip.FLASH_BASE + chip.FLASH_SIZE:
            return False
        page = (address - chip.FLASH_BASE) // chip.PAGE_SIZE
        word = _WORD.unpack(self.unit.read_nvm(chip.LOCKBITS_BASE + 4 * (page // 32), 4))[0]
        return not word >> (page % 32) & 1

    def _target(self) -> int | None:
        """ADDR, if the MSC may write or erase there; else the status says why (caller: state lock)."""
        address = self._get(_ADDR)
        if self._get(STATUS) & STATUS_INVADDR or writable_window(address) is None:
            self._set_status(STATUS_INVADDR)
            return None
        if self.page_locked(address):
            self._set_status(STATUS_LOCKED)
            return None
        self._set_status(clear_bits=STATUS_LOCKED)
        return address

    def _erase_page(self) -> None:
        address = self._target()
        if address is None:
            return
        page = address - address % chip.PAGE_SIZE
        self._spend(chip.PAGE_ERASE_SECONDS)
        self.unit.erase_range(page, chip.PAGE_SIZE)
        self._device.core.sync(page, chip.PAGE_SIZE)
        self._put(IF, self._get(IF) | IF_ERASE)

    def _write_at_address(self, seconds: float) -> None:
        """The buffered word at ADDR (bits only 1 -> 0), then ADDR on by a word within its page."""
        address = self._target()
        self._set_status(STATUS_WDATAREADY)
        if address is None:
            self._put(_SEQUENCE, 0)
            return
        word_address = address & ~3
        self._spend(seconds)
        dropped = self.unit.info.faults.drop_writes
        if dropped is None or not dropped[0] <= word_address < dropped[1]:  # injected fault: silently lost
            self.unit.program_nvm(word_address, _WORD.pack(self._get(WDATA)))
            self._device.core.sync(word_address, 4)
        page = word_address - word_address % chip.PAGE_SIZE
        self._put(_ADDR, page | (word_address + 4) % chip.PAGE_SIZE)
        self._put(IF, self._get(IF) | IF_WRITE)

    def _erase_main(self, region: int) -> None:
        """ERASEMAINn: half of main flash, refused (LOCKED) while MASSLOCK is locked."""
        if self._get(MASSLOCK) == LOCKED:
            self._set_status(STATUS_LOCKED)
            return
        self._set_status(clear_bits=STATUS_LOCKED)
        base = chip.FLASH_BASE + region * chip.MAIN_REGION_SIZE
        self._spend(chip.MASS_ERASE_SECONDS)
        self.unit.erase_range(base, chip.MAIN_REGION_SIZE)
        self._device.core.sync(base, chip.MAIN_REGION_SIZE)
        self._put(IF, self._get(IF) | IF_ERASE)
