"""The store on a line (issue 19): one station on SQLite against four stations of eight slots,
their journals on one PostgreSQL or each on its own SQLite forwarding to the line's PostgreSQL,
and the forwarding backlog drained after an outage.

Every unit is provisioned by the station's own sequence (``UnitProvisioner``: its steps, step
runner, watchdog, ownership) against the real store -- the journal, credentials, units, the
token vault's uses, the chain sealed into ``audit_log`` with its ``outbox_records`` and signed by
a station key -- so the store sees exactly the calls one passed unit makes. Only the unit is a
double: the hand-written ``FakeUnit`` of tests/fakes.py (a bytearray flash, its probe and its
console firmware). Its physical time is modelled: each step waits, after its RUNNING row is
committed, as long as the unit took for that step in the profile benchmark
(benchmarks/results/profile.json: 64 KiB, timing factor 1), times ``--pace``. The slots'
first units start a fast operator's quarter second apart (``run.py``'s operator pace). Each
station is a process of its own (benchmarks/store_station.py).

The figure is the store's time per unit: the wall time of every store call the unit's thread
made, summed per unit (the SQL inside, commits and their flushes, waiting for locks and for a
connection; on a line station its calls to the line database too). Beside it, per unit
(benchmarks/store_clock.py): the statements sent to the station's database (round trips) and
their time, the commits and their time, on PostgreSQL the time waiting for the chain's table
lock and holding it, new database connections opened, and the CPU the station processes and
the PostgreSQL server spent.

1. Row A: one station, one slot, its database a SQLite file (WAL, synchronous=FULL).
2. Row A-pg: the same station alone on a PostgreSQL database: the server's own cost per unit,
   told apart from the line's contention.
3. Row B: four station processes of eight slot threads each, every station's journal directly
   on one PostgreSQL database (the station's ``STATION_DB_URL`` pointing at it); B / A.
4. Row B-line, the design the product ships for a line (issue 19 item 2): four station
   processes of eight slots, each station's journal its own SQLite file, and a line database
   on the same PostgreSQL server. Each station works as a line station does: its ``LineLink``
   forwards its chain in the background (policy ``continue``, the default forwarding
   interval), its serials are claimed on the line at each scan and released at the verdict,
   development units looked up on the line; those calls count in its store time (the station
   waits on them). B-line / A (goal 1.05); once the last unit ended, the entries the line did
   not hold yet and how long the final drain took.
   All four stations and the server share this machine's cores (a line has a computer per
   station): the station and server CPU per unit are printed beside the times.
5. The forwarding backlog: a station on SQLite forwarding to a line database on the same
   PostgreSQL server; the server is stopped (``pg_ctl stop -m immediate``, a power cut) while
   the station provisions ``--backlog`` more units, then started again, and ``forward`` is
   called until nothing is pending, as the station's line link does: chain entries and units
   drained per second.

The PostgreSQL server is the tests' throwaway one (tests/postgres_server.py), switched back to
durable commits (fsync, synchronous_commit, full_page_writes on) so that it flushes each commit
as SQLite does. Its data directory and the SQLite files are on the same file system.

Prints markdown tables and writes benchmarks/results/line_store.json. Nothing is asserted.

    python benchmarks/line_store.py [--quick] [--units-a 12] [--units-b 5] [--backlog 300] [--pace 1.0]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))  # the throwaway PostgreSQL
sys.path.insert(0, str(HERE))

from line import percentile  # noqa: E402
from store_station import OPERATOR_SCAN_INTERVAL_S, PHYSICAL_SECONDS, StationRun, prepare, run_stations  # noqa: E402

RESULTS = HERE / "results" / "line_store.json"
GOAL = 1.05
STATIONS, SLOTS = 4, 8


# ---- the line: PostgreSQL, the station processes, the tables --------------------------------------------


def make_durable(server: Any) -> dict[str, str]:
    """The throwaway server runs without flushing; a line's server flushes every commit."""
    import psycopg

    settings = {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
    with psycopg.connect(_dsn(server.superuser_url), autocommit=True) as connection:
        for setting, value in settings.items():
            connection.execute(f"ALTER SYSTEM SET {setting} = '{value}'")
        connection.execute("SELECT pg_reload_conf()")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            shown = {setting: str(connection.execute(f"SHOW {setting}").fetchone()[0]) for setting in settings}  # type: ignore[index]
            if shown == settings:
                return shown
            time.sleep(0.05)
    raise SystemExit(f"PostgreSQL did not take the durable settings: {shown}")


def server_cpu_seconds(server: Any) -> float:
    """The PostgreSQL server's CPU time so far: its postmaster, the backends it reaped, and the
    ones that still run (Linux /proc; 0 elsewhere)."""
    tick = os.sysconf("SC_CLK_TCK")
    try:
        postmaster = int((server.directory / "data" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        pid, parent = int(stat.parent.name), int(fields[1])
        if pid == postmaster:
            total += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
        elif parent == postmaster:
            total += int(fields[11]) + int(fields[12])
    return total / tick


def create_database(server: Any, name: str) -> str:
    """Another database of the throwaway server, owned by its ``station`` role; its URL."""
    import psycopg

    with psycopg.connect(_dsn(server.superuser_url), autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}" OWNER station')
    return str(server.url).rsplit("/", 1)[0] + f"/{name}"


def _dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def summarize(name: str, database: str, results: list[dict[str, Any]]) -> dict[str, Any]:
    units = [unit for result in results for unit in result["units"]]
    store_ms = [unit["store_s"] * 1000 for unit in units]
    methods: dict[str, int] = {}
    for unit in units:
        for method, count in unit["methods"].items():
            methods[method] = methods.get(method, 0) + count

    def mean(key: str, scale: float = 1.0) -> float:
        return statistics.fmean(unit[key] * scale for unit in units)

    def line_ms(unit: dict[str, Any]) -> float:
        return 1000 * sum(float(seconds) for method, seconds in unit["seconds"].items() if method.startswith("line."))

    line_methods = sorted({method for unit in units for method in unit["seconds"] if method.startswith("line.")})
    forwarding = [result["forwarding"] for result in results if result.get("forwarding") is not None]
    summary: dict[str, Any] = {
        "row": name, "database": database, "stations": len(results), "slots": results[0]["slots"],
        "units": len(units), "store_ms_mean": statistics.fmean(store_ms),
        "store_ms_median": statistics.median(store_ms), "store_ms_p95": percentile(store_ms, 0.95),
        "store_ms_max": max(store_ms),
        "calls_per_unit": mean("calls"), "statements_per_unit": mean("statements"),
        "statement_ms_per_unit": mean("statement_s", 1000), "commits_per_unit": mean("commits"),
        "commit_ms_per_unit": mean("commit_s", 1000), "lock_wait_ms_per_unit": mean("lock_wait_s", 1000),
        "lock_held_ms_per_unit": mean("lock_held_s", 1000), "connects_per_unit": mean("connects"),
        "station_cpu_ms_per_unit": sum(result["cpu_s"] for result in results) * 1000 / len(units),
        "unit_wall_s_mean": mean("wall_s"), "wall_s": max(result["wall_s"] for result in results),
        "calls_by_method": {method: count / len(units) for method, count in sorted(methods.items())},
        "line_ms_per_unit": statistics.fmean(line_ms(unit) for unit in units),
        "line_ms_by_method": {method: statistics.fmean(unit["seconds"].get(method, 0.0) * 1000 for unit in units)
                              for method in line_methods},
        "line_warnings": [message for result in results for message in result.get("line_warnings", [])],
    }  # fmt: skip
    if forwarding:  # the line stations, once their last unit ended
        summary["forwarding"] = {
            "pending_at_end": sum(end["pending_at_end"] for end in forwarding),
            "pending_per_station": [end["pending_at_end"] for end in forwarding],
            "drain_s_max": max(end["drain_s"] for end in forwarding),
            "drain_s_per_station": [end["drain_s"] for end in forwarding],
            "pending_after_drain": sum(end["pending_after_drain"] for end in forwarding),
        }
    return summary


# ---- the backlog after an outage -------------------------------------------------------------------------


def drain_backlog(server: Any, line_url: str, recipe_path: Path, work: Path, backlog: int) -> dict[str, Any]:
    """A station on SQLite forwarding to the line; the line's server goes down, the station works
    on, the server comes back: how fast ``forward`` drains what waited."""
    from station.domain.errors import LineDatabaseError
    from station.store import open_database
    from station.store.forwarding import forward
    from station.store.line import LineDatabase

    data = work / "backlog"
    url = f"sqlite:///{data / 'station.db'}"
    station = "line-st-backlog"
    prepare(url, data, recipe_path)
    line = LineDatabase(line_url, connect_timeout_seconds=2)
    line.ensure_schema()
    run_stations([StationRun(url, data, station, 90, 1, 2, 0.0)], recipe_path, work)
    database = open_database(url)
    forward(database, line, station)  # before the outage the line holds everything
    held_before = line.last_entry(station)
    server.stop_immediately()
    try:
        forward(database, line, station)
        outage = "the line answered while stopped"
    except LineDatabaseError as error:
        outage = str(error)
    run_stations([StationRun(url, data, station, 91, 1, backlog, 0.0)], recipe_path, work)
    pending = database.last_sequence() - (held_before.sequence if held_before else 0)
    server.start_again()
    forwarded, passes, refused = 0, 0, 0
    started = time.perf_counter()
    while True:
        try:
            report = forward(database, line, station)
        except LineDatabaseError:  # the link tries again on its next pass
            refused += 1
            continue
        passes += 1
        forwarded += report.forwarded
        if report.pending == 0:
            break
    seconds = time.perf_counter() - started
    line.dispose()
    database.dispose()
    return {"backlog_units": backlog + 1, "entries": forwarded, "pending_after_outage": pending,
            "seconds": seconds, "entries_per_s": forwarded / seconds, "units_per_s": (backlog + 1) / seconds,
            "forward_calls": passes, "refused_calls": refused, "during_outage": outage}  # fmt: skip


# ---- the report ----------------------------------------------------------------------------------------


def markdown(columns: list[str], rows: list[list[Any]]) -> str:
    def cell(value: Any) -> str:
        return f"{value:.2f}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "|".join("---:" for _ in columns) + "|"]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)


def report(result: dict[str, Any]) -> None:
    rows = {row["row"]: row for row in result["rows"]}
    a, b, line = rows["A"], rows["B"], rows["B-line"]
    print(f"\nThe store per passed unit on a line ({result['cpu_count']} CPUs; unit physical time x {result['pace']}; "
          f"PostgreSQL {result['postgres']['version']}, fsync and synchronous_commit on). B-line is the design the "
          "product ships for a line: each station's journal its own SQLite, forwarding in the background to the "
          "line database on the PostgreSQL, serials claimed on the line (its line calls are in the store time and "
          "in 'line ms'). B is every station's journal directly on the line's PostgreSQL. Statements, commits "
          "and the chain lock are the station database's (on SQLite the sealing's own cursor goes uncounted); "
          "'rest ms' is the store time outside the line's calls, "
          "the statements and the commits: queueing for the station process's write lock (SQLite), the GIL, "
          "the store's Python.\n")  # fmt: skip
    columns = ["row", "stations x slots", "database", "units", "store ms/unit", "p95 ms", "x row A", "line ms",
               "statements", "statement ms", "commits", "commit ms", "rest ms", "chain lock wait ms",
               "chain lock held ms", "station CPU ms", "server CPU ms", "new connections", "unit s"]  # fmt: skip
    print(markdown(columns, [
        [row["row"], f"{row['stations']} x {row['slots']}", row["database"], row["units"], row["store_ms_mean"],
         row["store_ms_p95"], row["store_ms_mean"] / a["store_ms_mean"], row["line_ms_per_unit"],
         row["statements_per_unit"], row["statement_ms_per_unit"], row["commits_per_unit"], row["commit_ms_per_unit"],
         row["store_ms_mean"] - row["line_ms_per_unit"] - row["statement_ms_per_unit"] - row["commit_ms_per_unit"],
         row["lock_wait_ms_per_unit"], row["lock_held_ms_per_unit"], row["station_cpu_ms_per_unit"],
         row["server_cpu_ms_per_unit"], row["connects_per_unit"], row["unit_wall_s_mean"]] for row in rows.values()
    ]))  # fmt: skip
    for name, ratio, p95 in (("B-line", result["ratio_line_mean"], result["ratio_line_p95"]),
                             ("B", result["ratio_mean"], result["ratio_p95"])):  # fmt: skip
        print(f"\n{name} / A: {ratio:.2f} x on the mean, {p95:.2f} x on the p95 "
              f"(goal <= {GOAL:.2f}: {'met' if ratio <= GOAL else 'NOT met'})")
    print("row A-pg is one station alone on the PostgreSQL, to tell the server's own cost from the line's contention")
    forwarding = line["forwarding"]
    by_method = ", ".join(f"{method} {ms:.2f}" for method, ms in line["line_ms_by_method"].items())
    print(f"\nB-line, line calls ms per unit: {by_method}")
    print(f"B-line, once the last unit ended: {forwarding['pending_at_end']} chain entries still waiting to be "
          f"forwarded (per station {forwarding['pending_per_station']}); the final drain took "
          f"{forwarding['drain_s_max']:.2f} s at the slowest station "
          f"({', '.join(f'{seconds:.2f}' for seconds in forwarding['drain_s_per_station'])} s); "
          f"{forwarding['pending_after_drain']} left after it")
    if line["line_warnings"]:
        print(f"B-line, the line link warned {len(line['line_warnings'])} time(s): {line['line_warnings'][:3]}")
    drain = result["backlog"]
    print("\nForwarding backlog drained after an outage (station on SQLite -> line database on PostgreSQL)\n")
    print(markdown(["units waiting", "chain entries", "seconds", "entries/s", "units/s", "forward calls"],
                   [[drain["backlog_units"], drain["entries"], drain["seconds"], drain["entries_per_s"],
                     drain["units_per_s"], drain["forward_calls"]]]))  # fmt: skip
    print(f"\nduring the outage forward said: {drain['during_outage']}")
    for row in (b, line):
        calls = ", ".join(f"{method} {count:g}" for method, count in row["calls_by_method"].items())
        print(f"\nrow {row['row']}: store calls per passed unit ({row['calls_per_unit']:g}): {calls}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smoke run: few units, a tenth of the unit's time")
    parser.add_argument("--units-a", type=int, default=None, help="units of row A's one slot (default 12)")
    parser.add_argument("--units-b", type=int, default=None, help="units per slot in rows B, B-line (default 5)")
    parser.add_argument("--backlog", type=int, default=None, help="units provisioned during the outage (default 300)")
    parser.add_argument("--pace", type=float, default=None, help="the unit's physical time x this (default 1)")
    arguments = parser.parse_args()
    quick = arguments.quick
    units_a = arguments.units_a or (3 if quick else 12)
    units_b = arguments.units_b or (2 if quick else 5)
    backlog = arguments.backlog or (30 if quick else 300)
    pace = arguments.pace if arguments.pace is not None else (0.1 if quick else 1.0)
    measure(units_a, units_b, backlog, pace)


def measure(units_a: int, units_b: int, backlog: int, pace: float) -> dict[str, Any]:
    import postgres_server

    from station.config.line import LineSettings
    from station.sim.demo_recipe import write_demo_recipe
    from station.sim.firmware import build_demo_firmware
    from station.store.line import LineDatabase

    reason = postgres_server.unavailable_reason()
    if reason is not None:
        raise SystemExit(f"line_store needs PostgreSQL: {reason}")
    started = time.perf_counter()
    with postgres_server.throwaway_server() as server, _work_directory() as work:
        postgres = {"version": _server_version(server), **make_durable(server)}
        recipe_path = write_demo_recipe(work / "recipe", build_demo_firmware(work / "recipe"))

        def row(name: str, stations: int, slots: int, units: int, shared_url: str | None,
                line_url: str | None = None) -> dict[str, Any]:  # fmt: skip
            """``shared_url``: every station's journal in that database; None: each its own SQLite."""
            data, every = work / f"row-{name}", LineSettings().forward_every_seconds  # the product's default
            runs = []
            for index in range(1, stations + 1):
                url = shared_url or f"sqlite:///{data / str(index) / 'station.db'}"
                if shared_url is None or index == 1:
                    prepare(url, data / str(index), recipe_path)
                runs.append(StationRun(url, data / str(index), f"line-st-{name}{index}", len(rows) * 10 + index, slots,
                                       units, pace, offset=index * OPERATOR_SCAN_INTERVAL_S / stations,
                                       line_url=line_url, forward_every=every))  # fmt: skip
            database = "SQLite" if runs[0].url.startswith("sqlite") else "PostgreSQL"
            if line_url is not None:
                database += " + line PostgreSQL"
            server_cpu = server_cpu_seconds(server)
            summary = summarize(name, database, run_stations(runs, recipe_path, work))
            summary["server_cpu_ms_per_unit"] = (server_cpu_seconds(server) - server_cpu) * 1000 / summary["units"]
            print(f"row {name}: {summary['store_ms_mean']:.1f} ms per unit", flush=True)
            return summary

        rows: list[dict[str, Any]] = []
        rows.append(row("A", 1, 1, units_a, None))
        rows.append(row("A-pg", 1, 1, units_a, create_database(server, "station_alone")))
        rows.append(row("B", STATIONS, SLOTS, units_b, server.url))
        line_url = create_database(server, "line_b")
        line = LineDatabase(line_url)
        line.ensure_schema()  # as ``station line forward`` leaves it: the stations claim serials from their first unit
        line.dispose()
        rows.append(row("B-line", STATIONS, SLOTS, units_b, None, line_url))
        drain = drain_backlog(server, create_database(server, "station_line"), recipe_path, work, backlog)
    by_name = {row["row"]: row for row in rows}
    row_a, row_b, row_line = by_name["A"], by_name["B"], by_name["B-line"]
    result = {
        "benchmark": "line_store", "cpu_count": os.cpu_count(), "pace": pace, "physical_seconds": PHYSICAL_SECONDS,
        "postgres": postgres, "rows": rows, "goal": GOAL,
        "ratio_mean": row_b["store_ms_mean"] / row_a["store_ms_mean"],
        "ratio_p95": row_b["store_ms_p95"] / row_a["store_ms_p95"],
        "ratio_line_mean": row_line["store_ms_mean"] / row_a["store_ms_mean"],
        "ratio_line_p95": row_line["store_ms_p95"] / row_a["store_ms_p95"], "backlog": drain,
        "total_seconds": time.perf_counter() - started,
    }  # fmt: skip
    result["met"] = result["ratio_mean"] <= GOAL
    result["line_met"] = result["ratio_line_mean"] <= GOAL
    report(result)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {RESULTS} ({result['total_seconds']:.0f} s)")
    return result


@contextmanager
def _work_directory() -> Iterator[Path]:
    import shutil

    work = Path(tempfile.mkdtemp(prefix="line-store-"))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _server_version(server: Any) -> str:
    import psycopg

    with psycopg.connect(_dsn(server.superuser_url)) as connection:
        return str(connection.execute("SHOW server_version").fetchone()[0])  # type: ignore[index]


if __name__ == "__main__":
    main()
