"""Which slot a scanned unit goes to, without Qt."""

from __future__ import annotations

import pytest

from station.config.settings import SlotSettings
from station.domain.errors import NoFreeSlotError, SlotBusyError, UnitAlreadyRunningError
from station.operations.slots import FIXTURE_CHOICE_SECONDS, SlotChooser, SlotStatus

SLOTS = (SlotSettings("1", "p1", "c1", "FIX-ONE"), SlotSettings("2", "p2", "c2"), SlotSettings("3", "p3", "c3"))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def statuses(busy: set[str] = frozenset(), serials: dict[str, str] | None = None) -> list[SlotStatus]:  # type: ignore[assignment]
    serials = serials or {}
    return [SlotStatus(slot.name, slot.name in busy, serials.get(slot.name, "")) for slot in SLOTS]


def test_new_units_go_to_the_next_free_slot_in_turn() -> None:
    chooser = SlotChooser(SLOTS)
    assert chooser.choose("A", statuses()) == "1"
    assert chooser.choose("B", statuses(busy={"1"})) == "2"
    assert chooser.choose("C", statuses(busy={"2"})) == "3"
    assert chooser.choose("D", statuses(busy={"3"})) == "1"  # round the line again
    assert chooser.choose("E", statuses(busy={"1", "2"})) == "3"


def test_a_rescanned_unit_goes_back_to_the_slot_that_ran_it() -> None:
    chooser = SlotChooser(SLOTS)
    assert chooser.choose("A", statuses(serials={"3": "A"})) == "3"


def test_refusals_say_why() -> None:
    chooser = SlotChooser(SLOTS)
    with pytest.raises(UnitAlreadyRunningError) as running:
        chooser.choose("A", statuses(busy={"2"}, serials={"2": "A"}))
    assert running.value.slot == "2"
    with pytest.raises(NoFreeSlotError):
        chooser.choose("B", statuses(busy={"1", "2", "3"}))


def test_a_fixture_label_sends_the_next_unit_to_its_slot_for_a_while() -> None:
    clock = Clock()
    chooser = SlotChooser(SLOTS, clock=clock)
    assert chooser.fixture_for("fix-one") == "1" and chooser.fixture_for(" SLOT:3 ") == "3"
    assert chooser.fixture_for("slot-2") == "2" and chooser.fixture_for("TST-000001") is None
    chooser.choose_fixture("3")
    assert chooser.choose("A", statuses()) == "3"
    chooser.choose_fixture("2")
    with pytest.raises(SlotBusyError) as busy:
        chooser.choose("B", statuses(busy={"2"}))
    assert busy.value.slot == "2"
    assert chooser.choose("B", statuses(busy={"2"})) == "1"  # the choice was used up by the refusal
    chooser.choose_fixture("3")
    clock.now += FIXTURE_CHOICE_SECONDS + 1
    assert chooser.choose("C", statuses()) == "2"  # too late: the turn decides
