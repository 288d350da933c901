"""Building a station: configuration, store, keys, drivers, operations (see ``station.app``)."""

from __future__ import annotations

import argparse
import getpass
import logging
import logging.handlers
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from station.config.paths import (
    CA_PASSPHRASE_ENVIRONMENT_VARIABLE,
    DATA_DIR_ENVIRONMENT_VARIABLE,
    DATABASE_FILE_NAME,
    DB_URL_ENVIRONMENT_VARIABLE,
    VAULT_PASSPHRASE_ENVIRONMENT_VARIABLE,
    StationPaths,
    configured_station_name,
)
from station.config.settings import SlotSettings, StationSettings, default_settings_path, load_settings
from station.domain.errors import StationError, StationKeyError, StoreError
from station.domain.text import EscapingFormatter
from station.drivers.slots import HardwareSlots
from station.flow.ports import DevelopmentUnitRegistry, Journal
from station.flow.watchdog import Watchdog
from station.operations.custody import KeyCustody, StationSigner
from station.operations.labels import Labels
from station.operations.line_link import LineLink
from station.operations.owners import Heartbeat, Ownership, ProcessIdentity
from station.operations.people import People
from station.operations.production import Production
from station.operations.selftests import SelfTests
from station.operations.serials import SerialAllocator
from station.operations.slots import SlotProvider
from station.operations.station import DemoOptions, Station, StationOptions
from station.operations.supervision import Supervision
from station.operations.units import Units
from station.security.station_key import StationKey, StationPublicKey, load_station_key
from station.store import Database, open_database, sqlite_file
from station.store.database import UPGRADE_HINT
from station.store.line_serials import LineSerials

LOG = logging.getLogger(__name__)
# Probes of simulated units: they activate against the simulated device-management service.
SIMULATED_PROBE_PREFIX = "sim:"


def main(argv: Sequence[str] | None = None) -> int:
    """The ``station`` command."""
    from station.cli import run
    from station.cli.passphrase import interactive

    root = CompositionRoot()
    if interactive():  # a person at a terminal can give a token's PIN (never an argument or variable)
        root.pin_prompt = getpass.getpass
    return run(argv, root)


def configure_logging(paths: StationPaths, *, verbose: bool = False) -> Path:
    """Log to a rotating file in the data directory (and to stderr when verbose)."""
    paths.log_dir.mkdir(parents=True, exist_ok=True)
    log_file = paths.log_dir / "station.log"
    root = logging.getLogger()
    for earlier in [h for h in root.handlers if isinstance(h, logging.handlers.RotatingFileHandler)]:
        if Path(earlier.baseFilename) != log_file.absolute():  # an earlier station of this process
            root.removeHandler(earlier)
            earlier.close()
    if not any(isinstance(handler, logging.handlers.RotatingFileHandler) for handler in root.handlers):
        handler = logging.handlers.RotatingFileHandler(log_file, maxBytes=10_000_000, backupCount=5)
        handler.setFormatter(EscapingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
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


def development_registry_for(slots: Sequence[SlotSettings]) -> DevelopmentUnitRegistry | None:
    """Which device-management service knows the development units: the simulated one for
    simulated probes. (A line's vendor service is asked by the vendor's own tooling.)"""
    if any(slot.probe.lower().startswith(SIMULATED_PROBE_PREFIX) for slot in slots):
        from station.sim.dms import SimulatedDeviceManagementClient
        from station.sim.units import default_sim_dir

        return SimulatedDeviceManagementClient(default_sim_dir())
    return None


def require_database(paths: StationPaths, options: StationOptions) -> None:
    """Refuse, before anything is created, a SQLite database file that does not exist: only
    ``station db upgrade`` (and the demo) make one. The error says where the command looked and
    why there, and names the demo's directory when the demo has records."""
    path = sqlite_file(paths.db_url)
    if path is None or path.exists():
        return
    raise StoreError(
        f"no station database at {path} ({chosen_by(options, database=True)}); "
        f"{UPGRADE_HINT} to create one{demo_hint(path.parent)}"
    )


def chosen_by(options: StationOptions, *, database: bool) -> str:
    """Why a command looked where it did: an option, an environment variable, or the default."""
    if database and options.db_url is not None:
        return "given with --db"
    if database and os.environ.get(DB_URL_ENVIRONMENT_VARIABLE):
        return f"named by ${DB_URL_ENVIRONMENT_VARIABLE}"
    if options.data_dir is not None:
        return "in the data directory given with --data-dir"
    if os.environ.get(DATA_DIR_ENVIRONMENT_VARIABLE):
        return f"in the data directory ${DATA_DIR_ENVIRONMENT_VARIABLE} names"
    return f"in the default data directory; --data-dir or ${DATA_DIR_ENVIRONMENT_VARIABLE} choose another"


def demo_hint(looked_in: Path) -> str:
    """Where the demo's records are, when the demo has made some and the command looked elsewhere."""
    from station.sim.demo import default_demo_dir, demo_data_dir, shell_environment

    demo = default_demo_dir()
    records = demo_data_dir(demo)
    if not (records / DATABASE_FILE_NAME).is_file() or looked_in.absolute() == records.absolute():
        return ""
    return f"; the demo's records are in {records}: point this shell at them with: {shell_environment(demo)}"


class CompositionRoot:
    """Builds stations for the front ends (``station.operations.StationFactory``)."""

    def paths(self, options: StationOptions) -> StationPaths:
        return StationPaths.from_environment(data_dir=options.data_dir, db_url=options.db_url)

    def open_database(self, options: StationOptions, *, check_schema: bool = True) -> Database:
        paths = self.paths(options)
        require_database(paths, options)
        database = open_database(paths.db_url, create_dirs=False)
        try:
            if check_schema:
                database.check_schema()
            database.keep_head_in(paths.data_dir)
        except BaseException:
            database.dispose()
            raise
        return database

    # Asks a person at a terminal for a token's PIN, when the settings name no PIN file or
    # credential; None (a window, a service): such a station needs one of those.
    pin_prompt: Callable[[str], str] | None = None

    def __init__(self) -> None:
        self._opened: list[KeyCustody] = []  # token sessions a command's key needs until it ends

    def settings(self, options: StationOptions) -> StationSettings:
        return load_settings(options.settings_path or default_settings_path(self.paths(options).data_dir))

    def custody(self, options: StationOptions) -> KeyCustody:
        """Where this station's keys live (its settings' ``[custody]``)."""
        return KeyCustody(self.settings(options).custody, self.paths(options), self.pin_prompt)

    def station_key(self, options: StationOptions) -> StationSigner:
        custody = self.custody(options)
        if custody.settings.station_key is not None:
            self._opened.append(custody)  # its token session lives until release()
            return custody.station_signer()
        return self._station_key_file(options)

    def release(self) -> None:
        for custody in self._opened:
            custody.close()
        self._opened.clear()

    def station_public_key(self, options: StationOptions) -> StationPublicKey:
        custody = self.custody(options)
        if custody.settings.station_key is not None:
            return custody.station_public_key()
        return self._station_key_file(options).public_key

    def _station_key_file(self, options: StationOptions) -> StationKey:
        paths = self.paths(options)
        path = paths.station_key_path
        if not path.exists():
            raise StationKeyError(
                f"the station key {path} does not exist ({chosen_by(options, database=False)}): it is made the first "
                "time a command opens the station (station provision, station gui, station tokens import, ...), "
                f"and this command only reads{demo_hint(path.parent)}"
            )
        return load_station_key(path)

    def open_station(
        self,
        options: StationOptions,
        *,
        recipe: Path | None = None,
        slots: tuple[SlotSettings, ...] | None = None,
    ) -> Station:
        paths = self.paths(options)
        require_database(paths, options)
        configure_logging(paths, verbose=options.verbose)
        settings_path = options.settings_path or default_settings_path(paths.data_dir)
        settings = load_settings(settings_path)
        if slots is not None:  # a command's own slot (station provision --probe --console)
            settings, settings_path_used = settings.with_slots(slots), None
        else:
            settings_path_used = settings_path
        if recipe is not None:
            settings = replace(settings, recipe=recipe)
        return self.build(paths, settings, settings_path_used, HardwareSlots(settings.probe),
                          development_registry_for(settings.slots))  # fmt: skip

    def build(
        self,
        paths: StationPaths,
        settings: StationSettings,
        settings_path: Path | None,
        slot_provider: SlotProvider,
        development_registry: DevelopmentUnitRegistry | None,
    ) -> Station:
        """A station from its parts: the one place every other station is built from."""
        name = configured_station_name()
        database = open_database(paths.db_url)
        try:
            database.check_schema()
            custody = KeyCustody(settings.custody, paths, self.pin_prompt)
            try:
                station_key = custody.station_signer()
            except BaseException:
                custody.close()
                raise
        except BaseException:
            database.dispose()
            raise
        database.seal_with(station_key, actor=f"station:{name}")
        database.keep_head_in(paths.data_dir)
        audit = database.audit_log(station_key)
        journal = Journal(attempts=database.attempts, credentials=database.credentials, units=database.units,
                          audit=audit)  # fmt: skip
        people = People(database.registry, audit, settings.access)
        ownership = Ownership(ProcessIdentity.current(), settings.recovery.owner_lease)
        production = Production(database, journal, paths, audit, development_registry=development_registry,
                                ownership=ownership, watchdog=Watchdog.shared(), custody=custody)  # fmt: skip
        selftests = SelfTests(database, production, slot_provider, station=name, shifts=settings.shift,
                              watchdog=Watchdog.shared())  # fmt: skip
        link = LineLink(database, settings.line, name) if settings.line.configured else None
        serials = SerialAllocator(database, people, audit, station=name,
                                  line=None if link is None else LineSerials(link.line))  # fmt: skip
        production.serial_pool = serials
        station = Station(
            name=name,
            paths=paths,
            settings=settings,
            settings_path=settings_path,
            database=database,
            station_key=station_key,
            journal=journal,
            audit=audit,
            people=people,
            production=production,
            units=Units(production, people, slot_provider, audit, selftests, station=name,
                        work_order=settings.work_order, labels=Labels(database, production, people), serials=serials),
            supervision=Supervision(database, people, audit, selftests, station=name),
            selftests=selftests,
            development_registry=development_registry,
            custody=custody,
            serials=serials,
        )
        station.on_close.append(custody.close)
        if link is not None:  # forwarding to the line database, in the background
            link.start()
            station.on_close.append(link.close)
            station.line_link = link
            production.use_line(link)
        heartbeat = Heartbeat(
            lambda: database.attempts.heartbeat(ownership.owner(name, "")),
            settings.recovery.owner_lease_seconds / 3,
        )
        heartbeat.start()
        station.on_close.append(heartbeat.stop)
        station.load_configured_recipe()
        return station

    def open_with_passphrases_from_environment(self, station: Station) -> None:
        """A line station started with STATION_CA_PASSPHRASE / STATION_VAULT_PASSPHRASE opens its CA
        and vault at once; a refused passphrase is logged, and a person opens them instead."""
        ca_passphrase = os.environ.get(CA_PASSPHRASE_ENVIRONMENT_VARIABLE)
        if ca_passphrase and station.production.recipe is not None:
            try:
                station.production.open_ca(ca_passphrase, "station")
            except StationError as error:
                LOG.warning("CA passphrase from the environment refused: %s", error)
        vault_passphrase = os.environ.get(VAULT_PASSPHRASE_ENVIRONMENT_VARIABLE)
        if vault_passphrase:
            try:
                station.production.unlock_vault(vault_passphrase, "station")
            except StationError as error:
                LOG.warning("vault passphrase from the environment refused: %s", error)

    def open_demo(self, demo: DemoOptions, *, verbose: bool = False) -> Station:
        from station.app.demo import open_demo_station

        return open_demo_station(self, demo, verbose=verbose)

    def run_gui(self, arguments: argparse.Namespace) -> int:
        from station.app.windows import run_line_window

        return run_line_window(self, arguments)

    def run_demo_gui(self, arguments: argparse.Namespace) -> int:
        from station.app.windows import run_demo_window

        return run_demo_window(self, arguments)


if __name__ == "__main__":
    sys.exit(main())
