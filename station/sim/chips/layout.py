"""A chip family's memory layout: what the emulated core maps where, and where it is kept.

The core, its shared state and the debug port are family-neutral; what differs between chips
is where memory lies. A :class:`MemoryLayout` says it once, for every module that needs it:

* ``nvm``: the non-volatile regions (flash first, then e.g. UICR or option bytes), kept one
  after another in the unit's ``nvm.bin`` and mapped from the core's private flash copy;
* ``ram``: the RAM regions, kept one after another in the RAM area of ``core.bin``;
* ``id_page``: a read-only page of factory information (nRF52 FICR, STM32 UID and flash size);
* ``peripherals``: the peripheral windows, kept one after another in ``core.bin``'s peripheral
  area; ``holes`` are 4 KiB slots inside them where the chip has nothing (a bus fault);
* ``mmio_pages``: peripheral pages whose every access goes through the family's register
  model (a register whose read has side effects or whose value is computed, such as a flash
  controller's status), instead of the shared register file;
* ``boot_alias``: an address range that mirrors the start of flash (the STM32 boots from
  flash through address 0).

This module imports nothing of the simulator, so that the shared state and the flash copy can
use it without import cycles.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Final

SLOT_SIZE: Final = 0x1000  # the 4 KiB unit of mapping, peripheral slots and flash-copy pages


@dataclass(frozen=True)
class Window:
    """A range of addresses."""

    base: int
    size: int

    @property
    def end(self) -> int:
        return self.base + self.size

    def contains(self, address: int, length: int = 1) -> bool:
        return self.base <= address and address + length <= self.end


@dataclass(frozen=True)
class Alias:
    """Addresses ``window`` read and write ``target``'s memory (a boot alias)."""

    window: Window
    target: int


@dataclass(frozen=True)
class MemoryLayout:
    nvm: tuple[Window, ...]
    ram: tuple[Window, ...]
    id_page: Window
    peripherals: tuple[Window, ...]
    holes: frozenset[int] = frozenset()
    mmio_pages: tuple[int, ...] = ()
    boot_alias: Alias | None = None

    @property
    def flash(self) -> Window:
        """The main flash (the first non-volatile region)."""
        return self.nvm[0]

    @property
    def nvm_size(self) -> int:
        return sum(window.size for window in self.nvm)

    @property
    def ram_size(self) -> int:
        return sum(window.size for window in self.ram)

    @property
    def peripheral_size(self) -> int:
        return sum(window.size for window in self.peripherals)

    def resolve(self, address: int) -> int:
        """The address an access really reaches: through the boot alias, or itself."""
        alias = self.boot_alias
        if alias is not None and alias.window.contains(address):
            return alias.target + address - alias.window.base
        return address

    def nvm_offset(self, address: int, length: int = 1) -> int | None:
        """Where ``address`` (already resolved) lies in ``nvm.bin``, or None if not in one region."""
        offset = 0
        for window in self.nvm:
            if window.contains(address, length):
                return offset + address - window.base
            offset += window.size
        return None

    def nvm_address(self, offset: int) -> int:
        """The address of an offset in ``nvm.bin``."""
        for window in self.nvm:
            if offset < window.size:
                return window.base + offset
            offset -= window.size
        raise ValueError("offset beyond the non-volatile memory")

    def nvm_windows_with_offsets(self) -> list[tuple[Window, int]]:
        placed, offset = [], 0
        for window in self.nvm:
            placed.append((window, offset))
            offset += window.size
        return placed

    def ram_offset(self, address: int, length: int = 1) -> int | None:
        """Where a RAM range lies in the RAM area of ``core.bin``, or None if not in one region."""
        offset = 0
        for window in self.ram:
            if window.contains(address, length):
                return offset + address - window.base
            offset += window.size
        return None

    @functools.cached_property
    def _peripheral_pages(self) -> dict[int, int]:
        """Each 4 KiB page of the peripheral windows to its offset in the peripheral area."""
        pages, offset = {}, 0
        for window in self.peripherals:
            for page in range(window.base, window.end, SLOT_SIZE):
                pages[page] = offset + page - window.base
            offset += window.size
        return pages

    def peripheral_offset(self, address: int) -> int | None:
        """Where a peripheral register lies in the peripheral area, or None (not a window).
        (Asked for every register access: a dictionary look-up.)"""
        page = self._peripheral_pages.get(address & ~(SLOT_SIZE - 1))
        return None if page is None else page + (address & (SLOT_SIZE - 1))

    def present_pages(self) -> list[int]:
        """Base addresses of the 4 KiB peripheral slots that exist (holes left out)."""
        return [
            page
            for window in self.peripherals
            for page in range(window.base, window.end, SLOT_SIZE)
            if page not in self.holes
        ]

    def is_peripheral(self, address: int) -> bool:
        """Whether a register address lies in a populated peripheral slot."""
        page = address & ~(SLOT_SIZE - 1)
        return page not in self.holes and page in self._peripheral_pages
