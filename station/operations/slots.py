"""Which slot a scanned unit goes to, and how a slot's settings become the flow's ``Slot``.

A scan of a fixture's label (its ``fixture_code``, or ``slot:NAME``) sends the next unit scan
to that slot, if it comes within ``FIXTURE_CHOICE_SECONDS``. Otherwise a unit scanned again
goes back to the slot that ran it (it is still in that fixture), and a new unit to the next
free slot in turn, as fixtures are loaded one after another. A unit already running, a busy
chosen slot, or no free slot at all is refused with an error of the domain's tree.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from station.config.settings import SlotSettings
from station.domain.errors import NoFreeSlotError, SlotBusyError, UnitAlreadyRunningError
from station.domain.recipe import Recipe
from station.flow.run import Slot

FIXTURE_CHOICE_SECONDS = 30.0


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
        self._last_assigned: str | None = None

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

    def choose(self, serial: str, statuses: Sequence[SlotStatus]) -> str:
        """The slot for this unit now; SlotError saying why there is none."""
        for status in statuses:
            if status.busy and status.serial == serial:
                raise UnitAlreadyRunningError(f"unit {serial} is already running in slot {status.name}",
                                              slot=status.name)  # fmt: skip
        chosen = self._take_fixture_choice()
        by_name = {status.name: status for status in statuses}
        if chosen is not None and chosen in by_name:
            if by_name[chosen].busy:
                raise SlotBusyError(f"slot {chosen} is still working", slot=chosen)
            self._last_assigned = chosen
            return chosen
        names = [status.name for status in statuses]
        start = names.index(self._last_assigned) + 1 if self._last_assigned in names else 0
        in_turn = names[start:] + names[:start]
        free = [name for name in in_turn if not by_name[name].busy]
        if not free:
            raise NoFreeSlotError("every slot is working")
        # The slot that last ran this serial (a rescan of the unit still in it), else the next free one.
        chosen = next((name for name in free if by_name[name].serial == serial), free[0])
        self._last_assigned = chosen
        return chosen

    def _take_fixture_choice(self) -> str | None:
        choice, self._fixture_choice = self._fixture_choice, None
        if choice is None or self._clock() - choice[1] > FIXTURE_CHOICE_SECONDS:
            return None
        return choice[0]
