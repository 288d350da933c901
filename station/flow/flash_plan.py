"""What the flash controller must do to make a unit hold an image: the least work, planned.

A unit fresh from the reel is blank, and erasing a page that already holds only the erased
value is time spent for nothing (an nRF52840 page erase is 85 ms; the words of a 4 KiB page
cost 42 ms to write). So, for every erase unit (sector) the image touches, the planner is
told what the unit holds there now and decides, page by page:

- the page already holds what it must hold: nothing to do;
- the page is blank (every byte the erased value): program it, no erase;
- otherwise its sector is erased, and then every page of that sector that must hold data is
  programmed (the unit's own bytes where the image has none, as pyOCD keeps them).

A chip erase (one command for the whole flash) is weighed against that when the caller allows
it: it destroys everything, so the caller only allows it when nothing outside the image must
survive (no keep region or key store holding data, nothing the family keeps outside the flash
array). The plan says which it chose and why, with the time each would take by the family's
datasheet figures, for the flash step's record.

Pure: the probe driver reads the unit and carries the plan out; this module decides.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass


class PageState(enum.Enum):
    SAME = "same"  # the unit already holds what the page must hold
    BLANK = "blank"  # every byte the erased value: programmable without an erase
    OTHER = "other"  # holds other data: its sector must be erased first


@dataclass(frozen=True)
class FlashTiming:
    """A family's flash figures from its datasheet: what each operation keeps the controller busy."""

    write_seconds_per_byte: float  # one word (or phrase) write's time / its size in bytes
    sector_erase: tuple[tuple[int, float], ...]  # (sector size in bytes, its erase time), each size
    chip_erase_seconds: float | None  # None: the family's algorithm offers no chip erase
    write_unit: int = 4  # the bytes one write covers (a word; a Kinetis phrase is 8)

    def write_seconds(self, length: int) -> float:
        return self.write_seconds_per_byte * length

    def sector_erase_seconds(self, size: int) -> float:
        """A sector's erase time; for a size the datasheet does not list, the nearest listed
        size's, scaled (a pack part's sectors may differ from the family's usual ones)."""
        for listed, seconds in self.sector_erase:
            if listed == size:
                return seconds
        listed, seconds = min(self.sector_erase, key=lambda item: abs(item[0] - size))
        return seconds * size / listed


@dataclass(frozen=True)
class PagePlan:
    """One program unit (a pyOCD page) of a sector the image touches."""

    address: int
    target: bytes  # what the page must hold: the image, the unit's bytes where the image has none
    image_only: bytes  # the same with the erased value where the image has none (after a chip erase)
    current: bytes | None  # what the unit holds now; None where the page could not be read
    erased_value: int

    @property
    def state(self) -> PageState:
        if self.current is None:
            return PageState.OTHER
        if self.current == self.target:
            return PageState.SAME
        if _all(self.current, self.erased_value):
            return PageState.BLANK
        return PageState.OTHER

    def holds_data(self, after_chip_erase: bool = False) -> bool:
        """Whether programming is needed once the page is erased (all-erased content is not)."""
        return not _all(self.image_only if after_chip_erase else self.target, self.erased_value)


@dataclass(frozen=True)
class PageWrite:
    """A page to program and what to program into it: from its start, up to its last write unit
    that is not all erased value (the rest of the page is erased already and stays so: a write
    of the erased value changes nothing and costs a write's time)."""

    address: int
    data: bytes

    @classmethod
    def trimmed(cls, address: int, data: bytes, erased: int, write_unit: int) -> PageWrite:
        end = len(data.rstrip(bytes([erased])))
        return cls(address, data[: -(-end // write_unit) * write_unit])


@dataclass(frozen=True)
class SectorPlan:
    """One erase unit the image touches, with its pages and its erase time."""

    address: int
    size: int
    erase_seconds: float
    pages: tuple[PagePlan, ...]

    @property
    def needs_erase(self) -> bool:
        return any(page.state is PageState.OTHER for page in self.pages)


@dataclass(frozen=True)
class KeptRange:
    """Flash whose content must survive a chip erase if it holds any (a keep region, the key store)."""

    name: str
    address: int
    size: int


@dataclass(frozen=True)
class ChipErasePermission:
    """Whether the caller lets the plan erase the whole chip, and on what condition.

    ``keep``: ranges that must survive: the probe driver refuses the chip erase when any of them
    holds data (it reads them; only it knows the erased value).
    """

    allowed: bool
    refusal: str = ""  # in words, for the record: "the recipe forbids it", "key store holds data"
    keep: tuple[KeptRange, ...] = ()

    @classmethod
    def allow(cls, keep: tuple[KeptRange, ...] = ()) -> ChipErasePermission:
        return cls(True, keep=keep)

    @classmethod
    def refuse(cls, refusal: str) -> ChipErasePermission:
        return cls(False, refusal)


NO_CHIP_ERASE = ChipErasePermission.refuse("not asked for: only these pages are written")


@dataclass(frozen=True)
class FlashReport:
    """What programming did, for the flash step's record."""

    bytes_programmed: int
    pages_programmed: int
    pages_identical: int
    pages_blank: int  # programmed without an erase
    sectors_erased: int
    chip_erase: bool
    decision: str  # the plan in words: what was erased and why
    busy_seconds: float  # the flash controller's time, by the datasheet


@dataclass(frozen=True)
class FlashPlan:
    chip_erase: bool
    erase: tuple[SectorPlan, ...]  # sectors to erase (none with a chip erase)
    program: tuple[PageWrite, ...]  # pages to program, in address order
    seconds: float  # the controller's busy time this plan costs, by the datasheet
    sector_seconds: float  # what erasing by sector would cost (the choice's other side)
    chip_seconds: float | None  # what a chip erase would cost; None: not offered or not allowed
    pages_same: int
    pages_blank: int
    reason: str  # the decision in words, for the flash step's detail

    @property
    def work_to_do(self) -> bool:
        return self.chip_erase or bool(self.erase) or bool(self.program)


def plan_flash(sectors: Sequence[SectorPlan], timing: FlashTiming, chip_erase: ChipErasePermission) -> FlashPlan:
    """The cheaper of erasing by sector (only what holds other data) and one chip erase."""
    pages = [page for sector in sectors for page in sector.pages]
    same = sum(page.state is PageState.SAME for page in pages)
    blank = sum(page.state is PageState.BLANK and page.holds_data() for page in pages)
    to_erase = tuple(sector for sector in sectors if sector.needs_erase)
    by_sector = tuple(PageWrite.trimmed(page.address, page.target, page.erased_value, timing.write_unit)
                      for sector in sectors for page in _sector_pages(sector))  # fmt: skip
    sector_seconds = sum(sector.erase_seconds for sector in to_erase) + sum(
        timing.write_seconds(len(page.data)) for page in by_sector
    )
    after_chip = tuple(PageWrite.trimmed(page.address, page.image_only, page.erased_value, timing.write_unit)
                       for page in pages if page.holds_data(after_chip_erase=True))  # fmt: skip
    chip_seconds: float | None = None
    if timing.chip_erase_seconds is not None and chip_erase.allowed:
        writes = sum(timing.write_seconds(len(page.data)) for page in after_chip)
        chip_seconds = timing.chip_erase_seconds + writes
    if chip_seconds is not None and to_erase and chip_seconds < sector_seconds:
        reason = (f"chip erase: {len(to_erase)} of {len(sectors)} sectors held other data "
                  f"({chip_seconds:.2f} s against {sector_seconds:.2f} s by sector)")  # fmt: skip
        return FlashPlan(chip_erase=True, erase=(), program=after_chip, seconds=chip_seconds,
                         sector_seconds=sector_seconds, chip_seconds=chip_seconds, pages_same=same,
                         pages_blank=blank, reason=reason)  # fmt: skip
    reason = _sector_reason(len(to_erase), len(by_sector), same, blank, chip_seconds, chip_erase, timing)
    return FlashPlan(chip_erase=False, erase=to_erase, program=by_sector, seconds=sector_seconds,
                     sector_seconds=sector_seconds, chip_seconds=chip_seconds, pages_same=same,
                     pages_blank=blank, reason=reason)  # fmt: skip


def _sector_pages(sector: SectorPlan) -> list[PagePlan]:
    """The pages to program in a sector: all that hold data once it is erased, else the blank ones."""
    if sector.needs_erase:
        return [page for page in sector.pages if page.holds_data()]
    return [page for page in sector.pages if page.state is PageState.BLANK and page.holds_data()]


def _sector_reason(
    erased: int,
    programmed: int,
    same: int,
    blank: int,
    chip_seconds: float | None,
    chip_erase: ChipErasePermission,
    timing: FlashTiming,
) -> str:
    if not erased and not programmed:
        return f"nothing to program: the unit holds the image ({same} pages identical)"
    words = f"{erased} sectors erased, {programmed} pages programmed ({blank} blank, no erase), {same} identical"
    if not erased:
        return words
    if timing.chip_erase_seconds is None:
        return f"{words}; the target offers no chip erase"
    if not chip_erase.allowed:
        return f"{words}; no chip erase: {chip_erase.refusal}"
    return f"{words}; cheaper than a chip erase ({chip_seconds:.2f} s)"


def _all(data: bytes, value: int) -> bool:
    return data.count(value) == len(data)
