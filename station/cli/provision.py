"""``station provision``, ``station rework``, ``station recover`` and ``station demo``.

The command-line front end of the per-unit sequence: the same operations the window runs,
one line per step as it goes, and a final ``PASS <serial>`` or
``FAIL <serial> <step> <code>: <message>``; with ``--json`` the same as NDJSON events (a
``step`` object per step, then a ``result``). Exit 0 on pass, 1 on a unit failure, 2 on a
usage or configuration error. A supervisor's action (rework, an inspection's finding) needs
the supervisor's PIN: asked on the terminal, or read from ``--pin-file``.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

from station.cli.display import WINDOW_ADVICE, window_problem
from station.cli.options import add_store_options, station_options
from station.cli.output import add_json_option, json_wanted, print_document, print_event
from station.cli.passphrase import obtain_passphrase
from station.cli.pins import add_supervisor_options, obtain_pin
from station.config import CA_PASSPHRASE_ENVIRONMENT_VARIABLE, VAULT_PASSPHRASE_ENVIRONMENT_VARIABLE
from station.config.settings import SlotSettings
from station.domain.errors import ConfigurationError, ScanError, UnitReworkedError
from station.domain.identity import Serial
from station.domain.languages import LANGUAGES
from station.domain.outcome import AttemptOutcome
from station.domain.recipe import CredentialPlan, StepName
from station.domain.records import StepOutcome
from station.domain.scan import parse_scan
from station.domain.text import escape_text, token
from station.operations.station import DemoOptions, Station, StationFactory, demo_targets, demo_timing
from station.sim.demo import DEMO_OPERATOR, DemoEnvironment, demo_data_dir, demo_sim_dir
from station.sim.demo_recipe import write_demo_recipe_folder

EXIT_OK, EXIT_UNIT_FAILED, EXIT_USAGE = 0, 1, 2
SUMMARY_STEPS = [step.value for step in StepName if step is not StepName.REWORK]
CLI_SLOT = "cli"
NO_CONSOLE = "(none: this command talks to the probe only)"


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
        print(f"{self._prefix}{step:<12} {outcome.value:<7} {seconds:6.2f} s  {escape_text(detail)}", file=self._out,
              flush=True)  # fmt: skip

    def progress(self, step: str, fraction: float) -> None:
        """Progress bars belong to the GUI; the CLI prints the step line at its end."""

    def identified(self, serial: str, device_id: str) -> None:
        pass

    def console_line(self, line: str) -> None:
        """The console's lines go to the attempt's transcript (``station units show``), not here."""


class EventPrinter(LinePrinter):
    """``--json``: one NDJSON ``step`` event per step, as it ends, naming the unit's serial."""

    def __init__(self, serial: str, out: TextIO | None = None) -> None:
        super().__init__(out)
        self._serial = serial

    def identified(self, serial: str, device_id: str) -> None:
        self._serial = serial  # a unit without a label has its serial from here on

    def step_finished(self, step: str, outcome: StepOutcome, detail: str) -> None:
        seconds = time.monotonic() - self._started.get(step, time.monotonic())
        print_event("step", self._out, serial=self._serial, step=step, outcome=outcome.value,
                    seconds=round(seconds, 3), detail=detail)  # fmt: skip


def _observer(arguments: argparse.Namespace, serial: str, out: TextIO | None = None, prefix: str = "") -> LinePrinter:
    return EventPrinter(serial, out) if json_wanted(arguments) else LinePrinter(out, prefix)


def outcome_fields(outcome: AttemptOutcome) -> dict[str, object]:
    """What ``PASS <serial>`` or ``FAIL <serial> <step> <code>: <message>`` says, as data."""
    return {
        "serial": outcome.serial,
        "result": "PASS" if outcome.passed else "FAIL",
        "step": outcome.failure_step,
        "code": outcome.failure_code,
        "message": outcome.message or None,
        "attempt_id": outcome.attempt_id,
        "device_id": outcome.device_id,
        "step_seconds": {step: round(seconds, 3) for step, seconds in outcome.step_seconds.items()},
    }


def register(subparsers: Any) -> None:
    provision = subparsers.add_parser("provision", help="provision one unit: flash, credentials, lock, activate")
    provision.add_argument("--recipe", type=Path, required=True, help="the product's recipe (TOML)")
    label = provision.add_mutually_exclusive_group(required=True)
    label.add_argument("--serial", help="the scanned label text")
    label.add_argument("--allocate-serial", action="store_true",
                       help="the unit has no label: give it the next serial of the work order's rule")
    provision.add_argument("--probe", required=True, help="pyOCD probe unique id (sim:unit-0001 for a simulated unit)")
    provision.add_argument("--console", required=True, help="the unit's serial console port, e.g. /dev/ttyACM0")
    provision.add_argument("--operator", required=True, help="who runs the unit")
    provision.add_argument("--work-order", default=None, help="work order the unit is built for")
    add_store_options(provision)
    add_json_option(provision, stream=True)
    provision.set_defaults(handler=_provision)

    rework = subparsers.add_parser(
        "rework", help="supervisor: erase a (locked) unit; it becomes a development unit that never ships"
    )
    rework.add_argument("--recipe", type=Path, required=True)
    rework.add_argument("--serial", required=True)
    rework.add_argument("--probe", required=True)
    add_supervisor_options(rework, "approving the erase")
    add_store_options(rework)
    add_json_option(rework, stream=True)
    rework.set_defaults(handler=_rework)

    recover = subparsers.add_parser(
        "recover",
        help="settle attempts a crash left open, by asking the units; or record a supervisor's inspection",
        description="With --recipe and --probe: settle this station's open attempts by asking the units. "
        "With --inspected ATTEMPT --note TEXT --supervisor NAME: record what a supervisor found on a unit "
        "that recovery could not ask (MAY_BE_LOCKED).",
    )
    recover.add_argument("--recipe", type=Path, default=None)
    recover.add_argument("--probe", action="append", default=[], help="probe ids of this station's slots")
    recover.add_argument("--inspected", type=int, metavar="ATTEMPT", default=None,
                         help="the attempt a supervisor has inspected")  # fmt: skip
    recover.add_argument("--note", default=None, help="what the inspection found (recorded with the attempt)")
    add_supervisor_options(recover, "who inspected the unit", required=False)
    add_store_options(recover)
    add_json_option(recover)
    recover.set_defaults(handler=_recover)

    demo = subparsers.add_parser("demo", help="the station on simulated units (demo and training)")
    demo.add_argument("--headless", action="store_true", help="no window: provision the units and print a summary")
    demo.add_argument("--units", type=int, default=3, help="how many simulated units (default 3)")
    demo.add_argument("--timing", type=float, default=None,
                      help="physical timing factor of the simulated units: 0 instant, 1 the datasheet's speed "
                      "(default: 1 in the training window, so that each step can be seen; 0 headless)")  # fmt: skip
    demo.add_argument(
        "--plan", choices=[plan.value for plan in CredentialPlan], default=CredentialPlan.STATION_GENERATED.value
    )
    demo.add_argument("--demo-dir", type=Path, default=None, help="demo directory (default: STATION_DEMO_DIR)")
    demo.add_argument(
        "--targets", default=None, metavar="FAMILIES",
        help="a line of mixed chip families: the slots take them in turn, each with its family's demo recipe "
        "(comma-separated: nrf52840, stm32f429xi, k64f; default: nrf52840)",
    )  # fmt: skip
    demo.add_argument(
        "--write-recipe", type=Path, default=None, metavar="DIR",
        help="only write the demo recipe with its firmware images into DIR (a new or empty folder) and say "
        "how to check it; runs nothing",
    )  # fmt: skip
    demo.add_argument("--language", choices=LANGUAGES, default=None,
                        help="the window's language: " + ", ".join(LANGUAGES) + " (default: the system's)")
    add_json_option(demo, stream=True)  # a window prints nothing: --json runs the demo headless
    demo.set_defaults(handler=_demo)


@contextmanager
def station_for_one_slot(
    root: StationFactory, arguments: argparse.Namespace, probe: str, console: str
) -> Iterator[tuple[Station, SlotSettings]]:
    """The station, with the recipe and the one slot this command names."""
    slot = SlotSettings(CLI_SLOT, probe, console)
    station = root.open_station(station_options(arguments), recipe=arguments.recipe, slots=(slot,))
    try:
        yield station, slot
    finally:
        station.close()


def _open_ca(station: Station, actor: str) -> None:
    if station.production.recipe is None:
        raise station.production.recipe_refusal or ConfigurationError(
            station.production.recipe_problem or "the recipe could not be loaded")
    station.production.open_ca(lambda: obtain_passphrase(CA_PASSPHRASE_ENVIRONMENT_VARIABLE, "factory CA"), actor)


def _print_outcome(arguments: argparse.Namespace, outcome: AttemptOutcome) -> int:
    if json_wanted(arguments):
        print_event("result", sys.stdout, **outcome_fields(outcome))
    else:
        print(outcome.summary, flush=True)
    return EXIT_OK if outcome.passed else EXIT_UNIT_FAILED


def _provision(arguments: argparse.Namespace, root: StationFactory) -> int:
    with station_for_one_slot(root, arguments, arguments.probe, arguments.console) as (station, slot):
        operator = arguments.operator
        _open_ca(station, operator)
        station.production.unlock_vault(lambda: obtain_passphrase(VAULT_PASSPHRASE_ENVIRONMENT_VARIABLE, "token vault"),
                                        operator)  # fmt: skip
        if arguments.work_order:
            station.units.work_order = arguments.work_order
        for settled in station.units.recover(station.settings.slots):
            if json_wanted(arguments):
                print_event("recovered", attempt_id=settled.id, serial=settled.serial, result=settled.result.value,
                            code=settled.failure_code, message=settled.failure_message)  # fmt: skip
                continue
            print(f"recovered attempt {settled.id} ({token(settled.serial)}): "
                  f"{escape_text(settled.failure_message or '')}", flush=True)  # fmt: skip
        recipe = station.production.recipe
        assert recipe is not None
        serial: Serial | None = None
        if not arguments.allocate_serial:
            try:
                serial = parse_scan(arguments.serial, recipe.serial_rule)
            except ScanError as error:
                return _print_outcome(arguments, AttemptOutcome.refused(arguments.serial, error))
        observer = _observer(arguments, "" if serial is None else serial.value)
        outcome = station.units.provisioning_job(serial, slot, operator).run(observer)
    return _print_outcome(arguments, outcome)


def _rework(arguments: argparse.Namespace, root: StationFactory) -> int:
    pin = obtain_pin(arguments.supervisor, arguments.pin_file)  # refused before anything is touched
    with station_for_one_slot(root, arguments, arguments.probe, NO_CONSOLE) as (station, slot):
        _open_ca(station, arguments.supervisor)
        recipe = station.production.recipe
        assert recipe is not None
        serial = parse_scan(arguments.serial, recipe.serial_rule)
        job = station.units.rework_job(serial, slot, arguments.supervisor, pin)
        outcome = job.run(_observer(arguments, serial.value))
    erased = isinstance(outcome.error, UnitReworkedError)
    if json_wanted(arguments):
        print_event("rework", serial=outcome.serial, erased=erased, code=outcome.failure_code,
                    message=outcome.message or None, attempt_id=outcome.attempt_id)  # fmt: skip
        return EXIT_OK if erased else EXIT_UNIT_FAILED
    print(f"REWORK {token(outcome.serial)} {outcome.failure_code}: {escape_text(outcome.message)}", flush=True)
    return EXIT_OK if isinstance(outcome.error, UnitReworkedError) else EXIT_UNIT_FAILED


def _recover(arguments: argparse.Namespace, root: StationFactory) -> int:
    if arguments.inspected is not None:
        return _record_inspection(arguments, root)
    if arguments.recipe is None:
        raise ConfigurationError("give --recipe and the --probe of each slot to settle open attempts, "
                                 "or --inspected ATTEMPT to record an inspection")  # fmt: skip
    slots = tuple(SlotSettings(f"probe-{number}", probe, NO_CONSOLE) for number, probe in enumerate(arguments.probe, 1))
    station = root.open_station(station_options(arguments), recipe=arguments.recipe, slots=slots)
    try:
        _open_ca(station, "recovery")
        settled = station.units.recover(station.settings.slots)
    finally:
        station.close()
    if json_wanted(arguments):
        print_document({"settled": [
            {"attempt_id": attempt.id, "serial": attempt.serial, "result": attempt.result.value,
             "code": attempt.failure_code, "message": attempt.failure_message} for attempt in settled]})
        return EXIT_OK
    for attempt in settled:
        print(f"attempt {attempt.id} {token(attempt.serial)}: {attempt.result.value} {attempt.failure_code}: "
              f"{escape_text(attempt.failure_message or '')}")  # fmt: skip
    if not settled:
        print("no unfinished attempts")
    return EXIT_OK


def _record_inspection(arguments: argparse.Namespace, root: StationFactory) -> int:
    if not arguments.supervisor or not arguments.note:
        raise ConfigurationError("an inspection needs --supervisor NAME and --note TEXT (what was found)")
    pin = obtain_pin(arguments.supervisor, arguments.pin_file)
    station = root.open_station(station_options(arguments))
    try:
        record = station.supervision.acknowledge_inspection(arguments.inspected, arguments.note,
                                                            arguments.supervisor, pin)  # fmt: skip
    finally:
        station.close()
    if json_wanted(arguments):
        print_document({"attempt_id": record.attempt_id, "supervisor": record.supervisor, "note": record.note})
        return EXIT_OK
    print(f"attempt {record.attempt_id} inspected by {record.supervisor}: {escape_text(record.note)}")
    return EXIT_OK


def _demo(arguments: argparse.Namespace, root: StationFactory) -> int:
    if arguments.write_recipe is not None:
        return _write_demo_recipe(arguments, arguments.write_recipe, CredentialPlan(arguments.plan))
    if arguments.units < 1:
        raise ConfigurationError("--units must be at least 1")
    if not arguments.headless and not json_wanted(arguments):
        problem = window_problem()
        if problem is None:
            return root.run_demo_gui(arguments)
        print(f"station demo: {problem}: running the demo headless (as --headless: it provisions the units "
              f"and prints a summary). {WINDOW_ADVICE}", file=sys.stderr, flush=True)  # fmt: skip
    return run_headless_demo(root, arguments)


def _write_demo_recipe(arguments: argparse.Namespace, folder: Path, plan: CredentialPlan) -> int:
    written = write_demo_recipe_folder(folder, plan=plan)
    if json_wanted(arguments):
        print_document({"folder": folder, "files": written, "recipe": written[0],
                        "check_command": f"station recipe check {shlex.quote(str(written[0]))}"})
        return EXIT_OK
    print(f"wrote the demo recipe and the firmware images it pins to {folder}:")
    for path in written:
        print(f"  {path}")
    print(f"check it with:  station recipe check {shlex.quote(str(written[0]))}")
    return EXIT_OK


def run_headless_demo(root: StationFactory, arguments: argparse.Namespace, out: TextIO | None = None) -> int:
    """Provision ``--units`` new simulated units one after another and print a summary table (with
    ``--json``: NDJSON events, ``demo``, per unit ``unit``, ``step``s and ``result``, then ``summary``)."""
    out = out or sys.stdout
    demo = DemoOptions(root=arguments.demo_dir, slots=arguments.units, plan=CredentialPlan(arguments.plan),
                       timing=demo_timing(arguments.timing, window=False),
                       targets=demo_targets(arguments.targets))  # fmt: skip
    station = root.open_demo(demo, verbose=arguments.verbose)
    assert station.training is not None
    outcomes: list[AttemptOutcome] = []
    serials: list[str] = []
    families: list[str] = []
    as_json = json_wanted(arguments)
    try:
        if as_json:
            print_event("demo", out, directory=station.training.environment.root, units=arguments.units)
        else:
            print(f"demo directory: {station.training.environment.root}", file=out, flush=True)
        units = station.training.units
        for slot in station.settings.slots:
            serial = units.next_serial(lambda text: station.database.units.get_unit(text) is not None, slot.name)
            serials.append(serial)
            families.append(units.target(slot.name))
            if as_json:
                print_event("unit", out, serial=serial, slot=slot.name, probe_id=slot.probe,
                            target=units.target(slot.name))  # fmt: skip
            else:
                print(f"--- {serial} in slot {slot.name}", file=out, flush=True)
            job = station.units.provisioning_job(Serial(serial), slot, DEMO_OPERATOR)
            outcome = job.run(_observer(arguments, serial, out, prefix="    "))
            if as_json:
                print_event("result", out, slot=slot.name, **outcome_fields(outcome))
            else:
                print(f"    {outcome.summary}", file=out, flush=True)
            outcomes.append(outcome)
        environment = station.training.environment
    finally:
        station.close()
    if as_json:
        print_event("summary", out, units=[outcome_fields(outcome) for outcome in outcomes],
                    families=family_figures(outcomes, families),
                    passed=sum(1 for outcome in outcomes if outcome.passed), data_dir=demo_data_dir(environment.root),
                    sim_dir=demo_sim_dir(environment.root), shell=environment.shell_environment,
                    commands=demo_next_commands(serials[0]))  # fmt: skip
    else:
        _print_summary(outcomes, families, out)
        print_demo_next_steps(environment, serials[0], out)
    return EXIT_OK if all(outcome.passed for outcome in outcomes) else EXIT_UNIT_FAILED


def print_demo_next_steps(environment: DemoEnvironment, serial: str, out: TextIO) -> None:
    """The one line that points a shell at the demo, and commands that work as printed after it
    (a test runs each of them, verbatim, in a fresh home directory)."""
    print(f"\nThe demo's records are in {demo_data_dir(environment.root)} and its simulated units in "
          f"{demo_sim_dir(environment.root)}. Point this shell at them:", file=out)
    print(f"\n  {environment.shell_environment}\n", file=out)
    print("then, for example:\n", file=out)
    for command in demo_next_commands(serial):
        print(f"  {command}", file=out)


def demo_next_commands(serial: str) -> list[str]:
    """What the demo suggests running next, in a shell pointed at it."""
    return [
        f"station units show {serial}",
        "station report yield",
        "station report export --format csv --out demo.csv",
        "station report verify demo.csv",
        "pyocd list",
    ]


def family_figures(outcomes: list[AttemptOutcome], families: list[str]) -> list[dict[str, object]]:
    """Per chip family: units, passes, mean seconds per unit and in the flash step (a mixed line)."""
    figures: list[dict[str, object]] = []
    for family in dict.fromkeys(families):
        mine = [outcome for outcome, of in zip(outcomes, families, strict=True) if of == family]
        totals = [sum(outcome.step_seconds.values()) for outcome in mine]
        flash = [outcome.step_seconds["flash"] for outcome in mine if "flash" in outcome.step_seconds]
        figures.append({
            "family": family, "units": len(mine), "passed": sum(1 for outcome in mine if outcome.passed),
            "mean_seconds": round(sum(totals) / len(totals), 3) if totals else None,
            "mean_flash_seconds": round(sum(flash) / len(flash), 3) if flash else None,
        })  # fmt: skip
    return figures


def _print_summary(outcomes: list[AttemptOutcome], families: list[str], out: TextIO) -> None:
    header = (f"{'serial':<12} {'family':<12} {'device id':<32} {'result':<6} "
              + " ".join(f"{s[:8]:>8}" for s in SUMMARY_STEPS))  # fmt: skip
    print("\n" + header, file=out)
    print("-" * len(header), file=out)
    for outcome, family in zip(outcomes, families, strict=True):
        step_seconds = outcome.step_seconds
        seconds = " ".join(
            f"{step_seconds[s]:8.2f}" if s in step_seconds else f"{'-':>8}" for s in SUMMARY_STEPS
        )
        result = "PASS" if outcome.passed else "FAIL"
        print(f"{outcome.serial:<12} {family:<12} {outcome.device_id or '-':<32} {result:<6} {seconds}", file=out)
        if not outcome.passed:
            print(f"{'':<12} {outcome.failure_step} {outcome.failure_code}: {escape_text(outcome.message)}", file=out)
    print(f"\n{'family':<12} {'units':>5} {'passed':>6} {'s/unit':>8} {'flash s':>8}", file=out)
    for figure in family_figures(outcomes, families):
        mean, flash = figure["mean_seconds"], figure["mean_flash_seconds"]
        print(f"{figure['family']!s:<12} {figure['units']!s:>5} {figure['passed']!s:>6} "
              f"{'-' if mean is None else f'{mean:.2f}':>8} {'-' if flash is None else f'{flash:.2f}':>8}",
              file=out)  # fmt: skip
