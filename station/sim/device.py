"""The nRF52840-class chip as a debug probe sees it: DP, AHB-AP, CTRL-AP, SCS, NVMC, timing.

One ``SimDevice`` per open probe session. Non-volatile state lives in the unit's files
(:mod:`station.sim.units`), so that a reset, a lock or an erase done here is seen by every
other process; the CPU and RAM are emulated in this process (:mod:`station.sim.core`).

Faithful where pyOCD and the station can tell the difference:

* UICR APPROTECT takes effect at the next reset: the AHB-AP then reports DeviceEn clear,
  every memory access faults, and CTRL-AP APPROTECTSTATUS reads 0.
* CTRL-AP ERASEALL erases flash, UICR and RAM and lifts the protection until the next reset
  (on hardened parts the reset closes it again unless UICR says HwDisabled and the firmware
  opens it); a unit that held anything is "ever erased" from then on: a development unit for life.
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

from station.sim import board, peripherals, scs
from station.sim.controller import CoreController, poll_wait
from station.sim.core import EmulatedCore, PreparedEngine
from station.sim.core_state import Slot
from station.sim.flash_copy import PageStores
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

# ---- Private peripheral bus (halting debug is the core controller's, the rest the SCS's) ------
PPB_BASE: Final = scs.PPB_BASE
PPB_END: Final = scs.PPB_END
AIRCR_SYSRESETREQ: Final = 1 << 2
AIRCR_VECTRESET: Final = 1 << 0

# ---- NVMC -------------------------------------------------------------------------------------
NVMC_BASE: Final = peripherals.NVMC_BASE
NVMC_READY: Final = peripherals.NVMC_READY
NVMC_READYNEXT: Final = peripherals.NVMC_READYNEXT
NVMC_CONFIG: Final = peripherals.NVMC_CONFIG
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
        self._ficr = _ficr_image(unit)
        state = unit.core_state
        self.core = EmulatedCore(
            unit.nvm_map,
            self._ficr,
            state,
            on_nvm_stores=self._cpu_nvm_stores,
            on_peripheral_write=self._write_peripheral,
            engine=engine,
        )
        self._uarte = peripherals.Uarte(state, unit.directory)
        self.controller = CoreController(
            state,
            self.core,
            vector_table=lambda: unit.read_nvm(board.FLASH_BASE, 8),
            system_reset=self.system_reset,
            timing_factor=lambda: self._factor,
            algorithm_hangs=lambda: unit.info.faults.algo_hang,
            name=unit.unit_id,
        )
        self._ctrl_stat = 0
        self._csw = 0x0300_0052  # 32-bit, single increment, DeviceEn as reset value
        self._tar = 0
        self._nvm_busy_until = 0.0  # NVMC READY reads 0 until then
        self._erase_all_busy_until = 0.0
        self._ctrl_ap_reset_held = False
        self._reset_pin_asserted = False
        # Per-session fault counters.
        self._bytes_transferred = 0
        self._transfers = 0
        self._spontaneous_reset_done = False
        self.disconnected = False
        self._link_holds = False  # the injected disconnect has no drop left for this session

    def close(self) -> None:
        """End the session: its runner stops (a running core runs on wherever the unit is open)."""
        self.controller.close()
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
        if self.controller.in_emulation:
            self.controller.modelled_seconds += seconds
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
            poll_wait(self._erase_all_busy_until)
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
        """The only way past APPROTECT: everything goes.

        A unit whose flash or UICR held anything is a development unit for life from now on
        (the erase destroyed what a station put there); a factory-fresh part, blank as it left
        Nordic (a hardened part ships protected), holds nothing to lose and stays a new part.
        The access port stays open until the next reset.
        """
        with self.unit.locked():
            held_something = not self.unit.is_blank()
            self.unit.erase_all_flash()
            self.unit.core_state.clear_ram()
            info = self.unit.info
            info.protected = False
            info.ever_erased = info.ever_erased or held_something
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
            self.unit.core_state.write_ram(address, data)
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
            return self.unit.core_state.read_ram(address, length)
        if board.FICR_BASE <= address and end <= board.FICR_BASE + board.FICR_SIZE:
            return self._ficr[address - board.FICR_BASE : end - board.FICR_BASE]
        out = bytearray()
        word_address = address & ~3
        while word_address < end:
            out += struct.pack("<I", self._read_register(word_address) & 0xFFFFFFFF)
            word_address += 4
        skip = address & 3
        return bytes(out[skip : skip + length])

    def _read_register(self, address: int) -> int:
        if peripherals.is_peripheral(address):
            return self._read_peripheral(address, 4)
        if PPB_BASE <= address < PPB_END:
            return self._read_system_register(address)
        raise exceptions.TransferFaultError("no memory at this address", fault_address=address, length=4)

    def _write_word(self, address: int, value: int, size: int) -> None:
        if board.FLASH_BASE <= address < board.FLASH_BASE + board.FLASH_SIZE or (
            board.UICR_BASE <= address < board.UICR_BASE + board.UICR_SIZE
        ):
            self._nvm_write(address, size, value)
        elif peripherals.is_peripheral(address):
            self._write_peripheral(address, size, value)
            if address not in _TASK_REGISTERS:
                self._keep_peripheral_write(address, size, value)
        elif PPB_BASE <= address < PPB_END:
            self._write_system_register(address, value)
        elif board.FICR_BASE <= address < board.FICR_BASE + board.FICR_SIZE:
            raise exceptions.TransferFaultError("FICR is read-only", fault_address=address, length=size)
        else:
            raise exceptions.TransferFaultError("no memory at this address", fault_address=address, length=size)

    # ---- NVMC ---------------------------------------------------------------------------------

    @property
    def _nvmc_config(self) -> int:
        """NVMC CONFIG, the chip's (kept with the other peripheral registers), not a session's."""
        return self.unit.core_state.read_peripheral(NVMC_CONFIG) & 3

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
        with self.unit.locked():
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
            if self.controller.in_emulation:
                return 1
            poll_wait(self._nvm_busy_until)
            return int(time.monotonic() >= self._nvm_busy_until)
        return self.unit.core_state.read_peripheral(address)

    def _keep_peripheral_write(self, address: int, size: int, value: int) -> None:
        """A debugger's store to a peripheral register: kept, as the chip keeps it."""
        state = self.unit.core_state
        shift = 8 * (address & 3)
        mask = ((1 << (8 * size)) - 1) << shift
        current = state.read_peripheral(address)
        state.write_peripheral(address, (current & ~mask) | ((value << shift) & mask))

    def _write_peripheral(self, address: int, _size: int, value: int) -> None:
        """A store to a peripheral with behaviour (the NVMC, UARTE0), from the CPU or a debugger."""
        value &= 0xFFFFFFFF
        if peripherals.UARTE0_BASE <= address < peripherals.UARTE0_BASE + peripherals.SLOT_SIZE:
            if address in _TASK_REGISTERS:
                self._uarte.on_write(address, value)
            return
        if address == NVMC_CONFIG:
            self.unit.core_state.write_peripheral(NVMC_CONFIG, value & 3)
            return
        if address in (board.APPROTECT_DISABLE, board.APPROTECT_FORCEPROTECT):
            self._approtect_register(address, value)
            return
        erasing = self._nvmc_config == NVMC_CONFIG_EEN
        with self.unit.locked():
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

    def _approtect_register(self, address: int, value: int) -> None:
        """Hardened APPROTECT: the firmware opens the port for this boot (SwDisable, honoured
        only with UICR HwDisabled) or closes it (FORCEPROTECT = 0) until the next reset."""
        if self.unit.info.build_code != "hardened":
            return  # legacy parts have no APPROTECT peripheral: the store is kept, nothing else
        with self.unit.locked():
            if address == board.APPROTECT_DISABLE and value == board.APPROTECT_HW_DISABLED:
                self.unit.open_access_port()
            elif address == board.APPROTECT_FORCEPROTECT and value == 0:
                self.unit.info.protected = True

    # ---- the private peripheral bus ---------------------------------------------------------

    def _read_system_register(self, address: int) -> int:
        controller = self.controller
        state = self.unit.core_state
        if address == scs.DHCSR:
            return controller.read_dhcsr()
        if address == scs.DCRDR:
            return state.get(Slot.DCRDR)
        if address == scs.DEMCR:
            return state.get(Slot.DEMCR)
        if address == scs.DFSR:
            return state.get(Slot.DFSR)
        if address == scs.DCRSR:
            return 0
        with state.locked():
            return self.core.scs.read(address)

    def _write_system_register(self, address: int, value: int) -> None:
        controller = self.controller
        state = self.unit.core_state
        if address == scs.DHCSR:
            controller.write_dhcsr(value)
        elif address == scs.DCRSR:
            controller.transfer_register(value)
        elif address == scs.DCRDR:
            state.set(Slot.DCRDR, value)
        elif address == scs.DEMCR:
            state.set(Slot.DEMCR, value & 0x010F_07F1)
        elif address == scs.DFSR:
            with state.locked():
                state.clear_bits(Slot.DFSR, value)  # write one to clear
        elif address == scs.AIRCR and (value >> 16) == scs.AIRCR_VECTKEY and value & AIRCR_SYSRESETREQ:
            self.system_reset()
        elif address == scs.AIRCR and (value >> 16) == scs.AIRCR_VECTKEY and value & AIRCR_VECTRESET:
            controller.reset()
        else:
            with state.locked():
                self.core.scs.write(address, value)
            controller.wake()

    def system_reset(self) -> None:
        """Chip reset (SYSRESETREQ, nRESET, CTRL-AP RESET): APPROTECT latches, the peripherals
        (the NVMC among them) and the core reset; the core restarts from the vector table."""
        with self.unit.locked():
            self.unit.reset()
        self.controller.wake()
        LOG.debug("%s: reset (protected=%s)", self.unit.unit_id, self.unit.info.protected)

    def set_reset_pin(self, asserted: bool) -> None:
        if self._reset_pin_asserted and not asserted:
            self.system_reset()
        self._reset_pin_asserted = asserted

    @property
    def reset_pin_asserted(self) -> bool:
        return self._reset_pin_asserted


# UARTE0 tasks: a store starts something and reads back as zero.
_TASK_REGISTERS: Final = frozenset({peripherals.UARTE_TASKS_STARTTX, peripherals.UARTE_TASKS_STOPTX})
