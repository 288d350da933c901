"""The least flash work that reaches an image from a unit's state, by the simulated chip's figures.

This is the benchmark's second floor, computed here from the chip model's datasheet constants
and what the unit held before the station started, independently of the station's own planner
(:mod:`station.flow.flash_plan`), so that a planner that chose badly would show:

- a page range of the image the unit already holds costs nothing;
- image bytes over erased flash cost only their word (or phrase) writes;
- anything else costs its sector's erase, at the fastest the chip can erase, plus the writes;
- or one chip erase and every write, where that costs less.

Every word of the image is counted as a write whatever its value, as the issue's figure does
("21 k words x 41 us"). Work outside the images (the credential, the lock) is the simulator's
measured busy time after the flash step: the station chooses nothing there but the region.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from station.flow.observer import QuietObserver


@dataclass(frozen=True)
class ChipFigures:
    sector_of: Callable[[int], tuple[int, int]]  # address -> (sector base, sector size)
    sector_erase_seconds: Callable[[int], float]  # a sector's size -> its fastest erase
    write_unit: int  # bytes per word or phrase write
    write_seconds: float  # one word or phrase write
    chip_erase_seconds: float
    erased: int = 0xFF


def figures_for(family: str) -> ChipFigures:
    """The simulated chip's figures (its datasheet constants, as the model charges them)."""
    if family == "nrf52840":
        from station.sim import board

        return ChipFigures(
            sector_of=lambda address: (address - address % board.PAGE_SIZE, board.PAGE_SIZE),
            sector_erase_seconds=lambda _size: board.PAGE_ERASE_SECONDS,
            write_unit=4,
            write_seconds=board.WORD_WRITE_SECONDS,
            chip_erase_seconds=board.CHIP_ERASE_SECONDS,
        )
    if family == "stm32f429xi":
        from station.sim.chips import stm32f429 as chip

        def stm32_sector(address: int) -> tuple[int, int]:
            found = chip.sector_of(address)
            if found is None:
                raise ValueError(f"0x{address:08X} is not in the STM32's flash")
            return found[1], found[2]  # (number, base, size)

        x32 = 2  # the chip's fastest parallelism at 2.7-3.6 V
        return ChipFigures(
            sector_of=stm32_sector,
            sector_erase_seconds=lambda size: chip.SECTOR_ERASE_SECONDS[size][x32],
            write_unit=4,
            write_seconds=chip.WORD_PROGRAM_SECONDS,
            chip_erase_seconds=chip.MASS_ERASE_SECONDS[x32],
        )
    if family == "k64f":
        from station.sim.chips import k64f

        return ChipFigures(
            sector_of=lambda address: (address - address % k64f.SECTOR_SIZE, k64f.SECTOR_SIZE),
            sector_erase_seconds=lambda _size: k64f.ERASE_SECTOR_SECONDS,
            write_unit=k64f.PHRASE_SIZE,
            write_seconds=k64f.PROGRAM_PHRASE_SECONDS,
            chip_erase_seconds=k64f.ERASE_ALL_SECONDS,
        )
    raise ValueError(f"no figures for {family}")


def least_image_work(
    figures: ChipFigures, segments: Sequence[tuple[int, bytes]], read: Callable[[int, int], bytes]
) -> float:
    """Seconds of flash work that turn what ``read`` shows into the images."""
    by_sector: dict[tuple[int, int], list[tuple[int, bytes]]] = {}
    for address, data in segments:
        offset = 0
        while offset < len(data):
            base, size = figures.sector_of(address + offset)
            piece = min(len(data) - offset, base + size - address - offset)
            if piece <= 0:
                raise ValueError(f"sector_of(0x{address + offset:08X}) = (0x{base:08X}, 0x{size:X}) does not hold it")
            by_sector.setdefault((base, size), []).append((address + offset, data[offset : offset + piece]))
            offset += piece
    by_sector_seconds = 0.0
    all_writes = 0.0
    for (_base, size), pieces in by_sector.items():
        writes = sum(-(-len(data) // figures.write_unit) for _, data in pieces) * figures.write_seconds
        all_writes += writes
        held = [read(address, len(data)) for address, data in pieces]
        if all(now == data for now, (_, data) in zip(held, pieces, strict=True)):
            continue
        blank = all(now.count(figures.erased) == len(now) for now in held)
        by_sector_seconds += writes if blank else figures.sector_erase_seconds(size) + writes
    return min(by_sector_seconds, figures.chip_erase_seconds + all_writes)


class FlashStepBusy(QuietObserver):
    """A provisioning observer noting the unit's busy counter as the flash step starts and ends."""

    def __init__(self, unit: Any) -> None:
        self.unit = unit
        self.started = self.finished = 0.0

    def step_started(self, step: str) -> None:
        if step == "flash":
            self.started = self.unit.nvm_busy_seconds

    def step_finished(self, step: str, outcome: Any, detail: str) -> None:
        if step == "flash":
            self.finished = self.unit.nvm_busy_seconds

    @property
    def seconds(self) -> float:
        return self.finished - self.started
