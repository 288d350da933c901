"""The emulated core's private copy of a unit's non-volatile memory, and the CPU's stores to it.

The CPU reads and writes flash and UICR in a private copy of the shared ``nvm.bin`` map. What
it stored is found by comparing the copy with a second one taken at the last refresh -- at the
end of a run and before every peripheral store, i.e. before the NVMC's CONFIG changes -- and
handed, page by page, to the NVMC model, which writes the shared map with flash semantics;
those pages are then refreshed from it. A hook per store that handed over each store's data
cost about 10 us of interpreter time each, 20,000 per unit, more than the rest of the
simulation together.

The comparison cannot see a word stored with the value it already held, nor a word stored
twice in one stretch (it finds the last value once), yet the chip charges a word write for
every store. So while the NVMC programs (CONFIG = WEN) the core also counts the stores page by
page, one C-API callback each that only counts (:class:`~station.sim.core_memory.StoreCounter`),
and hands the counts over with the pages (a page stored to but not changed too): the counts
are what the time is charged by, the comparison what is written.
"""

from __future__ import annotations

import ctypes
import mmap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from station.sim.chips.layout import SLOT_SIZE, MemoryLayout

PAGE_SIZE: Final = SLOT_SIZE  # the unit the copies are compared and handed over in


@dataclass(frozen=True)
class PageStores:
    """The words the CPU stored in one page since the last refresh, as whole-page integers.

    ``values`` is the page as the CPU left it (little-endian, as in memory); ``changed`` has
    all 32 bits set in each word the CPU changed and none elsewhere; ``words`` counts them.
    Whole-page integers let the NVMC model apply flash semantics with a few big-integer
    operations instead of a Python step per word (16,000 words per unit). ``stores`` is how
    many stores the CPU made in the page while they were counted (the NVMC programming),
    whatever their values: zero, and ``words`` the only measure, when they were not.
    """

    address: int
    values: int
    changed: int
    words: int
    stores: int


NvmStores = Callable[[list[PageStores]], None]

# Bit 0 of every 32-bit word of a page.
_WORD_LOW_BITS: Final = int.from_bytes(b"\x01\x00\x00\x00" * (PAGE_SIZE // 4), "little")
_memcmp = ctypes.CDLL(None).memcmp
_memcmp.argtypes = (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
_memcmp.restype = ctypes.c_int


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


class FlashCopy:
    """The copy the CPU executes from, the copy at the last refresh, and the shared map.

    ``on_refresh(start, end)`` is told of every address range refreshed from the shared map,
    so that the engine drops code it translated from the old bytes.
    """

    def __init__(
        self,
        shadow: ctypes.Array[ctypes.c_char],
        at_refresh: ctypes.Array[ctypes.c_char],
        nvm: mmap.mmap,
        *,
        layout: MemoryLayout,
        on_refresh: Callable[[int, int], None],
    ) -> None:
        self._layout = layout
        self._shadow = shadow
        self._at_refresh = at_refresh
        # A view of the shared map to copy from without an intermediate bytes object; released
        # in close(), before the unit closes the map.
        self._nvm_view = (ctypes.c_char * len(nvm)).from_buffer(nvm)
        self._on_refresh = on_refresh

    def close(self) -> None:
        del self._nvm_view

    def flush(self, on_nvm_stores: NvmStores, counted: dict[int, int] | None = None) -> None:
        """Hand the words the CPU stored since the last refresh to the NVMC model, with the
        stores ``counted`` meanwhile by the offset of their page (in pages it did not change
        too), then refresh the pages it changed from the shared map the model wrote."""
        changed_pages = self._changed_pages()
        if not changed_pages and not counted:
            return
        counted = counted or {}
        stores: list[PageStores] = []
        for offset in sorted({*changed_pages, *counted}):
            now = int.from_bytes(ctypes.string_at(ctypes.addressof(self._shadow) + offset, PAGE_SIZE), "little")
            before = int.from_bytes(ctypes.string_at(ctypes.addressof(self._at_refresh) + offset, PAGE_SIZE), "little")
            changed = changed_words(now, before)
            address = self._layout.nvm_address(offset)
            stores.append(PageStores(address, now, changed, changed.bit_count() // 32, counted.get(offset, 0)))
        on_nvm_stores(stores)
        for offset in changed_pages:
            self._refresh(offset, PAGE_SIZE)

    def discard(self) -> None:
        """Forget the CPU's stores since the last refresh, unseen by the NVMC model: they were
        made while it did not program (the pages back as the shared map holds them)."""
        for offset in self._changed_pages():
            self._refresh(offset, PAGE_SIZE)

    def covers(self, address: int) -> bool:
        """Whether ``address`` is non-volatile memory this copy holds."""
        return self._layout.nvm_offset(address) is not None

    def refresh(self, address: int, length: int) -> None:
        """Bring one range of non-volatile memory up to date from the shared map."""
        offset = self._layout.nvm_offset(address, length)
        if offset is None:
            raise ValueError(f"0x{address:08X}+0x{length:X} is not in one non-volatile region")
        self._refresh(offset, length)

    def settle(self, address: int, length: int) -> None:
        """After CPU stores a controller judged one by one (and the engine saw, so code translated
        from them is dropped already), once it has written what it took: both copies as the
        shared map holds the range; the engine is told only if the map differs from what the CPU
        stored (bits that stayed 0, a store refused)."""
        offset = self._layout.nvm_offset(address, length)
        if offset is None:
            raise ValueError(f"0x{address:08X}+0x{length:X} is not in one non-volatile region")
        source = ctypes.addressof(self._nvm_view) + offset
        shadow = ctypes.addressof(self._shadow) + offset
        if _memcmp(shadow, source, length) != 0:
            self._refresh(offset, length)
            return
        ctypes.memmove(ctypes.addressof(self._at_refresh) + offset, source, length)

    def refresh_all(self) -> None:
        self._refresh(0, len(self._shadow))

    def _changed_pages(self) -> list[int]:
        """Offsets of the pages whose copy differs from the one at the last refresh."""
        shadow, at_refresh = ctypes.addressof(self._shadow), ctypes.addressof(self._at_refresh)
        if _memcmp(shadow, at_refresh, len(self._shadow)) == 0:
            return []
        return [
            offset
            for offset in range(0, len(self._shadow), PAGE_SIZE)
            if _memcmp(shadow + offset, at_refresh + offset, PAGE_SIZE) != 0
        ]

    def _refresh(self, offset: int, length: int) -> None:
        source = ctypes.addressof(self._nvm_view) + offset
        ctypes.memmove(ctypes.addressof(self._shadow) + offset, source, length)
        ctypes.memmove(ctypes.addressof(self._at_refresh) + offset, source, length)
        end = offset + length
        for window, start in self._layout.nvm_windows_with_offsets():  # each region the range spans
            low, high = max(offset, start), min(end, start + window.size)
            if low < high:
                self._on_refresh(window.base + low - start, window.base + high - start)
