"""NXP Kinetis K64F: SIM_UID device id, flash security (FSEC) read back through the MDM-AP.

The lock is the flash configuration field's FSEC byte at 0x40C, which the flash controller
loads at every reset: SEC = 10b is unsecure, anything else secure; MEEN = 10b disables mass
erase (for good: nothing then reopens the unit), KEYEN = 10b enables the backdoor key the
firmware image carries at 0x400. pyOCD's flash algorithm forces FSEC to unsecure in whatever it
programs across the flash configuration field (a safety of its own), so the lock rewrites sector
0 in parts: read, erased by an FTFE command, programmed by pyOCD's flash algorithm on either side
of the field, and the field's two phrases, with the new FSEC, by FTFE commands; then the unit is
reset by its pin. (Phrase by phrase from the debugger the sector cost a round trip through the
probe for each of its 512 phrases: on the simulated line that was most of the lock step.) The
MDM-AP (access port 1) answers whatever the security state, so the lock is read back there
(status bit "system security"), and a supervisor's rework is the MDM-AP mass erase, which
leaves the part unsecure only until the next reset: before any reset the station programs the
flash configuration field unsecure (FSEC = 0xFE) so that the unit stays open for the rest of
production.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any, Final

from pyocd.core.exceptions import FlashFailure

from station.domain.errors import LockError
from station.domain.recipe import LockMethod, LockSettings
from station.drivers.profiles import LockMeaning, LockStrategy, not_offered, pin_reset, targets_of, wait_until
from station.flow.flash_plan import FlashTiming

SIM_UIDH: Final = 0x4004_8054  # UIDH, UIDMH, UIDML, UIDL: 128 bits, most significant first
FTFE: Final = 0x4002_0000
FTFE_FSTAT: Final = FTFE + 0x00
FTFE_FCCOB_COMMAND: Final = FTFE + 0x04  # FCCOB3..0 as one word: command << 24 | address
FTFE_FCCOB_DATA: Final = FTFE + 0x08  # FCCOB7..4 and FCCOBB..8: the phrase, little-endian words
FSTAT_CCIF: Final = 0x80
FSTAT_ERRORS: Final = 0x70  # RDCOLERR, ACCERR, FPVIOL
FSTAT_MGSTAT0: Final = 0x01
COMMAND_PROGRAM_PHRASE: Final = 0x07
COMMAND_ERASE_SECTOR: Final = 0x09
SECTOR_SIZE: Final = 0x1000
PHRASE_SIZE: Final = 8
FLASH_CONFIG_FIELD: Final = 0x400  # to 0x410: the backdoor key, then FLASH_CONFIG_PHRASE
FLASH_CONFIG_PHRASE: Final = 0x408  # FPROT0-3, FSEC, FOPT, FEPROT, FDPROT
FLASH_CONFIG_END: Final = 0x410
FSEC_ADDRESS: Final = 0x40C
FSEC_UNSECURE: Final = 0xFE  # KEYEN off, MEEN on, FSLACC granted, SEC = 10b
FSEC_SECURE: Final = 0xFF  # KEYEN off, MEEN on, FSLACC granted, SEC = 11b
FSEC_MEEN_DISABLED: Final = 0b10 << 4
FSEC_MEEN_MASK: Final = 0b11 << 4
FSEC_KEYEN_ENABLED: Final = 0b10 << 6
FSEC_KEYEN_MASK: Final = 0b11 << 6
MDM_AP_INDEX: Final = 1
MDM_STATUS: Final = 0x00
MDM_CONTROL: Final = 0x04
MDM_STATUS_MASS_ERASE_ACK: Final = 1 << 0
MDM_STATUS_FLASH_READY: Final = 1 << 1
MDM_STATUS_SYSTEM_SECURITY: Final = 1 << 2
MDM_STATUS_MASS_ERASE_ENABLE: Final = 1 << 5
MDM_CONTROL_MASS_ERASE: Final = 1 << 0
COMMAND_TIMEOUT_SECONDS: Final = 2.0
MASS_ERASE_TIMEOUT_SECONDS: Final = 30.0
FSEC_MEANING: Final = LockMeaning(
    LockMethod.KINETIS_FSEC,
    reversible=True,
    recovery="an MDM-AP mass erase, which erases the flash and makes the unit a development unit "
    "(with mass erase disabled in FSEC the lock is permanent)",
)


def secured_fsec(settings: LockSettings) -> int:
    """The FSEC byte a recipe's lock writes: secure, with mass erase and backdoor as it says."""
    fsec = FSEC_SECURE
    if not settings.mass_erase:
        fsec = (fsec & ~FSEC_MEEN_MASK) | FSEC_MEEN_DISABLED
    if settings.backdoor:
        fsec = (fsec & ~FSEC_KEYEN_MASK) | FSEC_KEYEN_ENABLED
    return fsec


# K64 sub-family data sheet, flash timing: phrase program (8 bytes) 90 us typical, then, as
# pyOCD's flash algorithm (the Kinetis SDK driver) does after every page, a program check of each
# word (95 us); sector erase (4 KiB) 15 ms and the read-1s check after it (100 us); Erase All
# Blocks 870 ms.
K64_FLASH_TIMING: Final = FlashTiming(
    write_seconds_per_byte=90e-6 / 8 + 95e-6 / 4,
    sector_erase=((SECTOR_SIZE, 15e-3 + 100e-6),),
    chip_erase_seconds=0.870,
    write_unit=PHRASE_SIZE,
)


class KinetisProfile:
    """Kinetis K64F (FTFE flash controller, 4 KiB sectors), locked by its flash security byte."""

    family = "Kinetis"
    device_id_source = f"SIM_UIDH..SIM_UIDL (0x{SIM_UIDH:08X}, 128 bits)"

    @property
    def target_prefixes(self) -> tuple[str, ...]:
        return targets_of(LockMethod.KINETIS_FSEC)

    @property
    def locks(self) -> Mapping[LockMethod, LockMeaning]:
        return {LockMethod.KINETIS_FSEC: FSEC_MEANING}

    def read_device_id(self, target: Any) -> str:
        return "".join(f"{int(word):08X}" for word in target.read_memory_block32(SIM_UIDH, 4))

    def lock(self, settings: LockSettings) -> LockStrategy:
        if settings.method is LockMethod.KINETIS_FSEC:
            return FlashSecurity(settings)
        raise not_offered(self.family, settings)

    @property
    def flash_timing(self) -> FlashTiming:
        return K64_FLASH_TIMING

    def chip_erase_blocker(self, target: Any) -> str | None:
        """Erase All Blocks takes the flash configuration field with the flash, which the image
        (or the port-keeping write after it) programs again before any reset."""
        return None


class FlashSecurity:
    """FSEC through the FTFE; the MDM-AP for the state and the mass erase."""

    method = LockMethod.KINETIS_FSEC

    def __init__(self, settings: LockSettings) -> None:
        self.fsec = secured_fsec(settings)

    @property
    def inspection_options(self) -> dict[str, Any]:
        # The generic target: pyOCD's Kinetis support would hold a secured part in reset.
        return {"target_override": "cortex_m", "allow_no_cores": True}

    @property
    def port_silent_when_locked(self) -> bool:
        return False  # the MDM-AP answers whatever the security state

    @staticmethod
    def _mdm_ap(session: Any) -> Any:
        try:
            return session.target.dp.aps[MDM_AP_INDEX]
        except (AttributeError, KeyError) as error:
            raise LockError("the unit has no Kinetis MDM-AP: is this a Kinetis?") from error

    def is_locked(self, inspection_session: Any) -> bool:
        mdm_ap = self._mdm_ap(inspection_session)
        wait_until(lambda: int(mdm_ap.read_reg(MDM_STATUS)) & MDM_STATUS_FLASH_READY != 0,
              COMMAND_TIMEOUT_SECONDS, "the flash controller did not finish its start-up")
        return int(mdm_ap.read_reg(MDM_STATUS)) & MDM_STATUS_SYSTEM_SECURITY != 0

    def apply_lock(self, session: Any) -> None:
        target = session.target
        target.halt()  # the core must not fetch from the sector being rewritten
        sector = bytearray(target.read_memory_block8(0, SECTOR_SIZE))
        sector[FSEC_ADDRESS] = self.fsec
        field = [
            (COMMAND_PROGRAM_PHRASE, offset, bytes(sector[offset : offset + PHRASE_SIZE]))
            for offset in range(FLASH_CONFIG_FIELD, FLASH_CONFIG_END, PHRASE_SIZE)
            if sector[offset : offset + PHRASE_SIZE] != b"\xff" * PHRASE_SIZE
        ]
        _run_commands(target, [(COMMAND_ERASE_SECTOR, 0, b""), *field])
        _program_by_algorithm(target, [(0, sector[:FLASH_CONFIG_FIELD]), (FLASH_CONFIG_END, sector[FLASH_CONFIG_END:])])
        if bytes(target.read_memory_block8(0, SECTOR_SIZE)) != bytes(sector):
            raise LockError("sector 0 does not read back as written with the new FSEC", address=0)
        pin_reset(session)  # FSEC loads at reset: the part is secure from here on

    def recovery_erase(self, inspection_session: Any) -> None:
        mdm_ap = self._mdm_ap(inspection_session)
        if not int(mdm_ap.read_reg(MDM_STATUS)) & MDM_STATUS_MASS_ERASE_ENABLE:
            raise LockError("mass erase is disabled in this unit's FSEC: it is locked for good, no rework")
        probe = inspection_session.probe
        probe.assert_reset(True)  # held through the erase, as the reference manual asks
        try:
            mdm_ap.write_reg(MDM_CONTROL, MDM_CONTROL_MASS_ERASE)
            wait_until(lambda: int(mdm_ap.read_reg(MDM_STATUS)) & MDM_STATUS_MASS_ERASE_ACK != 0,
                  COMMAND_TIMEOUT_SECONDS, "the MDM-AP did not acknowledge the mass erase")
            wait_until(lambda: int(mdm_ap.read_reg(MDM_CONTROL)) & MDM_CONTROL_MASS_ERASE == 0,
                  MASS_ERASE_TIMEOUT_SECONDS, "the MDM-AP mass erase did not finish in time")
        finally:
            probe.assert_reset(False)  # the end of the held reset, not a new one: still unsecure
        if self.is_locked(inspection_session):
            raise LockError("the unit is still secure after the MDM-AP mass erase")

    def keep_port_open(self, session: Any) -> str:
        target = session.target
        config = bytes(target.read_memory_block8(FLASH_CONFIG_PHRASE, PHRASE_SIZE))
        if config[FSEC_ADDRESS - FLASH_CONFIG_PHRASE] == FSEC_UNSECURE:
            return "Kinetis flash configuration field already unsecure"
        if config != b"\xff" * PHRASE_SIZE:
            raise LockError("the flash configuration field is not erased after the mass erase", address=FSEC_ADDRESS)
        _program_phrase(target, FLASH_CONFIG_PHRASE, b"\xff" * 4 + bytes([FSEC_UNSECURE]) + b"\xff" * 3)
        return "Kinetis: flash configuration field programmed unsecure (FSEC = 0xFE), open at every reset"


def _run_commands(target: Any, commands: Sequence[tuple[int, int, bytes]]) -> None:
    """FTFE commands one after another: wait for CCIF and clear old errors once, then for each
    load FCCOB (command word and data in one transfer), launch, and wait for CCIF, whose read
    also brings the result; the first failure stops the rest. One round trip through the probe
    per command, where there were three."""
    wait_until(lambda: int(target.read8(FTFE_FSTAT)) & FSTAT_CCIF != 0, COMMAND_TIMEOUT_SECONDS,
          "the flash controller stays busy")
    target.write8(FTFE_FSTAT, FSTAT_ERRORS)  # write one to clear
    status = 0

    def finished() -> bool:
        nonlocal status
        status = int(target.read8(FTFE_FSTAT))
        return status & FSTAT_CCIF != 0

    for command, address, data in commands:
        words = struct.unpack(f"<{len(data) // 4}I", data)
        target.write_memory_block32(FTFE_FCCOB_COMMAND, [(command << 24) | address, *words])
        target.write8(FTFE_FSTAT, FSTAT_CCIF)  # launch
        wait_until(finished, COMMAND_TIMEOUT_SECONDS,
              f"flash command 0x{command:02X} at 0x{address:06X} did not finish in time")
        if status & (FSTAT_ERRORS | FSTAT_MGSTAT0):
            raise LockError(f"flash command 0x{command:02X} failed (FSTAT 0x{status:02X})", address=address)


def _program_by_algorithm(target: Any, parts: Sequence[tuple[int, bytes | bytearray]]) -> None:
    """Erased flash programmed by pyOCD's flash algorithm, one run of it per part (a part must
    not cover the whole flash configuration field, which pyOCD would force unsecure); a part
    left erased is skipped."""
    parts = [(address, bytes(data)) for address, data in parts if data.count(0xFF) != len(data)]
    if not parts:
        return
    flash = target.memory_map.get_region_for_address(parts[0][0]).flash
    flash.init(flash.Operation.PROGRAM)
    try:
        for address, data in parts:
            try:
                flash.program_page(address, data)
            except FlashFailure as error:
                raise LockError(f"the flash algorithm failed at 0x{address:06X}: {error}", address=address) from error
    finally:
        flash.cleanup()


def _program_phrase(target: Any, address: int, phrase: bytes) -> None:
    _run_commands(target, [(COMMAND_PROGRAM_PHRASE, address, phrase)])
