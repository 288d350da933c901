"""A built station: what every front end drives, built once by the composition root.

``Station`` holds the station's name, files, settings, records and keys, and the operations
over them: people and their PINs, production (recipe, CA, vault), units on slots, and the
supervisor's decisions. The window and the command line call the same objects, so a rule
holds whichever front end a person uses (the golden-unit self-test and the production rule
that waits for it, ``selftests``, included). ``StationFactory`` is what the front ends ask the
composition root (``station.app``) for: they never decide which database, data directory or
station key to use themselves.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from station.config.paths import StationPaths
from station.config.settings import ScannerSettings, SlotSettings, StationSettings, check_slots, save_settings
from station.domain.errors import ConfigurationError, StationError
from station.domain.recipe import CredentialPlan
from station.flow.ports import AuditTrail, DevelopmentUnitRegistry, Journal
from station.operations.counters import ShiftCounters
from station.operations.custody import KeyCustody, StationSigner
from station.operations.line_link import LineLink
from station.operations.people import People
from station.operations.production import Production
from station.operations.selftests import SelfTests
from station.operations.serials import SerialAllocator
from station.operations.supervision import Supervision
from station.operations.units import Units
from station.security.station_key import StationPublicKey
from station.sim.demo import DEMO_PRODUCTS, DemoEnvironment
from station.sim.demo_slots import DemoUnits
from station.store import Database

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class StationOptions:
    """What a front end was told on its command line; None: the environment's or the default."""

    data_dir: Path | None = None
    db_url: str | None = None
    settings_path: Path | None = None
    verbose: bool = False


@dataclass(frozen=True)
class Training:
    """The training station's extras: simulated units in its slots, published demo passphrases."""

    units: DemoUnits
    environment: DemoEnvironment
    ca_passphrase: str
    vault_passphrase: str


@dataclass
class Station:
    """One station's records, keys, settings and operations (see the module's docstring)."""

    name: str
    paths: StationPaths
    settings: StationSettings
    settings_path: Path | None
    database: Database
    station_key: StationSigner
    journal: Journal
    audit: AuditTrail
    people: People
    production: Production
    units: Units
    supervision: Supervision
    selftests: SelfTests
    development_registry: DevelopmentUnitRegistry | None
    training: Training | None = None
    custody: KeyCustody | None = None
    line_link: LineLink | None = None
    serials: SerialAllocator | None = None  # serials from work orders' rules (leased from the line on one)
    on_close: list[Callable[[], None]] = field(default_factory=list)
    closed: bool = False

    def counters(self) -> ShiftCounters:
        """This station's shift counters, counting from now."""
        return ShiftCounters(self.database, self.name)

    # ---- engineer's settings ------------------------------------------------------------------

    def use_recipe(self, path: Path, actor: str) -> None:
        """The station's recipe from now on (remembered in the settings)."""
        self.production.use_recipe(path, actor)
        self._save(replace(self.settings, recipe=path))

    def set_work_order(self, code: str, actor: str) -> None:
        work_order = code.strip() or None
        self.production.set_work_order(work_order)
        self._save(replace(self.settings, work_order=work_order))
        self.units.work_order = work_order
        self.audit.append_audit(actor, "work-order.set", f"work order {work_order or '(none)'}")

    def set_slots(self, slots: tuple[SlotSettings, ...], actor: str) -> None:
        check_slots(slots)
        self._save(self.settings.with_slots(slots))
        described = "; ".join(f"{slot.name}: probe {slot.probe}, console {slot.console}" for slot in slots)
        self.audit.append_audit(actor, "slots.set", described)

    def _save(self, settings: StationSettings) -> None:
        self.settings = settings
        if self.settings_path is not None:
            save_settings(settings, self.settings_path)

    def load_configured_recipe(self) -> None:
        """The recipes the settings name (the station's, the slots' own); a refused one leaves
        the station (or its slot) without one, with the reason."""
        path = self.settings.recipe
        if path is not None:
            try:
                self.production.use_recipe(path, actor=None)
            except StationError as error:
                LOG.warning("configured recipe %s refused: %s", path, error)
                self.production.refuse_recipe(str(error), error)
        self.production.use_slot_recipes(
            {slot.name: slot.recipe for slot in self.settings.slots if slot.recipe is not None}
        )

    # ---- the end ----------------------------------------------------------------------------------

    def close(self) -> None:
        """Release everything the station holds (the demo's simulator too); safe to call twice."""
        if self.closed:
            return
        self.closed = True
        for close in reversed(self.on_close):
            try:
                close()
            except Exception:
                LOG.exception("closing the station")
        self.database.dispose()


@dataclass(frozen=True)
class DemoOptions:
    """The training station on simulated units (``station demo``)."""

    root: Path | None = None
    slots: int = 3
    timing: float = 0.0
    plan: CredentialPlan = CredentialPlan.STATION_GENERATED
    recipe_path: Path | None = None
    scanner: ScannerSettings | None = None
    sounds: bool = True
    # The chip family of each slot in turn (a mixed line: "nrf52840", "stm32f429xi", "k64f"),
    # each slot with its family's demo recipe; empty: every slot the demo recipe's nRF52840.
    targets: tuple[str, ...] = ()


# The simulated units' timing factor (1: the nRF52840 datasheet's flash times, 0: instant). The
# training window runs at the datasheet's pace, so that a trainee sees each step and the flash
# progress and the clock moving, as on a line; the headless demo (a quick check) runs instantly.
TRAINING_WINDOW_TIMING = 1.0
HEADLESS_DEMO_TIMING = 0.0


def demo_timing(requested: float | None, *, window: bool) -> float:
    """The timing factor ``station demo`` uses: the one asked for (``--timing``), else its default."""
    if requested is None:
        return TRAINING_WINDOW_TIMING if window else HEADLESS_DEMO_TIMING
    if not requested >= 0:  # also refuses NaN
        raise ConfigurationError(f"the timing factor must be 0 (instant) or more, not {requested}")
    return requested


def demo_targets(text: str | None) -> tuple[str, ...]:
    """The chip families ``station demo --targets`` names, in slot order ("nrf52840,k64f")."""
    if text is None:
        return ()
    targets = tuple(part.strip().lower() for part in text.split(","))
    known = tuple(DEMO_PRODUCTS)  # the families with a demo recipe (a pack-only part has none)
    unknown = [target for target in targets if target not in known]
    if not all(targets) or unknown:
        raise ConfigurationError(
            f"--targets takes simulated chip families separated by commas ({', '.join(known)}), not {text!r}"
        )
    return targets


class StationFactory(Protocol):
    """What a front end gets from the composition root."""

    def paths(self, options: StationOptions) -> StationPaths:
        """The station's files, as this station decides them."""
        ...

    def open_database(self, options: StationOptions, *, check_schema: bool = True) -> Database:
        """The station's database, its schema checked (for commands that only read or verify).
        Never creates one: a database that does not exist is an error saying where it was looked for."""
        ...

    def station_key(self, options: StationOptions) -> StationSigner:
        """The station's own key, for a command that signs; never creates one."""
        ...

    def settings(self, options: StationOptions) -> StationSettings:
        """The station's settings file as it is now (``station.toml``)."""
        ...

    def custody(self, options: StationOptions) -> KeyCustody:
        """Where the station's keys live, from its settings (opens nothing yet)."""
        ...

    def release(self) -> None:
        """Let go of what the keys given to a command held (a token's session)."""
        ...

    def station_public_key(self, options: StationOptions) -> StationPublicKey:
        """The public half of the station's key, for a command that verifies: never a PIN."""
        ...

    def open_station(
        self,
        options: StationOptions,
        *,
        recipe: Path | None = None,
        slots: tuple[SlotSettings, ...] | None = None,
    ) -> Station:
        """The whole station from its settings; ``recipe`` and ``slots`` (a command's own probe
        and console) stand in for the settings' ones."""
        ...

    def open_demo(self, demo: DemoOptions, *, verbose: bool = False) -> Station:
        """The training station on simulated units: demo CA, vault and people ready."""
        ...

    def run_gui(self, arguments: argparse.Namespace) -> int:
        """``station gui``: the window for this station's line."""
        ...

    def run_demo_gui(self, arguments: argparse.Namespace) -> int:
        """``station demo`` with a display."""
        ...
