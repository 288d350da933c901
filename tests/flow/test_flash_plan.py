"""The flash planner's choices, on sectors described by hand: what is erased, what is programmed,
and which erase it chose and why."""

from __future__ import annotations

import pytest

from station.flow.flash_plan import (
    ChipErasePermission,
    FlashTiming,
    PagePlan,
    PageState,
    SectorPlan,
    plan_flash,
)

PAGE = 0x1000
# nRF52840-like: a 4 KiB page is a sector; 85 ms an erase, 41 us a word, 200 ms the chip.
TIMING = FlashTiming(write_seconds_per_byte=41e-6 / 4, sector_erase=((PAGE, 0.085),), chip_erase_seconds=0.200)
BLANK = b"\xff" * PAGE


def page(address: int, image: bytes, current: bytes | None) -> PagePlan:
    target = image if current is None else bytes(image)
    return PagePlan(address, target, image, current, 0xFF)


def sector(address: int, image: bytes, current: bytes | None) -> SectorPlan:
    return SectorPlan(address, PAGE, 0.085, (page(address, image, current),))


def image_page(index: int) -> bytes:
    return bytes([index]) * PAGE


def test_blank_pages_are_programmed_without_an_erase() -> None:
    plan = plan_flash([sector(i * PAGE, image_page(i), BLANK) for i in range(4)], TIMING, ChipErasePermission.allow())
    assert not plan.chip_erase and plan.erase == () and len(plan.program) == 4
    assert plan.pages_blank == 4
    assert plan.seconds == pytest.approx(4 * PAGE / 4 * 41e-6)
    assert plan.reason.startswith("0 sectors erased, 4 pages programmed (4 blank, no erase)")


def test_a_page_holding_other_data_is_erased_then_programmed() -> None:
    old = bytes([0xAA]) * PAGE
    plan = plan_flash([sector(0, image_page(1), old), sector(PAGE, image_page(2), BLANK)], TIMING,
                      ChipErasePermission.refuse("the recipe forbids it"))  # fmt: skip
    assert [item.address for item in plan.erase] == [0]
    assert [write.address for write in plan.program] == [0, PAGE]
    assert "no chip erase: the recipe forbids it" in plan.reason


def test_one_zero_word_makes_a_page_other_than_blank() -> None:
    almost = bytearray(BLANK)
    almost[0x7F0:0x7F4] = b"\x00\x00\x00\x00"
    assert page(0, image_page(1), bytes(almost)).state is PageState.OTHER
    plan = plan_flash([sector(0, image_page(1), bytes(almost))], TIMING, ChipErasePermission.allow())
    assert [item.address for item in plan.erase] == [0]


def test_identical_pages_cost_nothing() -> None:
    plan = plan_flash([sector(0, image_page(1), image_page(1))], TIMING, ChipErasePermission.allow())
    assert not plan.work_to_do and plan.seconds == 0 and plan.pages_same == 1
    assert plan.reason.startswith("nothing to program")


def test_a_chip_erase_where_it_is_cheaper() -> None:
    old = bytes([0xAA]) * PAGE
    sectors = [sector(i * PAGE, image_page(i), old) for i in range(3)]
    plan = plan_flash(sectors, TIMING, ChipErasePermission.allow())
    assert plan.chip_erase and plan.erase == ()
    assert plan.seconds == pytest.approx(0.200 + 3 * PAGE / 4 * 41e-6)
    assert plan.sector_seconds == pytest.approx(3 * 0.085 + 3 * PAGE / 4 * 41e-6)
    assert plan.reason.startswith("chip erase: 3 of 3 sectors held other data")
    two = plan_flash(sectors[:2], TIMING, ChipErasePermission.allow())  # 170 ms of page erases < 200 ms
    assert not two.chip_erase and len(two.erase) == 2 and "cheaper than a chip erase" in two.reason


def test_no_chip_erase_where_it_is_refused_or_the_target_has_none() -> None:
    old = bytes([0xAA]) * PAGE
    sectors = [sector(i * PAGE, image_page(i), old) for i in range(8)]
    refused = plan_flash(sectors, TIMING, ChipErasePermission.refuse("key store holds data"))
    assert not refused.chip_erase and len(refused.erase) == 8 and refused.chip_seconds is None
    assert "no chip erase: key store holds data" in refused.reason
    none = FlashTiming(write_seconds_per_byte=1e-5, sector_erase=((PAGE, 0.085),), chip_erase_seconds=None)
    assert "offers no chip erase" in plan_flash(sectors, none, ChipErasePermission.allow()).reason


def test_after_a_chip_erase_pages_hold_only_the_image() -> None:
    """Where the image leaves part of a page, a sector erase keeps the unit's bytes there (as pyOCD
    does); a chip erase leaves them erased, which is why it needs the caller's permission."""
    old = bytes([0xAA]) * PAGE
    half = image_page(7)[: PAGE // 2] + old[PAGE // 2 :]  # the image's half page, the unit's other half
    partial = PagePlan(0, half, image_page(7)[: PAGE // 2] + BLANK[PAGE // 2 :], old, 0xFF)
    others = [sector(i * PAGE, image_page(i), old) for i in range(1, 4)]
    plan = plan_flash([SectorPlan(0, PAGE, 0.085, (partial,)), *others], TIMING, ChipErasePermission.allow())
    assert plan.chip_erase
    assert plan.program[0].data == image_page(7)[: PAGE // 2]  # the erased rest is not written
    by_sector = plan_flash([SectorPlan(0, PAGE, 0.085, (partial,))], TIMING, ChipErasePermission.allow())
    assert by_sector.program[0].data == half


def test_sector_erase_times_for_sizes_the_datasheet_lists_and_others() -> None:
    stm32 = FlashTiming(write_seconds_per_byte=4e-6, sector_erase=((0x4000, 0.4), (0x1_0000, 1.2), (0x2_0000, 2.0)),
                        chip_erase_seconds=16.0)  # fmt: skip
    assert stm32.sector_erase_seconds(0x1_0000) == 1.2
    assert stm32.sector_erase_seconds(0x8000) == pytest.approx(0.8)  # nearest listed (16 KiB), scaled


def test_a_page_is_written_up_to_its_last_write_unit_that_is_not_erased() -> None:
    """An app header of a few bytes in its own page, the end of an image: the rest of the page is
    erased already, and writing the erased value there would change nothing for a write's time."""
    header = b"HDR1" + b"\x00\x01\x02" + b"\xff" * (PAGE - 7)
    plan = plan_flash([sector(0, header, BLANK)], TIMING, ChipErasePermission.allow())
    assert [write.data for write in plan.program] == [b"HDR1\x00\x01\x02\xff"]  # two words
    assert plan.seconds == pytest.approx(2 * 41e-6)
    phrases = FlashTiming(write_seconds_per_byte=1e-5, sector_erase=((PAGE, 0.015),), chip_erase_seconds=None,
                          write_unit=8)  # fmt: skip
    assert [len(write.data) for write in plan_flash([sector(0, header, BLANK)], phrases,
                                                    ChipErasePermission.allow()).program] == [8]  # fmt: skip
