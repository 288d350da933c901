"""The store at scale (issue 7, item 4; issue 6): a million attempts, looked up, added to, exported.

Generates a SQLite station database of N attempts (default 1,000,000, about 8 steps each)
with the store's bulk generator (``station.store.bulk``: realistic failures, retries, golden
units), then measures, each in its own child process so that its peak memory is its own:

- ``station report export --format csv`` on a tenth of the attempts and on all of them
  (signed, as the station does it): rows per second, its ratio to the ``sqlite3`` shell's
  dump of the same rows (target: at least 0.5), peak RSS, and RSS growth over the process's
  baseline (after imports and opening the database) -- the growth is the export's own memory
  and must not grow with the row count;
- ``station report export --format pdf`` on the tenth (figures over all of them, the unit
  table capped at 5,000 rows);
- the ``sqlite3`` shell's own CSV dump of the same rows (the same attempts, joined to units,
  stations, operators and work orders, with the step count and durations aggregated); its
  peak RSS comes from wait4, which on Linux counts at least the launching process's RSS,
  which is why this script's own process stays small (it generates in a child too);
- serial-history lookups (``AttemptRepository.history``): median and 99th percentile
  (target: median at most 5 ms);
- inserting one complete attempt as the station journals it -- create, eight steps each
  started and finished, fields set, finished: 19 committed transactions -- with
  ``synchronous=FULL`` (the store's setting): median and 99th percentile. The attempts it
  adds are deleted afterwards, so the database can be reused.

Prints a table and writes benchmarks/results/export_scale.json. Finishes in well under ten
minutes on two cores for the default million rows.

    python benchmarks/export_scale.py [--rows 1000000] [--db PATH [--reuse]] [--lookups 1000] [--inserts 200]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results" / "export_scale.json"

SQLITE_DUMP = """
SELECT a.id AS attempt_id, u.serial AS serial, a.device_id AS device_id, a.product AS product,
       w.code AS work_order, st.name AS station, o.name AS operator, a.recipe_hash AS recipe_hash,
       a.probe_id AS probe_id, a.state AS state, a.result AS result, a.is_rework AS is_rework,
       a.previous_attempt_id AS previous_attempt_id, a.started_at AS started_at, a.ended_at AS ended_at,
       round((julianday(a.ended_at) - julianday(a.started_at)) * 86400, 3) AS duration_s,
       a.failure_step AS failure_step, a.failure_code AS failure_code, a.failure_message AS failure_message,
       a.image_hashes AS image_hashes, a.certificate_fingerprint AS certificate_fingerprint,
       a.token_fingerprint AS token_fingerprint,
       (SELECT count(*) FROM steps s WHERE s.attempt_id = a.id) AS step_count,
       (SELECT group_concat(s.name || '=' || round((julianday(s.ended_at) - julianday(s.started_at)) * 86400, 3),
                            ';') FROM steps s WHERE s.attempt_id = a.id) AS step_durations
FROM attempts a
JOIN units u ON u.id = a.unit_id
JOIN stations st ON st.id = a.station_id
JOIN operators o ON o.id = a.operator_id
LEFT JOIN work_orders w ON w.id = a.work_order_id
{where}
ORDER BY a.id
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000, help="attempts to generate (default 1,000,000)")
    parser.add_argument("--db", type=Path, default=None, help="database file (default: a temporary one)")
    parser.add_argument("--reuse", action="store_true", help="use --db as it is if it already holds --rows attempts")
    parser.add_argument("--lookups", type=int, default=1000, help="serial-history lookups to time")
    parser.add_argument("--inserts", type=int, default=200, help="complete attempts to insert and time")
    parser.add_argument("--child", choices=("generate", "export", "lookups", "inserts"), help=argparse.SUPPRESS)
    parser.add_argument("--format", default="csv", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--until", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        _child(arguments)
        return

    work = Path(tempfile.mkdtemp(prefix="export-scale-"))
    db_path = arguments.db or work / "station.db"
    started = time.perf_counter()
    generation = _generate(db_path, arguments.rows, reuse=arguments.reuse)
    print(f"generation: {generation}", flush=True)
    launcher_rss_mb = round(_peak_rss_kb() / 1024, 1)
    tenth_until = _start_of_attempt(db_path, max(1, arguments.rows // 10) + 1)

    rows: list[dict[str, Any]] = []
    for export_format, label, until in (("csv", "tenth", tenth_until), ("csv", "all", None),
                                        ("pdf", "tenth", tenth_until)):
        out = work / f"export-{label}.{export_format}"
        report = _run_child(["--child", "export", "--format", export_format, "--db", str(db_path),
                             "--out", str(out), *(["--until", until] if until else [])])["report"]
        rows.append({
            "what": f"station report export --format {export_format} ({label})",
            "rows": report["rows"],
            "seconds": round(report["seconds"], 2),
            "rows_per_s": round(report["rows"] / report["seconds"]),
            "peak_rss_mb": round(report["peak_rss_kb"] / 1024, 1),
            "rss_growth_mb": round((report["peak_rss_kb"] - report["baseline_rss_kb"]) / 1024, 1),
            "file_mb": round(out.stat().st_size / 1e6, 1),
        })
        print(f"{rows[-1]['what']}: {rows[-1]['rows_per_s']} rows/s", flush=True)
        out.unlink()
    sqlite_shell = shutil.which("sqlite3")
    if sqlite_shell is None:
        print("sqlite3 shell not found (Debian: apt-get install sqlite3): skipping its dump", file=sys.stderr)
    else:
        for label, until in (("tenth", tenth_until), ("all", None)):
            rows.append(_sqlite_dump(sqlite_shell, db_path, work / f"sqlite-{label}.csv", label, until))
    _add_ratios(rows)
    lookups = _run_child(["--child", "lookups", "--db", str(db_path), "--count", str(arguments.lookups)])["report"]
    inserts = _run_child(["--child", "inserts", "--db", str(db_path), "--count", str(arguments.inserts)])["report"]

    result = {
        "benchmark": "export_scale",
        "attempts": arguments.rows,
        "cpu_count": os.cpu_count(),
        "generation": generation,
        "exports": rows,
        "serial_history_lookup": lookups,
        "attempt_insert": inserts,
        "launcher_peak_rss_mb": launcher_rss_mb,
        "total_seconds": round(time.perf_counter() - started, 1),
    }
    _print(result)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {RESULTS}")
    if arguments.db is None:
        shutil.rmtree(work, ignore_errors=True)


def _generate(db_path: Path, count: int, *, reuse: bool) -> dict[str, Any]:
    if reuse and db_path.exists():
        with sqlite3.connect(db_path) as connection:
            present = connection.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]
        if present == count:
            return {"reused": True, "attempts": present}
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    report: dict[str, Any] = _run_child(["--child", "generate", "--db", str(db_path), "--count", str(count)])["report"]
    with sqlite3.connect(db_path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        report["steps"] = connection.execute("SELECT COUNT(*) FROM steps").fetchone()[0]
    report["db_mb"] = round(db_path.stat().st_size / 1e6, 1)
    return report


def _start_of_attempt(db_path: Path, attempt_id: int) -> str:
    with sqlite3.connect(db_path) as connection:
        row = connection.execute("SELECT started_at FROM attempts WHERE id = ?", (attempt_id,)).fetchone()
    return str(row[0]).replace(" ", "T") + "+00:00"


def _run_child(extra: list[str]) -> dict[str, Any]:
    """Run this script as a child: its JSON report, and its peak RSS as wait4 reports it (kB)."""
    process = subprocess.Popen([sys.executable, __file__, *extra], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"child {extra[:2]} failed with exit code {process.returncode}")
    return {"report": json.loads(output.strip().splitlines()[-1]), "maxrss_kb": usage.ru_maxrss}


def _child(arguments: argparse.Namespace) -> None:
    from datetime import datetime

    from station.domain.records import AttemptFilter
    from station.reports.service import ExportFormat, ExportRequest, export_report
    from station.security.station_key import load_or_create_station_key
    from station.store import open_database

    database = open_database(f"sqlite:///{arguments.db}")
    if arguments.child == "generate":
        from station.store.bulk import generate_attempts

        database.upgrade()
        start = time.perf_counter()
        summary = generate_attempts(database, arguments.count, transcripts=False)
        seconds = time.perf_counter() - start
        database.dispose()
        print(json.dumps({"attempts": summary.attempts, "units": summary.units, "seconds": round(seconds, 1),
                          "attempts_per_s": round(summary.attempts / seconds) if seconds else None}))
        return
    if arguments.child == "lookups":
        count = int(arguments.count)
        with sqlite3.connect(arguments.db) as connection:
            highest = connection.execute("SELECT MAX(id) FROM units").fetchone()[0]
            picks = random.Random(1).sample(range(1, highest + 1), min(count, highest))
            serials = [connection.execute("SELECT serial FROM units WHERE id = ?", (n,)).fetchone()[0] for n in picks]
        database.attempts.history(serials[0])  # warm the connection pool
        times = []
        for serial in serials:
            start = time.perf_counter()
            found = database.attempts.history(serial)
            times.append((time.perf_counter() - start) * 1000)
            assert found and found[0].serial == serial
        times.sort()
        print(json.dumps({"lookups": len(times), "median_ms": round(statistics.median(times), 3),
                          "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))], 3),
                          "max_ms": round(times[-1], 3)}))
        return
    if arguments.child == "inserts":
        print(json.dumps(_time_inserts(database, int(arguments.count))))
        return
    key = load_or_create_station_key(arguments.out.parent / "station-key.pem")
    wanted = AttemptFilter(until=datetime.fromisoformat(arguments.until) if arguments.until else None)
    database.attempts.count_attempts(wanted)  # the connection pool and caches warm: part of the baseline
    baseline = _peak_rss_kb()
    start = time.perf_counter()
    result = export_report(database, ExportRequest(wanted, ExportFormat(arguments.format), arguments.out),
                           signer=key, station="benchmark")
    seconds = time.perf_counter() - start
    print(json.dumps({"rows": result.row_count, "seconds": seconds, "baseline_rss_kb": baseline,
                      "peak_rss_kb": _peak_rss_kb()}))


def _time_inserts(database: Any, count: int) -> dict[str, Any]:
    """Journal ``count`` complete attempts as the station does, one committed change at a time."""
    from datetime import UTC, datetime, timedelta

    from station.domain.records import AttemptResult, StepOutcome
    from station.store.bulk import BULK_PRODUCT, BULK_RECIPE_TEXT, BULK_STEPS

    with database.engine.connect() as connection:
        synchronous = connection.exec_driver_sql("PRAGMA synchronous").scalar()
        journal_mode = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
        first_new = connection.exec_driver_sql("SELECT COALESCE(MAX(id), 0) + 1 FROM attempts").scalar()
        first_unit = connection.exec_driver_sql("SELECT COALESCE(MAX(id), 0) + 1 FROM units").scalar()
    recipe = database.registry.record_recipe(BULK_RECIPE_TEXT, BULK_PRODUCT).sha256
    attempts = database.attempts
    moment = datetime.now(UTC)
    times = []
    try:
        for number in range(count):
            start = time.perf_counter()
            attempt = attempts.create_attempt(serial=f"BENCH-{number:06d}", station="line1-st1", operator="ann",
                                              recipe_hash=recipe, product=BULK_PRODUCT, work_order="WO-BENCH",
                                              device_id=f"{number:016X}", probe_id="sim:unit-0001", at=moment)
            for name, seconds, _ in BULK_STEPS:
                step = attempts.start_step(attempt.id, name, at=moment)
                moment += timedelta(seconds=seconds)
                attempts.finish_step(step.id or 0, StepOutcome.PASSED, at=moment)
            attempts.set_attempt_fields(attempt.id, certificate_fingerprint=f"{number:064x}")
            attempts.finish_attempt(attempt.id, AttemptResult.PASSED, at=moment)
            times.append((time.perf_counter() - start) * 1000)
    finally:
        with database.engine.begin() as connection:  # leave the database as it was generated
            for statement in ("DELETE FROM steps WHERE attempt_id >= ?", "DELETE FROM attempts WHERE id >= ?"):
                connection.exec_driver_sql(statement, (first_new,))
            connection.exec_driver_sql("DELETE FROM units WHERE id >= ?", (first_unit,))
            connection.exec_driver_sql("DELETE FROM work_orders WHERE code = 'WO-BENCH'")
    times.sort()
    return {"attempts": len(times), "transactions_per_attempt": 3 + 2 * len(BULK_STEPS),
            "synchronous": {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(synchronous, synchronous),
            "journal_mode": journal_mode, "median_ms": round(statistics.median(times), 2),
            "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))], 2), "max_ms": round(times[-1], 2)}


def _add_ratios(rows: list[dict[str, Any]]) -> None:
    """Each CSV export's rows/s over the sqlite3 shell's on the same selection (None without the shell)."""
    shell = {row["what"].rsplit("(", 1)[1]: row["rows_per_s"] for row in rows if row["what"].startswith("sqlite3")}
    for row in rows:
        label = row["what"].rsplit("(", 1)[1]
        csv_export = "--format csv" in row["what"] or row["what"].startswith("sqlite3")
        row["vs_shell"] = round(row["rows_per_s"] / shell[label], 2) if csv_export and label in shell else None


def _peak_rss_kb() -> int:
    """This process's peak RSS so far: VmHWM (Linux; not inherited across exec), else ru_maxrss."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _sqlite_dump(shell: str, db_path: Path, out: Path, label: str, until: str | None) -> dict[str, Any]:
    where = ""
    if until is not None:
        where = f"WHERE a.started_at < '{until.removesuffix('+00:00').replace('T', ' ')}'"
    with out.open("wb") as sink:
        start = time.perf_counter()
        process = subprocess.Popen([shell, "-csv", "-header", "-readonly", str(db_path),
                                    SQLITE_DUMP.format(where=where)], stdout=sink)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit("the sqlite3 shell failed")
    with out.open("rb") as source:
        lines = sum(1 for _ in source) - 1
    size = out.stat().st_size
    out.unlink()
    return {"what": f"sqlite3 -csv shell dump ({label})", "rows": lines, "seconds": round(seconds, 2),
            "rows_per_s": round(lines / seconds), "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
            "rss_growth_mb": None, "file_mb": round(size / 1e6, 1)}


def _print(result: dict[str, Any]) -> None:
    generation = result["generation"]
    print(f"\nexport scale: {result['attempts']} attempts, {result['cpu_count']} CPUs")
    if not generation.get("reused"):
        print(f"generation: {generation['seconds']} s ({generation['attempts_per_s']} attempts/s, "
              f"{generation['steps']} steps, database {generation['db_mb']} MB)")
    header = (f"{'what':<48} {'rows':>9} {'s':>8} {'rows/s':>9} {'vs shell':>9} {'peak RSS MB':>12} "
              f"{'growth MB':>10} {'file MB':>8}")
    print(header)
    print("-" * len(header))
    for row in result["exports"]:
        growth = "-" if row["rss_growth_mb"] is None else f"{row['rss_growth_mb']:.1f}"
        ratio = "-" if row.get("vs_shell") is None else f"{row['vs_shell']:.2f}"
        print(f"{row['what']:<48} {row['rows']:>9} {row['seconds']:>8.2f} {row['rows_per_s']:>9} {ratio:>9} "
              f"{row['peak_rss_mb']:>12.1f} {growth:>10} {row['file_mb']:>8.1f}")
    lookups, inserts = result["serial_history_lookup"], result["attempt_insert"]
    print()
    header = f"{'operation':<72} {'median ms':>10} {'p99 ms':>8} {'max ms':>8}"
    print(header)
    print("-" * len(header))
    print(f"{'serial history look-up (' + str(lookups['lookups']) + ' serials)':<72} {lookups['median_ms']:>10.3f} "
          f"{lookups['p99_ms']:>8.3f} {lookups['max_ms']:>8.3f}")
    what = (f"insert one complete attempt ({inserts['transactions_per_attempt']} commits, "
            f"synchronous={inserts['synchronous']}, {inserts['attempts']}x)")
    print(f"{what:<72} {inserts['median_ms']:>10.2f} {inserts['p99_ms']:>8.2f} {inserts['max_ms']:>8.2f}")
    print(f"total {result['total_seconds']} s")


if __name__ == "__main__":
    main()
