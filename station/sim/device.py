"""A simulated chip as a debug probe sees it: DP, AHB-AP, memory, SCS, and its family's parts.

One ``SimDevice`` per open probe session. Non-volatile state lives in the unit's files
(:mod:`station.sim.units`), so that a reset, a lock or an erase done here is seen by every
other process; the CPU and RAM are emulated in this process (:mod:`station.sim.core`).

What is the same for every family is here: the DP, the AHB-AP and its memory transfers,
routed by the chip's memory layout (non-volatile memory, RAM, the factory information page,
peripheral registers, the private peripheral bus), resets, timing and injected faults. What
a family adds -- its flash controller, extra access ports, what its protection does -- is its
:class:`~station.sim.chips.base.FamilyPort` (``station/sim/chips/``).

Injected faults (see :class:`station.sim.units.Faults`) happen where a real line meets them.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable
from typing import Final

from pyocd.core import exceptions

from station.sim import scs
from station.sim.chips.base import BusError
from station.sim.controller import CoreController
from station.sim.core import EmulatedCore
from station.sim.core_memory import PreparedEngine
from station.sim.core_state import Slot
from station.sim.units import SimUnit

LOG = logging.getLogger(__name__)

# ---- Debug port and the AHB-AP ------------------------------------------------------------
DPIDR_VALUE: Final = 0x2BA0_1477  # the Cortex-M4's SW-DP (nRF52840 and STM32F429 alike)
DP_DPIDR: Final = 0x0
DP_CTRL_STAT: Final = 0x4
DP_SELECT: Final = 0x8
DP_RDBUFF: Final = 0xC
CDBGPWRUPREQ: Final = 1 << 28
CSYSPWRUPREQ: Final = 1 << 30

AHB_AP: Final = 0
AP_IDR: Final = 0xFC
AHB_AP_IDR: Final = 0x2477_0011
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

# ---- Private peripheral bus (halting debug is the core controller's, the rest the SCS's) ------
PPB_BASE: Final = scs.PPB_BASE
PPB_END: Final = scs.PPB_END
AIRCR_SYSRESETREQ: Final = 1 << 2
AIRCR_VECTRESET: Final = 1 << 0


class SimDevice:
    """One debug session's view of a simulated unit."""

    def __init__(self, unit: SimUnit, *, engine: PreparedEngine | None = None) -> None:
        self.unit = unit
        self.chip = chip = unit.chip
        self.layout = chip.layout
        self._id_page = chip.id_image(unit.info)
        state = unit.core_state
        # The family's port first: the core calls into it from its first run on.
        self.family = chip.make_port(self)
        self.core = EmulatedCore(
            unit.nvm_map,
            self._id_page,
            state,
            on_nvm_stores=self.family.cpu_nvm_stores,
            on_peripheral_write=self.family.write_register,
            engine=engine if engine is not None and engine.chip is chip else None,
            chip=chip,
            nvm_writable=self.family.nvm_writable,
            read_register=self.family.read_register,
            on_nvm_store=self.family.nvm_store_hook,
            on_nvm_commit=self.family.commit_nvm_stores,
        )
        self.controller = CoreController(
            state,
            self.core,
            vector_table=unit.vector_table,
            reset_peripherals=unit.reset_peripherals,
            system_reset=self.system_reset,
            timing_factor=lambda: self.factor,
            algorithm_hangs=lambda: unit.info.faults.algo_hang,
            name=unit.unit_id,
            clock_hz=chip.clock_hz,
        )
        self._ctrl_stat = 0
        self._csw = 0x0300_0052  # 32-bit, single increment, DeviceEn as reset value
        self._tar = 0
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
    def factor(self) -> float:
        """The unit's timing factor: modelled flash time is spent times this, as real time."""
        return self.unit.info.timing_factor

    def _check_link(self) -> None:
        if self.disconnected:
            raise exceptions.ProbeDisconnected("simulated probe lost its connection to the unit")
        self.family.check_port()

    def check_link(self) -> None:
        """What the probe's connect and flush ask: is the wire still there?"""
        self._check_link()

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
        value = self.family.read_ap(apsel, register)
        if value is not None:
            return value  # the family's AP (a locked EFM32's AAP answers in the AHB-AP's place)
        if apsel == AHB_AP:
            return self._read_ahb_ap(register)
        return 0  # no such AP: IDR reads 0, which ends pyOCD's AP scan

    def write_ap(self, address: int, value: int) -> None:
        self._check_link()
        apsel, register = (address >> 24) & 0xFF, address & 0xFF
        value &= 0xFFFFFFFF
        if apsel == AHB_AP and self.family.read_ap(AHB_AP, AP_IDR) is None:
            self._write_ahb_ap(register, value)
        else:
            self.family.write_ap(apsel, register, value)

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
            enabled = CSW_DEVICEEN if self.family.device_enabled else 0
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

    # ---- memory transfers (AHB-AP) -----------------------------------------------------------

    def _check_memory_access(self, address: int, length: int) -> None:
        self._check_link()
        faults = self.unit.info.faults
        self.family.check_debug_access(address, length)
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
        """Read memory for the debugger: non-volatile memory, the id page, RAM in bulk; registers
        word by word."""
        self._check_memory_access(address, length)
        return self._read_bytes(address, length)

    def write_block(self, address: int, data: bytes) -> None:
        self._check_memory_access(address, len(data))
        if self.layout.ram_offset(address, len(data)) is not None:
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
        layout = self.layout
        if layout.nvm_offset(layout.resolve(address), length) is not None:
            return self.unit.read_nvm(address, length)
        if layout.ram_offset(address, length) is not None:
            return self.unit.core_state.read_ram(address, length)
        if layout.id_page.contains(address, length):
            return self._id_page[address - layout.id_page.base : end - layout.id_page.base]
        out = bytearray()
        word_address = address & ~3
        while word_address < end:
            out += struct.pack("<I", self._read_register(word_address) & 0xFFFFFFFF)
            word_address += 4
        skip = address & 3
        return bytes(out[skip : skip + length])

    def _read_register(self, address: int) -> int:
        if self.layout.is_peripheral(address):
            value = self.family.read_register(address)
            return self.unit.core_state.read_peripheral(address) if value is None else value
        if PPB_BASE <= address < PPB_END:
            return self._read_system_register(address)
        raise exceptions.TransferFaultError("no memory at this address", fault_address=address, length=4)

    def _write_word(self, address: int, value: int, size: int) -> None:
        layout = self.layout
        if layout.nvm_offset(layout.resolve(address), size) is not None:
            self.family.nvm_write(layout.resolve(address), size, value)
        elif layout.is_peripheral(address):
            try:
                handled = self.family.write_register(address, size, value)
            except BusError as error:
                raise exceptions.TransferFaultError(str(error), fault_address=address, length=size) from None
            if not handled:
                self._keep_peripheral_write(address, size, value)
        elif PPB_BASE <= address < PPB_END:
            self._write_system_register(address, value)
        elif layout.id_page.contains(address, size):
            raise exceptions.TransferFaultError("the factory information page is read-only", fault_address=address)
        else:
            raise exceptions.TransferFaultError("no memory at this address", fault_address=address, length=size)

    # ---- peripheral registers ------------------------------------------------------------------

    def _keep_peripheral_write(self, address: int, size: int, value: int) -> None:
        """A debugger's store to a peripheral register: kept, as the chip keeps it."""
        state = self.unit.core_state
        shift = 8 * (address & 3)
        mask = ((1 << (8 * size)) - 1) << shift
        current = state.read_peripheral(address)
        state.write_peripheral(address, (current & ~mask) | ((value << shift) & mask))

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
        """Chip reset (SYSRESETREQ, nRESET, nRF52 CTRL-AP RESET): the protection latches, the
        peripherals (the flash controller among them) and the core reset; the core restarts
        from the vector table."""
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
