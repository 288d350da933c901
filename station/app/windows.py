"""The window, built around a station the root built: ``station gui`` and ``station demo``."""

from __future__ import annotations

import argparse
from pathlib import Path

from station.app.root import CompositionRoot
from station.config.settings import ScannerSettings
from station.domain.recipe import CredentialPlan
from station.gui.main import StationWindow, open_window
from station.operations.station import (
    TRAINING_WINDOW_TIMING,
    DemoOptions,
    StationOptions,
    demo_targets,
    demo_timing,
)
from station.sim.demo import (
    DEMO_ENGINEER,
    DEMO_ENGINEER_PIN,
    DEMO_OPERATOR,
    DEMO_SUPERVISOR,
    DEMO_SUPERVISOR_PIN,
)


def build_line_window(
    root: CompositionRoot,
    options: StationOptions,
    *,
    kiosk: bool = False,
    language: str | None = None,
    sounds: bool | None = None,
    install_error_hooks: bool = True,
) -> StationWindow:
    """The window for a real line, from the station settings (recipe, slots, scanner)."""
    station = root.open_station(options)
    try:
        root.open_with_passphrases_from_environment(station)
        return open_window(station, kiosk=kiosk, language=language, sounds=sounds,
                           install_error_hooks=install_error_hooks)  # fmt: skip
    except BaseException:
        station.close()
        raise


def build_demo_window(
    root: CompositionRoot,
    demo_root: Path | None = None,
    *,
    slots: int = 3,
    timing: float = TRAINING_WINDOW_TIMING,
    plan: CredentialPlan = CredentialPlan.STATION_GENERATED,
    recipe_path: Path | None = None,
    sounds: bool = True,
    language: str | None = None,
    verbose: bool = False,
    scanner: ScannerSettings | None = None,
    install_error_hooks: bool = True,
    targets: tuple[str, ...] = (),
) -> StationWindow:
    """The training station on simulated units, signed in as the demo operator, ready to scan;
    ``targets``: the slots' chip families in turn (a mixed line)."""
    demo = DemoOptions(root=demo_root, slots=slots, timing=timing, plan=plan, recipe_path=recipe_path,
                       scanner=scanner, sounds=sounds, targets=targets)  # fmt: skip
    station = root.open_demo(demo, verbose=verbose)
    try:
        return open_window(station, language=language, sounds=sounds, install_error_hooks=install_error_hooks)
    except BaseException:
        station.close()
        raise


def run_line_window(root: CompositionRoot, arguments: argparse.Namespace) -> int:
    options = StationOptions(data_dir=arguments.data_dir, db_url=arguments.db, settings_path=arguments.settings,
                             verbose=arguments.verbose)  # fmt: skip
    return build_line_window(root, options, kiosk=arguments.kiosk, language=arguments.language).run()


def run_demo_window(root: CompositionRoot, arguments: argparse.Namespace) -> int:
    windowed = build_demo_window(
        root,
        arguments.demo_dir,
        slots=arguments.units,
        timing=demo_timing(arguments.timing, window=True),
        plan=CredentialPlan(arguments.plan),
        language=getattr(arguments, "language", None),
        verbose=arguments.verbose,
        targets=demo_targets(arguments.targets),
    )
    training = windowed.operations.training
    assert training is not None
    print(f"demo directory: {training.environment.root}", flush=True)
    print(f"to use its records and units from a shell (station units show, station report, pyocd list): "
          f"{training.environment.shell_environment}", flush=True)
    print(
        f"training accounts: operator {DEMO_OPERATOR}; supervisor {DEMO_SUPERVISOR} PIN {DEMO_SUPERVISOR_PIN}; "
        f"engineer {DEMO_ENGINEER} PIN {DEMO_ENGINEER_PIN}",
        flush=True,
    )
    return windowed.run()
