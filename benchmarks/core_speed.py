"""How fast a simulated unit's core runs, how soon it halts, and what a sleeping one costs (issue 15).

    python benchmarks/core_speed.py [--quick]

1. Emulated instructions per second. A CRC-32 over 64 KiB of the demo application in flash
   (table-driven, as pyOCD's flash analyzer computes it; the table is first built in RAM,
   bit by bit) runs from RAM on a simulated unit through the whole path: a pyOCD session on
   the ``sim`` probe, the core controller, its runner thread. The program ends in a BKPT; the
   time is taken from pyOCD's ``resume()`` to DHCSR.S_HALT (polled every millisecond), and the
   instructions are counted exactly from the program's shape (DWT_CYCCNT, enabled through
   DEMCR.TRCENA and DWT_CTRL.CYCCNTENA, is printed beside them: the emulator's own count,
   estimated for the slice that ends at the BKPT). Two runs of it:

   * short enough to finish inside the resume call's own first stretch
     (``controller.CALLER_RUN_INSTRUCTIONS``), which is not paced;
   * long, so that the runner thread executes it, never ahead of real time at
     ``controller.CLOCK_HZ``: paced, the figure cannot pass the clock;

   with one unit, and with two units at the same time, each in a process of its own. The
   same program on a bare unicorn engine is the ceiling: free-running, and counted in slices
   of ``controller.SLICE_INSTRUCTIONS`` as the core must run (to look for halts between
   slices); then the emulated core alone (``station.sim.core.EmulatedCore``: its memory hooks,
   its flash copy), without a session.
2. Halt latency from another process: the demo firmware runs (SysTick at 1 kHz, asleep in
   WFI between interrupts) in process A's session; this process opens a session of its own,
   calls ``halt()`` and polls DHCSR until S_HALT, twenty times, resuming and closing its
   session in between so that A's runner is executing the core at every halt.
3. The CPU cost of the process that holds a session on a unit running that firmware: its
   CPU seconds (user + system, ``getrusage``) per wall second, beside a halted core's.

Each session on a measured unit runs in a worker process (``benchmarks/core_session.py``),
with the device model in it (no simulator host is started): the path is stock pyOCD's, as in
``pyocd gdbserver -u sim:unit-0001``. Targets are printed beside the figures, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import mmap
import os
import queue
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path
from typing import Any, Final, TextIO

sys.path.insert(0, str(Path(__file__).resolve().parent))

from core_session import (
    BKPT_ADDRESS,
    DATA_LENGTH,
    DHCSR,
    PASS_INSTRUCTIONS,
    POLYNOMIAL,
    PROGRAM,
    PROGRAM_ADDRESS,
    REPLY,
    RESULT_ADDRESS,
    S_HALT,
    S_SLEEP,
    STACK_TOP,
    TABLE_ADDRESS,
    TABLE_INSTRUCTIONS,
    XPSR_THUMB,
    instructions,
    session_on,
)
from line import print_table, write_results

HERE = Path(__file__).resolve().parent
LONG_PASSES: Final = 60  # about 27.5 M instructions: 0.43 s at the paced clock
TARGET_RATE: Final = 20e6
TARGET_HALT_SECONDS: Final = 0.1
HALT_TRIES: Final = 20
WORKER_TIMEOUT_SECONDS: Final = 300.0


def caller_passes() -> int:
    """The most passes that finish inside the resume call's unpaced first stretch."""
    from station.sim.controller import CALLER_RUN_INSTRUCTIONS

    return (CALLER_RUN_INSTRUCTIONS - TABLE_INSTRUCTIONS) // PASS_INSTRUCTIONS


# ---- the workers, from the benchmark's side ---------------------------------------------------------


class Worker:
    """A worker process and its answers (a reader thread, so that a silent worker times out)."""

    def __init__(self, *arguments: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(HERE / "core_session.py"), *arguments],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._answers: queue.Queue[dict[str, Any] | None] = queue.Queue()
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()

    def _read(self, stream: TextIO) -> None:
        for line in stream:
            if line.startswith(REPLY):
                self._answers.put(json.loads(line[len(REPLY) :]))
        self._answers.put(None)

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def answer(self) -> dict[str, Any]:
        try:
            data = self._answers.get(timeout=WORKER_TIMEOUT_SECONDS)
        except queue.Empty:
            data = None
        if data is None:
            self.process.kill()
            raise SystemExit(f"a benchmark worker stopped answering (exit status {self.process.poll()})")
        return data

    def close(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(OSError):  # it may end meanwhile
                self.send("quit")
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# ---- 1. instructions per second ---------------------------------------------------------------------


def bare_unicorn(data: bytes, passes: int, *, counted: bool) -> float:
    """Seconds for the program on a fresh unicorn engine with nothing but memory: the ceiling.

    ``counted``: in slices of SLICE_INSTRUCTIONS through unicorn's instruction count, which
    the core needs to look for halts between slices (unicorn compiles the count into the
    translated code, so each way gets an engine of its own)."""
    import unicorn
    from unicorn import arm_const

    from station.sim import board
    from station.sim.controller import SLICE_INSTRUCTIONS

    engine = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_THUMB | unicorn.UC_MODE_MCLASS)
    engine.ctl_set_cpu_model(arm_const.UC_CPU_ARM_CORTEX_M4)
    engine.mem_map(board.FLASH_BASE, board.FLASH_SIZE)
    engine.mem_map(board.RAM_BASE, board.RAM_SIZE)
    engine.mem_write(board.APPLICATION_ADDRESS, data)
    engine.mem_write(PROGRAM_ADDRESS, PROGRAM)
    engine.hook_add(unicorn.UC_HOOK_INTR, lambda uc, _number, _data: uc.emu_stop())  # the BKPT
    for register, value in (
        (arm_const.UC_ARM_REG_R0, board.APPLICATION_ADDRESS),
        (arm_const.UC_ARM_REG_R1, board.APPLICATION_ADDRESS + DATA_LENGTH),
        (arm_const.UC_ARM_REG_R3, TABLE_ADDRESS),
        (arm_const.UC_ARM_REG_R7, POLYNOMIAL),
        (arm_const.UC_ARM_REG_R8, passes),
        (arm_const.UC_ARM_REG_SP, STACK_TOP),
    ):
        engine.reg_write(register, value)
    started = time.perf_counter()
    if counted:
        pc = PROGRAM_ADDRESS
        while pc != BKPT_ADDRESS:
            engine.emu_start(pc | 1, 0xFFFF_FFFE, count=SLICE_INSTRUCTIONS)
            pc = int(engine.reg_read(arm_const.UC_ARM_REG_PC)) & ~1
    else:
        engine.emu_start(PROGRAM_ADDRESS | 1, BKPT_ADDRESS)
    seconds = time.perf_counter() - started
    _check_crc(int.from_bytes(engine.mem_read(RESULT_ADDRESS, 4), "little"), data)
    return seconds


def core_alone(data: bytes, passes: int) -> float:
    """Seconds for the program on the unit's emulated core run directly, slice after slice, as
    the controller runs it but without a session, a controller or the shared state's locks."""
    from station.sim import board
    from station.sim.controller import SLICE_INSTRUCTIONS
    from station.sim.core import EmulatedCore, StopReason
    from station.sim.core_state import CORE_REGISTER_NAMES, CoreState

    nvm = mmap.mmap(-1, board.FLASH_SIZE + board.UICR_SIZE)
    offset = board.APPLICATION_ADDRESS - board.FLASH_BASE
    nvm[offset : offset + len(data)] = data
    directory = tempfile.TemporaryDirectory(prefix="core-alone-")
    state = CoreState(Path(directory.name))
    core = EmulatedCore(
        nvm,
        bytes(board.FICR_SIZE),
        state,
        on_nvm_stores=lambda _stores: None,  # the program stores to RAM only
        on_peripheral_write=lambda _address, _size, _value: None,
    )
    try:
        state.write_ram(PROGRAM_ADDRESS, PROGRAM)
        registers = dict.fromkeys(CORE_REGISTER_NAMES, 0)
        registers.update(
            R0=board.APPLICATION_ADDRESS, R1=board.APPLICATION_ADDRESS + DATA_LENGTH, R3=TABLE_ADDRESS,
            R7=POLYNOMIAL, R8=passes, MSP=STACK_TOP, XPSR=XPSR_THUMB, PC=PROGRAM_ADDRESS,
        )  # fmt: skip
        state.save_registers([registers[name] for name in CORE_REGISTER_NAMES], None)
        core.debug_enabled = True  # the BKPT halts, as under a debugger
        core.load_registers()
        started = time.perf_counter()
        while core.run(SLICE_INSTRUCTIONS).reason == StopReason.BUDGET:
            pass
        seconds = time.perf_counter() - started
        _check_crc(int.from_bytes(state.read_ram(RESULT_ADDRESS, 4), "little"), data)
        return seconds
    finally:
        core.close()
        state.close()
        nvm.close()
        directory.cleanup()


def _check_crc(value: int, data: bytes) -> None:
    if value != zlib.crc32(data):
        raise SystemExit("the CRC program computed a wrong CRC: the measurement is void")


def speed_row(path: str, unit: str, paced: str, runs: list[dict[str, Any]], *, station: bool) -> list[Any]:
    """One table row from runs of the same configuration: the median run's figures; the
    target applies to the station's path (``station``), not to the references."""
    run = sorted(runs, key=lambda each: each["seconds"])[len(runs) // 2]
    rate = run["instructions"] / run["seconds"]
    cyccnt = f"{run['cyccnt'] / run['instructions']:.4f}" if "cyccnt" in run else "-"
    target = ">= 20" if station else "-"
    met = ("yes" if rate >= TARGET_RATE else "NO") if station else "-"
    return [path, unit, paced, run["instructions"], run["seconds"], rate / 1e6, cyccnt, target, met]


def bench_speed(units: list[str], hex_path: str, data: bytes, repeats: int) -> dict[str, Any]:
    from station.sim.controller import CALLER_RUN_INSTRUCTIONS, CLOCK_HZ

    short, long = caller_passes(), LONG_PASSES
    crc = str(zlib.crc32(data))
    rows: list[list[Any]] = []
    results: dict[str, Any] = {}
    for label, counted in (("bare unicorn, free-running", False), ("bare unicorn, counted slices", True)):
        runs = [
            {"instructions": instructions(long), "seconds": bare_unicorn(data, long, counted=counted)}
            for _ in range(repeats)
        ]
        rows.append(speed_row(label, "1", "no", runs, station=False))
        results[label] = runs
    runs = [{"instructions": instructions(long), "seconds": core_alone(data, long)} for _ in range(repeats)]
    rows.append(speed_row("core alone (EmulatedCore.run)", "1", "no", runs, station=False))
    results["core alone (EmulatedCore.run)"] = runs
    for count in (1, 2):
        workers = [Worker("busy", probe_id, hex_path, crc) for probe_id in units[:count]]
        try:
            for worker in workers:
                worker.answer()  # ready
            for label, passes, paced in (
                ("pyOCD, resume call's stretch", short, "no"),
                ("pyOCD, runner thread", long, f"{CLOCK_HZ // 1_000_000} MHz"),
            ):
                per_unit: list[list[dict[str, Any]]] = [[] for _ in workers]
                for _ in range(repeats):
                    for worker in workers:
                        worker.send(f"run {passes}")
                    for runs_of_unit, worker in zip(per_unit, workers, strict=True):
                        runs_of_unit.append(worker.answer())
                for index, runs_of_unit in enumerate(per_unit, start=1):
                    name = f"{index} of {count}" if count > 1 else "1"
                    rows.append(speed_row(label, name, paced, runs_of_unit, station=True))
                    results[f"{label}, unit {name}"] = runs_of_unit
        finally:
            for worker in workers:
                worker.close()
    columns = ["path", "unit", "paced", "instructions", "seconds", "M instr/s", "CYCCNT/exact", "target", "met"]
    print_table(
        f"Emulated instructions per second: CRC-32 over 64 KiB of flash, from RAM (median of {repeats} runs)",
        columns,
        rows,
    )
    stretches = [run for key, runs in results.items() if key.startswith("pyOCD, resume") for run in runs]
    inside = sum(1 for run in stretches if run["halted_when_resume_returned"])
    print(
        f"resume call's stretch: {short} passes, {instructions(short):,} instructions, within the first "
        f"{CALLER_RUN_INSTRUCTIONS:,} that the controller runs inside pyOCD's resume() call, unpaced (halted by "
        f"the time resume() returned: {inside} of {len(stretches)} runs); runner thread: {long} passes, never "
        f"ahead of {CLOCK_HZ / 1e6:.0f} M instructions/s. CYCCNT/exact: DWT_CYCCNT over the exact count (the "
        "emulator estimates the instructions of a slice that ends at the BKPT)"
    )
    table = [dict(zip(columns, row, strict=True)) for row in rows]
    return {"table": table, "runs": results, "pace_hz": CLOCK_HZ, "repeats": repeats}


# ---- 2. and 3. halt latency from another process, a sleeping core's CPU cost -----------------------


def bench_halt_and_idle(probe_id: str, hex_path: str, seconds: float) -> dict[str, Any]:
    holder = Worker("hold", probe_id, hex_path, str(seconds))
    try:
        idle = holder.answer()
        tries = halt_tries(probe_id)
        holder.send("done")
        after = holder.answer()["after_halts"]
    finally:
        holder.close()
    latencies = [each["to_s_halt_s"] for each in tries]
    calls = [each["halt_call_s"] for each in tries]
    asleep = sum(1 for each in tries if each["was_sleeping"])
    worst = max(latencies)
    print_table(
        f"Halt from another process: halt() to DHCSR.S_HALT, demo firmware running in process A ({len(tries)} tries)",
        ["", "min ms", "median ms", "max ms", "target", "met"],
        [
            ["halt() to S_HALT read", min(latencies) * 1e3, statistics.median(latencies) * 1e3, worst * 1e3,
             "< 100 ms", "yes" if worst < TARGET_HALT_SECONDS else "NO"],
            ["halt() call alone", min(calls) * 1e3, statistics.median(calls) * 1e3, max(calls) * 1e3, "-", "-"],
        ],
    )  # fmt: skip
    print(f"the core was asleep in WFI at {asleep} of {len(tries)} halts, executing at the others")
    rows = [
        ["halted (the runner idle)", idle["halted"]],
        ["demo firmware: SysTick 1 kHz, WFI between", idle["running"]],
        ["the same, after the other process's halts", after],
    ]
    print_table(
        "CPU cost of the process holding the session (user + system CPU seconds per wall second)",
        ["core", "wall s", "CPU s", "CPU s / wall s", "SysTick IRQs/s"],
        [[name, m["wall_s"], m["cpu_s"], m["cpu_per_wall"], m["systick_per_s"]] for name, m in rows],
    )
    print("(a real chip costs the station nothing; the firmware's SysTick should count 1000 interrupts a second)")
    return {"halt_tries": tries, "target_halt_s": TARGET_HALT_SECONDS, "cpu": {name: m for name, m in rows}}


def halt_tries(probe_id: str) -> list[dict[str, Any]]:
    """Sessions of this process, each halting the core that process A runs, then resuming it."""
    pause = random.Random(15)
    tries = []
    for _ in range(HALT_TRIES):
        with session_on(probe_id) as session:
            target = session.target
            before = target.read32(DHCSR)
            if before & S_HALT:
                raise SystemExit("the core was already halted: the attach must leave it running")
            started = time.perf_counter()
            target.halt()
            returned = time.perf_counter()
            while not target.read32(DHCSR) & S_HALT:
                if time.perf_counter() - started > 5:
                    raise SystemExit("a halt from another process did not take effect within 5 s")
            tries.append(
                {
                    "halt_call_s": returned - started,
                    "to_s_halt_s": time.perf_counter() - started,
                    "was_sleeping": bool(before & S_SLEEP),
                }
            )
            target.resume()
        time.sleep(pause.uniform(0.02, 0.08))  # process A's runner takes the core back meanwhile
    return tries


# ---- main ---------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one run each, shorter idle measurements")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("pyocd").setLevel(logging.CRITICAL)
    work = Path(tempfile.mkdtemp(prefix="core-speed-"))
    os.environ["STATION_SIM_DIR"] = str(work / "sim")  # before pyOCD loads the sim probe plugin
    from station.sim.firmware import build_demo_firmware
    from station.sim.units import SimUnitStore

    firmware = build_demo_firmware(work / "firmware")
    data = firmware.application.data[:DATA_LENGTH]
    store = SimUnitStore()
    units = [store.create_unit() for _ in range(3)]
    repeats, idle_seconds = (1, 2.0) if arguments.quick else (3, 5.0)
    started = time.perf_counter()
    print(f"load average before: {' '.join(f'{load:.2f}' for load in os.getloadavg())} on {os.cpu_count()} CPUs")
    try:
        speed = bench_speed([unit.probe_id for unit in units[:2]], str(firmware.hex_path), data, repeats)
        halts = bench_halt_and_idle(units[2].probe_id, str(firmware.hex_path), idle_seconds)
    finally:
        for unit in units:
            unit.close()
        shutil.rmtree(work, ignore_errors=True)
    write_results(
        "core_speed",
        {
            "benchmark": "core",
            "speed": speed,
            "halt_and_idle": halts,
            "wall_seconds": time.perf_counter() - started,
            "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0], "load": os.getloadavg()},
        },
    )


if __name__ == "__main__":
    main()
