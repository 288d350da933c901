"""The STM32F42x/43x flash interface (RM0090 chapter 3) and readout protection, per debug session.

Registers at 0x4002_3C00, at register level: ACR, KEYR, OPTKEYR, SR, CR, OPTCR, OPTCR1. They
are the chip's, kept in the unit's shared register file with the interface's internal state
(how far each key sequence got, and until when the interface is busy), so every session and
process sees one flash interface:

* KEYR takes KEY1 then KEY2 while CR is locked and unlocks CR; any other write -- a wrong key,
  a key out of order, a key while CR is unlocked -- is a bus error and locks CR until the next
  reset (RM0090 3.5.1). OPTKEYR does the same for OPTCR (3.6.2).
* CR ignores writes while locked. STRT starts a sector erase (SER, SNB; bank 2's sectors 12-23
  are SNB 0b10000 + n) or a mass erase (MER bank 1, MER1 bank 2); with SER and MER together
  nothing is done. A store to flash programs only with PG set and CR unlocked (else PGSERR),
  with the access width PSIZE asks for (else PGPERR; x64 takes word stores), inside one 128-bit
  row (else PGAERR), outside write-protected sectors (else WRPERR); bits only go from 1 to 0
  (programming a word twice is allowed, as the manual says, and only clears bits).
* SR: EOP (only with EOPIE), OPERR, WRPERR, PGAERR, PGPERR, PGSERR, RDERR are write-1-to-clear;
  BSY reads 1 while the modelled time of the operation passes: the datasheet's typical time
  for the sector size and parallelism, times the unit's timing factor (a flash algorithm's
  halt is delayed by it instead, as on the nRF52's NVMC). A write to CR while BSY waits.
* OPTCR/OPTCR1 (loaded from the option bytes at reset) take new option values while unlocked;
  OPTSTRT programs them into the option bytes. They take effect at the next reset, when the
  option bytes load (RM0090 3.6.3, 3.7.3): RDP 0xAA level 0, 0xCC level 2, else level 1.
* Readout protection. Level 1 in force, with this debugger connected: every debug access to
  flash (and its boot alias) is a bus error (a TransferFaultError for pyOCD), and so is what
  would erase or program it (WRPERR: the manual forbids it and gives no flag; this model
  raises WRPERR); SRAM, peripherals and option bytes stay reachable. Going from level 1 to
  level 0 (RDP = 0xAA with OPTSTRT) mass-erases flash first, as the chip does; a unit that held
  anything is then a development unit for life (``ever_erased``), as after the nRF52's
  CTRL-AP ERASEALL. Level 2 in force: the debug port answers nothing, and the option bytes
  never change again.

Not modelled: the CPU's own flash reads under level 1 with a debugger attached (the core still
reads flash), the OTP area (erased, read-only), interrupts (EOPIE/ERRIE only gate EOP), the
PCROP mode's RDERR source, and x64 programming's external VPP.
"""

from __future__ import annotations

import logging
import struct
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from pyocd.core import exceptions

from station.domain.errors import SimulationError
from station.sim.chips import stm32f429 as chip
from station.sim.chips.base import BusError, ReadNvm, set_shared_float, shared_float, spend_flash_time
from station.sim.chips.stm32_usart import Usart1Transmitter
from station.sim.controller import poll_wait

if TYPE_CHECKING:
    from station.sim.core_state import CoreState
    from station.sim.device import SimDevice
    from station.sim.flash_copy import PageStores

LOG = logging.getLogger(__name__)

BASE: Final = chip.FLASH_INTERFACE
ACR: Final = BASE + 0x00
KEYR: Final = BASE + 0x04
OPTKEYR: Final = BASE + 0x08
SR: Final = BASE + 0x0C
CR: Final = BASE + 0x10
OPTCR: Final = BASE + 0x14
OPTCR1: Final = BASE + 0x18
END: Final = BASE + 0x400
# The interface's internal state, kept beside its registers in the shared register file (the
# addresses read as zero and ignore stores: they are reserved on the chip).
_KEY_STAGE: Final = BASE + 0x300  # 0: KEY1 next, 1: KEY2 next, 2: locked until reset
_OPTKEY_STAGE: Final = BASE + 0x304
_BUSY_UNTIL: Final = BASE + 0x308  # float64, CLOCK_MONOTONIC (the same in every process)

KEY1: Final = 0x4567_0123
KEY2: Final = 0xCDEF_89AB
OPTKEY1: Final = 0x0819_2A3B
OPTKEY2: Final = 0x4C5D_6E7F
_DEAD: Final = 2
_WORD: Final = struct.Struct("<I")
_HALFWORD: Final = struct.Struct("<H")
_ERASED: Final = {size: b"\xff" * size for size in (1, 2, 4)}
_STORE_SIZE: Final = (1, 2, 4, 4)  # the store width each PSIZE asks for (x64 takes word stores)

SR_EOP: Final = 1 << 0
SR_OPERR: Final = 1 << 1
SR_WRPERR: Final = 1 << 4
SR_PGAERR: Final = 1 << 5
SR_PGPERR: Final = 1 << 6
SR_PGSERR: Final = 1 << 7
SR_RDERR: Final = 1 << 8
SR_BSY: Final = 1 << 16
SR_CLEARABLE: Final = SR_EOP | SR_OPERR | SR_WRPERR | SR_PGAERR | SR_PGPERR | SR_PGSERR | SR_RDERR

CR_PG: Final = 1 << 0
CR_SER: Final = 1 << 1
CR_MER: Final = 1 << 2
CR_SNB_SHIFT: Final = 3
CR_PSIZE_SHIFT: Final = 8
CR_MER1: Final = 1 << 15
CR_STRT: Final = 1 << 16
CR_EOPIE: Final = 1 << 24
CR_ERRIE: Final = 1 << 25
CR_LOCK: Final = 1 << 31
CR_WRITABLE: Final = 0x8301_83FF  # LOCK, ERRIE, EOPIE, STRT, MER1, PSIZE, SNB, MER, SER, PG
CR_RESET: Final = CR_LOCK

OPTCR_OPTLOCK: Final = 1 << 0
OPTCR_OPTSTRT: Final = 1 << 1
OPTCR_WRITABLE: Final = 0xCFFF_FFFF
OPTCR1_WRITABLE: Final = 0x0FFF_0000
ACR_WRITABLE: Final = 0x0000_070F  # LATENCY, PRFTEN, ICEN, DCEN (ICRST, DCRST read as zero)


def flash_interface_reset_values(read_nvm: ReadNvm) -> dict[int, int]:
    """Registers at their reset values; OPTCR and OPTCR1 loaded from the option bytes (the
    caller writes them with the page, in one store)."""
    bank1 = read_nvm(chip.OPTION_BYTES_BANK1, 16)
    bank2 = read_nvm(chip.OPTION_BYTES_BANK2, 16)
    user_rdp = struct.unpack_from("<H", bank1, 0)[0]
    nwrp = struct.unpack_from("<H", bank1, 8)[0]
    nwrp2 = struct.unpack_from("<H", bank2, 8)[0]
    optcr = (
        (nwrp & 0xFFF) << 16
        | ((nwrp >> 14) & 1) << 30  # DB1M
        | ((nwrp >> 15) & 1) << 31  # SPRMOD
        | (user_rdp & 0xFFFC)
        | OPTCR_OPTLOCK
    )
    return {
        ACR: 0,
        SR: 0,
        CR: CR_RESET,
        OPTCR: optcr,
        OPTCR1: (nwrp2 & 0xFFF) << 16,
        _KEY_STAGE: 0,
        _OPTKEY_STAGE: 0,
    }


def clear_flash_interface_time(state: CoreState) -> None:
    """No operation pending after a reset (the page store zeroes this time too)."""
    set_shared_float(state, _BUSY_UNTIL, 0.0)


def _busy_until(state: CoreState) -> float:
    return shared_float(state, _BUSY_UNTIL)


class Stm32Port:
    """The STM32F429's part of one debug session (see the module docstring)."""

    def __init__(self, device: SimDevice) -> None:
        self._device = device
        self.unit = device.unit
        self._state = device.unit.core_state
        layout = device.unit.chip.layout
        alias = layout.boot_alias
        # Flash as a debugger reaches it: at its own address and through the boot alias.
        self._flash_windows = (layout.flash, *((alias.window,) if alias is not None else ()))
        self._usart = Usart1Transmitter(self._state, self.unit.directory)
        # The interface's registers and the nWRP option bytes straight from the shared maps: a
        # flash algorithm reads them for every word it programs.
        offset = self._state.peripheral_offset(BASE)
        assert offset is not None
        self._memory = self._state.memory
        self._page = offset - BASE
        self._sr = offset + SR - BASE  # where SR and CR are in the shared map
        self._cr = offset + CR - BASE
        self._nvm = self.unit.nvm_map
        nwrp = (layout.nvm_offset(chip.OPTION_BYTES_BANK1 + 8, 2), layout.nvm_offset(chip.OPTION_BYTES_BANK2 + 8, 2))
        erased = layout.nvm_offset(chip.FLASH_BASE)
        assert nwrp[0] is not None and nwrp[1] is not None and erased is not None
        self._nwrp_offsets = (nwrp[0], nwrp[1])
        self._flash_offset = erased - chip.FLASH_BASE
        # A flash algorithm's stores taken and kept back, one contiguous run (commit_nvm_stores).
        self._kept_address = 0
        self._kept = bytearray()
        self._kept_stores = 0
        self._state_held_by: int | None = None  # the thread holding the state's lock for a core run

    # ---- protection -----------------------------------------------------------------------------

    def check_port(self) -> None:
        if self.unit.info.protection_level >= 2:
            raise exceptions.TransferError("no acknowledge from the target: debug port disabled (RDP level 2)")

    @property
    def device_enabled(self) -> bool:
        return True

    def check_debug_access(self, address: int, length: int) -> None:
        if self.unit.info.protection_level < 1:
            return
        end = address + length
        for window in self._flash_windows:
            if address < window.end and window.base < end:
                raise exceptions.TransferFaultError(
                    "flash is read-protected (RDP level 1) while a debugger is connected",
                    fault_address=max(address, window.base),
                    length=length,
                )

    def read_ap(self, apsel: int, register: int) -> int | None:
        return None  # the AHB-AP is the only access port

    def write_ap(self, apsel: int, register: int, value: int) -> None:
        """No access port answers there: the write goes nowhere."""

    # ---- registers ------------------------------------------------------------------------------

    def _get(self, address: int) -> int:
        value: int = _WORD.unpack_from(self._memory, self._page + address)[0]
        return value

    def _put(self, address: int, value: int) -> None:
        _WORD.pack_into(self._memory, self._page + address, value & 0xFFFF_FFFF)

    def _flag(self, bits: int) -> None:
        self._put(SR, self._get(SR) | bits)

    def _busy(self) -> bool:
        if self._device.controller.in_emulation:
            return False  # the time is spent when the core halts (see _spend)
        return time.monotonic() < _busy_until(self._state)

    def read_register(self, address: int) -> int | None:
        if address == SR:
            if self._device.controller.in_emulation:  # never busy: a flash algorithm polls it after every word
                sr: int = _WORD.unpack_from(self._memory, self._sr)[0]
                return sr
            poll_wait(_busy_until(self._state))
            return self._get(SR) | (SR_BSY if self._busy() else 0)
        if address == CR:
            cr: int = _WORD.unpack_from(self._memory, self._cr)[0]
            return cr
        if address == chip.DBGMCU_IDCODE:
            return chip.IDCODE_VALUE
        if not BASE <= address < END:
            return None
        if address in (ACR, OPTCR, OPTCR1):
            return self._get(address)
        return 0  # KEYR, OPTKEYR and the reserved space read as zero

    def write_register(self, address: int, size: int, value: int) -> bool:
        """Stores to the flash interface (or DBGMCU_IDCODE, read-only): all the family's. A store
        to USART1's data register sends its byte, and is kept as written."""
        if address == CR and size == 4 and not value & CR_STRT and self._device.controller.in_emulation:
            # A flash algorithm sets and clears PG around every word: _write_cr, short (never
            # busy in a core run, so nothing to wait for; the state's lock kept for the run).
            if self._state_held_by is None:
                self._hold_state_lock()
            if not _WORD.unpack_from(self._memory, self._cr)[0] & CR_LOCK:
                _WORD.pack_into(self._memory, self._cr, value & CR_WRITABLE)
            return True
        self._release_state_lock()  # before the unit's lock: the order every lock holder keeps
        if address == chip.USART1_DR:
            self._usart.on_data_write(value)
            return False
        if address == chip.DBGMCU_IDCODE:
            return True
        if not BASE <= address < END:
            return False
        word = address & ~3
        if size < 4:  # a narrower store merges into the register as it reads
            shift = 8 * (address & 3)
            mask = ((1 << (8 * size)) - 1) << shift
            value = ((self.read_register(word) or 0) & ~mask) | ((value << shift) & mask)
        if word == CR:
            self._wait_while_busy()  # outside the unit's lock: other sessions may look meanwhile
        # Only what erases or programs takes the unit's lock (flash, unit.json); the registers
        # themselves are the shared state's, and its lock is enough for them.
        starts = (word == CR and value & CR_STRT) or (word == OPTCR and value & OPTCR_OPTSTRT)
        with self.unit.locked() if starts else self._state.locked():
            if word == ACR:
                self._put(ACR, value & ACR_WRITABLE)
            elif word == KEYR:
                self._key(_KEY_STAGE, value, (KEY1, KEY2), CR, CR_LOCK)
            elif word == OPTKEYR:
                self._key(_OPTKEY_STAGE, value, (OPTKEY1, OPTKEY2), OPTCR, OPTCR_OPTLOCK)
            elif word == SR:
                self._put(SR, self._get(SR) & ~(value & SR_CLEARABLE))
            elif word == CR:
                self._write_cr(value)
            elif word == OPTCR:
                self._write_optcr(value)
            elif word == OPTCR1 and not self._get(OPTCR) & OPTCR_OPTLOCK:
                self._put(OPTCR1, value & OPTCR1_WRITABLE)
        return True

    def _key(self, stage_address: int, value: int, keys: tuple[int, int], register: int, lock: int) -> None:
        """One step of an unlock sequence; a wrong step locks the register until reset."""
        stage = self._get(stage_address)
        locked = bool(self._get(register) & lock)
        if locked and stage < _DEAD and value == keys[stage]:
            if stage == 0:
                self._put(stage_address, 1)
            else:
                self._put(stage_address, 0)
                self._put(register, self._get(register) & ~lock)
            return
        self._put(stage_address, _DEAD)
        self._put(register, self._get(register) | lock)
        name = "FLASH_CR" if register == CR else "FLASH_OPTCR"
        raise BusError(f"wrong key sequence: {name} locked until the next reset")

    def _wait_while_busy(self) -> None:
        """A write to CR while BSY stalls the bus until the operation ends."""
        while self._busy():
            time.sleep(min(0.05, max(0.0, _busy_until(self._state) - time.monotonic())))

    def _write_cr(self, value: int) -> None:
        if self._get(CR) & CR_LOCK:
            return  # locked: the write is ignored
        value &= CR_WRITABLE
        if value & CR_STRT:
            self._start(value)
        self._put(CR, value & ~CR_STRT)

    def _psize(self, cr: int | None = None) -> int:
        return ((self._get(CR) if cr is None else cr) >> CR_PSIZE_SHIFT) & 3

    def _spend(self, seconds: float) -> None:
        spend_flash_time(self._device, seconds, _BUSY_UNTIL)

    def _done(self, cr: int) -> None:
        if cr & CR_EOPIE:
            self._flag(SR_EOP)

    def _write_protected(self, number: int) -> bool:
        """nWRP bit clear: the sector is write-protected (option bytes as programmed)."""
        bits: int = _HALFWORD.unpack_from(self._nvm, self._nwrp_offsets[number >= 12])[0]
        return not bits >> (number % 12) & 1

    def _start(self, cr: int) -> None:
        """STRT: a sector erase or a mass erase, as SER, MER and MER1 ask."""
        self.commit_nvm_stores()  # what was programmed before comes first
        parallelism = min(self._psize(cr), 2)
        if cr & CR_SER and cr & (CR_MER | CR_MER1):
            return  # neither is performed (RM0090 3.5.3)
        if cr & CR_SER:
            snb = (cr >> CR_SNB_SHIFT) & 0x1F
            number = snb if snb < 12 else snb - 4 if 16 <= snb < 28 else None
            if number is None:
                return
            if self._refused(range(number, number + 1)):
                return
            base, size = chip.sector(number)
            self._spend(chip.SECTOR_ERASE_SECONDS[size][parallelism])
            self.unit.erase_range(base, size)
            self._device.core.sync(base, size)
        elif cr & (CR_MER | CR_MER1):
            banks = [bank for bank, bit in ((0, CR_MER), (1, CR_MER1)) if cr & bit]
            if self._refused([12 * bank + index for bank in banks for index in range(12)]):
                return
            self._spend(chip.MASS_ERASE_SECONDS[parallelism])
            for bank in banks:
                base = chip.FLASH_BASE + bank * chip.BANK_SIZE
                self.unit.erase_range(base, chip.BANK_SIZE)
                self._device.core.sync(base, chip.BANK_SIZE)
        else:
            return
        self._done(cr)

    def _refused(self, sectors: range | list[int]) -> bool:
        """WRPERR for an erase or program that protection forbids (write protection, RDP level 1)."""
        if self.unit.info.protection_level >= 1 or any(self._write_protected(number) for number in sectors):
            self._flag(SR_WRPERR)
            return True
        return False

    # ---- programming ----------------------------------------------------------------------------

    def nvm_writable(self) -> bool:
        return False  # every store is judged as it happens (nvm_store_hook)

    @property
    def nvm_store_hook(self) -> Callable[[int, int, int], bool]:
        return self.cpu_nvm_store

    def cpu_nvm_store(self, address: int, size: int, value: int) -> bool:
        """A CPU store to flash, judged as it happens (True: programmed as the CPU stored it).

        A flash algorithm's store (a core run a debugger resumed) that programs erased bits is
        kept back and written with the rest of its run (:meth:`commit_nvm_stores`): one lock, one
        write and one journal entry for a page instead of one per word, which cost five times
        the word's programming time. Any other is programmed or refused at once, as the chip
        does, and the core's copy of it put back as the shared map holds it.
        """
        if self._device.controller.in_emulation and self._keep_back(address, size, value):
            return True
        self.commit_nvm_stores()
        with self.unit.nvm_locked():
            self._program(address, size, value)
        return False

    def _keep_back(self, address: int, size: int, value: int) -> bool:
        """Take a store that :meth:`_program` would program without a flag, over erased bits,
        straight after the ones kept back; False (nothing done): :meth:`_program` takes it."""
        cr: int = _WORD.unpack_from(self._memory, self._cr)[0]
        width = _STORE_SIZE[(cr >> CR_PSIZE_SHIFT) & 3]
        if cr & (CR_PG | CR_LOCK) != CR_PG or size != width or address % 16 + size > 16:
            return False
        info = self.unit.info
        location = chip.sector_of(address)
        if location is None or info.protection_level >= 1 or self._write_protected(location[0]):
            return False
        dropped = info.faults.drop_writes
        if dropped is not None and dropped[0] <= address < dropped[1]:
            return False
        kept = self._kept
        if kept and address != self._kept_address + len(kept):
            self.commit_nvm_stores()
        offset = self._flash_offset + address
        if self._nvm[offset : offset + size] != _ERASED[size]:
            return False  # programmed twice: the copy must show the bits that stay 0
        if not kept:
            self._kept_address = address
        kept += value.to_bytes(size, "little")
        self._kept_stores += 1
        self._device.controller.modelled_seconds += chip.WORD_PROGRAM_SECONDS
        self._done(cr)
        return True

    def _hold_state_lock(self) -> None:
        """Take the shared state's lock for a flash algorithm's CR stores and keep it until the
        next commit (the end of the core run at the latest): taking it for each of the two
        stores per word cost more than the word's programming time."""
        if self._state_held_by is None:
            if not self._state.state_lock.acquire():
                raise SimulationError("the simulated unit's core state is busy in another process")
            self._state_held_by = threading.get_ident()

    def _release_state_lock(self) -> None:
        if self._state_held_by is not None and self._state_held_by == threading.get_ident():
            self._state_held_by = None
            self._state.state_lock.release()

    def commit_nvm_stores(self) -> None:
        """The stores kept back written to the shared map, and their time to the unit's busy time."""
        self._release_state_lock()
        if not self._kept:
            return
        address, data, stores = self._kept_address, bytes(self._kept), self._kept_stores
        self._kept.clear()
        self._kept_stores = 0
        with self.unit.nvm_locked():
            self.unit.add_nvm_busy_seconds(chip.WORD_PROGRAM_SECONDS * self._device.factor * stores)
            self.unit.program_nvm(address, data)

    def nvm_write(self, address: int, size: int, value: int) -> None:
        self.commit_nvm_stores()
        with self.unit.nvm_locked():
            self._program(address, size, value)

    def cpu_nvm_stores(self, stores: list[PageStores]) -> None:
        """Stores that reached the flash copy past the hook (none should): a sequence error."""
        if any(page.words for page in stores):
            self._release_state_lock()
            with self.unit.locked():
                self._flag(SR_PGSERR)

    def _program(self, address: int, size: int, value: int) -> None:
        cr = self._get(CR)
        location = chip.sector_of(address)
        if location is None or not cr & CR_PG or cr & CR_LOCK:
            self._flag(SR_PGSERR)
            return
        expected = min(1 << self._psize(cr), 4)
        if size != expected:
            self._flag(SR_PGPERR)
            return
        if address % 16 + size > 16:
            self._flag(SR_PGAERR)
            return
        if self._refused([location[0]]):
            return
        self._spend(chip.WORD_PROGRAM_SECONDS)
        dropped = self.unit.info.faults.drop_writes
        if dropped is None or not dropped[0] <= address < dropped[1]:  # injected fault: silently lost
            self.unit.program_nvm(address, value.to_bytes(size, "little"))
        self._done(cr)

    # ---- option bytes ---------------------------------------------------------------------------

    def _write_optcr(self, value: int) -> None:
        current = self._get(OPTCR)
        if current & OPTCR_OPTLOCK:
            return  # locked: the write is ignored
        value &= OPTCR_WRITABLE
        self._put(OPTCR, value & ~OPTCR_OPTSTRT)
        if value & OPTCR_OPTSTRT and not self._busy():
            self._program_options(value)

    def _program_options(self, optcr: int) -> None:
        """OPTSTRT: the option bytes take OPTCR's and OPTCR1's values (in force at the next reset)."""
        self.commit_nvm_stores()
        info = self.unit.info
        if info.protection_level >= 2:
            LOG.info("%s: OPTSTRT refused: RDP level 2 is for good", info.unit_id)
            return
        parallelism = min(self._psize(), 2)
        rdp = (optcr >> 8) & 0xFF
        if info.protection_level == 1 and chip.rdp_level(rdp) == 0:
            held_something = not self.unit.is_blank()
            self._spend(chip.MASS_ERASE_SECONDS[parallelism])
            self.unit.erase_range(chip.FLASH_BASE, chip.FLASH_SIZE)
            self._device.core.sync(chip.FLASH_BASE, chip.FLASH_SIZE)
            info.ever_erased = info.ever_erased or held_something
            info.activated_product = None
            LOG.info("%s: RDP level 1 -> 0: flash mass-erased", info.unit_id)
        nwrp = (optcr >> 16) & 0xFFF | ((optcr >> 30) & 1) << 14 | ((optcr >> 31) & 1) << 15
        nwrp2 = (self._get(OPTCR1) >> 16) & 0xFFF
        self._spend(chip.OPTION_PROGRAM_SECONDS[parallelism])
        self.unit.write_nvm_raw(chip.OPTION_BYTES_BANK1, chip.option_image(optcr & 0xFF, rdp, nwrp))
        self.unit.write_nvm_raw(chip.OPTION_BYTES_BANK2, chip.option_image_bank2(nwrp2))
        self._done(self._get(CR))
