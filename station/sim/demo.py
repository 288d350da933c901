"""The demo and training environment: simulated units, demo CA, vault, recipe, and their consoles.

Everything lives in one directory (``STATION_DEMO_DIR``, default under the user's data
directory, or a directory the caller names), kept between runs so that the history built by
one demo is there for ``station units show`` and ``station report export`` afterwards::

    <demo>/sim/         simulated units and the simulated device-management service
    <demo>/data/        the station's database, factory CA, station key and logs
    <demo>/firmware-*/  generated demo firmware and the demo recipe that pins it, per chip family

Every chip family the simulator has a demo for gets its demo firmware, its recipe (its own
product, labels and token pool: :data:`DEMO_PRODUCTS`) and its tokens, so that one demo
station can provision units of any family.

The demo CA and vault passphrases are fixed, published training values: a demo directory
holds no production secret. The demo's activation tokens are random, and are written only
into the (encrypted) vault and, as hashes, into the simulated service.
"""

from __future__ import annotations

import os
import secrets
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import platformdirs

from station.config import DATA_DIR_ENVIRONMENT_VARIABLE, StationPaths
from station.config.paths import DATABASE_FILE_NAME
from station.domain.errors import SimulationError
from station.domain.recipe import CredentialPlan
from station.security.ca import ca_paths, init_ca
from station.security.vault import TokenVault, UnlockedVault
from station.sim.chips import DEFAULT_TARGET, K64F, NRF52840, STM32F429XI
from station.sim.console import ConsoleServer
from station.sim.demo_recipe import write_demo_recipe
from station.sim.dms import SimDeviceManagement, SimulatedDeviceManagementClient
from station.sim.firmware import build_demo_firmware
from station.sim.host import SimulatorHost
from station.sim.units import SIM_DIR_ENVIRONMENT_VARIABLE, SimUnit, SimUnitStore
from station.store import open_database

DEMO_DIR_ENVIRONMENT_VARIABLE: Final = "STATION_DEMO_DIR"
DEMO_CA_PASSPHRASE: Final = "demo-ca-passphrase"  # training only: published on purpose
DEMO_VAULT_PASSPHRASE: Final = "demo-vault-passphrase"  # training only: published on purpose
DEMO_TOKEN_COUNT: Final = 500
DEMO_TOKEN_USE_LIMIT: Final = 10
DEMO_SERIAL_PREFIX: Final = "TST-"
DEMO_WORK_ORDER: Final = "WO-DEMO"
# Training accounts, published on purpose like the demo passphrases.
DEMO_OPERATOR: Final = "demo-operator"
DEMO_SUPERVISOR, DEMO_SUPERVISOR_PIN = "demo-supervisor", "1111"
DEMO_ENGINEER, DEMO_ENGINEER_PIN = "demo-engineer", "2222"
MAX_DEMO_SLOTS: Final = 8
# Each family's demo product: what its demo recipe names as product, activation product and
# token pool (resources/demo/; a test checks that they agree), and its labels' prefix.
DEMO_PRODUCTS: Final = {NRF52840: "ACME-TOASTER", STM32F429XI: "ACME-KETTLE", K64F: "ACME-FRIDGE"}
DEMO_SERIAL_PREFIXES: Final = {NRF52840: DEMO_SERIAL_PREFIX, STM32F429XI: "KET-", K64F: "FRG-"}


def default_demo_dir() -> Path:
    configured = os.environ.get(DEMO_DIR_ENVIRONMENT_VARIABLE)
    if configured:
        return Path(configured)
    return platformdirs.user_data_path("provisioning-station") / "demo"


def demo_data_dir(root: Path) -> Path:
    """The demo station's data directory: its database, station key, CA and logs."""
    return root / "data"


def demo_sim_dir(root: Path) -> Path:
    """The demo's simulated units (what pyOCD's ``sim`` probes are)."""
    return root / "sim"


def shell_environment(root: Path) -> str:
    """The one shell line that points ``station`` commands at the demo's records and ``pyocd``
    (and the station) at its simulated units; paths absolute and quoted for a POSIX shell."""
    return (f"export {DATA_DIR_ENVIRONMENT_VARIABLE}={shlex.quote(str(demo_data_dir(root).absolute()))} "
            f"{SIM_DIR_ENVIRONMENT_VARIABLE}={shlex.quote(str(demo_sim_dir(root).absolute()))}")


@dataclass
class DemoEnvironment:
    """A ready demo directory: paths, recipe file, simulated units and service."""

    root: Path
    paths: StationPaths
    recipe_path: Path  # the default family's (nRF52840) demo recipe
    units: SimUnitStore
    service: SimDeviceManagement
    recipe_paths: dict[str, Path] = field(default_factory=dict)  # every family's, by pyOCD target

    def recipe_for(self, target: str) -> Path:
        """The demo recipe of a family (a simulated target), next to that family's demo firmware."""
        path = self.recipe_paths.get(target, self.recipe_path if target == DEFAULT_TARGET else None)
        if path is None:
            known = ", ".join(self.recipe_paths)
            raise SimulationError(f"this demo has no recipe for target {target!r} (it has: {known})")
        return path

    @property
    def sim_dir(self) -> Path:
        return self.units.root

    @property
    def shell_environment(self) -> str:
        """The line that points a shell at this demo (see :func:`shell_environment`)."""
        return shell_environment(self.root)

    @property
    def ca_passphrase(self) -> str:
        return DEMO_CA_PASSPHRASE

    def unlock_vault(self) -> UnlockedVault:
        database = open_database(self.paths.db_url)
        try:
            return TokenVault(database.tokens).unlocked(DEMO_VAULT_PASSPHRASE)
        finally:
            database.dispose()

    def development_registry(self) -> SimulatedDeviceManagementClient:
        return SimulatedDeviceManagementClient(self.sim_dir)

    def create_units(self, count: int, *, timing_factor: float = 0.0, target: str = DEFAULT_TARGET) -> list[SimUnit]:
        """New simulated units of a family (``target``), blank, as they come from the reel."""
        return [self.units.create_unit(timing_factor=timing_factor, target=target) for _ in range(count)]

    def console_server(self) -> ConsoleServer:
        """Consoles served by a thread of this process (tests; see simulator_host for a line)."""
        return ConsoleServer(self.units, self.service)

    def simulator_host(self) -> SimulatorHost:
        """Units' probe sessions and consoles served by their own processes, as on a real line."""
        return SimulatorHost(self.sim_dir)

    def console_path(self, unit: SimUnit) -> str:
        """The console port a slot for this unit opens: the link the console server keeps."""
        return str(unit.directory / "console")


def prepare_demo(
    root: Path | None = None,
    *,
    plan: CredentialPlan = CredentialPlan.STATION_GENERATED,
    app_size: int = 64 * 1024,
) -> DemoEnvironment:
    """Create (or reuse) the demo directory and make everything in it ready to provision.

    Points ``STATION_SIM_DIR`` at the demo's units, since pyOCD's probe plugin finds them there.
    """
    root = root if root is not None else default_demo_dir()
    root.mkdir(parents=True, exist_ok=True)
    sim_dir = demo_sim_dir(root)
    sim_dir.mkdir(exist_ok=True)
    os.environ[SIM_DIR_ENVIRONMENT_VARIABLE] = str(sim_dir)
    data_dir = demo_data_dir(root)
    paths = StationPaths.from_environment(data_dir=data_dir, db_url=f"sqlite:///{data_dir / DATABASE_FILE_NAME}")
    paths.data_dir.mkdir(parents=True, exist_ok=True)

    recipe_paths: dict[str, Path] = {}
    for target in DEMO_PRODUCTS:
        # The nRF52840's folder keeps the name it had before there were other families.
        family = "" if target == NRF52840 else f"{target}-"
        firmware_dir = root / f"firmware-{family}{plan.value}-{app_size}"
        firmware = build_demo_firmware(firmware_dir, app_size=app_size, target=target)
        recipe_paths[target] = write_demo_recipe(firmware_dir, firmware, plan=plan)

    database = open_database(paths.db_url)
    try:
        database.upgrade()
        if not ca_paths(paths.ca_dir)[1].exists():
            init_ca(paths.ca_dir, DEMO_CA_PASSPHRASE, common_name="Demo Factory CA (training only)")
        service = SimDeviceManagement(sim_dir)
        vault = TokenVault(database.tokens)
        existing = {summary.code for summary in service.products()}
        for product in DEMO_PRODUCTS.values():
            if product in existing:
                continue
            tokens = [secrets.token_urlsafe(24) for _ in range(DEMO_TOKEN_COUNT)]
            unlocked = vault.initialize_or_check(DEMO_VAULT_PASSPHRASE)
            unlocked.import_tokens(product, tokens, use_limit=DEMO_TOKEN_USE_LIMIT)
            service.add_product(product, tokens, [ca_paths(paths.ca_dir)[0].read_bytes()])
            del tokens
    finally:
        database.dispose()
    return DemoEnvironment(
        root=root,
        paths=paths,
        recipe_path=recipe_paths[DEFAULT_TARGET],
        units=SimUnitStore(sim_dir),
        service=service,
        recipe_paths=recipe_paths,
    )


def next_demo_serials(
    is_used: Callable[[str], bool], count: int, *, start: int = 1, prefix: str = DEMO_SERIAL_PREFIX
) -> list[str]:
    """Valid demo serials (``TST-000001`` …, from number ``start`` on; another family's demo
    product's ``prefix``, ``KET-`` …) that no unit has yet."""
    serials: list[str] = []
    number = start
    while len(serials) < count:
        candidate = f"{prefix}{number:06d}"
        if not is_used(candidate):
            serials.append(candidate)
        number += 1
    return serials
