"""How the emulated core's memory is laid out from a chip's layout: the prepared engine, the
volatile regions mapped from the unit's shared state, and CPU stores to flash taken one by one
or counted.

A flash controller's registers and the CPU's stores to flash reach Python through callbacks
registered with the engine's C API directly (:func:`map_device`, :func:`hook_stores`,
:class:`StoreCounter`): the binding wraps each callback in two Python layers of its own, which
cost a third as much as the callback itself, and a flash algorithm makes seven such calls for
every word it programs.

Split from :mod:`station.sim.core`, which runs the engine this builds.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable

import unicorn
from unicorn.unicorn_py3.unicorn import HOOK_MEM_ACCESS_CFUNC, MMIO_READ_CFUNC, MMIO_WRITE_CFUNC, uclib

from station.sim.chips import default_chip
from station.sim.chips.base import ChipModel
from station.sim.chips.layout import SLOT_SIZE, MemoryLayout
from station.sim.core_state import CoreState
from station.sim.flash_copy import PAGE_SIZE, FlashCopy

_PAGE_SHIFT = PAGE_SIZE.bit_length() - 1  # a store's page in nvm.bin: its offset shifted right by this

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
            map_device(uc, page, SLOT_SIZE, read, write)
            continue
        offset = state.peripheral_offset(page)
        assert offset is not None
        uc.mem_map_ptr(page, SLOT_SIZE, unicorn.UC_PROT_READ | unicorn.UC_PROT_WRITE, state_address + offset)


def _failed(uc: unicorn.Uc, error: BaseException) -> None:
    """A callback's exception, kept as the binding keeps it: ``emu_start`` raises it once the
    engine has stopped."""
    if uc._hook_exception is None:
        uc._hook_exception = error
    uc.emu_stop()


def map_device(uc: unicorn.Uc, base: int, size: int, read: MmioRead, write: MmioWrite) -> None:
    """Registers at ``base`` as device callbacks (unicorn's MMIO), each access calling ``read``
    or ``write`` with ``base`` as its last argument, as ``Uc.mmio_map`` would."""

    def on_read(_engine: int, offset: int, size: int, _data: int) -> int:
        try:
            return read(uc, offset, size, base)
        except BaseException as error:
            _failed(uc, error)
            return 0

    def on_write(_engine: int, offset: int, size: int, value: int, _data: int) -> None:
        try:
            write(uc, offset, size, value, base)
        except BaseException as error:
            _failed(uc, error)

    callbacks = (MMIO_READ_CFUNC(on_read), MMIO_WRITE_CFUNC(on_write))
    _check(uclib.uc_mmio_map(uc._uch, base, size, callbacks[0], None, callbacks[1], None))
    uc._mmio_callbacks[(base, base + size)] = callbacks  # where the binding keeps its own alive


def hook_stores(uc: unicorn.Uc, first: int, last: int, on_store: Callable[[int, int, int], None]) -> None:
    """``on_store(address, size, value)`` before every store to ``first``..``last`` (inclusive);
    the value as the engine passes it, sign-extended from 64 bits."""

    def on_access(_engine: int, _access: int, address: int, size: int, value: int, _data: int) -> None:
        try:
            on_store(address, size, value)
        except BaseException as error:
            _failed(uc, error)

    callback = HOOK_MEM_ACCESS_CFUNC(on_access)
    uc._callbacks[_add_store_hook(uc, first, last, callback)] = callback  # where the binding keeps its own alive


def _add_store_hook(uc: unicorn.Uc, first: int, last: int, callback: object) -> int:
    """Register a ``HOOK_MEM_ACCESS_CFUNC`` for stores to ``first``..``last``; its handle. The
    caller keeps the callback alive for as long as it is registered."""
    handle = ctypes.c_size_t()
    status = uclib.uc_hook_add(
        uc._uch, ctypes.byref(handle), unicorn.UC_HOOK_MEM_WRITE, callback, None, ctypes.c_uint64(first),
        ctypes.c_uint64(last),
    )  # fmt: skip
    _check(status)
    return handle.value


class StoreCounter:
    """The CPU's stores to non-volatile memory counted page by page, whatever their values, while
    a flash controller that takes them a page at a time programs them (the nRF52's NVMC with
    CONFIG = WEN): the chip charges a word write for every store, also one of the value the word
    held already, which the page comparison (:mod:`station.sim.flash_copy`) cannot see.

    A store costs one callback (about half a microsecond of interpreter time, about 1 % of a
    word write's 41 us); it is registered only while :meth:`watch` is on, so a firmware's code and
    the rest of the time pay nothing. The counts are the flash copy's companion, taken when the
    copy's stores are handed over (:meth:`take`).
    """

    def __init__(self, uc: unicorn.Uc, layout: MemoryLayout, flash: FlashCopy) -> None:
        self._uc = uc
        self._flash = flash
        self._pages = [0] * (layout.nvm_size // PAGE_SIZE)  # stores by page of nvm.bin
        regions = layout.nvm_windows_with_offsets()
        alias = layout.boot_alias
        if alias is not None:  # a store through the boot alias counts in the flash page it reaches
            target = layout.nvm_offset(alias.target, alias.window.size)
            assert target is not None
            regions.append((alias.window, target))
        # One callback per region for every registration, alive as long as the counter: a hook
        # removed in the middle of a store's callbacks is skipped by the engine, never freed under it.
        self._hooks = [(window.base, window.end - 1, self._counter(offset - window.base)) for window, offset in regions]
        self._handles: list[int] = []

    def _counter(self, delta: int) -> object:
        """The callback for a region whose address plus ``delta`` is the offset in ``nvm.bin``."""
        pages = self._pages

        def count(_engine: int, _access: int, address: int, _size: int, _value: int, _data: int) -> None:
            pages[(address + delta) >> _PAGE_SHIFT] += 1  # cannot raise (the address is the region's): no guard

        return HOOK_MEM_ACCESS_CFUNC(count)

    @property
    def watching(self) -> bool:
        return bool(self._handles)

    def watch(self, on: bool, *, run_start: bool = False) -> None:
        """Count from now on (the controller programs), or stop counting (what was counted stays
        until :meth:`take`). Asked after every store to a register with behaviour and at the start
        of every run (another session may have changed the controller's state): stores the copy
        holds when counting starts there were made while the controller did not program and are
        dropped (after a register store they were handed over, and ignored, just before)."""
        if on == self.watching:
            return
        if on:
            if run_start:
                self._flash.discard()
            self._handles = [_add_store_hook(self._uc, first, last, callback) for first, last, callback in self._hooks]
            return
        handles, self._handles = self._handles, []
        for handle in handles:
            _check(uclib.uc_hook_del(self._uc._uch, ctypes.c_size_t(handle)))

    def take(self) -> dict[int, int]:
        """The stores counted since the last take, by the offset of their page in ``nvm.bin``."""
        pages = self._pages
        if not any(pages):
            return {}
        taken = {index * PAGE_SIZE: stores for index, stores in enumerate(pages) if stores}
        for offset in taken:
            pages[offset // PAGE_SIZE] = 0
        return taken


def _check(status: int) -> None:
    if status != unicorn.UC_ERR_OK:
        raise unicorn.UcError(status)


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
    (its width, its control register at that moment: the STM32's, the K64F's).

    The store also lands in the core's private copy of flash. One the controller says stands as
    the CPU made it (programmed over erased bits) needs nothing more until the controller
    commits what it took to the shared map (it may keep a flash algorithm's stores for one write)
    and the copy is settled: at the end of the run (:meth:`settle`). Any other -- refused,
    ignored, programmed over cleared bits -- has its words put back as the controller left them
    in the shared map before the core reads them again: at the next register access too.
    """

    def __init__(
        self,
        uc: unicorn.Uc,
        layout: MemoryLayout,
        flash: FlashCopy,
        on_store: Callable[[int, int, int], bool],
        on_commit: Callable[[], None],
        *,
        replaying: Callable[[], bool],
    ) -> None:
        self._flash = flash
        self._on_store = on_store
        self._on_commit = on_commit
        self._replaying = replaying
        self._stored: list[list[int]] = []  # [start, end) ranges stored since the last settle
        self.unsettled = False  # a store the copy holds differently from the controller
        hook_stores(uc, layout.flash.base, layout.flash.end - 1, self._trap)
        alias = layout.boot_alias
        if alias is not None:  # a store through the boot alias reaches flash at this distance
            delta = alias.target - alias.window.base
            hook_stores(uc, alias.window.base, alias.window.end - 1, lambda a, s, v: self._trap(a + delta, s, v))

    def _trap(self, address: int, size: int, value: int) -> None:
        if self._replaying():
            return
        if not self._on_store(address, size, value & ((1 << (8 * size)) - 1)):
            self.unsettled = True
        stored = self._stored
        if stored and stored[-1][1] == address:  # a flash algorithm stores word after word
            stored[-1][1] = address + size
        else:
            stored.append([address, address + size])

    def settle(self) -> None:
        """The controller commits what it took; the words the CPU stored are then put back as
        the shared map holds them."""
        self._on_commit()
        stored, self._stored = self._stored, []
        self.unsettled = False
        for start, end in stored:
            self._flash.settle(start, end - start)
