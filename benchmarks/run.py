"""Station benchmarks (issue 7): each prints a table of ratios measured side by side, and JSON.

    python benchmarks/run.py [cycle|scripted|slots|window|profile|sim|core|store|line|all] [--quick]

cycle     station time per unit (scan accepted -> PASS committed) against two floors: the flash
          controller's modelled busy time, and the least flash work that reaches the image from
          what the unit held (benchmarks/least_work.py); for blank units, units holding an older
          firmware and units holding the same one (the simulated console adds no latency)
scripted  the station vs the script a user would write: stock `pyocd load`, `pyocd cmd`
          writes, and a pyserial activation script, each as separate processes
slots     units per hour with 1, 2, 4 and 8 slots in one station process, first units started
          all at once and at an operator's pace
window    the longest gap between ticks of a 10 ms timer on the GUI thread, 8 slots running
          (scans at an operator's pace, and all at once)
profile   where one unit's time goes: per step, plus a profile of the station's own code
sim       the simulated unit alone against its physical time (benchmarks/sim_timing.py)
core      the simulated core: emulated instructions per second per unit (paced and unpaced, 1 and
          2 units in processes of their own, against a bare unicorn engine), halt latency from
          another process, CPU cost of a unit whose firmware sleeps in WFI
          (benchmarks/core_speed.py)
store     1,000,000 attempts: look-up, insert, export vs the sqlite3 shell, memory
          (benchmarks/export_scale.py)
line      the store on a line: per-unit store time of 1 station on SQLite against 4 stations x 8
          slots, each on its own SQLite forwarding to a line database on PostgreSQL as the
          product does (goal 1.05 x), and all four directly on one PostgreSQL; the forwarding
          backlog drained per second after an outage of the line database
          (benchmarks/line_store.py; needs PostgreSQL)

The simulated units run in a simulator host (``station sim host``, started by each benchmark):
their emulated core, flash timing and console live in processes of their own, as a real
probe's firmware and the chip do their work outside the station. Both still share this
machine's cores with the station.

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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hsm_signing import signing_costs
from line import BenchLine, bench_line, median, print_table, write_results

from station.domain.identity import Serial

HERE = Path(__file__).resolve().parent
OPERATOR_SCAN_INTERVAL_S = 0.25  # a fast operator: label after label, a quarter second apart


def provision_timed(line: BenchLine, unit: Any, observer: Any = None) -> tuple[float, float, Any]:
    """(station seconds, physical seconds, outcome) for one unit."""
    busy_before = unit.nvm_busy_seconds
    slot = line.slot(unit)
    started = time.perf_counter()
    outcome = line.provisioner.provision(Serial(line.serial()), slot, line.context, observer)
    elapsed = time.perf_counter() - started
    physical = unit.nvm_busy_seconds - busy_before
    if not outcome.passed:
        raise SystemExit(f"benchmark unit failed: {outcome.summary}")
    return elapsed, physical, outcome


# ---- 1. cycle time against the physical floors ---------------------------------------------------


# Goals (issue 17): a blank unit within 1.10 x the least flash work; a unit holding an older
# firmware within 1.05 x the controller's busy time; the same firmware again programs nothing.
BLANK_GOAL, OLDER_GOAL = 1.10, 1.05
CYCLE_FAMILIES = ("nrf52840", "stm32f429xi", "k64f")
UNIT_STATES = ("blank", "older", "same")
KINETIS_CONFIG_FIELD = range(0x400, 0x410)  # an older K64F build keeps its (unsecure) configuration field


def image_segments(line: BenchLine) -> list[tuple[int, bytes]]:
    return [(segment.address, segment.data) for image in line.recipe.images for segment in image.segments]


def older_firmware(segments: list[tuple[int, bytes]], family: str) -> list[tuple[int, bytes]]:
    """Another build at the same addresses: other bytes in every page the image touches."""
    older = []
    for address, data in segments:
        changed = bytearray(byte ^ 0xA5 for byte in data)
        if family == "k64f":
            for where in KINETIS_CONFIG_FIELD:
                if address <= where < address + len(data):
                    changed[where - address] = data[where - address]
        older.append((address, bytes(changed)))
    return older


def prepare_unit(line: BenchLine, unit: Any, state: str) -> list[tuple[int, bytes]]:
    """Put the unit in ``state`` (what it holds before the station starts); the images."""
    segments = image_segments(line)
    held = {"blank": [], "older": older_firmware(segments, line.target), "same": segments}[state]
    if held:
        with unit.locked():
            for address, data in held:
                unit.program_nvm(address, data)
            unit.reset()  # what it holds is in force (a K64F's configuration field, for one)
    return segments


def bench_cycle(quick: bool) -> dict[str, Any]:
    from least_work import FlashStepBusy, figures_for, least_image_work

    rows, data = [], []
    for family in CYCLE_FAMILIES:
        figures = figures_for(family)
        for size in (64 * 1024, 256 * 1024):
            with bench_line(size, target=family) as line:
                provision_timed(line, line.new_units(1)[0])  # warm-up: first pyOCD session in the process
                for state in UNIT_STATES:
                    results = []
                    for unit in line.new_units(1 if quick else 3):
                        segments = prepare_unit(line, unit, state)
                        least_images = least_image_work(figures, segments, unit.read_nvm)
                        observer = FlashStepBusy(unit)
                        elapsed, busy, outcome = provision_timed(line, unit, observer)
                        least = least_images + busy - observer.seconds  # the rest: credential, lock
                        results.append((elapsed, busy, least, outcome))
                    station = median([result[0] for result in results])
                    busy = median([result[1] for result in results])
                    least = median([result[2] for result in results])
                    goal = {"blank": f"least <= {BLANK_GOAL:.2f}", "older": f"busy <= {OLDER_GOAL:.2f}",
                            "same": "programs nothing"}[state]  # fmt: skip
                    met = {"blank": station / least <= BLANK_GOAL, "older": station / busy <= OLDER_GOAL,
                           "same": all(_programmed_nothing(line, result[3]) for result in results)}[state]  # fmt: skip
                    rows.append([family, size // 1024, state, len(results), station, busy, least, station / busy,
                                 station / least, goal, "yes" if met else "NO"])  # fmt: skip
                    data.append({"family": family, "application_kib": size // 1024, "unit_state": state,
                                 "units": len(results), "station_s": station, "busy_floor_s": busy,
                                 "least_work_s": least, "ratio_busy": station / busy, "ratio_least": station / least,
                                 "goal": goal, "met": met})  # fmt: skip
    print_table(
        "Cycle time: scan accepted -> PASS committed, per unit, against the flash controller's busy time and "
        "the least flash work that reaches the image (timing factor 1)",
        ["family", "app KiB", "unit holds", "units", "station s", "busy s", "least s", "/busy", "/least", "goal",
         "met"],
        rows,
    )  # fmt: skip
    signing = signing_costs(20 if quick else 200)
    if signing is None:
        print("\ncertificate signing in a token: SoftHSM2 is not installed (apt-get install softhsm2)")
    else:
        print(f"\ndevice certificate per unit (median of {signing['units']}): file CA "
              f"{signing['file_ca_s'] * 1000:.2f} ms, CA key in SoftHSM2 {signing['token_ca_s'] * 1000:.2f} ms: "
              f"the token adds {signing['added_s'] * 1000:.2f} ms per unit (goal < 20 ms)")
    return {"benchmark": "cycle", "rows": data, "certificate_signing": signing}


def _programmed_nothing(line: BenchLine, outcome: Any) -> bool:
    attempt = line.station.database.attempts.get_attempt(outcome.attempt_id)
    detail = next(step.detail for step in attempt.steps if step.name == "flash")
    return "nothing to program" in detail


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
    return [vault.open(sealed).secret() for sealed in line.station.database.tokens.sealed_tokens("ACME-TOASTER")]


# ---- 3. slots --------------------------------------------------------------------------------------


def run_slot(
    line: BenchLine, units: list[Any], serial_lock: threading.Lock, failures: list[str], seconds: list[float]
) -> None:
    """One slot's worker: its units one after another, as a GUI slot's thread runs them; each
    unit's time (scan to PASS) is appended to ``seconds``."""
    for unit in units:
        with serial_lock:
            serial = line.serial()
        began = time.perf_counter()
        outcome = line.provisioner.provision(Serial(serial), line.slot(unit), line.context)
        seconds.append(time.perf_counter() - began)
        if not outcome.passed:
            failures.append(outcome.summary)


@dataclass
class SlotsRun:
    wall: float  # first start to last PASS
    unit_seconds: list[list[float]]  # per slot, each unit's time in order

    def units_per_second(self, *, steady: bool) -> float:
        """All units over the wall time; or (``steady``) the line's rate while every slot is
        busy: the sum over slots of one over the time of their middle units (not the first
        or the last), which run while all the others run too."""
        if not steady:
            return sum(len(seconds) for seconds in self.unit_seconds) / self.wall
        return sum(len(seconds[1:-1]) / sum(seconds[1:-1]) for seconds in self.unit_seconds)


def run_slots(line: BenchLine, slots: int, per_slot: int, scan_interval: float = 0.0) -> SlotsRun:
    """``slots`` slots provisioning ``per_slot`` units each, the first units scanned
    ``scan_interval`` apart (0: all in the same instant)."""
    units = line.new_units(slots * per_slot)
    serial_lock = threading.Lock()
    failures: list[str] = []
    shares = [units[index * per_slot : (index + 1) * per_slot] for index in range(slots)]
    unit_seconds: list[list[float]] = [[] for _ in range(slots)]

    def slot_worker(index: int) -> None:
        time.sleep(index * scan_interval)
        run_slot(line, shares[index], serial_lock, failures, unit_seconds[index])

    threads = [threading.Thread(target=slot_worker, args=(index,)) for index in range(slots)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    line.retire(units)
    if failures:
        raise SystemExit(f"slot benchmark failures: {failures}")
    return SlotsRun(elapsed, unit_seconds)


# (name, first scans this far apart in seconds, rate taken in the steady state)
SLOT_MODES = (
    ("all at once", 0.0, False),
    ("operator pace", OPERATOR_SCAN_INTERVAL_S, True),
)


def bench_slots(quick: bool) -> dict[str, Any]:
    """Units per hour with 1, 2, 4 and 8 slots, all in one station and one simulator host.

    Two ways of starting. All at once: every slot's first unit in the same instant, after
    which the slots stay in step (the worst case: all of them connect, erase, commit and
    activate at the same moments); the rate is all units over the wall time. At an operator's
    pace: first units scanned a quarter second apart, as on a line; the rate is the steady
    state, each slot's middle units (they run while every other slot runs too), against one
    slot's middle units. The configurations take turns for several rounds and each is judged
    by its median: on a shared 2-core machine one run of a few seconds can be a fifth slower
    than the next.
    """
    per_slot, rounds = 3, (1 if quick else 3)  # three: a first, a middle and a last unit
    counts = (1, 2, 4, 8)
    rates: dict[tuple[str, int], list[float]] = {(mode, slots): [] for mode, _, _ in SLOT_MODES for slots in counts}
    walls: dict[tuple[str, int], list[float]] = {key: [] for key in rates}
    # Each unit's seconds by its place in its slot (first, second, ...): where a start costs.
    by_place: dict[tuple[str, int], list[list[float]]] = {key: [[] for _ in range(per_slot)] for key in rates}
    with bench_line(64 * 1024) as line:
        provision_timed(line, line.new_units(1)[0])  # warm-up
        for _ in range(rounds):
            for slots in counts:
                # One slot has nobody to be staggered against: its one run is counted both ways.
                single_run = run_slots(line, 1, per_slot) if slots == 1 else None
                for mode, interval, steady in SLOT_MODES:
                    run = single_run or run_slots(line, slots, per_slot, interval)
                    rates[mode, slots].append(run.units_per_second(steady=steady))
                    walls[mode, slots].append(run.wall)
                    for seconds in run.unit_seconds:
                        for place, unit_time in enumerate(seconds):
                            by_place[mode, slots][place].append(unit_time)
    places = {key: [median(times) for times in seconds] for key, seconds in by_place.items()}
    rows, data = [], []
    for mode, interval, _ in SLOT_MODES:
        single = median(rates[mode, 1]) * 3600
        for slots in counts:
            per_hour = median(rates[mode, slots]) * 3600
            each = [rate * 3600 / single for rate in rates[mode, slots]]
            spread = f"{min(each):.2f}-{max(each):.2f}"
            wall = median(walls[mode, slots])
            rows.append([mode, slots, slots * per_slot, wall, per_hour, per_hour / single, spread])
            data.append(
                {
                    "mode": mode,
                    "first_scans_apart_s": interval,
                    "slots": slots,
                    "units": slots * per_slot,
                    "wall_s": wall,
                    "units_per_hour": per_hour,
                    "speedup": per_hour / single,
                    "speedup_each_round": each,
                    "unit_seconds_by_place": places[mode, slots],
                }
            )
    print_table(
        f"Slots in one station process, 64 KiB application, timing factor 1 (median of {rounds} rounds)",
        ["first scans", "slots", "units", "wall s", "units/hour", "x 1 slot", "rounds"],
        rows,
    )
    print(f"seconds per unit by its place in its slot (median): one slot {_places(places['all at once', 1])}")
    for mode, _, _ in SLOT_MODES:
        print(f"  8 slots, {mode}: {_places(places[mode, 8])}")
    for mode, _, _ in SLOT_MODES:
        eight = next(row for row in data if row["mode"] == mode and row["slots"] == 8)
        print(f"8 slots, {mode}: {eight['speedup']:.2f} x one slot (target >= 7)")
    return {
        "benchmark": "slots",
        "cpu_count": os.cpu_count(),
        "units_per_slot": per_slot,
        "rounds": rounds,
        "rows": data,
    }


def _places(seconds: list[float]) -> str:
    """Each place's time, however many units a slot runs: "unit 1 3.97 s, unit 2 3.68 s, ..."."""
    return ", ".join(f"unit {place} {unit_time:.2f} s" for place, unit_time in enumerate(seconds, start=1))


# ---- 5. window responsiveness ------------------------------------------------------------------------


def window_run(scan_interval: float) -> dict[str, Any]:
    """One demo station, 8 slots at timing factor 1: scan 8 units ``scan_interval`` apart (0: all
    in one go) and record every gap between ticks of a 10 ms timer until all have a verdict."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QCoreApplication, QElapsedTimer, QTimer

    from station.app import CompositionRoot
    from station.app.windows import build_demo_window

    slots = 8
    root = Path(tempfile.mkdtemp(prefix="station-window-"))
    os.environ["STATION_SIM_DIR"] = str(root / "sim")
    station = build_demo_window(CompositionRoot(), root, slots=slots, timing=1.0, sounds=False,
                                install_error_hooks=False)
    window, line = station.window, station.line
    gaps: list[float] = []
    clock = QElapsedTimer()
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: gaps.append(clock.restart() / 1000.0))

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
            QCoreApplication.processEvents()  # each scan is its own event, as from a scanner
            if scan_interval:
                pump_until(lambda: False, scan_interval)
        pump_until(lambda: not any(state.running for state in line.slot_states.values()), 300)
        elapsed = time.monotonic() - started
        timer.stop()
        verdicts = [str(state.verdict) for state in line.slot_states.values()]
    finally:
        station.close()
    ticks = gaps[1:]
    return {
        "scan_interval_s": scan_interval,
        "ticks": len(ticks),
        "run_s": elapsed,
        "median_gap_ms": median(ticks) * 1000,
        "p99_gap_ms": sorted(ticks)[int(0.99 * (len(ticks) - 1))] * 1000,
        "longest_gap_ms": max(ticks) * 1000,
        "verdicts": verdicts,
    }


def bench_window(quick: bool) -> dict[str, Any]:
    """The longest gap between ticks of a 10 ms timer on the GUI thread while 8 slots provision.

    Two ways of starting the slots: labels scanned at a fast operator's pace, and all eight
    scans handled in one go (the worst case: eight units start at the same instant). Each is
    run several times and the worst run is reported.
    """
    repeats = 1 if quick else 3
    runs = {
        "operator pace": [window_run(OPERATOR_SCAN_INTERVAL_S) for _ in range(repeats)],
        "all at once": [window_run(0.0) for _ in range(repeats)],
    }
    rows = []
    for name, results in runs.items():
        worst = max(results, key=lambda result: result["longest_gap_ms"])
        longest = worst["longest_gap_ms"]
        rows.append(
            [
                name,
                worst["scan_interval_s"],
                worst["ticks"],
                worst["run_s"],
                worst["median_gap_ms"],
                worst["p99_gap_ms"],
                longest,
                ", ".join(f"{result['longest_gap_ms']:.0f}" for result in results),
                "yes" if longest <= 50 else "NO",
            ]
        )
    print_table(
        f"GUI thread while 8 slots provision (10 ms timer, timing factor 1, worst of {repeats} runs)",
        ["scans", "apart s", "ticks", "run s", "median ms", "p99 ms", "longest ms", "each run", "<= 50 ms"],
        rows,
    )
    for name, results in runs.items():
        print(f"verdicts ({name}):", ", ".join(results[-1]["verdicts"]))
    return {"benchmark": "window", "slots": 8, "target_ms": 50, "runs": runs}


# ---- 6. where the time goes -----------------------------------------------------------------------


def bench_profile(quick: bool) -> dict[str, Any]:
    with bench_line(64 * 1024) as line:
        provision_timed(line, line.new_units(1)[0])  # warm-up
        # The station's own CPU per unit: this process's CPU time (every thread; the simulated
        # units' cores and flash run in the simulator host's processes), no profiler attached.
        cpu_seconds = []
        for unit in line.new_units(3 if quick else 9):
            began = time.process_time()
            provision_timed(line, unit)
            cpu_seconds.append(time.process_time() - began)
        station_cpu = median(cpu_seconds)
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
        attempt = line.station.database.attempts.get_attempt(outcome.attempt_id)
    steps = [(step.name, (step.ended_at - step.started_at).total_seconds()) for step in attempt.steps]
    in_steps = sum(seconds for _, seconds in steps)
    rows = [[name, seconds, seconds / elapsed] for name, seconds in steps]
    rows.append(["journal, scan and between steps", elapsed - in_steps, (elapsed - in_steps) / elapsed])
    rows.append(["total (physical flash time in it)", elapsed, physical / elapsed])
    print_table("Where one unit's time goes (64 KiB, timing factor 1)", ["step", "seconds", "share"], rows)
    print(f"station process CPU per unit: {station_cpu * 1000:.0f} ms (median of {len(cpu_seconds)} units; "
          "target <= 50 ms)")
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
        "station_cpu_per_unit_s": station_cpu,
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
    if quick and name in ("core_speed.py", "line_store.py"):
        arguments.append("--quick")
    subprocess.run(arguments, check=True)
    return {"benchmark": name}


BENCHMARKS: dict[str, Callable[[bool], dict[str, Any]]] = {
    "cycle": bench_cycle,
    "scripted": bench_scripted,
    "slots": bench_slots,
    "window": bench_window,
    "profile": bench_profile,
    "sim": lambda quick: run_script("sim_timing.py", quick),
    "core": lambda quick: run_script("core_speed.py", quick),
    "store": lambda quick: run_script("export_scale.py", quick),
    "line": lambda quick: run_script("line_store.py", quick),
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
        if name not in ("sim", "core", "store", "line"):  # these scripts write their own results
            write_results(name, result)
    shutil.rmtree(Path(tempfile.gettempdir()) / "scripted-line-unused", ignore_errors=True)


if __name__ == "__main__":
    main()
