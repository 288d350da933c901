"""Starting the operator application: for a real line (``station gui``) or for training (``station demo``).

Both build the same window over the same ``StationLine``; they differ only in where units
come from (probes and ports from the station settings, or simulated units) and in the demo's
published training passphrases. ``build_*`` return the parts without running the event loop,
so that tests and the screenshot script drive the very same application.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QTranslator
from PySide6.QtWidgets import QApplication

from station.app import StationServices, configure_logging, station_name
from station.config import (
    CA_PASSPHRASE_ENVIRONMENT_VARIABLE,
    VAULT_PASSPHRASE_ENVIRONMENT_VARIABLE,
    StationPaths,
)
from station.demo import DEMO_CA_PASSPHRASE, DEMO_VAULT_PASSPHRASE, DemoEnvironment, prepare_demo
from station.domain.errors import StationError
from station.domain.recipe import CredentialPlan
from station.flow.ports import DevelopmentUnitRegistry
from station.gui.demo_line import DemoSlots, DemoUnits
from station.gui.errors import ErrorSink
from station.gui.i18n import install_translators, pick_language, remove_translators
from station.gui.line import HardwareSlots, StationLine
from station.gui.main_window import MainWindow
from station.gui.people import ENGINEER, OPERATOR, SUPERVISOR, People
from station.gui.resources import style_sheet_text
from station.gui.scanning import SerialScannerReader
from station.gui.settings import (
    ScannerSettings,
    SlotSettings,
    StationSettings,
    default_settings_path,
    load_settings,
)
from station.gui.sounds import SoundBoard

LOG = logging.getLogger(__name__)

# Training accounts of the demo, published on purpose like the demo passphrases.
DEMO_OPERATOR = "demo-operator"
DEMO_SUPERVISOR, DEMO_SUPERVISOR_PIN = "demo-supervisor", "1111"
DEMO_ENGINEER, DEMO_ENGINEER_PIN = "demo-engineer", "2222"
DEMO_WORK_ORDER = "WO-DEMO"
MAX_DEMO_SLOTS = 8


def application(argv: list[str] | None = None) -> QApplication:
    """The one QApplication, created on first use, with the station's style sheet."""
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        app = existing
    else:
        app = QApplication(argv if argv is not None else sys.argv[:1])
        app.setApplicationName("Provisioning station")
        app.setOrganizationName("provisioning-station")
    app.setStyleSheet(style_sheet_text())
    return app


@dataclass
class Station:
    """A built application: its window and everything it must close at the end."""

    services: StationServices
    line: StationLine
    window: MainWindow
    error_sink: ErrorSink
    translators: list[QTranslator] = field(default_factory=list)
    demo: DemoUnits | None = None
    environment: DemoEnvironment | None = None
    scanner: SerialScannerReader | None = None
    closed: bool = False

    def __post_init__(self) -> None:
        # Everything built so far lives as long as the station. Left to the cyclic garbage
        # collector, each full pass walked all of it -- 70 to 110 ms with every other thread
        # stopped, a visible stall of the window while slots run. Frozen, a pass walks only
        # what was made since.
        gc.collect()
        gc.freeze()

    def close(self) -> bool:
        """Close the window, end every thread, release the store; True when all threads ended."""
        if self.closed:
            return True
        self.closed = True
        self.window.allow_close = True
        self.window.force_close = True
        self.window.close()
        if self.scanner is not None:
            self.scanner.stop()
        stopped = self.line.shutdown()
        if self.demo is not None:
            self.demo.stop()
        self.services.close()
        self.error_sink.uninstall()
        app = QApplication.instance()
        if app is not None:
            remove_translators(app, self.translators)
        self.window.deleteLater()
        gc.unfreeze()  # what the station held may be collected again
        return stopped


def _register_demo_people(people: People) -> None:
    for name, role, pin in (
        (DEMO_OPERATOR, OPERATOR, None),
        (DEMO_SUPERVISOR, SUPERVISOR, DEMO_SUPERVISOR_PIN),
        (DEMO_ENGINEER, ENGINEER, DEMO_ENGINEER_PIN),
    ):
        found = people.find(name)
        if found is None or found.role != role:
            people.add(name, role, pin)


def build_demo_station(
    root: Path | None = None,
    *,
    slots: int = 3,
    timing: float = 0.0,
    plan: CredentialPlan = CredentialPlan.STATION_GENERATED,
    recipe_path: Path | None = None,
    sounds: bool = True,
    language: str | None = None,
    verbose: bool = False,
    scanner: ScannerSettings | None = None,
    install_error_hooks: bool = True,
) -> Station:
    """The training station on simulated units, logged in as the demo operator, ready to scan."""
    app = application()
    translators = install_translators(app, pick_language(language))
    environment = prepare_demo(root, plan=plan)
    configure_logging(environment.paths, verbose=verbose)
    services = StationServices.open(environment.paths)
    error_sink = ErrorSink()
    if install_error_hooks:
        error_sink.install()
    _register_demo_people(People(services.database.registry))
    count = max(1, min(MAX_DEMO_SLOTS, slots))
    slot_settings = tuple(
        SlotSettings(name=str(number), probe=f"simulated-{number}", console="simulated")
        for number in range(1, count + 1)
    )
    settings = StationSettings(
        recipe=recipe_path or environment.recipe_path,
        work_order=DEMO_WORK_ORDER,
        slots=slot_settings,
        scanner=scanner or ScannerSettings(),
        sounds=sounds,
    )
    demo = DemoUnits(environment, [slot.name for slot in slot_settings], timing_factor=timing)
    demo.start()
    sound_board = SoundBoard(enabled=sounds)
    line = StationLine(
        services,
        settings,
        station_name=station_name(),
        slot_provider=DemoSlots(demo),
        error_sink=error_sink,
        sounds=sound_board,
        development_registry=environment.development_registry(),
        demo_passphrases=(DEMO_CA_PASSPHRASE, DEMO_VAULT_PASSPHRASE),
    )
    sound_board.setParent(line)
    line.unlock_demo_vault()
    line.login_with_badge(DEMO_OPERATOR)
    window = MainWindow(line, error_sink, demo=demo, demo_operator=DEMO_OPERATOR)
    return Station(services, line, window, error_sink, translators, demo=demo, environment=environment)


def run_demo(arguments: argparse.Namespace) -> int:
    """``station demo`` with a display: the training station on simulated units."""
    app = application()
    demo_dir: Path | None = arguments.demo_dir
    station = build_demo_station(
        demo_dir,
        slots=arguments.units,
        timing=arguments.timing,
        plan=CredentialPlan(arguments.plan),
        language=getattr(arguments, "language", None),
        verbose=arguments.verbose,
    )
    assert station.environment is not None
    print(f"demo directory: {station.environment.root}", flush=True)
    print(
        f"training accounts: operator {DEMO_OPERATOR}; supervisor {DEMO_SUPERVISOR} PIN {DEMO_SUPERVISOR_PIN}; "
        f"engineer {DEMO_ENGINEER} PIN {DEMO_ENGINEER_PIN}",
        flush=True,
    )
    station.window.resize(1400, 900)
    station.window.apply_kiosk()
    try:
        return app.exec()
    finally:
        station.close()


def _development_registry(settings: StationSettings) -> DevelopmentUnitRegistry | None:
    """Simulated units activate against the simulated service: ask it about development units."""
    if any(slot.probe.lower().startswith("sim:") for slot in settings.slots):
        from station.drivers.dms import SimulatedDeviceManagementClient
        from station.sim.units import default_sim_dir

        return SimulatedDeviceManagementClient(default_sim_dir())
    return None


def build_station(
    paths: StationPaths,
    *,
    settings_path: Path | None = None,
    kiosk: bool = False,
    language: str | None = None,
    verbose: bool = False,
    sounds: bool | None = None,
    install_error_hooks: bool = True,
) -> Station:
    """The station for a real line, from the station settings (recipe, slots, scanner)."""
    app = application()
    configure_logging(paths, verbose=verbose)
    settings_path = settings_path or default_settings_path(paths.data_dir)
    settings = load_settings(settings_path)
    translators = install_translators(app, pick_language(language or settings.language))
    services = StationServices.open(paths)
    error_sink = ErrorSink()
    if install_error_hooks:
        error_sink.install()
    sound_board = SoundBoard(enabled=settings.sounds if sounds is None else sounds)
    line = StationLine(
        services,
        settings,
        station_name=station_name(),
        slot_provider=HardwareSlots(),
        error_sink=error_sink,
        sounds=sound_board,
        settings_path=settings_path,
        development_registry=_development_registry(settings),
    )
    sound_board.setParent(line)
    line.open_ca_from_environment(os.environ.get(CA_PASSPHRASE_ENVIRONMENT_VARIABLE))
    vault_passphrase = os.environ.get(VAULT_PASSPHRASE_ENVIRONMENT_VARIABLE)
    if vault_passphrase:
        try:
            line.vault = services.unlock_vault(vault_passphrase)
            services.journal.audit.append_audit(
                "station", "vault.unlock", f"from {VAULT_PASSPHRASE_ENVIRONMENT_VARIABLE}"
            )
        except StationError as error:
            LOG.warning("vault passphrase from the environment refused: %s", error)
    window = MainWindow(line, error_sink, kiosk=kiosk or settings.kiosk)
    scanner = None
    if settings.scanner.serial_port:
        scanner = SerialScannerReader(settings.scanner.serial_port, settings.scanner.baud_rate, line)
        scanner.scanned.connect(line.handle_scan)
        scanner.scanned.connect(window.idle_watch.poke)
        scanner.failed.connect(lambda message: error_sink.report_message("serial scanner", message))
        scanner.start()
    return Station(services, line, window, error_sink, translators, scanner=scanner)


def run_station(arguments: argparse.Namespace) -> int:
    """``station gui``: the operator application for this station's line."""
    app = application()
    paths = StationPaths.from_environment(data_dir=arguments.data_dir, db_url=arguments.db)
    station = build_station(
        paths,
        settings_path=arguments.settings,
        kiosk=arguments.kiosk,
        language=arguments.language,
        verbose=arguments.verbose,
    )
    station.window.resize(1400, 900)
    station.window.apply_kiosk()
    try:
        return app.exec()
    finally:
        station.close()


def temporary_demo_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="station-demo-"))
