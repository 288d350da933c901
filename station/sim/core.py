"""An emulated Cortex-M4 that really runs pyOCD's flash algorithms (via the unicorn engine).

The CPU reads flash and UICR from a copy of the unit's memory-mapped ``nvm.bin`` refreshed
at the start of every run, so it sees what every process sees; what it stores there goes to the
device's NVMC model, which applies flash semantics (1 -> 0 only, dropped-write faults,
timing) to the shared map. RAM is ordinary emulator memory owned by this process.
Peripherals (NVMC, watchdog) are memory whose stores call into the device model.

Firmware never executes here: the core only runs what a debugger loads into RAM and
resumes, and halts when that code reaches a BKPT, as the flash algorithm's return does.
"""

from __future__ import annotations

import ctypes
import mmap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

import unicorn
from unicorn import arm_const

from station.sim import board

PERIPHERAL_BASE: Final = 0x4000_0000
PERIPHERAL_SIZE: Final = 0x0010_0000
INSTRUCTION_BUDGET: Final = 50_000_000  # per resume; more than any flash routine needs
_BKPT_INTERRUPT: Final = 7

# DCRSR register selector -> unicorn register (Cortex-M debug register numbering).
_CORE_REGISTERS: Final[dict[int, int]] = {
    **{index: getattr(arm_const, f"UC_ARM_REG_R{index}") for index in range(13)},
    13: arm_const.UC_ARM_REG_SP,
    14: arm_const.UC_ARM_REG_LR,
    15: arm_const.UC_ARM_REG_PC,
    16: arm_const.UC_ARM_REG_XPSR,
    17: arm_const.UC_ARM_REG_MSP,
    18: arm_const.UC_ARM_REG_PSP,
}
_SPECIAL_REGISTER_SELECTOR: Final = 20  # CONTROL[31:24] FAULTMASK[23:16] BASEPRI[15:8] PRIMASK[7:0]

PeripheralWrite = Callable[[int, int, int], None]


@dataclass(frozen=True)
class PageStores:
    """The words the CPU stored in one page since the last refresh, as whole-page integers.

    ``values`` is the page as the CPU left it (little-endian, as in memory); ``changed`` has
    all 32 bits set in each word the CPU changed and none elsewhere; ``words`` counts them.
    Whole-page integers let the NVMC model apply flash semantics with a few big-integer
    operations instead of a Python step per word (16,000 words per unit).
    """

    address: int
    values: int
    changed: int
    words: int


NvmStores = Callable[[list[PageStores]], None]

# Bit 0 of every 32-bit word of a page.
_WORD_LOW_BITS: Final = int.from_bytes(b"\x01\x00\x00\x00" * (board.PAGE_SIZE // 4), "little")
_memcmp = ctypes.CDLL(None).memcmp
_memcmp.argtypes = (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
_memcmp.restype = ctypes.c_int


def _offset_of(address: int) -> int:
    """Where an address of flash or UICR lies in ``nvm.bin`` (flash, then UICR)."""
    return address - board.FLASH_BASE if address < board.UICR_BASE else board.FLASH_SIZE + address - board.UICR_BASE


def changed_words(now: int, before: int) -> int:
    """A mask with all bits of every 32-bit word where ``now`` and ``before`` differ.

    The difference is folded onto bit 0 of each word: a right shift by 16, 8, 4, 2 and 1
    brings only the word's own bits down to its bit 0 (what crosses in from the next word
    lands above the bits still used), so no Python step per word is needed.
    """
    folded = now ^ before
    for shift in (16, 8, 4, 2, 1):
        folded |= folded >> shift
    return (folded & _WORD_LOW_BITS) * 0xFFFF_FFFF


def _address_of(offset: int) -> int:
    return board.FLASH_BASE + offset if offset < board.FLASH_SIZE else board.UICR_BASE + offset - board.FLASH_SIZE


class PreparedEngine:
    """An emulator with the unit's memory laid out but no unit in it yet.

    Creating a unicorn engine and its memory takes several milliseconds of CPU, the largest
    part of opening a simulated probe session; a simulator host's spare session process
    builds one while it waits for a client, so that a connect does not pay for it. Flash
    and UICR are mapped onto a private copy (see :class:`EmulatedCore`); a prepared engine
    serves one core only.
    """

    def __init__(self, nvm_size: int = board.FLASH_SIZE + board.UICR_SIZE) -> None:
        self.uc = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_THUMB | unicorn.UC_MODE_MCLASS)
        self.uc.ctl_set_cpu_model(unicorn.arm_const.UC_CPU_ARM_CORTEX_M4)
        self.shadow = (ctypes.c_char * nvm_size)()
        self.at_refresh = (ctypes.c_char * nvm_size)()
        base_address = ctypes.addressof(self.shadow)
        readable = unicorn.UC_PROT_READ | unicorn.UC_PROT_WRITE | unicorn.UC_PROT_EXEC
        for base, size, offset in (
            (board.FLASH_BASE, board.FLASH_SIZE, 0),
            (board.UICR_BASE, board.UICR_SIZE, board.FLASH_SIZE),
        ):
            self.uc.mem_map_ptr(base, size, readable, base_address + offset)
        self.uc.mem_map(board.FICR_BASE, board.FICR_SIZE, unicorn.UC_PROT_READ)
        self.uc.mem_map(board.RAM_BASE, board.RAM_SIZE)
        self.uc.mem_map(PERIPHERAL_BASE, PERIPHERAL_SIZE)
        self.taken = False


class EmulatedCore:
    """The CPU of one simulated unit, as seen from the debug port."""

    def __init__(
        self,
        nvm: mmap.mmap,
        ficr: bytes,
        on_nvm_stores: NvmStores,
        on_peripheral_write: PeripheralWrite,
        peripheral_values: dict[int, int],
        *,
        engine: PreparedEngine | None = None,
    ) -> None:
        engine = engine or PreparedEngine(len(nvm))
        if engine.taken or len(engine.shadow) != len(nvm):
            raise ValueError("a prepared engine serves one core, of its own memory size")
        engine.taken = True
        self._uc = engine.uc
        self._nvm = nvm
        self._on_nvm_stores = on_nvm_stores
        self._on_peripheral_write = on_peripheral_write
        # The CPU reads and writes flash and UICR in a private copy of the shared map, refreshed
        # at the start of every run (reads at memory speed: the CRC analyzer reads every
        # byte). What it stored is found by comparing the copy with a second one taken at the
        # last refresh -- at the end of a run and before every peripheral store, i.e. before
        # the NVMC's CONFIG changes -- and handed, page by page, to the NVMC model, which
        # writes the shared map with flash semantics; those pages are then refreshed from it.
        # A hook per store cost about 10 us of interpreter time each, 20,000 per unit, more
        # than the rest of the simulation together. What this gives up: a word stored with the
        # value it already held is not seen (so not charged a word write's time), and a word
        # stored twice in one stretch counts once, with its last value. Flash algorithms write
        # each word once and never read back what they wrote within one call.
        self._shadow = engine.shadow
        self._at_refresh = engine.at_refresh
        # A view of the shared map to copy from without an intermediate bytes object; released
        # in close(), before the unit closes the map.
        self._nvm_view = (ctypes.c_char * len(nvm)).from_buffer(nvm)
        self.sync()
        self._uc.mem_write(board.FICR_BASE, ficr)
        # Peripherals are memory the CPU reads at full speed (NVMC READY reads 1: inside a run
        # the flash is always ready, its time is charged when the run ends); every store to
        # them goes to the device model first, after the stores to flash before it.
        for address, value in peripheral_values.items():
            self._uc.mem_write(address, value.to_bytes(4, "little"))
        self._uc.hook_add(
            unicorn.UC_HOOK_MEM_WRITE,
            self._trap_peripheral_store,
            begin=PERIPHERAL_BASE,
            end=PERIPHERAL_BASE + PERIPHERAL_SIZE - 1,
        )
        self._uc.hook_add(unicorn.UC_HOOK_INTR, self._trap_interrupt)
        self._hit_breakpoint = False
        self._fault: str | None = None
        self.halted = True

    def close(self) -> None:
        """Release the emulator before the memory map it points into goes away."""
        self._uc.emu_stop()
        del self._uc
        del self._nvm_view

    # ---- hooks ----------------------------------------------------------------------------

    def _trap_peripheral_store(
        self, _uc: unicorn.Uc, _access: int, address: int, size: int, value: int, _data: object
    ) -> None:
        self.flush_stores()
        self._on_peripheral_write(address, size, value & ((1 << (8 * size)) - 1))

    def flush_stores(self) -> None:
        """Hand the words the CPU stored to flash and UICR since the last refresh to the NVMC
        model, then refresh the pages they are in from the shared map it wrote."""
        changed_pages = self._changed_pages()
        if not changed_pages:
            return
        stores: list[PageStores] = []
        for offset in changed_pages:
            now = int.from_bytes(ctypes.string_at(ctypes.addressof(self._shadow) + offset, board.PAGE_SIZE), "little")
            before = int.from_bytes(
                ctypes.string_at(ctypes.addressof(self._at_refresh) + offset, board.PAGE_SIZE), "little"
            )
            changed = changed_words(now, before)
            stores.append(PageStores(_address_of(offset), now, changed, changed.bit_count() // 32))
        self._on_nvm_stores(stores)
        for offset in changed_pages:
            self._refresh(offset, board.PAGE_SIZE)

    def _changed_pages(self) -> list[int]:
        """Offsets of the pages whose copy differs from the one at the last refresh."""
        shadow, at_refresh = ctypes.addressof(self._shadow), ctypes.addressof(self._at_refresh)
        if _memcmp(shadow, at_refresh, len(self._shadow)) == 0:
            return []
        return [
            offset
            for offset in range(0, len(self._shadow), board.PAGE_SIZE)
            if _memcmp(shadow + offset, at_refresh + offset, board.PAGE_SIZE) != 0
        ]

    def sync(self, address: int | None = None, length: int = 0) -> None:
        """Refresh the CPU's copy of flash and UICR from the shared map (all, or one range)."""
        if address is None:
            self._refresh(0, len(self._shadow))
            return
        self._refresh(_offset_of(address), length)

    def _refresh(self, offset: int, length: int) -> None:
        source = ctypes.addressof(self._nvm_view) + offset
        ctypes.memmove(ctypes.addressof(self._shadow) + offset, source, length)
        ctypes.memmove(ctypes.addressof(self._at_refresh) + offset, source, length)

    def _trap_interrupt(self, uc: unicorn.Uc, interrupt: int, _data: object) -> None:
        if interrupt == _BKPT_INTERRUPT:
            self._hit_breakpoint = True
        else:
            self._fault = f"exception {interrupt}"
        uc.emu_stop()

    # ---- debugger view --------------------------------------------------------------------

    def read_register(self, selector: int) -> int:
        if selector == _SPECIAL_REGISTER_SELECTOR:
            control = self._uc.reg_read(arm_const.UC_ARM_REG_CONTROL)
            faultmask = self._uc.reg_read(arm_const.UC_ARM_REG_FAULTMASK)
            basepri = self._uc.reg_read(arm_const.UC_ARM_REG_BASEPRI)
            primask = self._uc.reg_read(arm_const.UC_ARM_REG_PRIMASK)
            return int((control << 24) | (faultmask << 16) | (basepri << 8) | primask) & 0xFFFFFFFF
        register = _CORE_REGISTERS.get(selector)
        if register is None:
            return 0  # FPU and other optional registers: not implemented, read as zero
        value = int(self._uc.reg_read(register)) & 0xFFFFFFFF
        if selector == 15:
            value &= ~1
        return value

    def write_register(self, selector: int, value: int) -> None:
        value &= 0xFFFFFFFF
        if selector == _SPECIAL_REGISTER_SELECTOR:
            self._uc.reg_write(arm_const.UC_ARM_REG_CONTROL, (value >> 24) & 0xFF)
            self._uc.reg_write(arm_const.UC_ARM_REG_FAULTMASK, (value >> 16) & 0xFF)
            self._uc.reg_write(arm_const.UC_ARM_REG_BASEPRI, (value >> 8) & 0xFF)
            self._uc.reg_write(arm_const.UC_ARM_REG_PRIMASK, value & 0xFF)
            return
        register = _CORE_REGISTERS.get(selector)
        if register is None:
            return
        if selector == 15:
            value &= ~1
        self._uc.reg_write(register, value)

    def read_ram(self, address: int, length: int) -> bytes:
        return bytes(self._uc.mem_read(address, length))

    def write_ram(self, address: int, data: bytes) -> None:
        self._uc.mem_write(address, data)

    def clear_ram(self) -> None:
        self._uc.mem_write(board.RAM_BASE, b"\0" * board.RAM_SIZE)

    def reset_registers(self) -> None:
        """Core reset: registers to their reset values, Thumb state, main stack."""
        for selector in range(13):
            self.write_register(selector, 0)
        self._uc.reg_write(arm_const.UC_ARM_REG_LR, 0xFFFFFFFF)
        self._uc.reg_write(arm_const.UC_ARM_REG_XPSR, 0x0100_0000)
        self.write_register(_SPECIAL_REGISTER_SELECTOR, 0)

    def run(self) -> tuple[bool, str | None]:
        """Run from the current PC until a BKPT, a fault, or the instruction budget.

        Returns (reached_breakpoint, fault description or None).
        """
        self._hit_breakpoint = False
        self._fault = None
        pc = self.read_register(15)
        self.sync()  # what other sessions and processes wrote since the last run
        try:
            self._uc.emu_start(pc | 1, 0xFFFF_FFFE, count=INSTRUCTION_BUDGET)
        except unicorn.UcError as error:
            self._fault = f"{error} at 0x{self.read_register(15):08X}"
        finally:
            self.flush_stores()  # refreshes the pages it hands over; the rest waits for the next run
        return self._hit_breakpoint, self._fault
