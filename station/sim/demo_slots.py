"""Demo and training: simulated units in the slots, demo serials, and faults to train on.

Each slot holds one simulated unit, as a fixture holds a board. A scan of a serial that slot
has not seen means a new board was put in: a fresh blank unit replaces the old one. A scan of
the same serial again (after a failure) keeps the unit, so that a rescan resumes it as it
would on a line. Faults are chosen per slot from the fault menu and apply to the slot's unit
from its next scan on: dropped flash writes, a flash algorithm that never halts (the flash
step's deadline ends it) and a silent console until cleared; "arrives locked" to the next new
unit put in (as a returned board arrives locked).
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from station.config.settings import SlotSettings
from station.domain.errors import NoProbeError
from station.domain.recipe import Recipe
from station.drivers.slots import hardware_slot
from station.flow.run import Slot
from station.sim.chips import DEFAULT_TARGET, chip_for
from station.sim.demo import DEMO_SERIAL_PREFIXES, DemoEnvironment, next_demo_serials
from station.sim.host import SimulatorHost
from station.sim.units import Faults, SimUnit, lock_unit_as_delivered

LOG = logging.getLogger(__name__)
# Drop writes in the application region (this far into it, this long: inside the demo's 64 KiB
# application image): verify finds it, nothing irreversible happened.
DROP_WRITES_OFFSET = 0xF000
DROP_WRITES_LENGTH = 0x1000


def drop_writes_range(target: str) -> tuple[int, int]:
    """Where a unit of ``target`` loses its flash writes under the "drop writes" fault."""
    start = chip_for(target).product.application.base + DROP_WRITES_OFFSET
    return start, start + DROP_WRITES_LENGTH
CONSOLE_WAIT_SECONDS = 5.0


class DemoFault(enum.StrEnum):
    DROP_WRITES = "drop-writes"
    SILENT_CONSOLE = "silent-console"
    ARRIVES_LOCKED = "arrives-locked"
    FLASH_HANGS = "flash-hangs"


@dataclass
class _DemoSlot:
    name: str
    unit: SimUnit | None = None
    serial: str | None = None
    faults: set[DemoFault] = field(default_factory=set)


class DemoUnits:
    """The simulated units behind the demo's slots, and the simulator host serving them."""

    def __init__(
        self,
        environment: DemoEnvironment,
        slot_names: list[str],
        *,
        timing_factor: float = 0.0,
        targets: dict[str, str] | None = None,
    ) -> None:
        """``targets``: the chip family of each slot's units (a mixed line), nRF52840 where not said."""
        self.environment = environment
        self.timing_factor = timing_factor
        self._slots = {name: _DemoSlot(name) for name in slot_names}
        self._targets = {name: (targets or {}).get(name, DEFAULT_TARGET) for name in slot_names}
        self._lock = threading.Lock()
        self._handed_out: set[str] = set()
        self._next_number: dict[str, int] = {}  # by serial prefix
        self._turn = 0  # whose product the next simulated scan labels, on a line of mixed families
        self._server: SimulatorHost | None = None

    def target(self, slot_name: str) -> str:
        return self._targets[slot_name]

    def start(self) -> None:
        """Start the simulator host: units' probe sessions and consoles in their own processes,
        so that the simulation never competes with this window for the interpreter."""
        self._server = self.environment.simulator_host()
        self._server.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        with self._lock:
            for slot in self._slots.values():
                if slot.unit is not None:
                    slot.unit.close()
                    slot.unit = None

    # ---- serials ------------------------------------------------------------------------------

    def next_serial(self, is_used: Callable[[str], bool], slot_name: str | None = None) -> str:
        """A valid demo serial no unit has yet (and not handed out by this session), of the demo
        product the slot makes; with no slot named, of each family's product in turn (on a line
        of mixed families the label then decides the slot, as on a real line).

        The search goes on from the last one handed out: from the first number, every scan
        of a long training session would ask the store about every serial used before.
        """
        with self._lock:
            if slot_name is not None:
                target = self._targets[slot_name]
            else:
                families = list(dict.fromkeys(self._targets.values())) or [DEFAULT_TARGET]
                target = families[self._turn % len(families)]
                self._turn += 1
        prefix = DEMO_SERIAL_PREFIXES[target]
        with self._lock:
            serial = next_demo_serials(
                lambda candidate: candidate in self._handed_out or is_used(candidate), 1,
                start=self._next_number.get(prefix, 1), prefix=prefix,
            )[0]  # fmt: skip
            self._handed_out.add(serial)
            self._next_number[prefix] = int(serial.removeprefix(prefix)) + 1
            return serial

    def last_serial(self, slot_name: str) -> str | None:
        return self._slots[slot_name].serial

    # ---- faults -------------------------------------------------------------------------------

    def faults(self, slot_name: str) -> set[DemoFault]:
        with self._lock:
            return set(self._slots[slot_name].faults)

    def set_fault(self, slot_name: str, fault: DemoFault, on: bool) -> None:
        with self._lock:
            faults = self._slots[slot_name].faults
            if on:
                faults.add(fault)
            else:
                faults.discard(fault)

    def clear_faults(self, slot_name: str) -> None:
        with self._lock:
            self._slots[slot_name].faults.clear()

    # ---- units --------------------------------------------------------------------------------

    def unit(self, slot_name: str) -> SimUnit | None:
        return self._slots[slot_name].unit

    def place_unit(self, slot_name: str, serial: str) -> tuple[str, str]:
        """Make the slot hold the unit for ``serial``; (probe id, console port) to provision it.

        Runs on the slot's worker thread: creating a unit and waiting for its console take a
        moment.
        """
        with self._lock:
            slot = self._slots[slot_name]
            if slot.unit is None or slot.serial != serial:
                if slot.unit is not None:
                    slot.unit.close()
                slot.unit = self.environment.units.create_unit(
                    timing_factor=self.timing_factor, target=self._targets[slot_name]
                )
                slot.serial = serial
                if DemoFault.ARRIVES_LOCKED in slot.faults:
                    lock_unit_as_delivered(slot.unit)
            unit = slot.unit
            wanted = set(slot.faults)
        with unit.locked():
            faults: Faults = unit.info.faults
            faults.drop_writes = drop_writes_range(unit.info.target) if DemoFault.DROP_WRITES in wanted else None
            faults.console = "silent" if DemoFault.SILENT_CONSOLE in wanted else "normal"
            faults.algo_hang = DemoFault.FLASH_HANGS in wanted
        if self._server is not None:
            self._server.wait_for_port(unit.unit_id, timeout=CONSOLE_WAIT_SECONDS)
        return unit.probe_id, self.environment.console_path(unit)


class DemoSlots:
    """The demo's SlotProvider: the slot's simulated unit, placed (or kept) for the scan.

    A rework and a recovery take the unit the slot holds; a provisioning puts the scanned
    unit in first.
    """

    def __init__(self, demo: DemoUnits) -> None:
        self.demo = demo

    def slot_for(self, settings: SlotSettings, serial: str, recipe: Recipe, *, kind: str) -> Slot:
        if kind == "provision":
            probe, console = self.demo.place_unit(settings.name, serial)
        else:
            unit = self.demo.unit(settings.name)
            if unit is None:
                raise NoProbeError(f"slot {settings.name} holds no unit to {kind}")
            probe, console = unit.probe_id, self.demo.environment.console_path(unit)
        return hardware_slot(settings.name, probe, console, recipe)
