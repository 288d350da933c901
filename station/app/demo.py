"""The training station on simulated units (``station demo``, tests, benchmarks, screenshots).

The same ``Station`` as on a line, built from a demo directory: simulated units in its slots
(served by a simulator host in processes of their own), the demo CA and vault opened with
their published training passphrases, and the training accounts registered.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from station.app.root import CompositionRoot, configure_logging
from station.config.settings import ScannerSettings, SlotSettings, StationSettings
from station.domain.errors import ConfigurationError
from station.drivers.slots import HardwareSlots
from station.operations.people import ENGINEER, OPERATOR, SUPERVISOR, People
from station.operations.station import DemoOptions, Station, Training
from station.sim.chips import DEFAULT_TARGET
from station.sim.demo import (
    DEMO_CA_PASSPHRASE,
    DEMO_ENGINEER,
    DEMO_ENGINEER_PIN,
    DEMO_OPERATOR,
    DEMO_SUPERVISOR,
    DEMO_SUPERVISOR_PIN,
    DEMO_VAULT_PASSPHRASE,
    DEMO_WORK_ORDER,
    MAX_DEMO_SLOTS,
    DemoEnvironment,
    prepare_demo,
)
from station.sim.demo_slots import DemoSlots, DemoUnits

TRAINING_ACTOR = "station"


def open_demo_station(root: CompositionRoot, demo: DemoOptions, *, verbose: bool = False) -> Station:
    environment = prepare_demo(demo.root, plan=demo.plan)
    configure_logging(environment.paths, verbose=verbose)
    count = max(1, min(MAX_DEMO_SLOTS, demo.slots))
    # A mixed line: the slots take the families in turn; the first family's demo recipe is the
    # station's, every other slot has its family's own.
    families = demo.targets or (DEFAULT_TARGET,)
    targets = {str(number): families[(number - 1) % len(families)] for number in range(1, count + 1)}
    slots = tuple(
        SlotSettings(name=name, probe=f"simulated-{name}", console="simulated",
                     recipe=None if target == families[0] else environment.recipe_for(target))
        for name, target in targets.items()
    )  # fmt: skip
    settings = replace(
        StationSettings(),
        recipe=demo.recipe_path or environment.recipe_for(families[0]),
        work_order=DEMO_WORK_ORDER,
        slots=slots,
        scanner=demo.scanner or ScannerSettings(),
        sounds=demo.sounds,
    )
    units = DemoUnits(environment, [slot.name for slot in slots], timing_factor=demo.timing, targets=targets)
    units.start()
    try:
        station = root.build(environment.paths, settings, None, DemoSlots(units), environment.development_registry())
    except BaseException:
        units.stop()
        raise
    station.on_close.append(units.stop)
    station.training = Training(units, environment, DEMO_CA_PASSPHRASE, DEMO_VAULT_PASSPHRASE)
    return _opened_with_training_passphrases(station, recipe_required=False)


def open_demo_line_station(
    root: CompositionRoot,
    environment: DemoEnvironment,
    recipe_path: Path,
    *,
    work_order: str = DEMO_WORK_ORDER,
    slots: tuple[SlotSettings, ...] = (),
) -> Station:
    """A station over a demo directory, its CA open and vault unlocked, whose slots are whatever
    simulated units its caller wires (``station.drivers.slots.hardware_slot``, or ``slots``
    naming their probes and console links, each with its own recipe if it says so): for tests
    and benchmarks that make their own units."""
    settings = replace(StationSettings(), recipe=recipe_path, work_order=work_order, slots=slots)
    station = root.build(environment.paths, settings, None, HardwareSlots(), environment.development_registry())
    return _opened_with_training_passphrases(station, recipe_required=True)


def _opened_with_training_passphrases(station: Station, *, recipe_required: bool) -> Station:
    """The training accounts registered, the demo CA opened for the recipe and the demo vault
    unlocked, with their published passphrases; the station closed if any of it fails."""
    try:
        register_training_accounts(station.people)
        production = station.production
        if production.recipe is not None:
            production.open_ca(DEMO_CA_PASSPHRASE, TRAINING_ACTOR)
        elif recipe_required:
            raise ConfigurationError(production.recipe_problem or "the demo recipe was refused")
        production.unlock_vault(DEMO_VAULT_PASSPHRASE, TRAINING_ACTOR)
    except BaseException:
        station.close()
        raise
    return station


def register_training_accounts(people: People) -> None:
    for name, role, pin in (
        (DEMO_OPERATOR, OPERATOR, None),
        (DEMO_SUPERVISOR, SUPERVISOR, DEMO_SUPERVISOR_PIN),
        (DEMO_ENGINEER, ENGINEER, DEMO_ENGINEER_PIN),
    ):
        found = people.find(name)
        if found is None or found.role != role:
            people.add(name, role, pin)
