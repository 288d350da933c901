"""Station benchmarks (issue 7): each prints a table of ratios measured side by side, and JSON.

    python benchmarks/run.py [cycle|scripted|slots|window|profile|sim|store|all] [--quick]

cycle     station time per unit (scan accepted -> PASS committed) / the unit's physical time
          (the flash controller's modelled busy time; the simulated console adds no latency)
scripted  the station vs the script a user would write: stock `pyocd load`, `pyocd cmd`
          writes, and a pyserial activation script, each as separate processes
slots     units per hour with 1, 2, 4 and 8 slots in one station process
window    the longest gap between ticks of a 10 ms timer on the GUI thread, 8 slots running
profile   where one unit's time goes: per step, plus a profile of the station's own code
sim       the simulated unit alone against its physical time (benchmarks/sim_timing.py)
store     1,000,000 attempts: look-up, insert, export vs the sqlite3 shell, memory
          (benchmarks/export_scale.py)

Nothing here is a test: targets are printed beside the figures, never asserted.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from line import BenchLine, bench_line, median, print_table, write_results

HERE = Path(__file__).resolve().parent


def provision_timed(line: BenchLine, unit: Any) -> tuple[float, float, Any]:
    """(station seconds, physical seconds, outcome) for one unit."""
    busy_before = unit.nvm_busy_seconds
    slot = line.slot(unit)
    started = time.perf_counter()
    outcome = line.provisioner.provision(line.serial(), slot)
    elapsed = time.perf_counter() - started
    physical = unit.nvm_busy_seconds - busy_before
    if not outcome.passed:
        raise SystemExit(f"benchmark unit failed: {outcome.summary}")
    return elapsed, physical, outcome


# ---- 1. cycle time against the physical floor ----------------------------------------------------


def bench_cycle(quick: bool) -> dict[str, Any]:
    rows, data = [], []
    for size in (64 * 1024, 256 * 1024):
        with bench_line(size) as line:
            units = line.new_units(2 if quick else 4)
            provision_timed(line, line.new_units(1)[0])  # warm-up: first pyOCD session in the process
            results = [provision_timed(line, unit) for unit in units]
        station = median([elapsed for elapsed, _, _ in results])
        physical = median([physical for _, physical, _ in results])
        ratio = station / physical
        rows.append([size // 1024, len(results), station, physical, ratio, "<= 1.10", "yes" if ratio <= 1.10 else "NO"])
        data.append(
            {
                "application_kib": size // 1024,
                "units": len(results),
                "station_s": station,
                "physical_s": physical,
                "ratio": ratio,
            }
        )
    print_table(
        "Cycle time: scan accepted -> PASS committed, per unit, timing factor 1",
        ["app KiB", "units", "station s", "physical s", "ratio", "target", "met"],
        rows,
    )
    return {"benchmark": "cycle", "rows": data}


# ---- 2. the station against a scripted line ----------------------------------------------------

SCRIPT_CREDENTIALS = HERE / "scripted_line" / "make_credentials.py"
SCRIPT_ACTIVATE = HERE / "scripted_line" / "activate.py"


def scripted_unit(line: BenchLine, unit: Any, work: Path, token: str) -> float:
    """Provision one unit the way a user's shell script would; returns seconds."""
    pyocd = [sys.executable, "-m", "pyocd"]
    environment = {**os.environ, "STATION_SIM_DIR": str(line.environment.sim_dir)}
    firmware = line.environment.recipe_path.parent / "firmware.hex"
    region = line.recipe.flash.credentials_region
    started = time.perf_counter()
    steps = [
        [*pyocd, "load", "-u", unit.probe_id, "-t", "nrf52840", str(firmware)],
        [sys.executable, str(SCRIPT_CREDENTIALS), str(line.environment.paths.ca_dir), f"{unit.info.device_id:016X}",
         str(work / "bundle.bin")],
        [*pyocd, "load", "-u", unit.probe_id, "-t", "nrf52840", "--base-address", hex(region.address),
         str(work / "bundle.bin")],
        [*pyocd, "cmd", "-u", unit.probe_id, "-t", "nrf52840", "-c", "write32 0x4001E504 1",
         "-c", "write32 0x10001208 0", "-c", "write32 0x4001E504 0", "-c", "reset"],
        [sys.executable, str(SCRIPT_ACTIVATE), line.environment.console_path(unit), token],
    ]  # fmt: skip
    for command in steps:
        completed = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            raise SystemExit(f"scripted step failed: {command[1:4]}: {completed.stderr[-500:]}")
    return time.perf_counter() - started


def bench_scripted(quick: bool) -> dict[str, Any]:
    count = 2 if quick else 3
    with bench_line(64 * 1024) as line:
        provision_timed(line, line.new_units(1)[0])  # warm-up
        station = [provision_timed(line, unit)[0] for unit in line.new_units(count)]
        token = next(iter(_demo_tokens(line)))
        work = Path(tempfile.mkdtemp(prefix="scripted-line-"))
        scripted = [scripted_unit(line, unit, work, token) for unit in line.new_units(count)]
        scripted_units = line.units[-count:]
        activated = sum(1 for unit in scripted_units if unit.reload().activated_product)
    ratio = median(scripted) / median(station)
    rows = [
        ["station (verified: read-back, credential check, lock read-back, identity)", median(station), 1.0],
        ["scripted (pyocd load + pyocd cmd + pyserial script, no verification)", median(scripted), ratio],
    ]
    print_table(
        f"Station vs scripted line, 64 KiB application, {count} units each, timing factor 1",
        ["", "s/unit", "x station"],
        rows,
    )
    print(f"station is {ratio:.2f} x faster per unit (target >= 2); scripted units activated: {activated}/{count}")
    return {"benchmark": "scripted", "station_s": median(station), "scripted_s": median(scripted), "ratio": ratio}


def _demo_tokens(line: BenchLine) -> list[str]:
    vault = line.environment.unlock_vault()
    return [vault.open(sealed).secret() for sealed in line.services.database.tokens.sealed_tokens("ACME-TOASTER")]


# ---- 3. slots --------------------------------------------------------------------------------------


def run_slot(line: BenchLine, units: list[Any], serial_lock: threading.Lock, failures: list[str]) -> None:
    """One slot's worker: its units one after another, as a GUI slot's thread runs them."""
    for unit in units:
        with serial_lock:
            serial = line.serial()
        outcome = line.provisioner.provision(serial, line.slot(unit))
        if not outcome.passed:
            failures.append(outcome.summary)


def bench_slots(quick: bool) -> dict[str, Any]:
    per_slot = 2
    rows, data, single = [], [], None
    for slots in (1, 2, 4, 8):
        with bench_line(64 * 1024) as line:
            provision_timed(line, line.new_units(1)[0])  # warm-up
            units = line.new_units(slots * per_slot)
            serial_lock = threading.Lock()
            failures: list[str] = []

            threads = [
                threading.Thread(
                    target=run_slot,
                    args=(line, units[index * per_slot : (index + 1) * per_slot], serial_lock, failures),
                )
                for index in range(slots)
            ]
            started = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - started
        if failures:
            raise SystemExit(f"slot benchmark failures: {failures}")
        per_hour = slots * per_slot / elapsed * 3600
        single = single or per_hour
        rows.append([slots, slots * per_slot, elapsed, per_hour, per_hour / single])
        data.append(
            {
                "slots": slots,
                "units": slots * per_slot,
                "seconds": elapsed,
                "units_per_hour": per_hour,
                "speedup": per_hour / single,
            }
        )
    print_table(
        "Slots in one station process, 64 KiB application, timing factor 1",
        ["slots", "units", "wall s", "units/hour", "x 1 slot"],
        rows,
    )
    print(f"8 slots: {data[-1]['speedup']:.2f} x one slot (target >= 7)")
    return {"benchmark": "slots", "cpu_count": os.cpu_count(), "rows": data}


# ---- 5. window responsiveness ------------------------------------------------------------------------


def bench_window(quick: bool) -> dict[str, Any]:
    """The longest gap between ticks of a 10 ms timer on the GUI thread while 8 slots provision."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QCoreApplication, QElapsedTimer, QTimer

    from station.gui.main import build_demo_station

    slots = 8
    root = Path(tempfile.mkdtemp(prefix="station-window-"))
    os.environ["STATION_SIM_DIR"] = str(root / "sim")
    station = build_demo_station(root, slots=slots, timing=1.0, sounds=False, install_error_hooks=False)
    window, line = station.window, station.line
    gaps: list[float] = []
    clock = QElapsedTimer()
    timer = QTimer()
    timer.setInterval(10)

    def tick() -> None:
        gaps.append(clock.restart() / 1000.0)

    timer.timeout.connect(tick)

    def pump_until(condition: Any, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not condition() and time.monotonic() < deadline:
            QCoreApplication.processEvents()
            time.sleep(0.002)

    try:
        window.resize(1400, 900)
        window.show()
        pump_until(lambda: not line.readiness_problems(), 60)
        assert window.demo_bar is not None
        clock.start()
        timer.start()
        started = time.monotonic()
        for _ in range(slots):
            window.demo_bar.simulate_scan()
        pump_until(lambda: any(state.running for state in line.slot_states.values()), 30)
        pump_until(lambda: not any(state.running for state in line.slot_states.values()), 300)
        elapsed = time.monotonic() - started
        timer.stop()
        verdicts = [str(state.verdict) for state in line.slot_states.values()]
    finally:
        station.close()
    ticks = gaps[1:]
    longest = max(ticks) if ticks else float("nan")
    rows = [
        [
            slots,
            len(ticks),
            elapsed,
            median(ticks) * 1000,
            sorted(ticks)[int(0.99 * (len(ticks) - 1))] * 1000,
            longest * 1000,
            "<= 50 ms",
            "yes" if longest <= 0.050 else "NO",
        ]
    ]
    print_table(
        "GUI thread while 8 slots provision (10 ms timer), timing factor 1",
        ["slots", "ticks", "run s", "median ms", "p99 ms", "longest ms", "target", "met"],
        rows,
    )
    print("verdicts:", ", ".join(verdicts))
    return {
        "benchmark": "window",
        "slots": slots,
        "ticks": len(ticks),
        "median_gap_ms": median(ticks) * 1000,
        "longest_gap_ms": longest * 1000,
        "verdicts": verdicts,
    }


# ---- 6. where the time goes -----------------------------------------------------------------------


def bench_profile(quick: bool) -> dict[str, Any]:
    with bench_line(64 * 1024) as line:
        provision_timed(line, line.new_units(1)[0])  # warm-up
        unit = line.new_units(1)[0]
        try:
            from pyinstrument import Profiler
        except ImportError:  # installed with the test extra; a bare checkout still gets the table
            profiler = None
        else:
            profiler = Profiler(interval=0.001)
        if profiler:
            profiler.start()
        elapsed, physical, outcome = provision_timed(line, unit)
        if profiler:
            profiler.stop()
        attempt = line.services.database.attempts.get_attempt(outcome.attempt_id)
    steps = [(step.name, (step.ended_at - step.started_at).total_seconds()) for step in attempt.steps]
    in_steps = sum(seconds for _, seconds in steps)
    rows = [[name, seconds, seconds / elapsed] for name, seconds in steps]
    rows.append(["journal, scan and between steps", elapsed - in_steps, (elapsed - in_steps) / elapsed])
    rows.append(["total (physical flash time in it)", elapsed, physical / elapsed])
    print_table("Where one unit's time goes (64 KiB, timing factor 1)", ["step", "seconds", "share"], rows)
    report = None
    if profiler:
        report_path = Path(tempfile.gettempdir()) / "station-profile.html"
        report_path.write_text(profiler.output_html(), encoding="utf-8")
        text = profiler.output_text(unicode=False, color=False, show_all=False)
        print("\nProfile of the station's own code (pyinstrument, wall clock):")
        print("\n".join(text.splitlines()[:60]))
        report = str(report_path)
    else:
        print("\n(pip install pyinstrument for a profile of the station's own code)")
    return {
        "benchmark": "profile",
        "total_s": elapsed,
        "physical_s": physical,
        "steps": dict(steps),
        "profile_html": report,
    }


# ---- delegated -------------------------------------------------------------------------------------


def run_script(name: str, quick: bool) -> dict[str, Any]:
    script = HERE / name
    if not script.exists():
        print(f"{name} is not there yet")
        return {"benchmark": name, "missing": True}
    arguments = [sys.executable, str(script)]
    if quick and name == "export_scale.py":
        arguments += ["--rows", "100000"]
    subprocess.run(arguments, check=True)
    return {"benchmark": name}


BENCHMARKS: dict[str, Callable[[bool], dict[str, Any]]] = {
    "cycle": bench_cycle,
    "scripted": bench_scripted,
    "slots": bench_slots,
    "window": bench_window,
    "profile": bench_profile,
    "sim": lambda quick: run_script("sim_timing.py", quick),
    "store": lambda quick: run_script("export_scale.py", quick),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", nargs="?", default="all", choices=[*BENCHMARKS, "all"])
    parser.add_argument("--quick", action="store_true", help="fewer units and rows: a smoke run")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("pyocd").setLevel(logging.CRITICAL)
    names = list(BENCHMARKS) if arguments.name == "all" else [arguments.name]
    for name in names:
        started = time.perf_counter()
        result = BENCHMARKS[name](arguments.quick)
        result["wall_seconds"] = time.perf_counter() - started
        result["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
        if name not in ("sim", "store"):
            write_results(name, result)
    shutil.rmtree(Path(tempfile.gettempdir()) / "scripted-line-unused", ignore_errors=True)


if __name__ == "__main__":
    main()
