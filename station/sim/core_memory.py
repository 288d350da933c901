"""How the emulated core's memory is laid out from a chip's layout: the prepared engine, the
volatile regions mapped from the unit's shared state, and CPU stores to flash taken one by one.

Split from :mod:`station.sim.core`, which runs the engine this builds.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

import unicorn

from station.sim.chips import default_chip
from station.sim.chips.base import ChipModel
from station.sim.chips.layout import SLOT_SIZE, MemoryLayout
from station.sim.core_state import CoreState
from station.sim.flash_copy import FlashCopy

MmioRead = Callable[[unicorn.Uc, int, int, int], int]
MmioWrite = Callable[[unicorn.Uc, int, int, int, int], None]


class PreparedEngine:
    """An emulator with the chip's fixed memory laid out but no unit in it yet.

    Creating a unicorn engine and its memory takes several milliseconds of CPU, the largest
    part of opening a simulated probe session; a simulator host's spare session process
    builds one while it waits for a client, so that a connect does not pay for it. The
    chip's non-volatile memory (and its boot alias) is mapped onto a private copy (see
    :class:`~station.sim.core.EmulatedCore`); a prepared engine serves one core of its chip only.
    """

    def __init__(self, chip: ChipModel | None = None) -> None:
        self.chip = chip = chip or default_chip()
        layout = chip.layout
        self.uc = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_THUMB | unicorn.UC_MODE_MCLASS)
        self.uc.ctl_set_cpu_model(unicorn.arm_const.UC_CPU_ARM_CORTEX_M4)
        self.shadow = (ctypes.c_char * layout.nvm_size)()
        self.at_refresh = (ctypes.c_char * layout.nvm_size)()
        base_address = ctypes.addressof(self.shadow)
        readable = unicorn.UC_PROT_READ | unicorn.UC_PROT_WRITE | unicorn.UC_PROT_EXEC
        for window, offset in layout.nvm_windows_with_offsets():
            self.uc.mem_map_ptr(window.base, window.size, readable, base_address + offset)
        alias = layout.boot_alias
        if alias is not None:
            aliased = layout.nvm_offset(alias.target, alias.window.size)
            assert aliased is not None
            self.uc.mem_map_ptr(alias.window.base, alias.window.size, readable, base_address + aliased)
        self.uc.mem_map(layout.id_page.base, layout.id_page.size, unicorn.UC_PROT_READ)
        self.taken = False


def map_volatile_memory(
    uc: unicorn.Uc, layout: MemoryLayout, state: CoreState, state_address: int, read: MmioRead, write: MmioWrite
) -> None:
    """RAM and the peripheral pages straight from the shared state (at ``state_address`` in
    this process); the family's register pages (``mmio_pages``) as device callbacks."""
    everything = unicorn.UC_PROT_READ | unicorn.UC_PROT_WRITE | unicorn.UC_PROT_EXEC
    for window in layout.ram:
        uc.mem_map_ptr(window.base, window.size, everything, state_address + state.ram_offset(window.base))
    for page in layout.present_pages():
        if page in layout.mmio_pages:  # registers whose reads the family computes
            uc.mmio_map(page, SLOT_SIZE, read, page, write, page)
            continue
        offset = state.peripheral_offset(page)
        assert offset is not None
        uc.mem_map_ptr(page, SLOT_SIZE, unicorn.UC_PROT_READ | unicorn.UC_PROT_WRITE, state_address + offset)


def drop_translated_code(uc: unicorn.Uc, layout: MemoryLayout, start: int, end: int) -> None:
    """Forget code translated from a range of non-volatile memory (and from its boot alias)."""
    uc.ctl_remove_cache(start, end)
    alias = layout.boot_alias
    if alias is not None:
        low, high = max(start, alias.target), min(end, alias.target + alias.window.size)
        if low < high:
            base = alias.window.base - alias.target
            uc.ctl_remove_cache(base + low, base + high)


class StoreHook:
    """CPU stores to flash, each handed to a flash controller that judges every one by itself
    (its width, its control register at that moment: the STM32's).

    The store also lands in the core's private copy of flash; the words are put back as the
    controller left them in the shared map before the core reads them again (at the next
    register access and at the end of the run: :meth:`restore`).
    """

    def __init__(
        self,
        uc: unicorn.Uc,
        layout: MemoryLayout,
        flash: FlashCopy,
        on_store: Callable[[int, int, int], None],
        *,
        replaying: Callable[[], bool],
    ) -> None:
        self._layout = layout
        self._flash = flash
        self._on_store = on_store
        self._replaying = replaying
        self._stored: list[tuple[int, int]] = []
        windows = [layout.flash] + ([layout.boot_alias.window] if layout.boot_alias else [])
        for window in windows:
            uc.hook_add(unicorn.UC_HOOK_MEM_WRITE, self._trap, begin=window.base, end=window.end - 1)

    def _trap(self, _uc: unicorn.Uc, _access: int, address: int, size: int, value: int, _data: object) -> None:
        if self._replaying():
            return
        resolved = self._layout.resolve(address)
        self._on_store(resolved, size, value & ((1 << (8 * size)) - 1))
        self._stored.append((resolved, size))

    def restore(self) -> None:
        """Put the words the CPU stored back as the flash controller left them."""
        stored, self._stored = self._stored, []
        for address, size in stored:
            self._flash.settle(address, size)
