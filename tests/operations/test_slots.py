"""Which slot a scanned unit goes to, without Qt."""

from __future__ import annotations

import pytest

from station.config.settings import SlotSettings
from station.domain.errors import NoFreeSlotError, SlotBusyError, UnitAlreadyRunningError, WrongSlotError
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


def test_new_units_go_to_the_first_free_slot_in_slot_order() -> None:
    """One rule a person can follow (a round-robin turn once sent a unit to slot 3 while slots 1
    and 2 stood free): units finishing out of order free their slots for the next units."""
    chooser = SlotChooser(SLOTS)
    assert chooser.choose("A", statuses()) == "1"
    assert chooser.choose("B", statuses(busy={"1"})) == "2"
    assert chooser.choose("C", statuses(busy={"1", "2"})) == "3"
    assert chooser.choose("D", statuses(busy={"1", "3"})) == "2"  # slot 2 finished first
    assert chooser.choose("E", statuses(busy={"2"})) == "1"  # not slot 3, the next in a turn
    assert chooser.choose("F", statuses(busy={"2", "3"})) == "1"


def test_next_slot_is_where_the_next_new_unit_goes_whatever_is_busy_or_chosen() -> None:
    """What the window marks is what ``choose`` does: every busy set of three slots, with and
    without a fixture label's choice."""
    names = [slot.name for slot in SLOTS]
    busy_sets = [{name for index, name in enumerate(names) if mask >> index & 1} for mask in range(2 ** len(names))]
    for busy in busy_sets:
        for chosen in (None, *names):
            chooser = SlotChooser(SLOTS, clock=Clock())
            if chosen is not None:
                chooser.choose_fixture(chosen)
            marked = chooser.next_slot(statuses(busy=busy))
            free = [name for name in names if name not in busy]
            assert marked == (chosen if chosen is not None else (free[0] if free else None)), (busy, chosen)
            if marked is None:
                with pytest.raises(NoFreeSlotError):
                    chooser.choose("NEW", statuses(busy=busy))
            elif marked in busy:
                with pytest.raises(SlotBusyError):
                    chooser.choose("NEW", statuses(busy=busy))
            else:
                assert chooser.choose("NEW", statuses(busy=busy)) == marked, (busy, chosen)


def test_a_fixture_choice_is_marked_until_it_is_used_or_too_old() -> None:
    clock = Clock()
    chooser = SlotChooser(SLOTS, clock=clock)
    chooser.choose_fixture("3")
    assert chooser.chosen_fixture == "3" and chooser.next_slot(statuses()) == "3"
    assert chooser.choose("A", statuses()) == "3"
    assert chooser.chosen_fixture is None and chooser.next_slot(statuses(busy={"3"})) == "1"
    chooser.choose_fixture("2")
    clock.now += FIXTURE_CHOICE_SECONDS - 1
    assert chooser.next_slot(statuses()) == "2"
    clock.now += 2
    assert chooser.next_slot(statuses()) == "1"  # the choice ran out: the first free slot again
    chooser.choose_fixture("2")
    chooser.forget_fixture()  # the operator logged out
    assert chooser.next_slot(statuses()) == "1"


def test_a_rescanned_unit_goes_back_to_the_slot_that_ran_it() -> None:
    """It is still in that fixture: a rescan after a FAIL runs where the unit sits, not at the mark."""
    chooser = SlotChooser(SLOTS)
    assert chooser.next_slot(statuses(serials={"3": "A"})) == "1"
    assert chooser.choose("A", statuses(serials={"3": "A"})) == "3"
    chooser.choose_fixture("2")  # a fixture label scanned first wins
    assert chooser.choose("A", statuses(serials={"3": "A"})) == "2"


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
    assert chooser.choose("C", statuses()) == "1"  # too late: the first free slot


def test_on_a_line_of_mixed_products_a_unit_goes_to_the_first_free_slot_of_its_product() -> None:
    """Slots 1 and 3 make one product, slot 2 another: ``takes`` says which slots read the label."""
    chooser = SlotChooser(SLOTS)

    def kettle(name: str) -> bool:
        return name == "2"

    def toaster(name: str) -> bool:
        return name != "2"

    assert chooser.choose("K1", statuses(), kettle) == "2"
    assert chooser.choose("T1", statuses(), toaster) == "1"
    assert chooser.choose("T2", statuses(busy={"1"}), toaster) == "3"  # slot 2 is free, but not its product
    assert chooser.next_slot(statuses(busy={"1"}), toaster) == "3"
    with pytest.raises(NoFreeSlotError, match="every slot is working"):
        chooser.choose("K2", statuses(busy={"2"}), kettle)
    chooser.choose_fixture("1")  # the operator scanned slot 1's label, then a kettle
    with pytest.raises(WrongSlotError, match="slot 1 makes another product: unit K3 does not go there"):
        chooser.choose("K3", statuses(), kettle)
    assert chooser.chosen_fixture is None  # the choice is used up by the refusal


def test_on_a_line_of_mixed_products_each_product_has_its_own_next_slot() -> None:
    """The operator view marks one free slot per product; a fixture label's choice alone."""
    chooser = SlotChooser(SLOTS)

    def kettle(name: str) -> bool:
        return name == "2"

    def toaster(name: str) -> bool:
        return name != "2"

    assert chooser.next_slots(statuses(), [toaster, kettle]) == ["1", "2"]
    assert chooser.next_slots(statuses(busy={"1"}), [toaster, kettle]) == ["2", "3"]
    assert chooser.next_slots(statuses(busy={"2"}), [toaster, kettle]) == ["1"]  # no kettle slot is free
    assert chooser.next_slots(statuses(busy={"1", "2", "3"}), [toaster, kettle]) == []
    chooser.choose_fixture("3")
    assert chooser.next_slots(statuses(), [toaster, kettle]) == ["3"]
