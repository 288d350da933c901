"""The nRF52840-class chip as a debug probe sees it: DP, AHB-AP, CTRL-AP, SCS, NVMC, timing.

One ``SimDevice`` per open probe session. Non-volatile state lives in the unit's files
(:mod:`station.sim.units`), so that a reset, a lock or an erase done here is seen by every
other process; the CPU and RAM are emulated in this process (:mod:`station.sim.core`).

Faithful where pyOCD and the station can tell the difference:

* UICR APPROTECT takes effect at the next reset: the AHB-AP then reports DeviceEn clear,
  every memory access faults, and CTRL-AP APPROTECTSTATUS reads 0.
* CTRL-AP ERASEALL erases flash, UICR and RAM, lifts the protection, and marks the unit
  "ever erased": a development unit for life.
* Flash bits only go from 1 to 0; writes need NVMC CONFIG=WEN, erases CONFIG=EEN.
* NVMC work costs the datasheet's time times the unit's timing factor, spent as real time:
  after a resume the core reports running until the modelled time has passed.
* Injected faults (see :class:`station.sim.units.Faults`) happen where a real line meets them.
"""

from __future__ import annotations

import logging
import struct
import time
from collections.abc import Callable
from typing import Final

from pyocd.core import exceptions

from station.sim import board
from station.sim.core import PERIPHERAL_BASE, PERIPHERAL_SIZE, EmulatedCore, PageStores, PreparedEngine
from station.sim.units import SimUnit

LOG = logging.getLogger(__name__)

# ---- Debug port and access ports -----------------------------------------------------------
DPIDR_VALUE: Final = 0x2BA0_1477
DP_DPIDR: Final = 0x0
DP_CTRL_STAT: Final = 0x4
DP_SELECT: Final = 0x8
DP_RDBUFF: Final = 0xC
CDBGPWRUPREQ: Final = 1 << 28
CSYSPWRUPREQ: Final = 1 << 30

AHB_AP: Final = 0
CTRL_AP: Final = 1
AP_IDR: Final = 0xFC
AHB_AP_IDR: Final = 0x2477_0011
CTRL_AP_IDR: Final = 0x0288_0000
MEM_AP_CSW: Final = 0x00
MEM_AP_TAR: Final = 0x04
MEM_AP_DRW: Final = 0x0C
MEM_AP_BD0: Final = 0x10
MEM_AP_CFG: Final = 0xF4
MEM_AP_BASE: Final = 0xF8
ROM_TABLE_BASE_VALUE: Final = 0xE00F_F003
CSW_SIZE_MASK: Final = 0x7
CSW_ADDRINC_MASK: Final = 0x30
CSW_ADDRINC_SINGLE: Final = 0x10
CSW_DEVICEEN: Final = 1 << 6
CTRL_AP_RESET: Final = 0x00
CTRL_AP_ERASEALL: Final = 0x04
CTRL_AP_ERASEALLSTATUS: Final = 0x08
CTRL_AP_APPROTECTSTATUS: Final = 0x0C

# ---- System control space -------------------------------------------------------------------
CPUID: Final = 0xE000_ED00
AIRCR: Final = 0xE000_ED0C
DFSR: Final = 0xE000_ED30
DHCSR: Final = 0xE000_EDF0
DCRSR: Final = 0xE000_EDF4
DCRDR: Final = 0xE000_EDF8
DEMCR: Final = 0xE000_EDFC
CPUID_CORTEX_M4: Final = 0x410F_C241
AIRCR_VECTKEY: Final = 0x05FA
AIRCR_SYSRESETREQ: Final = 1 << 2
AIRCR_VECTRESET: Final = 1 << 0
DHCSR_KEY: Final = 0xA05F
C_DEBUGEN: Final = 1 << 0
C_HALT: Final = 1 << 1
C_STEP: Final = 1 << 2
C_MASKINTS: Final = 1 << 3
S_REGRDY: Final = 1 << 16
S_HALT: Final = 1 << 17
S_RETIRE_ST: Final = 1 << 24
S_RESET_ST: Final = 1 << 25
DCRSR_WRITE: Final = 1 << 16
DEMCR_VC_CORERESET: Final = 1 << 0
DFSR_HALTED: Final = 1 << 0
DFSR_BKPT: Final = 1 << 1
DFSR_VCATCH: Final = 1 << 3
PPB_BASE: Final = 0xE000_0000
PPB_END: Final = 0xE010_0000
POLL_WAIT_LIMIT_SECONDS: Final = 0.25  # a poll never waits longer: callers keep their own timeouts


def _component_id_registers(base: int, part: int, component_class: int) -> dict[int, int]:
    """PIDR/CIDR words of a CoreSight component designed by Arm (JEP106 0x43B)."""
    return {
        base + 0xFD0: 0x04,  # PIDR4: JEP106 continuation code 4, 4 KiB
        base + 0xFE0: part & 0xFF,
        base + 0xFE4: ((part >> 8) & 0xF) | 0xB0,
        base + 0xFE8: 0x0B,  # JEP106 id 0x3B high bits, JEDEC used
        base + 0xFEC: 0x00,
        base + 0xFF0: 0x0D,
        base + 0xFF4: component_class << 4,
        base + 0xFF8: 0x05,
        base + 0xFFC: 0xB1,
    }


_ROM_TABLE: Final[dict[int, int]] = {
    0xE00F_F000: 0xFFF0_F003,  # entry 0: SCS at 0xE000E000
    0xE00F_F004: 0x0000_0000,  # end of table
    0xE00F_FFCC: 0x0000_0001,  # MEMTYPE: system memory present
    **_component_id_registers(0xE00F_F000, part=0x4C4, component_class=0x1),
    **_component_id_registers(0xE000_E000, part=0x00C, component_class=0xE),
}

# ---- NVMC -------------------------------------------------------------------------------------
NVMC_BASE: Final = 0x4001_E000
NVMC_READY: Final = NVMC_BASE + 0x400
NVMC_READYNEXT: Final = NVMC_BASE + 0x408
NVMC_CONFIG: Final = NVMC_BASE + 0x504
NVMC_ERASEPAGE: Final = NVMC_BASE + 0x508
NVMC_ERASEALL: Final = NVMC_BASE + 0x50C
NVMC_ERASEPCR0: Final = NVMC_BASE + 0x510
NVMC_ERASEUICR: Final = NVMC_BASE + 0x514
NVMC_CONFIG_WEN: Final = 1
NVMC_CONFIG_EEN: Final = 2


def _ficr_image(unit: SimUnit) -> bytes:
    """The factory information page: unique DEVICEID and part identification."""
    ficr = bytearray(b"\xff" * board.FICR_SIZE)

    def put(address: int, value: int) -> None:
        struct.pack_into("<I", ficr, address - board.FICR_BASE, value & 0xFFFFFFFF)

    device_id = unit.info.device_id
    put(board.FICR_DEVICEID, device_id & 0xFFFFFFFF)
    put(board.FICR_DEVICEID + 4, device_id >> 32)
    put(board.FICR_PART, unit.info.part)
    put(board.FICR_VARIANT, unit.info.variant)
    put(board.FICR_PACKAGE, unit.info.package)
    put(board.FICR_RAM, board.RAM_SIZE // 1024)
    put(board.FICR_FLASH, board.FLASH_SIZE // 1024)
    put(board.FICR_BASE + 0x10, board.PAGE_SIZE)  # CODEPAGESIZE
    put(board.FICR_BASE + 0x14, board.FLASH_SIZE // board.PAGE_SIZE)  # CODESIZE
    return bytes(ficr)


class SimDevice:
    """One debug session's view of a simulated unit."""

    def __init__(self, unit: SimUnit, *, engine: PreparedEngine | None = None) -> None:
        self.unit = unit
        self.core = EmulatedCore(
            unit.nvm_map,
            _ficr_image(unit),
            on_nvm_stores=self._cpu_nvm_stores,
            on_peripheral_write=self._write_peripheral,
            peripheral_values={NVMC_READY: 1, NVMC_READYNEXT: 1},
            engine=engine,
        )
        self._ctrl_stat = 0
        self._csw = 0x0300_0052  # 32-bit, single increment, DeviceEn as reset value
        self._tar = 0
        self._nvmc_config = 0
        self._nvm_busy_until = 0.0  # NVMC READY reads 0 until then
        self._erase_all_busy_until = 0.0
        self._ctrl_ap_reset_held = False
        self._reset_pin_asserted = False
        # Core debug state.
        self._debug_enabled = False
        self._maskints = False
        self._halted = False  # the core is in debug state
        self._halt_pending = False  # the core ran to its breakpoint but modelled time is still passing
        self._halt_visible_at = 0.0
        self._reset_sticky = False
        self._dcrdr = 0
        self._demcr = 0
        self._dfsr = 0
        self._in_emulation = False
        self._modelled_seconds = 0.0
        # Per-session fault counters.
        self._bytes_transferred = 0
        self._transfers = 0
        self._spontaneous_reset_done = False
        self.disconnected = False
        self._link_holds = False  # the injected disconnect has no drop left for this session

    def close(self) -> None:
        self.core.close()

    def flush(self) -> None:
        """Nothing is ever queued here: every call is carried out before it returns."""

    def interrupt(self) -> None:
        """Nothing to break in this process: the probe refuses every call after an interrupt,
        and no single call here runs longer than a poll's wait or the core's instruction budget."""

    # ---- helpers ----------------------------------------------------------------------------

    @property
    def _factor(self) -> float:
        return self.unit.info.timing_factor

    @property
    def is_protected(self) -> bool:
        return self.unit.info.protected

    def _check_link(self) -> None:
        if self.disconnected:
            raise exceptions.ProbeDisconnected("simulated probe lost its connection to the unit")

    def check_link(self) -> None:
        """What the probe's connect and flush ask: is the wire still there?"""
        self._check_link()

    def _spend(self, seconds: float) -> None:
        """Account NVMC time: inside a core run it delays the halt, else it keeps READY low."""
        self.unit.add_nvm_busy_seconds(seconds * self._factor)
        if self._in_emulation:
            self._modelled_seconds += seconds
        else:
            self._nvm_busy_until = max(self._nvm_busy_until, time.monotonic()) + seconds * self._factor

    # ---- DP and AP registers ----------------------------------------------------------------

    def read_dp(self, address: int) -> int:
        self._check_link()
        if address == DP_DPIDR:
            return DPIDR_VALUE
        if address == DP_CTRL_STAT:
            acks = ((self._ctrl_stat & CDBGPWRUPREQ) << 1) | ((self._ctrl_stat & CSYSPWRUPREQ) << 1)
            return self._ctrl_stat | acks
        return 0

    def write_dp(self, address: int, value: int) -> None:
        self._check_link()
        if address == DP_CTRL_STAT:
            self._ctrl_stat = value & 0x5000_0F00

    def read_ap(self, address: int) -> int:
        self._check_link()
        apsel, register = (address >> 24) & 0xFF, address & 0xFF
        if apsel == AHB_AP:
            return self._read_ahb_ap(register)
        if apsel == CTRL_AP:
            return self._read_ctrl_ap(register)
        return 0  # no such AP: IDR reads 0, which ends pyOCD's AP scan

    def write_ap(self, address: int, value: int) -> None:
        self._check_link()
        apsel, register = (address >> 24) & 0xFF, address & 0xFF
        value &= 0xFFFFFFFF
        if apsel == AHB_AP:
            self._write_ahb_ap(register, value)
        elif apsel == CTRL_AP:
            self._write_ctrl_ap(register, value)

    def read_ap_many(self, address: int, count: int) -> list[int]:
        """Repeated reads of one AP register (DRW with auto-increment), as a probe batches them."""
        return [self.read_ap(address) for _ in range(count)]

    def write_ap_many(self, address: int, values: list[int]) -> None:
        for value in values:
            self.write_ap(address, value)

    def _read_ahb_ap(self, register: int) -> int:
        if register == AP_IDR:
            return AHB_AP_IDR
        if register == MEM_AP_CSW:
            enabled = 0 if self.is_protected else CSW_DEVICEEN
            return (self._csw & ~CSW_DEVICEEN) | enabled
        if register == MEM_AP_TAR:
            return self._tar
        if register == MEM_AP_CFG:
            return 0
        if register == MEM_AP_BASE:
            return ROM_TABLE_BASE_VALUE
        if register == MEM_AP_DRW:
            size = 1 << (self._csw & CSW_SIZE_MASK)
            lane = self._tar & 3
            value = self.read_memory(self._tar, size * 8) << (8 * lane)
            self._advance_tar(size)
            return value & 0xFFFFFFFF
        if MEM_AP_BD0 <= register < MEM_AP_BD0 + 16:
            return self.read_memory((self._tar & ~0xF) + (register - MEM_AP_BD0), 32)
        return 0

    def _write_ahb_ap(self, register: int, value: int) -> None:
        if register == MEM_AP_CSW:
            self._csw = value
        elif register == MEM_AP_TAR:
            self._tar = value
        elif register == MEM_AP_DRW:
            size = 1 << (self._csw & CSW_SIZE_MASK)
            lane = self._tar & 3
            self.write_memory(self._tar, (value >> (8 * lane)) & ((1 << (8 * size)) - 1), size * 8)
            self._advance_tar(size)
        elif MEM_AP_BD0 <= register < MEM_AP_BD0 + 16:
            self.write_memory((self._tar & ~0xF) + (register - MEM_AP_BD0), value, 32)

    def _advance_tar(self, size: int) -> None:
        if self._csw & CSW_ADDRINC_MASK == CSW_ADDRINC_SINGLE:
            # Auto-increment wraps within a 4 KiB block, as on this AP variant.
            self._tar = (self._tar & ~0xFFF) | ((self._tar + size) & 0xFFF)

    def _read_ctrl_ap(self, register: int) -> int:
        if register == AP_IDR:
            return CTRL_AP_IDR
        if register == CTRL_AP_RESET:
            return int(self._ctrl_ap_reset_held)
        if register == CTRL_AP_ERASEALLSTATUS:
            self._poll_wait(self._erase_all_busy_until)
            return int(time.monotonic() < self._erase_all_busy_until)
        if register == CTRL_AP_APPROTECTSTATUS:
            with self.unit.locked():
                return 0 if self.unit.info.protected else 1
        return 0

    def _write_ctrl_ap(self, register: int, value: int) -> None:
        if register == CTRL_AP_RESET:
            held = bool(value & 1)
            if self._ctrl_ap_reset_held and not held:
                self.system_reset()
            self._ctrl_ap_reset_held = held
        elif register == CTRL_AP_ERASEALL and value & 1:
            self._erase_all_through_ctrl_ap()

    def _erase_all_through_ctrl_ap(self) -> None:
        """The only way past APPROTECT: everything goes, and the unit is a development unit for life."""
        with self.unit.locked():
            self.unit.erase_all_flash()
            self.core.clear_ram()
            info = self.unit.info
            info.protected = False
            info.ever_erased = True
            info.activated_product = None
        LOG.info("%s: CTRL-AP ERASEALL: flash, UICR and RAM erased; unit marked ever-erased", info.unit_id)
        self._erase_all_busy_until = time.monotonic() + board.CHIP_ERASE_SECONDS * self._factor
        with self.unit.locked():
            self.unit.add_nvm_busy_seconds(board.CHIP_ERASE_SECONDS * self._factor)

    # ---- memory transfers (AHB-AP) -----------------------------------------------------------

    def _check_memory_access(self, address: int, length: int) -> None:
        self._check_link()
        faults = self.unit.info.faults
        if self.is_protected:
            raise exceptions.TransferFaultError("AHB-AP disabled (APPROTECT)", fault_address=address, length=length)
        fault_address = faults.transfer_fault_address
        if fault_address is not None and address <= fault_address < address + length:
            raise exceptions.TransferFaultError("injected transfer fault", fault_address=fault_address, length=length)
        self._transfers += 1
        self._bytes_transferred += length
        limit = faults.disconnect_after_bytes
        if limit is not None and self._bytes_transferred > limit and self._link_drops():
            self.disconnected = True
            raise exceptions.ProbeDisconnected("simulated probe disconnected (injected fault)")
        reset_after = faults.reset_after_transfers
        if reset_after is not None and not self._spontaneous_reset_done and self._transfers >= reset_after:
            self._spontaneous_reset_done = True
            LOG.info("%s: unit resets by itself (injected fault)", self.unit.unit_id)
            self.system_reset()

    def _link_drops(self) -> bool:
        """Whether the injected disconnect hits this session: always, or while drops are left
        (counted down in the unit's record, which every session shares)."""
        if self._link_holds:
            return False
        with self.unit.locked():
            faults = self.unit.info.faults
            if faults.disconnect_sessions is None:
                return True
            if faults.disconnect_sessions > 0:
                faults.disconnect_sessions -= 1
                return True
        self._link_holds = True
        return False

    def read_block(self, address: int, length: int) -> bytes:
        """Read memory for the debugger: flash, UICR, FICR, RAM in bulk; registers word by word."""
        self._check_memory_access(address, length)
        return self._read_bytes(address, length)

    def write_block(self, address: int, data: bytes) -> None:
        self._check_memory_access(address, len(data))
        if board.RAM_BASE <= address and address + len(data) <= board.RAM_BASE + board.RAM_SIZE:
            self.core.write_ram(address, data)
            return
        if PPB_BASE <= address < PPB_END:
            # Debug registers: what needs the unit's lock (reset, resume) takes it itself.
            self._write_words(address, data)
            return
        with self.unit.locked():
            self._write_words(address, data)

    def _write_words(self, address: int, data: bytes) -> None:
        offset = 0
        while offset < len(data):
            current = address + offset
            size = 4 if current % 4 == 0 and len(data) - offset >= 4 else 1
            self._write_word(current, int.from_bytes(data[offset : offset + size], "little"), size)
            offset += size

    def read_memory(self, address: int, bits: int) -> int:
        return int.from_bytes(self.read_block(address, bits // 8), "little")

    def read_memory_later(self, address: int, bits: int) -> Callable[[], int]:
        """A deferred read (pyOCD's ``now=False``): done at once here, the value kept for later."""
        value = self.read_memory(address, bits)
        return lambda: value

    def write_memory(self, address: int, value: int, bits: int) -> None:
        self.write_block(address, (value & ((1 << bits) - 1)).to_bytes(bits // 8, "little"))

    def _read_bytes(self, address: int, length: int) -> bytes:
        end = address + length
        if board.FLASH_BASE <= address and end <= board.FLASH_BASE + board.FLASH_SIZE:
            return self.unit.read_nvm(address, length)
        if board.UICR_BASE <= address and end <= board.UICR_BASE + board.UICR_SIZE:
            return self.unit.read_nvm(address, length)
        if board.RAM_BASE <= address and end <= board.RAM_BASE + board.RAM_SIZE:
            return self.core.read_ram(address, length)
        if board.FICR_BASE <= address and end <= board.FICR_BASE + board.FICR_SIZE:
            return self.core.read_ram(address, length)  # FICR is mapped read-only in the emulator
        out = bytearray()
        word_address = address & ~3
        while word_address < end:
            out += struct.pack("<I", self._read_register(word_address) & 0xFFFFFFFF)
            word_address += 4
        skip = address & 3
        return bytes(out[skip : skip + length])

    def _read_register(self, address: int) -> int:
        if PERIPHERAL_BASE <= address < PERIPHERAL_BASE + PERIPHERAL_SIZE:
            return self._read_peripheral(address, 4)
        if PPB_BASE <= address < PPB_END:
            return self._read_system_register(address)
        raise exceptions.TransferFaultError("no memory at this address", fault_address=address, length=4)

    def _write_word(self, address: int, value: int, size: int) -> None:
        if board.FLASH_BASE <= address < board.FLASH_BASE + board.FLASH_SIZE or (
            board.UICR_BASE <= address < board.UICR_BASE + board.UICR_SIZE
        ):
            self._nvm_write(address, size, value)
        elif PERIPHERAL_BASE <= address < PERIPHERAL_BASE + PERIPHERAL_SIZE:
            self._write_peripheral(address, size, value)
        elif PPB_BASE <= address < PPB_END:
            self._write_system_register(address, value)
        elif board.FICR_BASE <= address < board.FICR_BASE + board.FICR_SIZE:
            raise exceptions.TransferFaultError("FICR is read-only", fault_address=address, length=size)
        else:
            raise exceptions.TransferFaultError("no memory at this address", fault_address=address, length=size)

    # ---- NVMC ---------------------------------------------------------------------------------

    def _cpu_nvm_stores(self, stores: list[PageStores]) -> None:
        """The CPU's stores to flash and UICR since the last NVMC register write, page by page.

        Each changed word costs a word write's time. A page is programmed in one go with the
        stored values in the changed words and all ones elsewhere: programming only clears
        bits, so the words the CPU left alone keep whatever the shared map holds.
        """
        words = sum(page.words for page in stores)
        if self._nvmc_config != NVMC_CONFIG_WEN:
            LOG.debug("%d CPU writes to flash ignored: NVMC not write-enabled", words)
            return
        self._spend(board.WORD_WRITE_SECONDS * words)
        dropped = self.unit.info.faults.drop_writes
        all_ones = (1 << (8 * board.PAGE_SIZE)) - 1
        for page in stores:
            changed = page.changed
            if dropped is not None:
                low = max(dropped[0], page.address) - page.address
                high = min(dropped[1], page.address + board.PAGE_SIZE) - page.address
                if low < high:  # injected fault: these writes silently do not happen
                    changed &= ~(((1 << (8 * (high - low))) - 1) << (8 * low))
            if changed:
                data = page.values | (all_ones ^ changed)
                self.unit.program_nvm(page.address, data.to_bytes(board.PAGE_SIZE, "little"))

    def _nvm_write(self, address: int, size: int, value: int) -> None:
        """A store to flash or UICR: programmed only with CONFIG=WEN, bits only 1 -> 0."""
        if self._nvmc_config != NVMC_CONFIG_WEN:
            LOG.debug("write to 0x%08X ignored: NVMC not write-enabled", address)
            return
        self._spend(board.WORD_WRITE_SECONDS)
        dropped = self.unit.info.faults.drop_writes
        if dropped is not None and dropped[0] <= address < dropped[1]:
            return  # injected fault: the write silently does not happen
        self.unit.program_nvm(address, value.to_bytes(size, "little"))

    def _read_peripheral(self, address: int, _size: int) -> int:
        if address in (NVMC_READY, NVMC_READYNEXT):
            if self._in_emulation:
                return 1
            self._poll_wait(self._nvm_busy_until)
            return int(time.monotonic() >= self._nvm_busy_until)
        if address == NVMC_CONFIG:
            return self._nvmc_config
        return 0  # other peripherals (watchdog status and friends) read as zero

    def _write_peripheral(self, address: int, _size: int, value: int) -> None:
        value &= 0xFFFFFFFF
        if address == NVMC_CONFIG:
            self._nvmc_config = value & 3
            return
        erasing = self._nvmc_config == NVMC_CONFIG_EEN
        if address in (NVMC_ERASEPAGE, NVMC_ERASEPCR0):
            if erasing and board.FLASH_BASE <= value < board.FLASH_BASE + board.FLASH_SIZE:
                self._spend(board.PAGE_ERASE_SECONDS)
                self.unit.erase_page(value)
                page = value - value % board.PAGE_SIZE
                self.core.sync(page, board.PAGE_SIZE)
        elif address == NVMC_ERASEALL:
            if erasing and value & 1:
                self._spend(board.CHIP_ERASE_SECONDS)
                self.unit.erase_all_flash()
                self.core.sync()
        elif address == NVMC_ERASEUICR and erasing and value & 1:
            self._spend(board.PAGE_ERASE_SECONDS)
            self.unit.erase_uicr()
            self.core.sync(board.UICR_BASE, board.UICR_SIZE)

    # ---- core debug ---------------------------------------------------------------------------

    def _halted_now(self) -> bool:
        if self._halt_pending and time.monotonic() >= self._halt_visible_at:
            self._halt_pending = False
            self._halted = True
        return self._halted

    @staticmethod
    def _poll_wait(until: float) -> None:
        """A status poll that would answer "busy" waits until the status changes (at most
        POLL_WAIT_LIMIT_SECONDS), as a USB probe's round trip keeps the caller waiting.

        pyOCD polls a running flash algorithm without pause. Answering each poll at once would
        spin the caller -- hundreds of round trips per page, each taking the interpreter from
        the station's other slots -- so the poll is held until the halt (or the flash
        controller's readiness) is due: the caller sees it at the modelled moment, with one
        round trip instead of a handful.
        """
        remaining = until - time.monotonic()
        if remaining > 0:
            time.sleep(min(remaining, POLL_WAIT_LIMIT_SECONDS))

    def _read_system_register(self, address: int) -> int:
        if address == DHCSR:
            if self._halt_pending:
                self._poll_wait(self._halt_visible_at)
            halted = self._halted_now()
            value = (C_DEBUGEN if self._debug_enabled else 0) | (C_MASKINTS if self._maskints else 0)
            if halted:
                value |= S_HALT | S_REGRDY | C_HALT
            else:
                value |= S_RETIRE_ST
            if self._reset_sticky:
                value |= S_RESET_ST
                self._reset_sticky = False
            return value
        if address == DCRDR:
            return self._dcrdr
        if address == DEMCR:
            return self._demcr
        if address == DFSR:
            return self._dfsr
        if address == CPUID:
            return CPUID_CORTEX_M4
        if address == AIRCR:
            return 0xFA05_0000
        return _ROM_TABLE.get(address, 0)

    def _write_system_register(self, address: int, value: int) -> None:
        if address == DHCSR:
            if (value >> 16) != DHCSR_KEY:
                return
            self._debug_enabled = bool(value & C_DEBUGEN)
            self._maskints = bool(value & C_MASKINTS)
            if value & C_HALT:
                self._halt()
            elif self._halted_now() and self._debug_enabled:
                self._resume()
        elif address == DCRSR:
            selector = value & 0x7F
            if not self._halted_now():
                return  # registers are only accessible in debug state
            if value & DCRSR_WRITE:
                self.core.write_register(selector, self._dcrdr)
            else:
                self._dcrdr = self.core.read_register(selector)
        elif address == DCRDR:
            self._dcrdr = value
        elif address == DEMCR:
            self._demcr = value
        elif address == DFSR:
            self._dfsr &= ~value
        elif address == AIRCR and (value >> 16) == AIRCR_VECTKEY:
            if value & AIRCR_SYSRESETREQ:
                self.system_reset()
            elif value & AIRCR_VECTRESET:
                self._core_reset()

    def _halt(self) -> None:
        if not self._halted_now():
            self._halt_pending = False
            self._halted = True
            self._dfsr |= DFSR_HALTED

    def _resume(self) -> None:
        """Leave debug state and run what the debugger loaded until its breakpoint.

        The emulation itself is instant; the modelled NVMC time is then spent as real time
        before the halt becomes visible, so that pyOCD overlaps its transfers with it.
        """
        self._halted = False
        faults = self.unit.info.faults
        started = time.monotonic()  # physical time runs from the resume, emulation included
        self._modelled_seconds = 0.0
        self._in_emulation = True
        try:
            with self.unit.locked():
                reached_breakpoint, fault = self.core.run()
        finally:
            self._in_emulation = False
        if fault:
            LOG.info("%s: core stopped on %s; it stays running", self.unit.unit_id, fault)
            return
        if not reached_breakpoint or faults.algo_hang:
            return  # never reaches its breakpoint: the debugger's timeout must catch it
        self._dfsr |= DFSR_BKPT
        self._halt_pending = True
        self._halt_visible_at = started + self._modelled_seconds * self._factor

    def _core_reset(self) -> None:
        self.core.reset_registers()
        vector = self.unit.read_nvm(board.FLASH_BASE, 8)
        stack, entry = struct.unpack("<II", vector)
        self.core.write_register(13, stack & ~3)
        self.core.write_register(15, entry)
        self.core.write_register(16, (entry & 1) << 24)  # xPSR.T comes from the reset vector
        self._reset_sticky = True
        self._halt_pending = False
        if self._debug_enabled and self._demcr & DEMCR_VC_CORERESET:
            self._halted = True
            self._dfsr |= DFSR_VCATCH
        else:
            self._halted = False  # the unit's firmware runs (it is not emulated)

    def system_reset(self) -> None:
        """Chip reset (SYSRESETREQ, nRESET, CTRL-AP RESET): APPROTECT latches, NVMC idles."""
        with self.unit.locked():
            self.unit.reset()
        self._nvmc_config = 0
        self._core_reset()
        LOG.debug("%s: reset (protected=%s)", self.unit.unit_id, self.unit.info.protected)

    def set_reset_pin(self, asserted: bool) -> None:
        if self._reset_pin_asserted and not asserted:
            self.system_reset()
        self._reset_pin_asserted = asserted

    @property
    def reset_pin_asserted(self) -> bool:
        return self._reset_pin_asserted
