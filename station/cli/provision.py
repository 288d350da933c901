"""``station provision``, ``station rework``, ``station recover`` and ``station demo``.

The command-line front end of the per-unit sequence: the same ``UnitProvisioner`` the GUI
runs, one line per step as it goes, and a final ``PASS <serial>`` or
``FAIL <serial> <step> <code>: <message>``. Exit 0 on pass, 1 on a unit failure, 2 on a
usage or configuration error.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from station.config import CA_PASSPHRASE_ENVIRONMENT_VARIABLE, VAULT_PASSPHRASE_ENVIRONMENT_VARIABLE, StationPaths
from station.domain.errors import ConfigurationError, ScanError, UnitReworkedError
from station.domain.outcome import AttemptOutcome
from station.domain.recipe import CredentialPlan, Recipe, StepName
from station.domain.records import StepOutcome
from station.domain.scan import parse_scan
from station.flow.ports import DevelopmentUnitRegistry
from station.flow.run import StationContext
from station.flow.sequence import UnitProvisioner

EXIT_OK, EXIT_UNIT_FAILED, EXIT_USAGE = 0, 1, 2
SUMMARY_STEPS = [step.value for step in StepName]


class LinePrinter:
    """Prints one line per step, as it goes (the CLI's ProvisioningObserver)."""

    def __init__(self, out: TextIO | None = None, prefix: str = "") -> None:
        self._out = out or sys.stdout  # looked up now: tests and front ends replace sys.stdout
        self._prefix = prefix
        self._started: dict[str, float] = {}

    def step_started(self, step: str) -> None:
        self._started[step] = time.monotonic()

    def step_finished(self, step: str, outcome: StepOutcome, detail: str) -> None:
        seconds = time.monotonic() - self._started.get(step, time.monotonic())
        print(f"{self._prefix}{step:<12} {outcome.value:<7} {seconds:6.2f} s  {detail}", file=self._out, flush=True)

    def progress(self, step: str, fraction: float) -> None:
        """Progress bars belong to the GUI; the CLI prints the step line at its end."""

    def identified(self, serial: str, device_id: str) -> None:
        pass


def _add_store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default=None, help="SQLAlchemy URL of the station database (default: STATION_DB_URL)")
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="station data directory (default: STATION_DATA_DIR)"
    )


def register(subparsers: Any) -> None:
    provision = subparsers.add_parser("provision", help="provision one unit: flash, credentials, lock, activate")
    provision.add_argument("--recipe", type=Path, required=True, help="the product's recipe (TOML)")
    provision.add_argument("--serial", required=True, help="the scanned label text")
    provision.add_argument("--probe", required=True, help="pyOCD probe unique id (sim:unit-0001 for a simulated unit)")
    provision.add_argument("--console", required=True, help="the unit's serial console port, e.g. /dev/ttyACM0")
    provision.add_argument("--operator", required=True, help="who runs the unit")
    provision.add_argument("--work-order", default=None, help="work order the unit is built for")
    _add_store_options(provision)
    provision.set_defaults(handler=_provision)

    rework = subparsers.add_parser(
        "rework", help="supervisor: erase a (locked) unit; it becomes a development unit that never ships"
    )
    rework.add_argument("--recipe", type=Path, required=True)
    rework.add_argument("--serial", required=True)
    rework.add_argument("--probe", required=True)
    rework.add_argument("--supervisor", required=True, help="the supervisor approving the erase (recorded)")
    _add_store_options(rework)
    rework.set_defaults(handler=_rework)

    recover = subparsers.add_parser("recover", help="settle attempts a crash left open, by asking the units")
    recover.add_argument("--recipe", type=Path, required=True)
    recover.add_argument("--probe", action="append", default=[], help="probe ids of this station's slots")
    _add_store_options(recover)
    recover.set_defaults(handler=_recover)

    demo = subparsers.add_parser("demo", help="the station on simulated units (demo and training)")
    demo.add_argument("--headless", action="store_true", help="no window: provision the units and print a summary")
    demo.add_argument("--units", type=int, default=3, help="how many simulated units (default 3)")
    demo.add_argument("--timing", type=float, default=0.0, help="physical timing factor of new units (default 0)")
    demo.add_argument(
        "--plan", choices=[plan.value for plan in CredentialPlan], default=CredentialPlan.STATION_GENERATED.value
    )
    demo.add_argument("--demo-dir", type=Path, default=None, help="demo directory (default: STATION_DEMO_DIR)")
    demo.set_defaults(handler=_demo)


def _paths(arguments: argparse.Namespace) -> StationPaths:
    return StationPaths.from_environment(data_dir=arguments.data_dir, db_url=arguments.db)


def _registry_for(probe_id: str) -> DevelopmentUnitRegistry | None:
    """Simulated units activate against the simulated service; ask it about development units."""
    if probe_id.lower().startswith("sim:"):
        from station.drivers.dms import SimulatedDeviceManagementClient
        from station.sim.units import default_sim_dir

        return SimulatedDeviceManagementClient(default_sim_dir())
    return None


def _print_outcome(outcome: AttemptOutcome) -> int:
    print(outcome.summary, flush=True)
    return EXIT_OK if outcome.passed else EXIT_UNIT_FAILED


@contextlib.contextmanager
def _provisioner(
    arguments: argparse.Namespace,
    operator: str,
    *,
    with_vault: bool,
    work_order: str | None = None,
    probe: str = "",
) -> Iterator[tuple[UnitProvisioner, Recipe, StationContext]]:
    """The station's services and sequence for one command: store, recipe, CA, vault if needed."""
    from station.app import StationServices, configure_logging, station_name
    from station.cli.passphrase import obtain_passphrase

    paths = _paths(arguments)
    configure_logging(paths, verbose=arguments.verbose)
    services = StationServices.open(paths)
    try:
        recipe = services.load_recipe(arguments.recipe)
        ca_passphrase = obtain_passphrase(CA_PASSPHRASE_ENVIRONMENT_VARIABLE, "factory CA")
        vault = (
            services.unlock_vault(obtain_passphrase(VAULT_PASSPHRASE_ENVIRONMENT_VARIABLE, "token vault"))
            if with_vault
            else None
        )
        yield (
            services.provisioner(
                recipe, ca_passphrase=ca_passphrase, vault=vault, development_registry=_registry_for(probe)
            ),
            recipe,
            StationContext(station_name(), operator, work_order),
        )
    finally:
        services.close()


def _provision(arguments: argparse.Namespace) -> int:
    from station.app import make_slot

    with _provisioner(
        arguments, arguments.operator, with_vault=True, work_order=arguments.work_order, probe=arguments.probe
    ) as (provisioner, recipe, context):
        slot = make_slot("cli", arguments.probe, arguments.console, recipe)
        for settled in provisioner.recover_unfinished(context.station, {arguments.probe: slot}):
            print(f"recovered attempt {settled.id} ({settled.serial}): {settled.failure_message}", flush=True)
        try:
            serial = parse_scan(arguments.serial, recipe.serial_rule)
        except ScanError as error:
            return _print_outcome(AttemptOutcome.refused(arguments.serial, error))
        outcome = provisioner.provision(serial, slot, context, LinePrinter())
    return _print_outcome(outcome)


def _rework(arguments: argparse.Namespace) -> int:
    from station.app import make_slot

    with _provisioner(arguments, arguments.supervisor, with_vault=False) as (provisioner, recipe, context):
        slot = make_slot("cli", arguments.probe, "rework-has-no-console", recipe)
        serial = parse_scan(arguments.serial, recipe.serial_rule)
        outcome = provisioner.rework(serial, slot, context)
    print(f"REWORK {outcome.serial} {outcome.failure_code}: {outcome.message}", flush=True)
    return EXIT_OK if isinstance(outcome.error, UnitReworkedError) else EXIT_UNIT_FAILED


def _recover(arguments: argparse.Namespace) -> int:
    from station.app import make_slot

    with _provisioner(arguments, "recovery", with_vault=False) as (provisioner, recipe, context):
        slots = {probe: make_slot(probe, probe, "recovery-has-no-console", recipe) for probe in arguments.probe}
        settled = provisioner.recover_unfinished(context.station, slots)
    for attempt in settled:
        print(
            f"attempt {attempt.id} {attempt.serial}: {attempt.result.value} {attempt.failure_code}: "
            f"{attempt.failure_message}"
        )
    if not settled:
        print("no unfinished attempts")
    return EXIT_OK


def _demo(arguments: argparse.Namespace) -> int:
    if arguments.units < 1:
        raise ConfigurationError("--units must be at least 1")
    if not arguments.headless and _display_available():
        try:
            from station.gui.main import run_demo  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            print("the operator window is not available in this build; running the demo headless", flush=True)
        else:
            result: int = run_demo(arguments)
            return result
    return run_headless_demo(
        units=arguments.units,
        timing=arguments.timing,
        plan=CredentialPlan(arguments.plan),
        demo_dir=arguments.demo_dir,
        verbose=arguments.verbose,
    )


def _display_available() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) or sys.platform in ("win32", "darwin")


def run_headless_demo(
    *,
    units: int,
    timing: float,
    plan: CredentialPlan,
    demo_dir: Path | None,
    verbose: bool = False,
    out: TextIO | None = None,
) -> int:
    """Provision ``units`` new simulated units one after another and print a summary table."""
    from station.app import StationServices, configure_logging, make_slot, station_name

    out = out or sys.stdout
    from station.demo import next_demo_serials, prepare_demo

    environment = prepare_demo(demo_dir, plan=plan)
    configure_logging(environment.paths, verbose=verbose)
    print(f"demo directory: {environment.root}", file=out, flush=True)
    services = StationServices.open(environment.paths)
    outcomes: list[AttemptOutcome] = []
    try:
        recipe = services.load_recipe(environment.recipe_path)
        provisioner = services.provisioner(
            recipe,
            ca_passphrase=environment.ca_passphrase,
            vault=environment.unlock_vault(),
            development_registry=environment.development_registry(),
        )
        context = StationContext(station_name(), "demo-operator", "WO-DEMO")
        new_units = environment.create_units(units, timing_factor=timing)
        serials = next_demo_serials(lambda serial: services.database.units.get_unit(serial) is not None, units)
        with environment.simulator_host():
            for unit, serial in zip(new_units, serials, strict=True):
                slot = make_slot("demo", unit.probe_id, environment.console_path(unit), recipe)
                print(f"--- {serial} on {unit.probe_id}", file=out, flush=True)
                outcome = provisioner.provision(
                    parse_scan(serial, recipe.serial_rule), slot, context, LinePrinter(out, prefix="    ")
                )
                print(f"    {outcome.summary}", file=out, flush=True)
                outcomes.append(outcome)
                unit.close()
    finally:
        services.close()
    _print_summary(outcomes, out)
    database_url = environment.paths.db_url
    print(f"\nhistory: station units show {serials[0]} --db {database_url}", file=out)
    print(f"export:  station report export --format csv --out demo.csv --db {database_url}", file=out)
    return EXIT_OK if all(outcome.passed for outcome in outcomes) else EXIT_UNIT_FAILED


def _print_summary(outcomes: list[AttemptOutcome], out: TextIO) -> None:
    header = f"{'serial':<12} {'device id':<16} {'result':<6} " + " ".join(f"{s[:8]:>8}" for s in SUMMARY_STEPS)
    print("\n" + header, file=out)
    print("-" * len(header), file=out)
    for outcome in outcomes:
        seconds = " ".join(
            f"{outcome.step_seconds[s]:8.2f}" if s in outcome.step_seconds else f"{'-':>8}" for s in SUMMARY_STEPS
        )
        result = "PASS" if outcome.passed else "FAIL"
        print(f"{outcome.serial:<12} {outcome.device_id or '-':<16} {result:<6} {seconds}", file=out)
        if not outcome.passed:
            print(f"{'':<12} {outcome.failure_step} {outcome.failure_code}: {outcome.message}", file=out)
