"""The Kinetis profile's register sequences, against a hand-written K64F at the driver boundary.

The fake is what a pyOCD session shows the profile: flash bytes, the FTFE's FSTAT and FCCOB
registers with their command semantics (erase sector, program phrase, bits only 1 -> 0), pyOCD's
flash algorithm (which forces FSEC unsecure in anything it programs across the flash
configuration field), the MDM-AP's status and control registers, and the reset pin at which
FSEC loads.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass
from typing import Any

import pytest

from station.domain.errors import LockError
from station.domain.recipe import LockMethod, LockSettings
from station.drivers.profiles import profile_for_target
from station.drivers.profiles.kinetis import FSEC_ADDRESS, SECTOR_SIZE, FlashSecurity, secured_fsec

FTFE_FSTAT, FCCOB_COMMAND, FCCOB_DATA = 0x4002_0000, 0x4002_0004, 0x4002_0008


class FakeMdmAp:
    def __init__(self, chip: FakeK64F) -> None:
        self.chip = chip

    def read_reg(self, register: int) -> int:
        chip = self.chip
        if register == 0x00:
            meen = (chip.loaded_fsec >> 4) & 0b11 != 0b10
            return 0b10 | (int(chip.secure) << 2) | (int(meen) << 5) | int(chip.mass_erased)
        return 0  # the mass erase finished at once: control bit 0 reads clear

    def write_reg(self, register: int, value: int) -> None:
        if register == 0x04 and value & 1 and self.chip.reset_held and (self.chip.loaded_fsec >> 4) & 0b11 != 0b10:
            self.chip.flash[:] = b"\xff" * len(self.chip.flash)
            self.chip.secure, self.chip.mass_erased = False, True


class FakeFlashAlgorithm:
    """pyOCD's flash algorithm object for the K64F's flash, as the profile drives it."""

    class Operation(enum.Enum):
        ERASE = 1
        PROGRAM = 2

    def __init__(self, chip: FakeK64F) -> None:
        self.chip = chip
        self.operation: FakeFlashAlgorithm.Operation | None = None
        self.programmed: list[tuple[int, int]] = []  # (address, length) of each program_page

    def init(self, operation: FakeFlashAlgorithm.Operation) -> None:
        assert self.chip.halted
        self.operation = operation

    def program_page(self, address: int, data: bytes) -> None:
        assert self.operation is self.Operation.PROGRAM and address % 8 == 0 and len(data) % 8 == 0
        page = bytearray(data)
        if address <= 0x400 and address + len(page) >= 0x410:
            page[FSEC_ADDRESS - address] = 0xFE  # pyOCD's own safety: never a secure FSEC
        assert self.chip.flash[address : address + len(page)] == b"\xff" * len(page), "programmed once"
        self.chip.flash[address : address + len(page)] = page
        self.programmed.append((address, len(page)))

    def cleanup(self) -> None:
        self.operation = None


@dataclass
class FakeRegion:
    flash: FakeFlashAlgorithm


class FakeK64F:
    """Flash, FTFE, MDM-AP and nRESET of one K64F, as a session's target and probe."""

    def __init__(self, image: bytes) -> None:
        self.flash = bytearray(image.ljust(2 * SECTOR_SIZE, b"\xff"))
        self.fstat = 0x80
        self.fccob = bytearray(12)
        self.commands: list[tuple[int, int]] = []
        self.fstat_reads = 0
        self.reset_held = False
        self.mass_erased = False
        self.halted = False
        self.loaded_fsec = self.flash[FSEC_ADDRESS]
        self.secure = self.loaded_fsec & 0b11 != 0b10
        self.target, self.probe = self, self
        self.dp = self
        self.aps = {1: FakeMdmAp(self)}
        self.algorithm = FakeFlashAlgorithm(self)
        self.memory_map = self

    def get_region_for_address(self, address: int) -> FakeRegion:
        assert 0 <= address < len(self.flash)
        return FakeRegion(self.algorithm)

    # -- the probe ------------------------------------------------------------------------------
    def assert_reset(self, asserted: bool) -> None:
        if asserted and not self.reset_held:  # FSEC loads as the reset begins
            self.loaded_fsec = self.flash[FSEC_ADDRESS]
            self.secure = self.loaded_fsec & 0b11 != 0b10
            self.mass_erased = False
        self.reset_held = asserted

    # -- the target -----------------------------------------------------------------------------
    def halt(self) -> None:
        self.halted = True

    def read_memory_block8(self, address: int, count: int) -> list[int]:
        assert not self.secure, "a secure part's flash is closed to the debugger"
        return list(self.flash[address : address + count])

    def read_memory_block32(self, address: int, count: int) -> list[int]:
        return [0x0123_4567, 0x89AB_CDEF, 0x0011_2233, 0x4455_6677][:count]

    def read8(self, address: int) -> int:
        assert address == FTFE_FSTAT
        self.fstat_reads += 1
        return self.fstat

    def write8(self, address: int, value: int) -> None:
        assert address == FTFE_FSTAT
        self.fstat &= ~(value & 0x70)
        if value & 0x80:
            self._launch()

    def write32(self, address: int, value: int) -> None:
        assert FCCOB_COMMAND <= address < FCCOB_COMMAND + 12 and address % 4 == 0
        struct.pack_into("<I", self.fccob, address - FCCOB_COMMAND, value)

    def write_memory_block32(self, address: int, words: list[int]) -> None:
        for index, word in enumerate(words):
            self.write32(address + 4 * index, word)

    def _launch(self) -> None:
        command_word = struct.unpack_from("<I", self.fccob, 0)[0]
        command, address = command_word >> 24, command_word & 0xFF_FFFF
        self.commands.append((command, address))
        if command == 0x09:
            assert self.halted and address % SECTOR_SIZE == 0
            self.flash[address : address + SECTOR_SIZE] = b"\xff" * SECTOR_SIZE
        elif command == 0x07:
            assert address % 8 == 0
            phrase = self.fccob[4:12]
            if self.flash[address : address + 8] != b"\xff" * 8:
                self.fstat |= 0x20  # ACCERR: a phrase is programmed once between erases
                return
            self.flash[address : address + 8] = phrase
        else:
            raise AssertionError(f"unexpected FTFE command 0x{command:02X}")


def image(fsec: int = 0xFE) -> bytes:
    data = bytearray(bytes(range(256)) * (SECTOR_SIZE // 256) + b"\x5a" * 256)
    data[0x400:0x410] = b"\xff" * 12 + bytes([fsec, 0xFF, 0xFF, 0xFF])
    return bytes(data)


@pytest.mark.parametrize(("settings", "fsec"), [
    (LockSettings(LockMethod.KINETIS_FSEC), 0xFF),
    (LockSettings(LockMethod.KINETIS_FSEC, backdoor=True), 0xBF),
    (LockSettings(LockMethod.KINETIS_FSEC, mass_erase=False, permanent=True), 0xEF),
    (LockSettings(LockMethod.KINETIS_FSEC, mass_erase=False, backdoor=True, permanent=True), 0xAF),
])
def test_the_lock_rewrites_sector_0_with_the_recipe_s_fsec_and_secures_at_reset(
    settings: LockSettings, fsec: int
) -> None:
    assert secured_fsec(settings) == fsec
    chip = FakeK64F(image())
    before = bytes(chip.flash)
    lock = profile_for_target("k64f").lock(settings)
    assert not lock.is_locked(chip)
    lock.apply_lock(chip)
    expected = bytearray(before)
    expected[FSEC_ADDRESS] = fsec
    assert bytes(chip.flash) == bytes(expected)  # only FSEC changed, the rest of the image kept
    # Sector 0 erased and the flash configuration field's phrases programmed by command (the
    # image's backdoor key is erased; so is FSEC 0xFF's phrase), the rest by the algorithm on
    # either side of the field (never across it: pyOCD would force FSEC unsecure).
    assert chip.commands == [(0x09, 0)] + ([(0x07, 0x408)] if fsec != 0xFF else [])
    assert chip.fstat_reads == 1 + len(chip.commands)  # CCIF once before, then one read per command
    assert chip.algorithm.programmed == [(0, 0x400), (0x410, SECTOR_SIZE - 0x410)]
    assert chip.algorithm.operation is None  # cleaned up
    assert lock.is_locked(chip) and not chip.reset_held


def test_rework_mass_erases_and_programs_the_configuration_field_unsecure_before_any_reset() -> None:
    chip = FakeK64F(image(fsec=0xFF))
    assert chip.secure
    lock = FlashSecurity(LockSettings(LockMethod.KINETIS_FSEC))
    lock.recovery_erase(chip)
    assert chip.flash[: SECTOR_SIZE] != image(fsec=0xFF)[: SECTOR_SIZE] and not lock.is_locked(chip)
    said = lock.keep_port_open(chip)
    assert "FSEC = 0xFE" in said and chip.flash[0x408:0x410] == b"\xff" * 4 + b"\xfe\xff\xff\xff"
    chip.assert_reset(True)
    chip.assert_reset(False)
    assert not lock.is_locked(chip)  # without that phrase the erased FSEC (0xFF) would secure it again


def test_a_part_whose_mass_erase_is_disabled_is_never_touched_by_rework() -> None:
    chip = FakeK64F(image(fsec=0xEF))
    before = bytes(chip.flash)
    with pytest.raises(LockError, match="mass erase is disabled in this unit's FSEC: it is locked for good"):
        FlashSecurity(LockSettings(LockMethod.KINETIS_FSEC)).recovery_erase(chip)
    assert bytes(chip.flash) == before and not chip.reset_held and chip.secure


def test_the_kinetis_device_id_is_sim_uid_high_word_first() -> None:
    chip: Any = FakeK64F(image())
    assert profile_for_target("k64f").read_device_id(chip) == "0123456789ABCDEF0011223344556677"
