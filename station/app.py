"""Composition root: builds the store, the secrets, the drivers and the sequence from config.

The CLI and the GUI both come here, so that a unit is provisioned by exactly the same code
whichever front end started it. Nothing here decides *what* to do with a unit: that is
``station.flow``; this module only wires the pieces together.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from station.config import StationPaths
from station.domain.errors import ConfigurationError
from station.domain.recipe import Recipe
from station.domain.recipe_loader import load_recipe
from station.drivers.console import SerialConsole
from station.drivers.locks import lock_strategy_for
from station.drivers.probe import PyOcdProbe
from station.flow.ports import DevelopmentUnitRegistry, Journal, UnitConsole
from station.flow.run import Slot
from station.flow.sequence import UnitProvisioner
from station.security.ca import load_ca
from station.security.issuer import FactoryCredentialIssuer
from station.security.station_key import StationKey, load_or_create_station_key
from station.security.vault import TokenVault, UnlockedVault
from station.store import Database, open_database

LOG = logging.getLogger(__name__)
STATION_NAME_ENVIRONMENT_VARIABLE = "STATION_NAME"


def station_name() -> str:
    """This station's name in the records: ``STATION_NAME`` or the host name."""
    return os.environ.get(STATION_NAME_ENVIRONMENT_VARIABLE) or socket.gethostname()


def configure_logging(paths: StationPaths, *, verbose: bool = False) -> Path:
    """Log to a rotating file in the data directory (and to stderr when verbose)."""
    paths.log_dir.mkdir(parents=True, exist_ok=True)
    log_file = paths.log_dir / "station.log"
    root = logging.getLogger()
    if not any(isinstance(handler, logging.handlers.RotatingFileHandler) for handler in root.handlers):
        handler = logging.handlers.RotatingFileHandler(log_file, maxBytes=10_000_000, backupCount=5)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(logging.INFO if verbose else logging.WARNING)
    logging.getLogger("station").setLevel(logging.INFO)
    if not verbose:
        # pyOCD reports a locked unit's missing core as an error while the station merely asks
        # whether it is locked: keep its chatter in the log file, off the operator's terminal.
        for existing in root.handlers:
            if type(existing) is logging.StreamHandler and not any(isinstance(f, _FileOnly) for f in existing.filters):
                existing.addFilter(_FileOnly())
    return log_file


class _FileOnly(logging.Filter):
    """Keeps third-party library records (pyOCD) out of the terminal; the log file has them."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith("pyocd")


def open_store(paths: StationPaths) -> Database:
    """The traceability database, refusing a schema this code does not know."""
    database = open_database(paths.db_url)
    database.check_schema()
    return database


@dataclass
class StationServices:
    """Everything a provisioning run needs that outlives one unit."""

    paths: StationPaths
    database: Database
    station_key: StationKey
    journal: Journal

    @classmethod
    def open(cls, paths: StationPaths) -> StationServices:
        database = open_store(paths)
        station_key = load_or_create_station_key(paths.station_key_path)
        journal = Journal(
            attempts=database.attempts,
            credentials=database.credentials,
            units=database.units,
            audit=database.audit_log(station_key),
        )
        return cls(paths=paths, database=database, station_key=station_key, journal=journal)

    def close(self) -> None:
        self.database.dispose()

    def load_recipe(self, path: Path) -> Recipe:
        """Load and check a recipe (images against their pinned hashes) and record its exact text."""
        recipe = load_recipe(path)
        self.database.registry.record_recipe(recipe.source_text, recipe.product, sha256=recipe.content_hash)
        return recipe

    def unlock_vault(self, passphrase: str) -> UnlockedVault:
        return TokenVault(self.database.tokens).unlocked(passphrase)

    def provisioner(
        self,
        recipe: Recipe,
        *,
        ca_passphrase: str,
        vault: UnlockedVault | None,
        development_registry: DevelopmentUnitRegistry | None = None,
    ) -> UnitProvisioner:
        ca = load_ca(self.paths.ca_dir, ca_passphrase)
        return UnitProvisioner(
            recipe,
            self.journal,
            FactoryCredentialIssuer(ca, recipe.credentials),
            vault,
            development_registry=development_registry,
        )


def make_slot(name: str, probe_id: str, console_port: str, recipe: Recipe) -> Slot:
    """A slot wired to a real (or simulated) probe and a serial console port."""
    if not probe_id:
        raise ConfigurationError(f"slot {name} has no probe")
    if not console_port:
        raise ConfigurationError(f"slot {name} has no console port")
    probe = PyOcdProbe(probe_id, recipe.target, lock_strategy_for(recipe.lock_method))
    opener: Callable[[], UnitConsole] = lambda: SerialConsole(console_port, recipe.console)  # noqa: E731
    return Slot(name=name, probe=probe, open_console=opener)
