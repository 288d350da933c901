"""One station process of the line_store benchmark (benchmarks/line_store.py), and how the
benchmark prepares its databases and starts the processes.

A station provisions its units through its own sequence (``UnitProvisioner``) against the real
store, ``--slots`` slot threads at once; only the unit is a double (tests/fakes.py), its physical
time modelled from the profile benchmark. With a line database (``STATION_BENCH_LINE_URL``) the
station works as a line station does: a ``LineLink`` forwards its chain in the background while
it works (policy ``continue``), and its serials are claimed on the line at each scan and released
at the verdict (``line_claims``), development units looked up on the line too -- as
``station.operations.production`` wires them. The database URLs come in the environment, not
the command line (the throwaway server's password stays out of the process list).

Each unit's store cost (benchmarks/store_clock.py) goes to ``--out`` as JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the hand-written fake unit
sys.path.insert(0, str(HERE))

from store_clock import StoreClock, UnitCost  # noqa: E402

STATION_DB_VARIABLE, LINE_DB_VARIABLE = "STATION_BENCH_DB_URL", "STATION_BENCH_LINE_URL"
OPERATOR_SCAN_INTERVAL_S = 0.25
VAULT_PASSPHRASE = "line-store benchmark vault passphrase"
TOKENS = 4
# The unit's own time in each step (seconds), from the profile benchmark (a 64 KiB application on
# a simulated nRF52840 at timing factor 1: benchmarks/results/profile.json).
PHYSICAL_SECONDS = {"connect": 0.034, "flash": 2.747, "verify": 0.003, "credentials": 0.133, "lock": 0.008,
                    "lock-confirm": 0.028, "activate": 0.019, "identity": 0.006}  # fmt: skip


class LineWarnings(logging.Handler):
    """What the line link warned of (a claim not taken, a forward refused): a line station that
    fell back on its own journal is not measuring the line, so the benchmark reports them."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def run_station(arguments: argparse.Namespace) -> dict[str, Any]:
    """One station process: its slots provision ``--units`` units each; each unit's store cost."""
    from fakes import FakeConsole, FakeIssuer, FakeProbe, FakeUnit

    from station.config.line import LineSettings
    from station.domain.identity import Serial
    from station.domain.recipe_loader import load_recipe
    from station.flow.observer import QuietObserver
    from station.flow.ports import Journal
    from station.flow.run import Slot, StationContext
    from station.flow.sequence import UnitProvisioner
    from station.flow.watchdog import Watchdog
    from station.operations.line_link import AnyRegistry, LineLink
    from station.operations.owners import Heartbeat, Ownership, ProcessIdentity
    from station.security.station_key import load_or_create_station_key
    from station.security.vault import TokenVault
    from station.store import open_database

    class PhysicalTime(QuietObserver):
        """The unit's own time in each step, spent once the step's RUNNING row is committed."""

        def step_started(self, step: str) -> None:
            time.sleep(PHYSICAL_SECONDS.get(step, 0.0) * arguments.pace)

    name, data = arguments.station, Path(arguments.data)
    recipe = load_recipe(Path(arguments.recipe))
    database = open_database(os.environ[STATION_DB_VARIABLE])
    database.check_schema()
    key = load_or_create_station_key(data / "station-key.pem")
    database.seal_with(key, actor=f"station:{name}")
    database.keep_head_in(data)
    clock = StoreClock(database.engine)
    journal = Journal(attempts=clock.timed(database.attempts, "attempts"),
                      credentials=clock.timed(database.credentials, "credentials"),
                      units=clock.timed(database.units, "units"),
                      audit=clock.timed(database.audit_log(key), "audit"))  # fmt: skip
    vault = TokenVault(clock.timed(database.tokens, "tokens")).unlocked(VAULT_PASSPHRASE)
    ownership = Ownership(ProcessIdentity.current(), timedelta(seconds=60))
    line_url, link, warnings = os.environ.get(LINE_DB_VARIABLE), None, LineWarnings()
    if line_url:  # a line station: forwarding in the background, serials claimed on the line
        settings = LineSettings(database_url=line_url, policy="continue", forward_every_seconds=arguments.forward_every)
        link = LineLink(database, settings, name)
        logger = logging.getLogger("station.operations.line_link")
        logger.setLevel(logging.WARNING)
        logger.addHandler(warnings)
        link.start()
    line = None if link is None else clock.timed(link, "line")
    provisioner = UnitProvisioner(recipe, journal, FakeIssuer(first_number=arguments.number * 10_000_000 + 1), vault,
                                  development_registry=None if line is None else AnyRegistry(line),
                                  ownership=ownership, watchdog=Watchdog.shared(), line_claims=line)  # fmt: skip
    context = StationContext(name, "ann")
    heartbeat = Heartbeat(lambda: database.attempts.heartbeat(ownership.owner(name, "")), 20.0)
    failures: list[str] = []

    def provision(slot: int, number: int, observer: QuietObserver) -> UnitCost:
        unit = FakeUnit(f"{arguments.number:04X}{slot:04X}{number:08X}")
        probe = FakeProbe(unit, probe_id=f"{name}-probe-{slot}")
        clock.begin()
        started = time.perf_counter()
        outcome = provisioner.provision(Serial(f"{name}-{arguments.number}-{slot:02d}-{number:05d}"),
                                        Slot(str(slot), probe, lambda: FakeConsole(unit, recipe)), context, observer)
        cost = clock.end()
        cost.wall_s = time.perf_counter() - started
        if not outcome.passed:
            failures.append(outcome.summary)
        return cost

    provision(0, 0, QuietObserver())  # warm-up: connections opened, statements compiled; not counted
    heartbeat.start()
    Path(arguments.ready).touch()
    while not Path(arguments.go).exists():
        time.sleep(0.01)
    costs: list[list[UnitCost]] = [[] for _ in range(arguments.slots)]

    def slot_worker(index: int) -> None:
        time.sleep((index * OPERATOR_SCAN_INTERVAL_S + arguments.offset) * min(1.0, arguments.pace))
        for number in range(1, arguments.units + 1):
            costs[index].append(provision(index + 1, number, PhysicalTime()))

    threads = [threading.Thread(target=slot_worker, args=(index,)) for index in range(arguments.slots)]
    started, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    heartbeat.stop()
    forwarding = None if link is None else final_drain(link, database, name, line_url or "")
    database.dispose()
    units = [asdict(cost) for slot_costs in costs for cost in slot_costs]
    return {"station": name, "slots": arguments.slots, "wall_s": wall, "cpu_s": cpu, "units": units,
            "failures": failures, "forwarding": forwarding, "line_warnings": warnings.messages}  # fmt: skip


def final_drain(link: Any, database: Any, station: str, line_url: str) -> dict[str, Any]:
    """Once the last unit ended: what the line does not hold yet, and how long the link's close
    (its running pass finished, then everything left forwarded) took to send it."""
    from station.store.line import LineDatabase

    def waiting() -> int:
        line = LineDatabase(line_url)
        try:
            held = line.last_entry(station)
        finally:
            line.dispose()
        return int(database.last_sequence()) - (0 if held is None else held.sequence)

    pending = waiting()
    started = time.perf_counter()
    link.close()
    return {"pending_at_end": pending, "drain_s": time.perf_counter() - started, "pending_after_drain": waiting()}


# ---- the benchmark's side: the databases, the processes --------------------------------------------------


def prepare(url: str, data: Path, recipe_path: Path) -> None:
    """What ``station db upgrade`` and ``station tokens import`` leave: the schema, the recipe, the
    vault with the product's tokens (no use limit), signed by a setup key of its own."""
    from station.domain.recipe_loader import load_recipe
    from station.security.station_key import load_or_create_station_key
    from station.security.vault import TokenVault
    from station.store import open_database

    recipe = load_recipe(recipe_path)
    data.mkdir(parents=True, exist_ok=True)
    database = open_database(url)
    database.upgrade()
    database.seal_with(load_or_create_station_key(data / "setup-key.pem"), actor="station:setup")
    database.registry.record_recipe(recipe.source_text, recipe.product, sha256=recipe.content_hash)
    tokens = [f"benchmark-token-{index:04d}-{os.urandom(8).hex()}" for index in range(TOKENS)]
    TokenVault(database.tokens).import_tokens(VAULT_PASSPHRASE, recipe.activation.token_pool, tokens)
    database.dispose()


@dataclass(frozen=True)
class StationRun:
    url: str
    data: Path
    station: str
    number: int
    slots: int
    units: int
    pace: float
    offset: float = 0.0
    line_url: str | None = None  # a line station: forwarding to it, claiming serials on it
    forward_every: float = 2.0


def run_stations(runs: list[StationRun], recipe_path: Path, work: Path) -> list[dict[str, Any]]:
    """Start each station in a process of its own; once all are ready, let them go together."""
    go = work / f"go-{time.monotonic_ns()}"
    processes = []
    for run in runs:
        run.data.mkdir(parents=True, exist_ok=True)
        out, ready = run.data / f"{run.station}.json", run.data / f"{run.station}.ready"
        ready.unlink(missing_ok=True)
        command = [sys.executable, __file__, "--data", str(run.data), "--station", run.station, "--number",
                   str(run.number), "--slots", str(run.slots), "--units", str(run.units), "--pace", str(run.pace),
                   "--offset", str(run.offset), "--forward-every", str(run.forward_every), "--recipe",
                   str(recipe_path), "--go", str(go), "--ready", str(ready), "--out", str(out)]  # fmt: skip
        environment = {**os.environ, STATION_DB_VARIABLE: run.url}
        environment.pop(LINE_DB_VARIABLE, None)
        if run.line_url is not None:
            environment[LINE_DB_VARIABLE] = run.line_url
        processes.append((subprocess.Popen(command, env=environment), ready, out))
    deadline = time.monotonic() + 120
    while not all(ready.exists() for _, ready, _ in processes):
        if any(process.poll() is not None for process, _, _ in processes) or time.monotonic() > deadline:
            for process, _, _ in processes:
                process.kill()
            raise SystemExit("a station process did not get ready")
        time.sleep(0.02)
    go.touch()
    results = []
    for process, _, out in processes:
        if process.wait() != 0:
            raise SystemExit(f"a station process failed with exit code {process.returncode}")
        results.append(json.loads(out.read_text(encoding="utf-8")))
    for result in results:
        if result["failures"]:
            raise SystemExit(f"station {result['station']}: units failed: {result['failures'][:3]}")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for option in ("--data", "--station", "--recipe", "--go", "--ready", "--out"):
        parser.add_argument(option, required=True)
    for option, kind in (("--number", int), ("--slots", int), ("--units", int), ("--pace", float),
                         ("--offset", float), ("--forward-every", float)):  # fmt: skip
        parser.add_argument(option, type=kind, required=True)
    arguments = parser.parse_args()
    result = run_station(arguments)
    Path(arguments.out).write_text(json.dumps(result), encoding="utf-8")


if __name__ == "__main__":
    main()
