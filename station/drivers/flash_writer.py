"""Programming flash through pyOCD's flash algorithms, doing only the work the image needs.

pyOCD's loader (``FlashLoader``, its smart flash) skips a sector that already holds the image
and erases every other one, blank or not; and its chip-erase choice weighs generic figures,
not the chip's. This writer reads what the unit holds in every sector the image touches,
lets the pure planner (:mod:`station.flow.flash_plan`) choose by the family's datasheet
figures (the device profile's), and drives pyOCD's ``Flash`` object itself: the same flash
algorithm, the same calls pyOCD's builder makes (init for erase, ``erase_sector`` or
``erase_all``, init for program, double-buffered ``program_page``), only fewer of them.

Reads go through the core's memory access port in 32-bit words, as the verify step reads:
a 4 KiB page costs about a millisecond at SWD speed, an erase 85 ms.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from station.domain.errors import FlashError
from station.flow.flash_plan import (
    ChipErasePermission,
    FlashPlan,
    FlashReport,
    FlashTiming,
    PagePlan,
    PageWrite,
    SectorPlan,
    plan_flash,
)

LOG = logging.getLogger(__name__)

READ_CHUNK: Final = 64 * 1024
PROGRAM_TIMEOUT_OPTION: Final = "flash.timeout.program"

ProgressCallback = Callable[[float], None]
ChipEraseBlocker = Callable[[Any], "str | None"]  # the profile's: what a chip erase would destroy


class FlashLayoutError(FlashError):
    """Data for an address the target has no flash at (a recipe for another part), or images
    that overlap."""


def report_of(plans: Sequence[FlashPlan]) -> FlashReport:
    """The flash step's record of what the plans did."""
    return FlashReport(
        bytes_programmed=sum(len(page.data) for plan in plans for page in plan.program),
        pages_programmed=sum(len(plan.program) for plan in plans),
        pages_identical=sum(plan.pages_same for plan in plans),
        pages_blank=sum(plan.pages_blank for plan in plans if not plan.chip_erase),
        sectors_erased=sum(len(plan.erase) for plan in plans),
        chip_erase=any(plan.chip_erase for plan in plans),
        decision="; ".join(plan.reason for plan in plans),
        busy_seconds=sum(plan.seconds for plan in plans),
    )


def read_memory(target: Any, address: int, length: int) -> bytes:
    """Memory as the probe sees it, in words where aligned.

    Through the core's access port directly: through the core, pyOCD also filters every word
    for software breakpoints (the station sets none), which costs more interpreter time than
    the transfer itself.
    """
    out = bytearray()
    head = min(length, (-address) % 4)
    if head:
        out += bytes(target.read_memory_block8(address, head))
    port = target.selected_core.ap
    while length - len(out) >= 4:
        words = min(READ_CHUNK, length - len(out)) // 4
        values = port.read_memory_block32(address + len(out), words)
        out += struct.pack(f"<{len(values)}I", *values)
    if len(out) < length:
        out += bytes(target.read_memory_block8(address + len(out), length - len(out)))
    return bytes(out)


@dataclass
class _Sector:
    """A sector the image touches: the image's bytes in it, and which bytes the image sets."""

    address: int
    size: int
    data: bytearray
    mask: bytearray  # 1 where the image sets the byte


class FlashWriter:
    """One write of image segments to one unit's flash, planned, then carried out."""

    def __init__(self, session: Any, timing: FlashTiming, blocker: ChipEraseBlocker) -> None:
        self._session = session
        self._target = session.target
        self._timing = timing
        self._blocker = blocker

    def plan(
        self, segments: Sequence[tuple[int, bytes]], chip_erase: ChipErasePermission
    ) -> list[tuple[Any, FlashPlan]]:
        """(pyOCD's Flash, the plan) for each flash region the images touch, after reading what
        the unit holds there. A chip erase only where the images touch one region (an erase of
        one region's algorithm may take the others too), and only after checking, once it is
        the cheaper way, that nothing it would destroy must be kept."""
        regions = self._sectors(segments)
        if chip_erase.allowed and len(regions) > 1:
            chip_erase = ChipErasePermission.refuse("the images span more than one flash region")
        plans = []
        for flash, sectors in regions:
            permission = chip_erase
            if permission.allowed and not flash.is_erase_all_supported:
                permission = ChipErasePermission.refuse("the flash algorithm has no chip erase")
            readable = flash.region.are_erased_sectors_readable
            sector_plans = [self._sector_plan(sector, flash, readable) for sector in sectors]
            plan = plan_flash(sector_plans, self._timing, permission)
            if plan.chip_erase:
                refusal = self._chip_erase_refusal(permission)
                if refusal is not None:
                    plan = plan_flash(sector_plans, self._timing, ChipErasePermission.refuse(refusal))
            plans.append((flash, plan))
        return plans

    def _chip_erase_refusal(self, permission: ChipErasePermission) -> str | None:
        """Why a chip erase must not happen after all: a kept range holds data, or the family
        keeps something outside the flash array that the erase would take."""
        for kept in permission.keep:
            region = self._target.memory_map.get_region_for_address(kept.address)
            erased = region.erased_byte_value if region is not None and region.is_flash else 0xFF
            content = read_memory(self._target, kept.address, kept.size)
            if content.count(erased) != len(content):
                return f"{kept.name} holds data"
        return self._blocker(self._target)

    def write(
        self,
        segments: Sequence[tuple[int, bytes]],
        chip_erase: ChipErasePermission,
        progress: ProgressCallback,
        after_chip_erase: Callable[[], str] | None = None,
    ) -> FlashReport:
        """Plan, erase, program. ``after_chip_erase`` runs after the pages of a chip-erase plan
        are programmed, before any reset (a family that must restore what the erase took)."""
        progress(0.0)
        planned = self.plan(segments, chip_erase)
        done = _Progress(sum(plan.seconds for _, plan in planned), progress)
        delegate = self._target.debug_sequence_delegate
        for flash, plan in planned:
            LOG.info("flash plan: %s", plan.reason)
            if plan.chip_erase or plan.erase:
                flash.init(flash.Operation.ERASE)
                if plan.chip_erase:
                    flash.erase_all()
                    done.add(self._timing.chip_erase_seconds or 0.0)
                for sector in plan.erase:
                    flash.erase_sector(sector.address)
                    done.add(sector.erase_seconds)
                flash.uninit()
        if delegate is not None and delegate.has_sequence_with_name("FlashEraseDone"):
            delegate.run_sequence("FlashEraseDone")
        for flash, plan in planned:
            if plan.program:
                self._program(flash, plan.program, done, self._double_buffered(flash))
        if delegate is not None and delegate.has_sequence_with_name("FlashProgramDone"):
            delegate.run_sequence("FlashProgramDone")
        for flash, plan in planned:
            if plan.work_to_do:
                flash.cleanup()
        report = report_of([plan for _, plan in planned])
        if report.chip_erase and after_chip_erase is not None:
            # What the family restored is part of the record: the port it keeps open, for one.
            report = replace(report, decision=f"{report.decision}; then {after_chip_erase()}")
        progress(1.0)
        return report

    # ---- planning -------------------------------------------------------------------------

    def _sectors(self, segments: Sequence[tuple[int, bytes]]) -> list[tuple[Any, list[_Sector]]]:
        """The images' bytes by sector, grouped by flash region (its pyOCD ``Flash``)."""
        memory_map = self._target.memory_map
        regions: dict[int, tuple[Any, dict[int, _Sector]]] = {}
        for address, data in segments:
            for offset, length, sector_address, sector_size, region in self._spans(memory_map, address, len(data)):
                by_address = regions.setdefault(id(region.flash), (region.flash, {}))[1]
                sector = by_address.get(sector_address)
                if sector is None:
                    erased = region.erased_byte_value
                    sector = _Sector(sector_address, sector_size, bytearray([erased]) * sector_size,
                                     bytearray(sector_size))  # fmt: skip
                    by_address[sector_address] = sector
                start = address + offset - sector_address
                if any(sector.mask[start : start + length]):
                    raise FlashLayoutError(f"two images overlap at 0x{address + offset:08X}")
                sector.data[start : start + length] = data[offset : offset + length]
                sector.mask[start : start + length] = b"\x01" * length
        if not regions:
            raise FlashLayoutError("nothing to program")
        grouped = [(flash, [by_address[key] for key in sorted(by_address)]) for flash, by_address in regions.values()]
        return sorted(grouped, key=lambda item: item[1][0].address)

    @staticmethod
    def _spans(memory_map: Any, address: int, length: int) -> Iterator[tuple[int, int, int, int, Any]]:
        """(offset in the data, length, sector address, sector size, region) pieces of a segment."""
        offset = 0
        while offset < length:
            here = address + offset
            region = memory_map.get_region_for_address(here)
            if region is None or not region.is_flash or region.flash is None:
                raise FlashLayoutError(f"no flash at 0x{here:08X} on this target")
            info = region.flash.get_sector_info(here)
            if info is None:
                raise FlashLayoutError(f"no flash sector at 0x{here:08X} on this target")
            piece = min(length - offset, info.base_addr + info.size - here)
            yield offset, piece, info.base_addr, info.size, region
            offset += piece

    def _sector_plan(self, sector: _Sector, flash: Any, readable: bool) -> SectorPlan:
        current = read_memory(self._target, sector.address, sector.size) if readable else None
        erased = flash.region.erased_byte_value
        pages = []
        offset = 0
        while offset < sector.size:
            page_size = flash.get_page_info(sector.address + offset).size
            end = offset + page_size
            mask, image = sector.mask[offset:end], sector.data[offset:end]
            now = current[offset:end] if current is not None else None
            # The unit's bytes where the image has none (pyOCD's "keep unwritten"); erased if unread.
            target = bytes(image if now is None else _merge(image, now, mask))
            pages.append(PagePlan(sector.address + offset, target, bytes(image), now, erased))
            offset = end
        return SectorPlan(sector.address, sector.size, self._timing.sector_erase_seconds(sector.size), tuple(pages))

    # ---- doing ----------------------------------------------------------------------------

    def _double_buffered(self, flash: Any) -> bool:
        """As pyOCD's loader decides: pack targets (from a CMSIS pack) program one page at a time."""
        from_pack = any(hasattr(self._target, name) for name in ("_cbuild_device", "_pack_device"))
        return bool(flash.is_double_buffering_supported) and not from_pack

    def _program(self, flash: Any, pages: Sequence[PageWrite], done: _Progress, double: bool) -> None:
        """Whole pages double-buffered where the algorithm can (its buffered call programs a whole
        page); a page that ends early (the rest erased already) with one call of its length."""
        flash.init(flash.Operation.PROGRAM)
        whole: list[PageWrite] = []
        partial: list[PageWrite] = []
        for page in pages:
            is_whole = double and len(page.data) == flash.get_page_info(page.address).size
            (whole if is_whole else partial).append(page)
        if whole:
            self._double_buffered_pages(flash, whole, done)
        for page in partial:
            flash.program_page(page.address, list(page.data))  # a list, as pyOCD's builder gives
            done.add(self._timing.write_seconds(len(page.data)))
        flash.uninit()

    def _double_buffered_pages(self, flash: Any, pages: Sequence[PageWrite], done: _Progress) -> None:
        """As pyOCD's builder does: the next page loads while the algorithm programs this one."""
        timeout = self._session.options.get(PROGRAM_TIMEOUT_OPTION)
        buffer = 0
        flash.load_page_buffer(buffer, pages[0].address, list(pages[0].data))
        for index, page in enumerate(pages):
            flash.start_program_page_with_buffer(buffer, page.address)
            if index + 1 < len(pages):
                following = pages[index + 1]
                flash.load_page_buffer(1 - buffer, following.address, list(following.data))
            result = flash.wait_for_completion(timeout=timeout)
            if result != 0:
                from pyocd.core.exceptions import FlashProgramFailure

                failure = "timeout" if result == flash.TIMEOUT_ERROR else "failure"
                raise FlashProgramFailure(f"flash program page {failure}", address=page.address, result_code=result)
            done.add(self._timing.write_seconds(len(page.data)))
            buffer = 1 - buffer


class _Progress:
    """Progress as a share of the plan's busy time, so the bar moves as the controller works."""

    def __init__(self, total_seconds: float, report: ProgressCallback) -> None:
        self._total = total_seconds
        self._done = 0.0
        self._report = report

    def add(self, seconds: float) -> None:
        self._done += seconds
        if self._total > 0:
            self._report(min(0.999, self._done / self._total))


def _merge(image: bytearray, current: bytes, mask: bytearray) -> bytearray:
    """The image's bytes where ``mask`` is set, ``current``'s elsewhere."""
    if all(mask):
        return image
    merged = bytearray(current)
    for index, chosen in enumerate(mask):
        if chosen:
            merged[index] = image[index]
    return merged
