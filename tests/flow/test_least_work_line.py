"""The flash step on a line of simulated nRF52840 units: a blank unit programmed without an erase,
a unit holding an older firmware chip-erased (or page-erased where the recipe forbids a chip
erase), a unit that already holds the image left alone; every one passes, and the flash step's
record says what was done and why."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from station.sim.units import SimUnit

from .conftest import Line, build_line


def flash_detail(line: Line, serial: str, unit: SimUnit) -> str:
    outcome = line.provision(serial, unit)
    assert outcome.passed and outcome.attempt_id is not None, outcome.summary
    attempt = line.station.database.attempts.get_attempt(outcome.attempt_id)
    assert attempt is not None
    return next(step.detail for step in attempt.steps if step.name == "flash")


def holding(unit: SimUnit, segments: list[tuple[int, bytes]]) -> None:
    """What the unit holds before the station starts."""
    with unit.locked():
        for address, data in segments:
            unit.program_nvm(address, data)


def images(line: Line) -> list[tuple[int, bytes]]:
    return [(segment.address, segment.data) for image in line.recipe.images for segment in image.segments]


def older(segments: list[tuple[int, bytes]]) -> list[tuple[int, bytes]]:
    """An older firmware at the same addresses: other bytes in every page."""
    return [(address, bytes(byte ^ 0xA5 for byte in data)) for address, data in segments]


def test_a_blank_unit_is_flashed_without_an_erase(line: Line) -> None:
    detail = flash_detail(line, "TST-000301", line.new_unit())
    assert "0 sectors erased" in detail and "blank, no erase" in detail, detail


def test_a_unit_holding_older_firmware_is_chip_erased_and_passes(line: Line) -> None:
    unit = line.new_unit()
    holding(unit, older(images(line)))
    detail = flash_detail(line, "TST-000302", unit)
    assert "chip erase:" in detail and "sectors held other data" in detail, detail


def test_a_unit_that_already_holds_the_image_is_not_programmed_again(line: Line) -> None:
    unit = line.new_unit()
    holding(unit, images(line))
    detail = flash_detail(line, "TST-000303", unit)
    assert "nothing to program: the unit holds the image" in detail, detail


@pytest.fixture
def no_chip_erase_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Line]:
    replacements = {"page_size = 0x1000       # 4 KiB erase unit\n":
                    "page_size = 0x1000       # 4 KiB erase unit\nchip_erase = false\n"}  # fmt: skip
    yield from build_line(tmp_path, monkeypatch, replacements=replacements)


def test_a_recipe_that_forbids_the_chip_erase_gets_page_erases(no_chip_erase_line: Line) -> None:
    line = no_chip_erase_line
    unit = line.new_unit()
    holding(unit, older(images(line)))
    detail = flash_detail(line, "TST-000304", unit)
    assert "no chip erase: the recipe forbids it ([flash] chip_erase = false)" in detail, detail
