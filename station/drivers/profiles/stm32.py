"""STM32F4 (RM0090: STM32F42x/43x; RM0402: STM32F412): UID device id, readout protection (RDP).

The lock is the option bytes' RDP byte, written through the flash interface's option control
register (OPTKEYR unlock keys, OPTCR's RDP byte, OPTSTRT, BSY) and loaded at the next reset:
0xAA is level 0 (open), 0xCC level 2, anything else level 1 (the station writes ST's 0x55).

* **Level 1** keeps the core debuggable, SRAM and peripherals readable, but every debug access
  to flash fails. The lock is read back from OPTCR in a fresh session (the flash interface's
  registers stay reachable). Undoing it is the RDP 1 -> 0 regression: the chip mass-erases
  its flash before it opens, so the unit becomes a development unit.
* **Level 2** disables the debug port for good and freezes the option bytes: no erase reopens
  the unit, it can never be reworked, and the recipe must say ``permanent = true``. After the
  reset the port answers nothing, which is how the lock is read back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from station.domain.errors import LockError
from station.domain.recipe import LockMethod, LockSettings
from station.drivers.profiles import LockMeaning, LockStrategy, not_offered, pin_reset, targets_of, wait_until
from station.flow.flash_plan import FlashTiming

UID_BASE: Final = 0x1FFF_7A10  # 96 bits, three words
FLASH_INTERFACE: Final = 0x4002_3C00
FLASH_OPTKEYR: Final = FLASH_INTERFACE + 0x08
FLASH_SR: Final = FLASH_INTERFACE + 0x0C
FLASH_OPTCR: Final = FLASH_INTERFACE + 0x14
OPTKEY1: Final = 0x0819_2A3B
OPTKEY2: Final = 0x4C5D_6E7F
OPTCR_OPTLOCK: Final = 1 << 0
OPTCR_OPTSTRT: Final = 1 << 1
OPTCR_RDP_SHIFT: Final = 8
OPTCR_RDP_MASK: Final = 0xFF << OPTCR_RDP_SHIFT
SR_BSY: Final = 1 << 16
SR_ERRORS: Final = 0xF2  # OPERR, WRPERR, PGAERR, PGPERR, PGSERR
RDP_LEVEL_0: Final = 0xAA
RDP_LEVEL_1: Final = 0x55  # ST's HAL value; any byte but 0xAA and 0xCC means level 1
RDP_LEVEL_2: Final = 0xCC
# Option-byte programming is quick; the regression to level 0 waits for a mass erase of both
# banks (datasheet: up to 32 s at x8 parallelism), with margin for a slow probe.
OPTION_TIMEOUT_SECONDS: Final = 5.0
REGRESSION_TIMEOUT_SECONDS: Final = 60.0
RDP1_MEANING: Final = LockMeaning(
    LockMethod.STM32_RDP1,
    reversible=True,
    recovery="an RDP level 1 -> 0 regression through the option bytes, which mass-erases the flash "
    "and makes the unit a development unit",
)
RDP2_MEANING: Final = LockMeaning(
    LockMethod.STM32_RDP2,
    reversible=False,
    recovery="RDP level 2 disables the debug port and freezes the option bytes for good; "
    "no erase reopens the unit and it can never be reworked",
)


def rdp_level(rdp: int) -> int:
    """The protection level an RDP byte means."""
    return 0 if rdp == RDP_LEVEL_0 else 2 if rdp == RDP_LEVEL_2 else 1


# RM0090 / the STM32F429 datasheet at 2.7-3.6 V, as pyOCD's flash algorithm drives the interface:
# it programs words (x32, 16 us each) but starts its erases with PSIZE left at x8, which the
# datasheet times at 400 ms (16 KiB sector), 1.2 s (64 KiB), 2 s (128 KiB) and 16 s (mass erase).
STM32F4_FLASH_TIMING: Final = FlashTiming(
    write_seconds_per_byte=16e-6 / 4,
    sector_erase=((0x4000, 0.400), (0x1_0000, 1.200), (0x2_0000, 2.000)),
    chip_erase_seconds=16.0,
)


class Stm32Profile:
    """STM32F4 parts with the RM0090/RM0402 flash interface, locked by readout protection."""

    family = "STM32F4"
    device_id_source = f"UID (0x{UID_BASE:08X}, 96 bits)"

    @property
    def target_prefixes(self) -> tuple[str, ...]:
        return targets_of(LockMethod.STM32_RDP1)

    @property
    def locks(self) -> Mapping[LockMethod, LockMeaning]:
        return {LockMethod.STM32_RDP1: RDP1_MEANING, LockMethod.STM32_RDP2: RDP2_MEANING}

    def read_device_id(self, target: Any) -> str:
        low, middle, high = (int(word) for word in target.read_memory_block32(UID_BASE, 3))
        return f"{high:08X}{middle:08X}{low:08X}"

    def lock(self, settings: LockSettings) -> LockStrategy:
        if settings.method is LockMethod.STM32_RDP1:
            return ReadoutProtection(settings.method, level=1)
        if settings.method is LockMethod.STM32_RDP2:
            return ReadoutProtection(settings.method, level=2)
        raise not_offered(self.family, settings)

    @property
    def flash_timing(self) -> FlashTiming:
        return STM32F4_FLASH_TIMING

    def chip_erase_blocker(self, target: Any) -> str | None:
        """A mass erase takes the main flash only: option bytes and OTP stay."""
        return None


class ReadoutProtection:
    """RDP level 1 or 2 through the option bytes; rework is the level 1 -> 0 regression."""

    def __init__(self, method: LockMethod, *, level: int) -> None:
        self.method = method
        self.level = level

    @property
    def inspection_options(self) -> dict[str, Any]:
        # A level-1 part connects normally (only flash is closed to the debugger); the generic
        # target keeps pyOCD from touching anything part-specific while it only asks.
        return {"target_override": "cortex_m"}

    @property
    def port_silent_when_locked(self) -> bool:
        """Level 2 turns the debug port off: a port that answers nothing reads as locked."""
        return self.level == 2

    def is_locked(self, inspection_session: Any) -> bool:
        optcr = int(inspection_session.target.read32(FLASH_OPTCR))
        return rdp_level((optcr & OPTCR_RDP_MASK) >> OPTCR_RDP_SHIFT) != 0

    def apply_lock(self, session: Any) -> None:
        rdp = RDP_LEVEL_1 if self.level == 1 else RDP_LEVEL_2
        target = session.target
        _program_rdp(target, rdp, OPTION_TIMEOUT_SECONDS)
        # The option bytes load at reset; level 2 leaves no port to reset through afterwards,
        # so the reset is the pin's, whatever the level.
        pin_reset(session)

    def recovery_erase(self, inspection_session: Any) -> None:
        target = inspection_session.target
        level = rdp_level((int(target.read32(FLASH_OPTCR)) & OPTCR_RDP_MASK) >> OPTCR_RDP_SHIFT)
        if level == 2:
            raise LockError("the unit is at RDP level 2, which is permanent: it can never be reworked")
        if level == 1:
            _program_rdp(target, RDP_LEVEL_0, REGRESSION_TIMEOUT_SECONDS)
            pin_reset(inspection_session)  # the option bytes load: level 0, flash erased
        if self.is_locked(inspection_session):
            raise LockError("the unit is still read-protected after the RDP regression")

    def keep_port_open(self, session: Any) -> str:
        return "STM32 at RDP level 0: nothing closes its debug port at reset"


def _program_rdp(target: Any, rdp: int, timeout: float) -> None:
    """OPTKEYR unlock, the RDP byte into OPTCR, OPTSTRT, wait while BSY, OPTLOCK again."""
    if int(target.read32(FLASH_OPTCR)) & OPTCR_OPTLOCK:
        target.write32(FLASH_OPTKEYR, OPTKEY1)
        target.write32(FLASH_OPTKEYR, OPTKEY2)
    optcr = int(target.read32(FLASH_OPTCR))
    if optcr & OPTCR_OPTLOCK:
        raise LockError("the option control register did not unlock", address=FLASH_OPTCR)
    optcr = (optcr & ~(OPTCR_RDP_MASK | OPTCR_OPTSTRT)) | (rdp << OPTCR_RDP_SHIFT)
    target.write32(FLASH_OPTCR, optcr)
    target.write32(FLASH_OPTCR, optcr | OPTCR_OPTSTRT)
    wait_until(lambda: int(target.read32(FLASH_SR)) & SR_BSY == 0, timeout,
               "option-byte programming did not finish in time")
    status = int(target.read32(FLASH_SR))
    if status & SR_ERRORS:
        target.write32(FLASH_SR, status & SR_ERRORS)
        raise LockError(f"option-byte programming failed (FLASH_SR 0x{status:08X})", address=FLASH_SR)
    written = (int(target.read32(FLASH_OPTCR)) & OPTCR_RDP_MASK) >> OPTCR_RDP_SHIFT
    if written != rdp:
        raise LockError(f"OPTCR holds RDP 0x{written:02X}, not the 0x{rdp:02X} written", address=FLASH_OPTCR)
    target.write32(FLASH_OPTCR, int(target.read32(FLASH_OPTCR)) | OPTCR_OPTLOCK)
