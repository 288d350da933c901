"""The K64F's flash controller (FTFE, RM chapter 29) and its part of a debug session.

Registers at 0x4002_0000, kept in the unit's shared register file with the controller's internal
state (until when a command runs), so that every session and process sees one FTFE:

* FSTAT (byte 0): CCIF reads 0 while a command's modelled time passes (the data sheet's time
  times the unit's timing factor; a flash algorithm's halt is delayed by it instead, as on the
  other families); RDCOLERR, ACCERR, FPVIOL are write-1-to-clear; writing 1 to CCIF launches the
  command in FCCOB, unless ACCERR or FPVIOL is still set (after this write's clearing) or a
  command is running; MGSTAT0 (read-only) tells a failed verify and clears at the next launch.
* FCNFG (byte 1): CCIE, RDCOLLIE, ERSSUSP kept; PFLSH and RAMRDY read 1 (program flash only).
* FSEC and FOPT (bytes 2, 3): read-only, loaded from 0x40C and 0x40D at reset; a successful
  Erase All Blocks or backdoor key verification sets FSEC's SEC to unsecure until the next reset.
* FCCOB0-B (0x04-0x0F) as the manual lays them out, big-endian within each word: a 32-bit store
  to 0x4002_0004 holds FCCOB3..FCCOB0, so its value is ``command << 24 | address``; the data
  words at 0x08 and 0x0C are the phrase's bytes in address order. Not writable while a command runs.
* FPROT3-0 (0x10-0x13), loaded from 0x408-0x40B: bit n of the word guards the 32 KiB region n
  (0 protected); in normal mode a write can only add protection (1 -> 0).

Commands: Read 1s Block (0x00), Read 1s Section (0x01, 16-byte units), Program Check (0x02),
Read Resource (0x03), Program Phrase (0x07), Erase Flash Block (0x08), Erase Flash Sector
(0x09), Read 1s All Blocks (0x40), Erase All Blocks (0x44), Verify Backdoor Access Key (0x45);
any other is an access error. Program Phrase needs an 8-byte aligned address in flash (else
ACCERR) outside protected regions (else FPVIOL); bits only go from 1 to 0, and the verify after
programming sets MGSTAT0 when the phrase does not read back as asked (it held zeros where the
data has ones: programmed twice without an erase). Erase All Blocks is refused (FPVIOL) while
any region is protected; MEEN does not matter to it (RM: MEEN counts only while secure, outside
NVM normal mode: the MDM-AP's mass erase, :mod:`station.sim.chips.kinetis_mdm`).

Flash is programmed only through these commands: a CPU store to flash is ignored, a debugger's is
a transfer fault. The injected ``drop_writes`` fault loses the phrases in its range; unlike the
other families' controllers the FTFE verifies what it programmed, so it reports them (MGSTAT0).
The backdoor key works as the manual says: KEYEN enabled, a key that is not all zeros or all
ones, and one wrong try refuses every further try until the next reset.

Not modelled: RDCOLERR (the CPU reading flash while a command runs), Program Section and the
FlexRAM it programs from, Program Once and Read Once, Swap Control, Program Partition and Set
FlexRAM Function (all answered with ACCERR), the command-complete interrupt, NVM special mode.
A CPU store to flash is ignored where the chip may answer it with a bus error.
"""

from __future__ import annotations

import contextlib
import logging
import struct
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

from pyocd.core import exceptions

from station.sim.chips import k64f as chip
from station.sim.chips.base import ClosedByProtection, set_shared_float, shared_float, spend_flash_time
from station.sim.chips.kinetis_mdm import MdmAp, clear_mass_erase_time, kept_mdm_registers, mdm_reset_values
from station.sim.chips.kinetis_uart import Uart0Transmitter
from station.sim.chips.kinetis_wdog import Watchdog
from station.sim.chips.layout import SLOT_SIZE
from station.sim.controller import poll_wait

if TYPE_CHECKING:
    from station.sim.chips.base import ReadNvm
    from station.sim.core_state import CoreState
    from station.sim.device import SimDevice
    from station.sim.flash_copy import PageStores

LOG = logging.getLogger(__name__)

BASE: Final = chip.FTFE_BASE
FSTAT: Final = BASE + 0x00  # FSTAT, FCNFG, FSEC, FOPT (bytes 0-3)
FCCOB_COMMAND: Final = BASE + 0x04  # FCCOB3..FCCOB0
FCCOB_DATA: Final = BASE + 0x08  # FCCOB7..4, then FCCOBB..8
FPROT: Final = BASE + 0x10  # FPROT3..FPROT0
FEPROT: Final = BASE + 0x14  # bytes 2 and 3: FEPROT, FDPROT (no FlexNVM: read 0xFF)
END: Final = BASE + 0x18
_BUSY_UNTIL: Final = BASE + 0x300  # float64, CLOCK_MONOTONIC (the same in every process)
_BACKDOOR_REFUSED: Final = BASE + 0x308  # a wrong key was tried: no more tries until reset

CCIF: Final = 0x80
RDCOLERR: Final = 0x40
ACCERR: Final = 0x20
FPVIOL: Final = 0x10
MGSTAT0: Final = 0x01
CLEARABLE: Final = RDCOLERR | ACCERR | FPVIOL
FCNFG_WRITABLE: Final = 0xD0  # CCIE, RDCOLLIE, ERSSUSP
FCNFG_FIXED: Final = 0x06  # PFLSH (program flash only), RAMRDY (FlexRAM is RAM)

READ_1S_BLOCK: Final = 0x00
READ_1S_SECTION: Final = 0x01
PROGRAM_CHECK: Final = 0x02
READ_RESOURCE: Final = 0x03
PROGRAM_PHRASE: Final = 0x07
ERASE_BLOCK: Final = 0x08
ERASE_SECTOR: Final = 0x09
READ_1S_ALL: Final = 0x40
ERASE_ALL: Final = 0x44
VERIFY_BACKDOOR: Final = 0x45
_WORD: Final = struct.Struct("<I")
SECTION_UNIT: Final = 16  # Read 1s Section counts 128-bit units; sector erase needs this alignment


def ftfe_reset_values(read_nvm: ReadNvm, kept: dict[int, int]) -> dict[int, int]:
    """The FTFE at reset: CCIF set, FSEC, FOPT and FPROT loaded from the configuration field, and
    the MDM-AP's registers a reset keeps (the caller writes them with the page, in one store)."""
    field = read_nvm(chip.FLASH_CONFIG, 16)
    return {
        FSTAT: CCIF | FCNFG_FIXED << 8 | field[12] << 16 | field[13] << 24,
        FPROT: struct.unpack_from("<I", field, 8)[0],
        FEPROT: 0xFFFF_0000,
        _BACKDOOR_REFUSED: 0,
        **mdm_reset_values(kept),
    }


def clear_ftfe_times(state: CoreState) -> None:
    """No operation pending after a reset (the page store zeroes these times too)."""
    set_shared_float(state, _BUSY_UNTIL, 0.0)
    clear_mass_erase_time(state)


def kept_over_reset(state: CoreState) -> dict[int, int]:
    """What a system reset leaves alone in the FTFE page: the MDM-AP's (a debugger's) registers."""
    return kept_mdm_registers(state)


def _busy_until(state: CoreState) -> float:
    return shared_float(state, _BUSY_UNTIL)


class KinetisPort(ClosedByProtection):
    """The K64F's part of one debug session: the FTFE, the SIM's id registers, the WDOG, the
    MDM-AP and what security closes (see the module docstring, :mod:`kinetis_mdm` and
    :mod:`kinetis_wdog`)."""

    closed_because = "the AHB-AP is closed: the K64F is secure (FSEC)"

    def __init__(self, device: SimDevice) -> None:
        self._device = device
        self.unit = device.unit
        self._state = state = device.unit.core_state
        self._memory = state.memory
        offset = state.peripheral_offset(BASE)
        assert offset is not None
        self._page = offset - BASE  # the FTFE's registers straight from the shared map
        self.mdm = MdmAp(device, self)
        self._watchdog = Watchdog(state)
        self._uart = Uart0Transmitter(state, self.unit.directory)

    # ---- security -------------------------------------------------------------------------------

    def read_ap(self, apsel: int, register: int) -> int | None:
        return self.mdm.read(register) if apsel == self.mdm.apsel else None

    def write_ap(self, apsel: int, register: int, value: int) -> None:
        if apsel == self.mdm.apsel:
            self.mdm.write(register, value)

    # ---- registers ------------------------------------------------------------------------------

    def _get(self, address: int) -> int:
        """A word of the FTFE page (a flash algorithm reads them thousands of times a second)."""
        value: int = _WORD.unpack_from(self._memory, self._page + address)[0]
        return value

    def _put(self, address: int, value: int) -> None:
        _WORD.pack_into(self._memory, self._page + address, value & 0xFFFF_FFFF)

    def busy(self) -> bool:
        if self._device.controller.in_emulation:
            return False  # the time is spent when the core halts (see spend)
        return time.monotonic() < _busy_until(self._state)

    def read_register(self, address: int) -> int | None:
        word = address & ~3
        if chip.SIM_BASE <= word < chip.SIM_BASE + SLOT_SIZE:
            return chip.id_register(word, self.unit.info.device_id)
        if chip.WDOG_BASE <= word < chip.WDOG_BASE + SLOT_SIZE:
            return None
        if not BASE <= word < BASE + SLOT_SIZE:
            return None
        if word == FSTAT:
            if not self._device.controller.in_emulation:
                poll_wait(_busy_until(self._state))
            value = self._get(FSTAT) & ~(CCIF | 0xFF << 16)
            return value | (0 if self.busy() else CCIF) | self.fsec_register() << 16
        if word < END:
            return self._get(word)
        return 0  # reserved space (the model's internal state lives there) reads as zero

    def write_register(self, address: int, size: int, value: int) -> bool:
        """Stores to the FTFE, the SIM's read-only id registers and the WDOG: the family's own;
        every other register keeps what is written. A store that reaches UART0's data register
        sends its byte, and is kept as written."""
        if address <= chip.UART0_D < address + size:
            self._uart.on_data_write(value >> (8 * (chip.UART0_D - address)))
            return False
        if chip.SIM_BASE <= address < chip.SIM_BASE + SLOT_SIZE:
            return chip.id_register(address & ~3, 0) is not None  # read-only: the store is dropped
        if chip.WDOG_BASE <= address < chip.WDOG_BASE + SLOT_SIZE:
            return self._watchdog.write(address, size, value)
        if not BASE <= address < BASE + SLOT_SIZE:
            return False
        if FCCOB_COMMAND <= address and address + size <= FPROT:
            # FCCOB: plain bytes, stored as they come (no read-modify-write, so no lock): a flash
            # algorithm loads twelve of them, one by one, for every phrase.
            if not self.busy():
                start = self._page + address
                self._memory[start : start + size] = value.to_bytes(size, "little")
            return True
        launching = address == FSTAT and value & CCIF
        if address == FSTAT and size == 1 and not launching and not self._get(FSTAT) & value & CLEARABLE:
            return True  # clearing errors there are none of (before every command): nothing to do
        # A launch takes the lock its command's effects need before the state's (the order every
        # lock holder keeps), and the command runs inside the store, as the chip starts it there.
        with self._lock_for(self.fccob(0)) if launching else contextlib.nullcontext(), self._state.locked():
            running = self.busy()
            for index in range(size):
                byte = (value >> (8 * index)) & 0xFF
                if address + index == FSTAT:
                    launch = self._write_fstat(byte, running)
                    if launch is not None:
                        self._launch(launch)
                else:
                    self._write_byte(address + index, byte, running)
        return True

    def _write_byte(self, address: int, value: int, running: bool) -> None:
        """One byte of FCNFG, FCCOB or FPROT (caller holds the state lock)."""
        offset = address - BASE
        if offset >= END - BASE or offset in (2, 3) or offset >= 0x14:
            return  # reserved; FSEC, FOPT, FEPROT, FDPROT are read-only
        word = self._get(address & ~3)
        shift = 8 * (address & 3)
        current = (word >> shift) & 0xFF
        if offset == 1:
            new = (value & FCNFG_WRITABLE) | (current & ~FCNFG_WRITABLE & 0xFF) | FCNFG_FIXED
        elif running:
            return  # FCCOB and FPROT are not writable while a command runs
        elif 0x10 <= offset < 0x14:
            new = current & value  # protection can only grow in normal mode
        else:
            new = value
        self._put(address & ~3, (word & ~(0xFF << shift)) | new << shift)

    def _write_fstat(self, value: int, running: bool) -> int | None:
        """Errors cleared; the command to launch, if CCIF was written and nothing stands in the way."""
        status = self._get(FSTAT) & ~(value & CLEARABLE)
        self._put(FSTAT, status)
        if not value & CCIF or running or status & (ACCERR | FPVIOL):
            return None
        self._put(FSTAT, status & ~MGSTAT0)
        return self.fccob(0)

    def _lock_for(self, command: int) -> contextlib.AbstractContextManager[object]:
        """The lock a command's effects need: the unit's for what changes ``unit.json`` (erases
        release security), the flash's for a program, none more than the state's for a check."""
        if command in (ERASE_ALL, VERIFY_BACKDOOR, ERASE_SECTOR, ERASE_BLOCK):
            return self.unit.locked()
        if command == PROGRAM_PHRASE:
            return self.unit.nvm_locked()
        return contextlib.nullcontext()

    # ---- commands -------------------------------------------------------------------------------

    def fccob(self, number: int) -> int:
        """FCCOBn as the manual numbers them (FCCOB0 is the command, at register offset 0x07)."""
        group, index = divmod(number, 4)
        word = self._get(FCCOB_COMMAND + 4 * group)
        return (word >> (8 * (3 - index))) & 0xFF

    def _flag(self, bits: int) -> None:
        self._put(FSTAT, self._get(FSTAT) | bits)

    def spend(self, seconds: float) -> None:
        spend_flash_time(self._device, seconds, _BUSY_UNTIL)

    def _protected(self, address: int, length: int) -> bool:
        regions = self._get(FPROT)
        first, last = address // chip.PROTECTION_REGION, (address + length - 1) // chip.PROTECTION_REGION
        return any(not regions >> region & 1 for region in range(first, last + 1))

    def _launch(self, command: int) -> None:
        address = self._get(FCCOB_COMMAND) & 0xFF_FFFF
        handler = {
            READ_1S_BLOCK: self._read_1s_block,
            READ_1S_SECTION: self._read_1s_section,
            PROGRAM_CHECK: self._program_check,
            READ_RESOURCE: self._read_resource,
            PROGRAM_PHRASE: self._program_phrase,
            ERASE_BLOCK: self._erase_block,
            ERASE_SECTOR: self._erase_sector,
            READ_1S_ALL: self._read_1s_all,
            ERASE_ALL: self._erase_all,
            VERIFY_BACKDOOR: self._verify_backdoor,
        }.get(command)
        if handler is None:
            LOG.debug("%s: FTFE command 0x%02X not supported: ACCERR", self.unit.unit_id, command)
            self._flag(ACCERR)
            return
        handler(address)

    def _in_flash(self, address: int, length: int, alignment: int) -> bool:
        """ACCERR unless the range is aligned and inside program flash."""
        if address % alignment or not address + length <= chip.FLASH_SIZE or length <= 0:
            self._flag(ACCERR)
            return False
        return True

    def _verify_ones(self, address: int, length: int, margin: int, seconds: float) -> None:
        if margin > 2:
            self._flag(ACCERR)
            return
        self.spend(seconds)
        if self.unit.read_nvm(address, length) != b"\xff" * length:
            self._flag(MGSTAT0)

    def _read_1s_block(self, address: int) -> None:
        if self._in_flash(address, 1, SECTION_UNIT):
            block = address - address % chip.BLOCK_SIZE
            self._verify_ones(block, chip.BLOCK_SIZE, self.fccob(4), chip.READ_1S_BLOCK_SECONDS)

    def _read_1s_section(self, address: int) -> None:
        count = self.fccob(4) << 8 | self.fccob(5)
        length = count * SECTION_UNIT
        if count == 0 or (address % chip.BLOCK_SIZE) + length > chip.BLOCK_SIZE:
            self._flag(ACCERR)
            return
        if self._in_flash(address, length, SECTION_UNIT):
            sections = max(1, length // chip.SECTOR_SIZE)
            self._verify_ones(address, length, self.fccob(6), chip.READ_1S_SECTION_SECONDS * sections)

    def _read_1s_all(self, _address: int) -> None:
        self._verify_ones(0, chip.FLASH_SIZE, self.fccob(1), chip.READ_1S_ALL_SECONDS)

    def _program_check(self, address: int) -> None:
        margin = self.fccob(4)
        if margin not in (1, 2) or not self._in_flash(address, 4, 4):
            self._flag(ACCERR)
            return
        self.spend(chip.PROGRAM_CHECK_SECONDS)
        expected = struct.pack("<I", self._get(FCCOB_DATA + 4))
        if self.unit.read_nvm(address, 4) != expected:
            self._flag(MGSTAT0)

    def _read_resource(self, address: int) -> None:
        """The program flash IFR (reads erased here) or the version id (zero); 8 bytes into FCCOB4-B."""
        select = self.fccob(8)
        if address % 8 or select not in (0, 1) or (select == 0 and address >= 0x100) or (select == 1 and address):
            self._flag(ACCERR)
            return
        self.spend(chip.READ_RESOURCE_SECONDS)
        fill = 0xFFFF_FFFF if select == 0 else 0
        self._put(FCCOB_DATA, fill)
        self._put(FCCOB_DATA + 4, fill)

    def _program_phrase(self, address: int) -> None:
        if not self._in_flash(address, chip.PHRASE_SIZE, chip.PHRASE_SIZE):
            return
        if self._protected(address, chip.PHRASE_SIZE):
            self._flag(FPVIOL)
            return
        data = struct.pack("<II", self._get(FCCOB_DATA), self._get(FCCOB_DATA + 4))
        self.spend(chip.PROGRAM_PHRASE_SECONDS)
        dropped = self.unit.info.faults.drop_writes
        if dropped is not None and dropped[0] <= address < dropped[1]:
            self._flag(MGSTAT0)  # injected fault: the phrase is lost, and the FTFE's verify sees it
            return
        self.unit.program_nvm(address, data)
        self._device.core.sync(address, chip.PHRASE_SIZE)
        if self.unit.read_nvm(address, chip.PHRASE_SIZE) != data:
            self._flag(MGSTAT0)  # the verify after programming: zeros where the data has ones

    def _erase(self, base: int, size: int, seconds: float) -> None:
        if self._protected(base, size):
            self._flag(FPVIOL)
            return
        self.spend(seconds)
        self.unit.erase_range(base, size)
        self._device.core.sync(base, size)

    def _erase_sector(self, address: int) -> None:
        if self._in_flash(address, 1, SECTION_UNIT):
            base = address - address % chip.SECTOR_SIZE
            self._erase(base, chip.SECTOR_SIZE, chip.ERASE_SECTOR_SECONDS)

    def _erase_block(self, address: int) -> None:
        if self._in_flash(address, 1, SECTION_UNIT):
            base = address - address % chip.BLOCK_SIZE
            self._erase(base, chip.BLOCK_SIZE, chip.ERASE_BLOCK_SECONDS)

    def _erase_all(self, _address: int) -> None:
        """Erase All Blocks: everything, then security released until the next reset."""
        if self._protected(0, chip.FLASH_SIZE):
            self._flag(FPVIOL)
            return
        self.spend(chip.ERASE_ALL_SECONDS)
        self.erase_everything()

    def erase_everything(self) -> None:
        """All flash erased and the part unsecure until the next reset (caller holds the unit's lock)."""
        self.unit.erase_range(0, chip.FLASH_SIZE)
        self._device.core.sync()
        self.release_security()

    def release_security(self) -> None:
        """The part unsecure (FSEC's SEC reads 10b, the AHB-AP opens) until the next reset
        (caller holds the unit's lock)."""
        self.unit.info.protected = False
        self.unit.info.protection_level = 0

    def _verify_backdoor(self, _address: int) -> None:
        fsec = self.fsec_register()
        stored = self.unit.read_nvm(chip.BACKDOOR_KEY, 8)
        if (
            not chip.fsec_fields(fsec)[2]
            or self._get(_BACKDOOR_REFUSED)
            or stored in (b"\x00" * 8, b"\xff" * 8)
        ):
            self._flag(ACCERR)
            return
        self.spend(chip.VERIFY_KEY_SECONDS)
        key = bytes(self.fccob(4 + index) for index in range(8))
        if key != stored:
            self._put(_BACKDOOR_REFUSED, 1)
            self._flag(ACCERR)
            return
        self.release_security()

    def fsec_register(self) -> int:
        """FSEC as loaded at reset, its SEC field as security stands now (an erase or the
        backdoor key releases it until the next reset)."""
        loaded = (self._get(FSTAT) >> 16) & 0xFF
        return loaded if self.unit.info.protected else (loaded & ~0b11) | chip.SEC_UNSECURE

    def command_finishes_at(self) -> float:
        return _busy_until(self._state)

    # ---- non-volatile memory: only through the commands ---------------------------------------

    def nvm_write(self, address: int, size: int, value: int) -> None:
        raise exceptions.TransferFaultError(
            "K64F flash is programmed through FTFE commands, not by stores", fault_address=address, length=size
        )

    def cpu_nvm_stores(self, stores: list[PageStores]) -> None:
        """Stores that reached the flash copy past the hook (none should): ignored, as all are."""

    def nvm_writable(self) -> bool:
        return False

    @property
    def nvm_store_hook(self) -> Callable[[int, int, int], bool]:
        """Every CPU store to flash is judged as it happens (and ignored), so that a register
        access never has to look for stores in the flash copy."""
        return self._ignore_cpu_store

    def commit_nvm_stores(self) -> None:
        """Nothing kept back: the FTFE programs by command, at once."""

    def _ignore_cpu_store(self, address: int, size: int, value: int) -> bool:
        LOG.debug("%s: CPU store to flash 0x%08X ignored (the FTFE programs by command)", self.unit.unit_id, address)
        return False  # the core's copy is put back as flash holds it
