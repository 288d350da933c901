"""Silicon Labs EFM32/EFR32 Series 1: DEVINFO unique number, the debug lock word, the AAP.

pyOCD has no family class for Silicon Labs (a Series 1 part comes from Silicon Labs' CMSIS
pack as a generic Cortex-M target), so the profile does the family's things itself, through the
debug port (EFR32xG12 reference manual, "MSC" and "Debug Lock and Device Erase"):

* The unique id is DEVINFO UNIQUEL and UNIQUEH (0x0FE081F0, 0x0FE081F4), 64 bits.
* The lock is the debug lock word (DLW, word 127 of the lock bits page, 0x0FE041FC): the MSC
  writes 0 there (MSC_LOCK unlock code, WRITECTRL.WREN, ADDRB, LADDRIM, WDATA, WRITEONCE, BUSY
  polled), and the part reads it as it comes out of reset: with its lowest four bits not all
  set, the AHB-AP is locked out and the Authentication Access Port (AAP) answers as access
  port 0 instead. The station resets the part by its pin, as Silicon Labs asks for the lock.
* The lock is read back from access port 0's IDR: the AAP's (0x26E60011) is locked, a MEM-AP's
  is open. The AAP answers whatever the lock, and asking changes nothing.
* Rework of a locked part is the AAP's device erase (AAP_CMDKEY write key, AAP_CMD DEVICEERASE,
  AAP_STATUS.ERASEBUSY polled), which erases main flash, the lock bits page (the lock itself)
  and RAM; the AAP's system reset request then brings the port up open, for good: the erased
  DLW reads 0xFFFFFFFF at every reset. An open part is erased through the MSC (both halves of
  main flash with MASSLOCK unlocked, then the lock bits page).

pyOCD never erases such a part on connect: it knows nothing to unlock on a generic target, and
the station opens every session with ``auto_unlock=False`` anyway.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any, Final

from station.domain.errors import LockError
from station.domain.recipe import LockMethod, LockSettings
from station.drivers.profiles import LockMeaning, LockStrategy, not_offered, pin_reset, targets_of, wait_until
from station.flow.flash_plan import FlashTiming

DEVINFO_UNIQUEL: Final = 0x0FE0_81F0  # UNIQUEL, then UNIQUEH: 64 bits
# EFR32xG12 data sheet, flash: a word of a burst write (WRITETRIG) 26 us on average, page erase
# (2 KiB) 26 ms, and a chip erase by the pack's algorithm is both halves' ERASEMAIN, 26 ms each.
EFM32_FLASH_TIMING: Final = FlashTiming(
    write_seconds_per_byte=26e-6 / 4, sector_erase=((0x800, 26e-3),), chip_erase_seconds=2 * 26e-3
)
MSC: Final = 0x400E_0000
MSC_WRITECTRL: Final = MSC + 0x008
MSC_WRITECMD: Final = MSC + 0x00C
MSC_ADDRB: Final = MSC + 0x010
MSC_WDATA: Final = MSC + 0x018
MSC_STATUS: Final = MSC + 0x01C
MSC_LOCK: Final = MSC + 0x040
MSC_MASSLOCK: Final = MSC + 0x054
WRITECTRL_WREN: Final = 1 << 0
WRITECMD_LADDRIM: Final = 1 << 0
WRITECMD_ERASEPAGE: Final = 1 << 1
WRITECMD_WRITEONCE: Final = 1 << 3
WRITECMD_ERASEMAIN0: Final = 1 << 8
WRITECMD_ERASEMAIN1: Final = 1 << 9
STATUS_BUSY: Final = 1 << 0
STATUS_LOCKED: Final = 1 << 1
STATUS_INVADDR: Final = 1 << 2
STATUS_WDATAREADY: Final = 1 << 3
MSC_UNLOCK: Final = 0x1B71
MSC_RELOCK: Final = 0
MASSLOCK_UNLOCK: Final = 0x631A
MASSLOCK_RELOCK: Final = 0
LOCKBITS_PAGE: Final = 0x0FE0_4000
DLW_ADDRESS: Final = LOCKBITS_PAGE + 127 * 4  # 0x0FE041FC
DLW_LOCKED: Final = 0x0000_0000
DLW_OPEN_BITS: Final = 0xF
ACCESS_PORT: Final = 0  # the AHB-AP, or the AAP in its place while locked
AP_IDR: Final = 0xFC
AAP_IDR: Final = 0x26E6_0011  # Series 1
AP_CLASS_MEM_AP: Final = 0x8
AAP_CMD: Final = 0x00
AAP_CMDKEY: Final = 0x04
AAP_STATUS: Final = 0x08
AAP_CMD_DEVICEERASE: Final = 1 << 0
AAP_CMD_SYSRESETREQ: Final = 1 << 1
AAP_CMDKEY_WRITEENABLE: Final = 0xCFAC_C118
AAP_STATUS_ERASEBUSY: Final = 1 << 0
MSC_TIMEOUT_SECONDS: Final = 2.0
# The data sheet's device erase takes tens of milliseconds; margin for a slow probe.
ERASE_TIMEOUT_SECONDS: Final = 10.0
DEBUG_LOCK_WORD_MEANING: Final = LockMeaning(
    LockMethod.EFM32_DEBUG_LOCK_WORD,
    reversible=True,
    recovery="an AAP device erase, which erases the main flash and the lock bits page (the lock "
    "itself) and makes the unit a development unit",
)


class Efm32Profile:
    """EFM32/EFR32 Series 1 parts (the MSC at 0x400E0000, 2 KiB pages), locked by the debug lock word."""

    family = "EFM32/EFR32 Series 1"
    device_id_source = f"DEVINFO UNIQUEL, UNIQUEH (0x{DEVINFO_UNIQUEL:08X}, 64 bits)"

    @property
    def target_prefixes(self) -> tuple[str, ...]:
        return targets_of(LockMethod.EFM32_DEBUG_LOCK_WORD)

    @property
    def locks(self) -> Mapping[LockMethod, LockMeaning]:
        return {LockMethod.EFM32_DEBUG_LOCK_WORD: DEBUG_LOCK_WORD_MEANING}

    def read_device_id(self, target: Any) -> str:
        low, high = (int(word) for word in target.read_memory_block32(DEVINFO_UNIQUEL, 2))
        return f"{high:08X}{low:08X}"

    def lock(self, settings: LockSettings) -> LockStrategy:
        if settings.method is LockMethod.EFM32_DEBUG_LOCK_WORD:
            return DebugLockWord()
        raise not_offered(self.family, settings)

    @property
    def flash_timing(self) -> FlashTiming:
        return EFM32_FLASH_TIMING

    def chip_erase_blocker(self, target: Any) -> str | None:
        """The main flash's mass erase leaves the lock bits and user data pages alone."""
        return None


class DebugLockWord:
    """The DLW written through the MSC; access port 0 for the state; the AAP's device erase."""

    method = LockMethod.EFM32_DEBUG_LOCK_WORD

    @property
    def inspection_options(self) -> dict[str, Any]:
        # A locked part has no MEM-AP, so no core: the generic target, allowed to find none.
        return {"target_override": "cortex_m", "allow_no_cores": True}

    @property
    def port_silent_when_locked(self) -> bool:
        return False  # the AAP answers in the AHB-AP's place

    @staticmethod
    def _access_port(session: Any) -> Any:
        try:
            return session.target.dp.aps[ACCESS_PORT]
        except (AttributeError, KeyError) as error:
            raise LockError("the unit answers with no access port 0: is this an EFM32/EFR32?") from error

    def is_locked(self, inspection_session: Any) -> bool:
        idr = int(self._access_port(inspection_session).read_reg(AP_IDR))
        if idr == AAP_IDR:
            return True
        if (idr >> 13) & 0xF == AP_CLASS_MEM_AP:
            return False
        raise LockError(f"access port 0 is neither the AHB-AP nor the Series 1 AAP (IDR 0x{idr:08X})")

    def apply_lock(self, session: Any) -> None:
        target = session.target
        target.halt()  # nothing of the core's may touch the MSC meanwhile
        with _msc_unlocked(target):
            _load_address(target, DLW_ADDRESS)
            wait_until(lambda: int(target.read32(MSC_STATUS)) & STATUS_WDATAREADY != 0, MSC_TIMEOUT_SECONDS,
                       "the MSC's write buffer stays full")
            target.write32(MSC_WDATA, DLW_LOCKED)
            target.write32(MSC_WRITECMD, WRITECMD_WRITEONCE)
            _wait_for_msc(target, "writing the debug lock word")
        written = int(target.read32(DLW_ADDRESS))
        if written & DLW_OPEN_BITS == DLW_OPEN_BITS:
            raise LockError(f"the debug lock word reads 0x{written:08X} after the write", address=DLW_ADDRESS)
        pin_reset(session)  # the part reads the DLW as it comes out of reset: locked from here on

    def recovery_erase(self, inspection_session: Any) -> None:
        if self.is_locked(inspection_session):
            self._device_erase(inspection_session)
        else:
            _erase_through_the_msc(inspection_session.target)
        if self.is_locked(inspection_session):
            raise LockError("the unit is still locked after the device erase and a reset")

    def _device_erase(self, session: Any) -> None:
        """The AAP's device erase, then its system reset request: the erased DLW opens the port."""
        aap = self._access_port(session)
        aap.write_reg(AAP_CMDKEY, AAP_CMDKEY_WRITEENABLE)
        aap.write_reg(AAP_CMD, AAP_CMD_DEVICEERASE)
        wait_until(lambda: int(aap.read_reg(AAP_STATUS)) & AAP_STATUS_ERASEBUSY == 0, ERASE_TIMEOUT_SECONDS,
                   "the AAP device erase did not finish in time")
        aap.write_reg(AAP_CMD, AAP_CMD_SYSRESETREQ)

    def keep_port_open(self, session: Any) -> str:
        dlw = int(session.target.read32(DLW_ADDRESS))
        if dlw & DLW_OPEN_BITS != DLW_OPEN_BITS:
            raise LockError(
                f"the debug lock word still holds a lock (0x{dlw:08X}) after the erase", address=DLW_ADDRESS
            )
        return f"EFM32/EFR32: lock bits page erased (debug lock word 0x{dlw:08X}), open at every reset"


@contextlib.contextmanager
def _msc_unlocked(target: Any) -> Iterator[None]:
    """MSC_LOCK opened and WRITECTRL.WREN set for the block, both put back after it."""
    target.write32(MSC_LOCK, MSC_UNLOCK)
    target.write32(MSC_WRITECTRL, int(target.read32(MSC_WRITECTRL)) | WRITECTRL_WREN)
    try:
        yield
    finally:
        target.write32(MSC_WRITECTRL, int(target.read32(MSC_WRITECTRL)) & ~WRITECTRL_WREN)
        target.write32(MSC_LOCK, MSC_RELOCK)


def _load_address(target: Any, address: int) -> None:
    target.write32(MSC_ADDRB, address)
    target.write32(MSC_WRITECMD, WRITECMD_LADDRIM)
    status = int(target.read32(MSC_STATUS))
    if status & (STATUS_INVADDR | STATUS_LOCKED):
        raise LockError(f"the MSC refuses the address (STATUS 0x{status:08X})", address=address)


def _wait_for_msc(target: Any, doing: str) -> None:
    wait_until(lambda: int(target.read32(MSC_STATUS)) & STATUS_BUSY == 0, ERASE_TIMEOUT_SECONDS,
               f"the MSC stays busy {doing}")
    status = int(target.read32(MSC_STATUS))
    if status & STATUS_LOCKED:
        raise LockError(f"the MSC refused {doing} (STATUS 0x{status:08X})")


def _erase_through_the_msc(target: Any) -> None:
    """An open part: both halves of main flash (MASSLOCK unlocked), then the lock bits page."""
    target.halt()
    with _msc_unlocked(target):
        target.write32(MSC_MASSLOCK, MASSLOCK_UNLOCK)
        try:
            for command in (WRITECMD_ERASEMAIN0, WRITECMD_ERASEMAIN1):
                target.write32(MSC_WRITECMD, command)
                _wait_for_msc(target, "erasing main flash")
        finally:
            target.write32(MSC_MASSLOCK, MASSLOCK_RELOCK)
        _load_address(target, LOCKBITS_PAGE)
        target.write32(MSC_WRITECMD, WRITECMD_ERASEPAGE)
        _wait_for_msc(target, "erasing the lock bits page")
