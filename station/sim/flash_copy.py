"""The emulated core's private copy of a unit's flash and UICR, and the CPU's stores to it.

The CPU reads and writes flash and UICR in a private copy of the shared ``nvm.bin`` map. What
it stored is found by comparing the copy with a second one taken at the last refresh -- at the
end of a run and before every peripheral store, i.e. before the NVMC's CONFIG changes -- and
handed, page by page, to the NVMC model, which writes the shared map with flash semantics;
those pages are then refreshed from it. A hook per store cost about 10 us of interpreter time
each, 20,000 per unit, more than the rest of the simulation together. What this gives up: a
word stored with the value it already held is not seen (so not charged a word write's time),
and a word stored twice in one stretch counts once, with its last value. Flash algorithms
write each word once.
"""

from __future__ import annotations

import ctypes
import mmap
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from station.sim import board


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


def offset_of(address: int) -> int:
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


def address_of(offset: int) -> int:
    return board.FLASH_BASE + offset if offset < board.FLASH_SIZE else board.UICR_BASE + offset - board.FLASH_SIZE


def is_nvm(address: int) -> bool:
    return (board.FLASH_BASE <= address < board.FLASH_BASE + board.FLASH_SIZE) or (
        board.UICR_BASE <= address < board.UICR_BASE + board.UICR_SIZE
    )


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
        on_refresh: Callable[[int, int], None],
    ) -> None:
        self._shadow = shadow
        self._at_refresh = at_refresh
        # A view of the shared map to copy from without an intermediate bytes object; released
        # in close(), before the unit closes the map.
        self._nvm_view = (ctypes.c_char * len(nvm)).from_buffer(nvm)
        self._on_refresh = on_refresh

    def close(self) -> None:
        del self._nvm_view

    def flush(self, on_nvm_stores: NvmStores) -> None:
        """Hand the words the CPU stored since the last refresh to the NVMC model, then refresh
        the pages they are in from the shared map it wrote."""
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
            stores.append(PageStores(address_of(offset), now, changed, changed.bit_count() // 32))
        on_nvm_stores(stores)
        for offset in changed_pages:
            self._refresh(offset, board.PAGE_SIZE)

    def refresh(self, address: int, length: int) -> None:
        """Bring one range of flash or UICR up to date from the shared map."""
        self._refresh(offset_of(address), length)

    def refresh_all(self) -> None:
        self._refresh(0, len(self._shadow))

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

    def _refresh(self, offset: int, length: int) -> None:
        source = ctypes.addressof(self._nvm_view) + offset
        ctypes.memmove(ctypes.addressof(self._shadow) + offset, source, length)
        ctypes.memmove(ctypes.addressof(self._at_refresh) + offset, source, length)
        if offset < board.FLASH_SIZE < offset + length:  # spans flash and UICR (refresh_all)
            self._on_refresh(board.FLASH_BASE, board.FLASH_BASE + board.FLASH_SIZE)
            self._on_refresh(board.UICR_BASE, board.UICR_BASE + offset + length - board.FLASH_SIZE)
            return
        start = address_of(offset)
        self._on_refresh(start, start + length)
