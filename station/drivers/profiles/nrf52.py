"""nRF52 (nRF52832, nRF52833, nRF52840): FICR device id, UICR APPROTECT read back through the CTRL-AP.

Locking writes UICR.APPROTECT = 0x00, which latches at the next reset; after it the AHB-AP
refuses every memory access and CTRL-AP APPROTECTSTATUS reads 0. The CTRL-AP is reachable
whatever the lock state, so asking is safe: the session for it is opened with the generic
``cortex_m`` target and ``allow_no_cores`` so that pyOCD never tries (and never erases).
The only way back is CTRL-AP ERASEALL, which wipes flash, UICR and RAM.

Parts of later build codes have *hardened* APPROTECT (Nordic IN141): they leave the factory
protected, and close the port again at every reset unless UICR.APPROTECT holds HwDisabled and
their firmware opens it. After an erase the station therefore writes HwDisabled before any
reset (:meth:`Nrf52ApprotectLock.keep_port_open`); the production lock's 0x00 overrides it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from pyocd.target.family.target_nRF52 import HARDENED_APPROTECT_REVISIONS

from station.domain.errors import LockError
from station.domain.recipe import LockMethod, LockSettings
from station.drivers.profiles import LockMeaning, LockStrategy, not_offered, targets_of, wait_until
from station.flow.flash_plan import FlashTiming

FICR_DEVICEID: Final = 0x1000_0060  # DEVICEID[0], DEVICEID[1]: 64 bits
FICR_INFO_PART: Final = 0x1000_0100
FICR_INFO_VARIANT: Final = 0x1000_0104
CTRL_AP_INDEX: Final = 1
CTRL_AP_RESET: Final = 0x000
CTRL_AP_ERASEALL: Final = 0x004
CTRL_AP_ERASEALLSTATUS: Final = 0x008
CTRL_AP_APPROTECTSTATUS: Final = 0x00C
UICR_APPROTECT: Final = 0x1000_1208
APPROTECT_ENABLED: Final = 0x0000_0000
APPROTECT_HW_DISABLED: Final = 0x5A  # hardened parts: the hardware lets firmware open the port
ERASE_ALL_TIMEOUT_SECONDS: Final = 15.0
UICR_BASE: Final = 0x1000_1000
UICR_SIZE: Final = 0x400  # the registers; the rest of the page reads as erased
# nRF52840 product specification, NVMC: tWRITE 41 us per word, tERASEPAGE 85 ms per 4 KiB page,
# ERASEALL (flash and UICR) about 200 ms.
NRF52_FLASH_TIMING: Final = FlashTiming(
    write_seconds_per_byte=41e-6 / 4, sector_erase=((0x1000, 0.085),), chip_erase_seconds=0.200
)
APPROTECT_MEANING: Final = LockMeaning(
    LockMethod.NRF52_APPROTECT,
    reversible=True,
    recovery="a CTRL-AP mass erase (ERASEALL), which erases flash, UICR and RAM "
    "and makes the unit a development unit",
)


class Nrf52Profile:
    """The nRF52 family: every pyOCD ``nrf52*`` target, either APPROTECT generation."""

    family = "nRF52"
    device_id_source = f"FICR DEVICEID (0x{FICR_DEVICEID:08X}, 64 bits)"

    @property
    def target_prefixes(self) -> tuple[str, ...]:
        return targets_of(LockMethod.NRF52_APPROTECT)

    @property
    def locks(self) -> Mapping[LockMethod, LockMeaning]:
        return {LockMethod.NRF52_APPROTECT: APPROTECT_MEANING}

    def read_device_id(self, target: Any) -> str:
        low, high = target.read_memory_block32(FICR_DEVICEID, 2)
        return f"{(int(high) << 32) | int(low):016X}"

    def lock(self, settings: LockSettings) -> LockStrategy:
        if settings.method is LockMethod.NRF52_APPROTECT:
            return Nrf52ApprotectLock()
        raise not_offered(self.family, settings)

    @property
    def flash_timing(self) -> FlashTiming:
        return NRF52_FLASH_TIMING

    def chip_erase_blocker(self, target: Any) -> str | None:
        """ERASEALL takes the UICR too: refused while it holds configuration (APPROTECT aside,
        which the port-keeping write restores on a hardened part)."""
        words = target.read_memory_block32(UICR_BASE, UICR_SIZE // 4)
        for index, word in enumerate(words):
            address = UICR_BASE + 4 * index
            if address == UICR_APPROTECT and int(word) & 0xFF in (0xFF, APPROTECT_HW_DISABLED):
                continue
            if int(word) != 0xFFFF_FFFF:
                return f"the UICR holds configuration (0x{address:08X} = 0x{int(word):08X}) that it would erase"
        return None


class Nrf52ApprotectLock:
    """APPROTECT: UICR write, reset through the CTRL-AP, CTRL-AP ERASEALL to undo."""

    method = LockMethod.NRF52_APPROTECT

    @property
    def inspection_options(self) -> dict[str, Any]:
        return {"target_override": "cortex_m", "allow_no_cores": True}

    @property
    def port_silent_when_locked(self) -> bool:
        return False  # the CTRL-AP answers whatever the lock

    @staticmethod
    def _ctrl_ap(session: Any) -> Any:
        try:
            return session.target.dp.aps[CTRL_AP_INDEX]
        except (AttributeError, KeyError) as error:
            raise LockError("the unit has no Nordic CTRL-AP: is this an nRF52?") from error

    def is_locked(self, inspection_session: Any) -> bool:
        return int(self._ctrl_ap(inspection_session).read_reg(CTRL_AP_APPROTECTSTATUS)) == 0

    def apply_lock(self, session: Any) -> None:
        target = session.target
        current = int(target.read32(UICR_APPROTECT))
        if current & 0xFF != APPROTECT_ENABLED:
            # NVMC write-enable, write, read-only again (bits only go from 1 to 0).
            target.write_uicr(UICR_APPROTECT, APPROTECT_ENABLED)
        if int(target.read32(UICR_APPROTECT)) & 0xFF != APPROTECT_ENABLED:
            raise LockError("UICR APPROTECT did not take the value written", address=UICR_APPROTECT)
        # Reset through the CTRL-AP: the AHB-AP is closed as soon as the lock latches, so a
        # reset through it would leave pyOCD polling a core it can no longer see.
        ctrl_ap = self._ctrl_ap(session)
        ctrl_ap.write_reg(CTRL_AP_RESET, 1)
        ctrl_ap.write_reg(CTRL_AP_RESET, 0)
        self._wait_for_reset(ctrl_ap)

    @staticmethod
    def _wait_for_reset(ctrl_ap: Any) -> None:
        """Return only once the unit has been through the reset just asked for.

        A probe queues AP writes and answers at once; only a read makes it carry them out (and
        report one that failed). Without this read the lock step ended with the reset still
        queued, and lock-confirm's fresh session could read APPROTECTSTATUS from before the
        reset -- "not locked" on a unit that locks a moment later.
        """
        if int(ctrl_ap.read_reg(CTRL_AP_RESET)) != 0:
            raise LockError("the unit is still held in reset by the CTRL-AP")

    def recovery_erase(self, inspection_session: Any) -> None:
        """CTRL-AP ERASEALL: flash, UICR and RAM. The port is open once it finishes; no reset
        follows, because a part with hardened APPROTECT closes it again at any reset until
        UICR says HwDisabled (:meth:`keep_port_open`). A part that still reads protected gets
        the reset of Nordic's recovery sequence (nWP-027), and must be open after it."""
        ctrl_ap = self._ctrl_ap(inspection_session)
        ctrl_ap.write_reg(CTRL_AP_ERASEALL, 1)
        wait_until(lambda: int(ctrl_ap.read_reg(CTRL_AP_ERASEALLSTATUS)) == 0, ERASE_ALL_TIMEOUT_SECONDS,
                   "CTRL-AP erase did not finish in time")
        ctrl_ap.write_reg(CTRL_AP_ERASEALL, 0)
        if self.is_locked(inspection_session):
            ctrl_ap.write_reg(CTRL_AP_RESET, 1)
            ctrl_ap.write_reg(CTRL_AP_RESET, 0)
            self._wait_for_reset(ctrl_ap)
            if self.is_locked(inspection_session):
                raise LockError("the unit is still locked after the CTRL-AP erase")

    def keep_port_open(self, session: Any) -> str:
        target = session.target
        part = int(target.read32(FICR_INFO_PART))
        build_code = build_code_of(int(target.read32(FICR_INFO_VARIANT)))
        name = f"nRF{part:X} build code {build_code}"
        if not has_hardened_approtect(part, build_code):
            return f"{name}: legacy APPROTECT, open until the production lock"
        if int(target.read32(UICR_APPROTECT)) & 0xFF != APPROTECT_HW_DISABLED:
            target.write_uicr(UICR_APPROTECT, APPROTECT_HW_DISABLED)
        if int(target.read32(UICR_APPROTECT)) & 0xFF != APPROTECT_HW_DISABLED:
            raise LockError("UICR APPROTECT did not take HwDisabled", address=UICR_APPROTECT)
        return f"{name}: hardened APPROTECT, UICR.APPROTECT = HwDisabled so that its firmware keeps the port open"


def build_code_of(variant: int) -> str:
    """FICR INFO.VARIANT holds four ASCII characters, "AAF0": the build code is the last two."""
    return variant.to_bytes(4, "big").decode("ascii", errors="replace")[2:]


def has_hardened_approtect(part: int, build_code: str) -> bool:
    """Whether this part and build code has hardened APPROTECT (Nordic IN141), by pyOCD's table of
    the first hardened build code of each part; a part it does not list has the legacy one."""
    first_hardened = HARDENED_APPROTECT_REVISIONS.get(part)
    return first_hardened is not None and build_code >= first_hardened
