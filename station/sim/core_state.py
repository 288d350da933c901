"""A simulated unit's volatile state, shared by every session and process: core, RAM, peripherals.

A real chip has one core, one RAM and one set of peripheral registers, whichever debugger
attaches and however often: a core halted by one session is halted for the next, and what a
debugger wrote to RAM is there for the firmware. So that state lives in the unit's directory
beside flash (``core.bin``), memory-mapped by every process that opens the unit:

* a header of 32-bit slots: run state, the core registers as the core last left them, the
  debug registers (DHCSR control bits, DFSR, DEMCR, FPB, DWT), the system control block,
  NVIC and SysTick, the emulated cycle count, and a journal of writes to memory that may hold
  translated code (see :meth:`CoreState.note_code_write`);
* RAM, mapped straight into every process's emulator, so a debugger in one process reads
  what the core running in another has just stored;
* the peripheral register file (APB and the GPIO page), whose unmodelled registers keep what
  was written.

Two locks guard it. The *state lock* (``core.lock``) is held for a few slot reads or writes at
a time. The *run lock* (``run.lock``) is held by the one process whose emulator is executing
the core at this moment: whoever holds it owns the registers in its engine, everyone else
reads them from here, saved when the run stopped. Both are ``flock`` locks, freed by the
kernel if their holder dies.
"""

from __future__ import annotations

import enum
import fcntl
import mmap
import os
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from station.domain.errors import SimulationError
from station.sim.chips.layout import MemoryLayout

MAGIC: Final = 0x5343_4F52  # "SCOR"
LAYOUT_VERSION: Final = 1
HEADER_SIZE: Final = 0x2000
APB_BASE: Final = 0x4000_0000
APB_SIZE: Final = 0x0003_0000
AHB_GPIO_BASE: Final = 0x5000_0000
AHB_GPIO_SIZE: Final = 0x1000
RAM_OFFSET: Final = HEADER_SIZE
RAM_CAPACITY: Final = 0x0004_0000  # every chip's RAM regions, one after another
PERIPHERAL_OFFSET: Final = RAM_OFFSET + RAM_CAPACITY
PERIPHERAL_CAPACITY: Final = APB_SIZE + AHB_GPIO_SIZE  # every chip's peripheral windows, one after another
CORE_FILE_SIZE: Final = PERIPHERAL_OFFSET + PERIPHERAL_CAPACITY
JOURNAL_ENTRIES: Final = 128
LOCK_TIMEOUT_SECONDS: Final = 30.0


class RunState(enum.IntEnum):
    """Where the core is: in debug state, executing, asleep in WFI/WFE, or locked up."""

    HALTED = 0
    RUNNING = 1
    SLEEPING = 2
    LOCKUP = 3
    RESET_PENDING = 4  # a fresh unit: the power-on reset happens at its first attach
    STALLED = 5  # reads as running but does not advance: an injected flash-algorithm hang


# Core registers in the order they are saved (DCRSR selectors 0-20 are mapped onto these).
CORE_REGISTER_NAMES: Final = (
    *(f"R{index}" for index in range(13)),
    "LR",
    "PC",
    "XPSR",
    "MSP",
    "PSP",
    "CONTROL",
    "PRIMASK",
    "BASEPRI",
    "FAULTMASK",
)
FP_REGISTER_COUNT: Final = 32  # S0-S31, then FPSCR


class _Layout:
    """Assigns each named slot a word offset in the header, in declaration order."""

    def __init__(self) -> None:
        self.next = 0

    def word(self, count: int = 1) -> int:
        offset = self.next
        self.next += 4 * count
        return offset


_layout = _Layout()


class Slot:
    """Offsets of the header's slots (32-bit little-endian words unless noted)."""

    MAGIC = _layout.word()
    VERSION = _layout.word()
    RUN_STATE = _layout.word()
    HALT_REQUEST = _layout.word()
    DEBUG_CONTROL = _layout.word()  # DHCSR C_DEBUGEN | C_MASKINTS as last written
    DFSR = _layout.word()
    DEMCR = _layout.word()
    DCRDR = _layout.word()
    STICKY = _layout.word()  # bit 0: S_RESET_ST, bit 1: S_RETIRE_ST
    REGISTER_GENERATION = _layout.word()  # moves whenever the saved registers change
    DEBUG_GENERATION = _layout.word()  # moves whenever FPB or DWT configuration changes
    SYSTEM_GENERATION = _layout.word()  # moves whenever the debugger changes SCB/NVIC/SysTick
    REGISTERS = _layout.word(len(CORE_REGISTER_NAMES))
    FP_REGISTERS = _layout.word(FP_REGISTER_COUNT + 1)
    # system control block
    VTOR = _layout.word()
    AIRCR = _layout.word()  # PRIGROUP and ENDIANNESS bits as last written
    SCR = _layout.word()
    CCR = _layout.word()
    SHPR = _layout.word(3)
    SHCSR = _layout.word()
    CFSR = _layout.word()
    HFSR = _layout.word()
    MMFAR = _layout.word()
    BFAR = _layout.word()
    AFSR = _layout.word()
    CPACR = _layout.word()
    FPCCR = _layout.word()
    FPCAR = _layout.word()
    FPDSCR = _layout.word()
    SYSTEM_PENDING = _layout.word()  # bit n: system exception n pending (n < 16)
    SYSTEM_ACTIVE = _layout.word()  # bit n: system exception n active
    # NVIC (48 interrupts on the nRF52840, two words of bits each)
    NVIC_ENABLED = _layout.word(2)
    NVIC_PENDING = _layout.word(2)
    NVIC_ACTIVE = _layout.word(2)
    NVIC_PRIORITY = _layout.word(12)
    # SysTick
    SYST_CSR = _layout.word()
    SYST_RVR = _layout.word()
    SYST_CVR = _layout.word()  # the counter as of SYST_AT
    SYST_AT = _layout.word(2)  # u64: the cycle count SYST_CVR was computed at
    # emulated time
    CYCLES = _layout.word(2)  # u64
    # DWT
    DWT_CTRL = _layout.word()
    DWT_CYCCNT_BASE = _layout.word(2)  # u64: CYCCNT = CYCLES - base (mod 2**32) while enabled
    DWT_CYCCNT_FROZEN = _layout.word()  # CYCCNT while counting is off
    DWT_COMP = _layout.word(4)
    DWT_MASK = _layout.word(4)
    DWT_FUNCTION = _layout.word(4)
    # FPB
    FP_CTRL = _layout.word()
    FP_REMAP = _layout.word()
    FP_COMP = _layout.word(8)
    # the modelled moment a halt caused by a flash algorithm becomes visible (float, monotonic)
    HALT_VISIBLE_AT = _layout.word(2)
    # journal of writes to memory that may hold translated code
    JOURNAL_SEQUENCE = _layout.word(2)  # u64: entries ever written
    JOURNAL = _layout.word(2 * JOURNAL_ENTRIES)  # (address, length) pairs, a ring


assert _layout.next <= HEADER_SIZE

STICKY_RESET: Final = 1
STICKY_RETIRED: Final = 2


class _FileLock:
    """An flock held on an open descriptor, with a re-entrant lock for this process's threads."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        self._threads = threading.RLock()
        self._depth = 0

    def acquire(self, *, blocking: bool = True) -> bool:
        if not self._threads.acquire(blocking=blocking, timeout=LOCK_TIMEOUT_SECONDS if blocking else -1):
            return False
        if self._depth == 0:
            flags = fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB)
            try:
                fcntl.flock(self._fd, flags)
            except BlockingIOError:
                self._threads.release()
                return False
        self._depth += 1
        return True

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()

    @property
    def held(self) -> bool:
        """Held by this process (any thread of it): for assertions and the runner's own checks."""
        return self._depth > 0

    def close(self) -> None:
        os.close(self._fd)


class CoreState:
    """One unit's ``core.bin``, mapped; every accessor reads or writes the shared map."""

    def __init__(self, directory: Path, layout: MemoryLayout | None = None) -> None:
        if layout is None:
            from station.sim.chips.nrf52840 import Nrf52840  # the default family; imported late: it imports this

            layout = Nrf52840.layout
        if layout.ram_size > RAM_CAPACITY or layout.peripheral_size > PERIPHERAL_CAPACITY:
            raise SimulationError("the chip's RAM or peripheral windows do not fit the core state file")
        self.layout = layout
        path = directory / "core.bin"
        # Created and extended in place, never rewritten: another process may have it mapped.
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if os.fstat(fd).st_size < CORE_FILE_SIZE:
                os.ftruncate(fd, CORE_FILE_SIZE)
            self._map = mmap.mmap(fd, CORE_FILE_SIZE)
        finally:
            os.close(fd)
        self.state_lock = _FileLock(directory / "core.lock")
        self.run_lock = _FileLock(directory / "run.lock")
        self._closed = False
        with self.locked():
            if self.get(Slot.MAGIC) != MAGIC:
                self._initialise()
            elif self.get(Slot.VERSION) != LAYOUT_VERSION:
                raise SimulationError(
                    f"{path}: core state of layout {self.get(Slot.VERSION)}, expected {LAYOUT_VERSION}"
                )

    def _initialise(self) -> None:
        """A unit's first power-on: everything at its reset value, the reset still to happen."""
        self._map[:HEADER_SIZE] = bytes(HEADER_SIZE)
        self.set(Slot.VERSION, LAYOUT_VERSION)
        self.set(Slot.RUN_STATE, RunState.RESET_PENDING)
        self.set(Slot.FP_CTRL, FP_CTRL_RESET)
        self.set(Slot.DWT_CTRL, DWT_CTRL_RESET)
        self.set(Slot.SYST_CSR, 0x4)  # CLKSOURCE: processor clock
        self.set(Slot.CCR, 0x200)  # STKALIGN
        self.set(Slot.FPCCR, 0xC000_0000)  # ASPEN, LSPEN
        self.set(Slot.MAGIC, MAGIC)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._map.close()
        self.state_lock.close()
        self.run_lock.close()

    @property
    def memory(self) -> mmap.mmap:
        """The whole map: RAM and peripheral regions are mapped into the emulator from it."""
        return self._map

    @contextmanager
    def locked(self) -> Iterator[CoreState]:
        if not self.state_lock.acquire():
            raise SimulationError("the simulated unit's core state is busy in another process")
        try:
            yield self
        finally:
            self.state_lock.release()

    # ---- slots ---------------------------------------------------------------------------

    def get(self, slot: int, index: int = 0) -> int:
        value: int = struct.unpack_from("<I", self._map, slot + 4 * index)[0]
        return value

    def set(self, slot: int, value: int, index: int = 0) -> None:
        struct.pack_into("<I", self._map, slot + 4 * index, value & 0xFFFF_FFFF)

    def get64(self, slot: int) -> int:
        value: int = struct.unpack_from("<Q", self._map, slot)[0]
        return value

    def set64(self, slot: int, value: int) -> None:
        struct.pack_into("<Q", self._map, slot, value & 0xFFFF_FFFF_FFFF_FFFF)

    def get_float(self, slot: int) -> float:
        value: float = struct.unpack_from("<d", self._map, slot)[0]
        return value

    def set_float(self, slot: int, value: float) -> None:
        struct.pack_into("<d", self._map, slot, value)

    def bump(self, slot: int) -> None:
        self.set(slot, self.get(slot) + 1)

    def set_bits(self, slot: int, bits: int, *, index: int = 0) -> None:
        self.set(slot, self.get(slot, index) | bits, index)

    def clear_bits(self, slot: int, bits: int, *, index: int = 0) -> None:
        self.set(slot, self.get(slot, index) & ~bits, index)

    @property
    def run_state(self) -> RunState:
        return RunState(self.get(Slot.RUN_STATE))

    @run_state.setter
    def run_state(self, state: RunState) -> None:
        self.set(Slot.RUN_STATE, state)

    # ---- saved registers -------------------------------------------------------------------

    def saved_registers(self) -> list[int]:
        return list(struct.unpack_from(f"<{len(CORE_REGISTER_NAMES)}I", self._map, Slot.REGISTERS))

    def save_registers(self, values: list[int], fp_values: list[int] | None) -> None:
        struct.pack_into(f"<{len(CORE_REGISTER_NAMES)}I", self._map, Slot.REGISTERS, *(v & 0xFFFF_FFFF for v in values))
        if fp_values is not None:
            struct.pack_into(f"<{FP_REGISTER_COUNT + 1}I", self._map, Slot.FP_REGISTERS, *fp_values)
        self.bump(Slot.REGISTER_GENERATION)

    def saved_fp_registers(self) -> list[int]:
        return list(struct.unpack_from(f"<{FP_REGISTER_COUNT + 1}I", self._map, Slot.FP_REGISTERS))

    def register(self, name: str) -> int:
        return self.get(Slot.REGISTERS, CORE_REGISTER_NAMES.index(name))

    def set_register(self, name: str, value: int) -> None:
        self.set(Slot.REGISTERS, value, CORE_REGISTER_NAMES.index(name))
        self.bump(Slot.REGISTER_GENERATION)

    # ---- emulated time ---------------------------------------------------------------------

    @property
    def cycles(self) -> int:
        return self.get64(Slot.CYCLES)

    @cycles.setter
    def cycles(self, value: int) -> None:
        self.set64(Slot.CYCLES, value)

    # ---- the code-write journal -------------------------------------------------------------

    def note_code_write(self, address: int, length: int) -> None:
        """Record that memory an emulator may have translated changed (flash, UICR or RAM).

        Every process's engine replays the entries it has not seen before it runs the core
        again, dropping its translated blocks for the range and refreshing its copy of flash;
        one that fell more than the ring behind starts over from scratch.
        """
        with self.locked():
            sequence = self.get64(Slot.JOURNAL_SEQUENCE)
            entry = sequence % JOURNAL_ENTRIES
            self.set(Slot.JOURNAL, address, 2 * entry)
            self.set(Slot.JOURNAL, length, 2 * entry + 1)
            self.set64(Slot.JOURNAL_SEQUENCE, sequence + 1)

    def code_writes_since(self, sequence: int) -> tuple[int, list[tuple[int, int]] | None]:
        """The journal's sequence now and the ranges written after ``sequence`` (None: too many
        to list, start over)."""
        if self.get64(Slot.JOURNAL_SEQUENCE) == sequence:
            return sequence, []  # nothing new: the common case before a run, without the lock
        with self.locked():
            now = self.get64(Slot.JOURNAL_SEQUENCE)
            if now - sequence > JOURNAL_ENTRIES:
                return now, None
            ranges = []
            for position in range(sequence, now):
                entry = position % JOURNAL_ENTRIES
                ranges.append((self.get(Slot.JOURNAL, 2 * entry), self.get(Slot.JOURNAL, 2 * entry + 1)))
            return now, ranges

    # ---- memory regions ---------------------------------------------------------------------

    def _ram_offset(self, address: int, length: int) -> int:
        offset = self.layout.ram_offset(address, length)
        if offset is None:
            raise SimulationError("address range is not in one RAM region", address=address)
        return RAM_OFFSET + offset

    def read_ram(self, address: int, length: int) -> bytes:
        offset = self._ram_offset(address, length)
        return self._map[offset : offset + length]

    def write_ram(self, address: int, data: bytes) -> None:
        offset = self._ram_offset(address, len(data))
        self._map[offset : offset + len(data)] = data
        self.note_code_write(address, len(data))

    def clear_ram(self) -> None:
        size = self.layout.ram_size
        self._map[RAM_OFFSET : RAM_OFFSET + size] = bytes(size)
        for window in self.layout.ram:
            self.note_code_write(window.base, window.size)

    def ram_offset(self, address: int) -> int:
        """Where a RAM region starts in the map (for the emulator to map it from)."""
        return self._ram_offset(address, 1)

    def peripheral_offset(self, address: int) -> int | None:
        """Where a peripheral register lives in the map, or None if no peripheral is there."""
        offset = self.layout.peripheral_offset(address)
        return None if offset is None else PERIPHERAL_OFFSET + offset

    def read_peripheral(self, address: int) -> int:
        offset = self.peripheral_offset(address & ~3)
        if offset is None:
            raise SimulationError("no peripheral at this address", address=address)
        value: int = struct.unpack_from("<I", self._map, offset)[0]
        return value

    def write_peripheral(self, address: int, value: int) -> None:
        offset = self.peripheral_offset(address & ~3)
        if offset is None:
            raise SimulationError("no peripheral at this address", address=address)
        struct.pack_into("<I", self._map, offset, value & 0xFFFF_FFFF)


# Reset values of the debug components (ARMv7-M; Cortex-M4 r0p1 as on the nRF52840).
FP_CTRL_RESET: Final = (6 << 4) | (2 << 8)  # FPBv1, 6 code comparators, 2 literal, disabled
DWT_CTRL_RESET: Final = 4 << 28  # 4 comparators, cycle counter present, off
