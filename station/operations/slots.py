"""Which slot a scanned unit goes to, and how a slot's settings become the flow's ``Slot``.

A scan of a fixture's label (its ``fixture_code``, or ``slot:NAME``) sends the next unit scan
to that slot, if it comes within ``FIXTURE_CHOICE_SECONDS``. Otherwise a unit scanned again
goes back to the free slot that ran it (it is still in that fixture), and a new unit to the
first free slot in slot order: one rule a person can follow, and ``next_slot`` says which slot
that is, so that the window can mark it before the scan (a round-robin turn once sent a unit
to slot 3 while slots 1 and 2 stood free, binding its serial to the wrong fixture). A unit
already running, a busy chosen slot, or no free slot at all is refused with an error of the
domain's tree.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from station.config.settings import SlotSettings
from station.domain.errors import NoFreeSlotError, SlotBusyError, UnitAlreadyRunningError, WrongSlotError
from station.domain.recipe import Recipe
from station.flow.run import Slot

FIXTURE_CHOICE_SECONDS = 30.0
SlotFilter = Callable[[str], bool]  # by slot name: whether the slot's recipe takes this unit


def every_slot(_name: str) -> bool:
    """The filter of a line whose slots all run one recipe."""
    return True


class SlotProvider(Protocol):
    """Turns a slot's settings into the flow's Slot, on the slot's worker thread.

    ``kind`` is "provision", "rework" or "recovery"; a line builds the slot from its probe and
    console port, the demo from the simulated unit in that slot.
    """

    def slot_for(self, settings: SlotSettings, serial: str, recipe: Recipe, *, kind: str) -> Slot: ...


@dataclass(frozen=True)
class SlotStatus:
    """What the choice needs to know of a slot now: busy or not, and its unit's serial."""

    name: str
    busy: bool
    serial: str = ""


class SlotChooser:
    def __init__(self, slots: Sequence[SlotSettings], *, clock: Callable[[], float] = time.monotonic) -> None:
        self.slots = tuple(slots)
        self._clock = clock
        self._fixture_choice: tuple[str, float] | None = None

    def fixture_for(self, text: str) -> str | None:
        """The slot whose fixture label (or ``slot:NAME``) this scan is, if it is one."""
        folded = text.strip().casefold()
        for slot in self.slots:
            if slot.fixture_code and slot.fixture_code.casefold() == folded:
                return slot.name
            if folded in (f"slot:{slot.name}".casefold(), f"slot-{slot.name}".casefold()):
                return slot.name
        return None

    def choose_fixture(self, name: str) -> None:
        """The next unit scan goes to ``name`` (within FIXTURE_CHOICE_SECONDS)."""
        self._fixture_choice = (name, self._clock())

    def forget_fixture(self) -> None:
        self._fixture_choice = None

    @property
    def chosen_fixture(self) -> str | None:
        """The slot a fixture label chose for the next unit, while that choice holds."""
        if self._fixture_choice is None:
            return None
        name, at = self._fixture_choice
        if self._clock() - at > FIXTURE_CHOICE_SECONDS:
            self._fixture_choice = None
            return None
        return name

    def next_slot(self, statuses: Sequence[SlotStatus], takes: SlotFilter = every_slot) -> str | None:
        """Where the next new unit's scan goes: the chosen fixture's slot (busy or not: the scan
        is then refused), else the first free slot in slot order whose recipe takes the unit
        (``takes``: on a line of mixed products, the slots whose recipe's labels the scan is);
        None when every such slot works."""
        names = [status.name for status in statuses]
        chosen = self.chosen_fixture
        if chosen is not None and chosen in names:
            return chosen
        return next((status.name for status in statuses if not status.busy and takes(status.name)), None)

    def next_slots(self, statuses: Sequence[SlotStatus], products: Sequence[SlotFilter]) -> list[str]:
        """Where the next unit of each product goes (``products``: one filter per product, the
        slots that make it): on a line of mixed products each product has its own next slot,
        since a scan goes where its label's product is made. A chosen fixture's slot alone
        while that choice holds: the next scan goes there, whatever it is."""
        names = [status.name for status in statuses]
        chosen = self.chosen_fixture
        if chosen is not None and chosen in names:
            return [chosen]
        found = {self.next_slot(statuses, takes) for takes in products}
        return [name for name in names if name in found]

    def choose(self, serial: str, statuses: Sequence[SlotStatus], takes: SlotFilter = every_slot) -> str:
        """The slot for this unit now; SlotError saying why there is none.

        A chosen fixture's slot first (the choice is used up, taken or refused; a slot whose
        recipe does not take the unit refuses it); else the free slot that last ran this serial
        (a rescan of the unit still in it); else ``next_slot``.
        """
        for status in statuses:
            if status.busy and status.serial == serial:
                raise UnitAlreadyRunningError(f"unit {serial} is already running in slot {status.name}",
                                              slot=status.name)  # fmt: skip
        by_name = {status.name: status for status in statuses}
        chosen, self._fixture_choice = self.chosen_fixture, None
        if chosen is not None and chosen in by_name:
            if by_name[chosen].busy:
                raise SlotBusyError(f"slot {chosen} is still working", slot=chosen)
            if not takes(chosen):
                raise WrongSlotError(f"slot {chosen} makes another product: unit {serial} does not go there",
                                     slot=chosen)  # fmt: skip
            return chosen
        again = next((status.name for status in statuses
                      if not status.busy and status.serial == serial and takes(status.name)), None)  # fmt: skip
        first_free = self.next_slot(statuses, takes)
        if first_free is None:
            if any(takes(status.name) for status in statuses):
                raise NoFreeSlotError("every slot is working")
            raise NoFreeSlotError(f"no slot makes unit {serial}'s product")
        return again or first_free
