"""The side of the core benchmark that runs in a pyOCD session: its program and its worker processes.

``core_speed.py`` starts this script once per simulated unit it measures, so that each unit's
session (and the core controller's runner thread in it) has a process of its own, as each
slot's probe session has on a line:

    python benchmarks/core_session.py busy <probe id> <firmware.hex> <CRC of the data>
        flashes the demo firmware, loads the CRC program into RAM, and answers each
        ``run <passes>`` line on stdin with one timed run of it;
    python benchmarks/core_session.py hold <probe id> <firmware.hex> <seconds>
        flashes the demo firmware, measures this process's CPU with the core halted and then
        running the firmware, answers, and holds the session (its runner executing the core)
        until a line on stdin, when it measures once more.

Answers are single lines of JSON after :data:`REPLY`; whatever else pyOCD prints is ignored.
"""

from __future__ import annotations

import json
import logging
import resource
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Final

# CRC-32 (reflected, polynomial 0xEDB88320) of the bytes from r0 to r1, ``r8`` times over.
# In: r0 = first byte, r1 = end, r3 = table (1 KiB of RAM; the result is stored after it),
# r7 = polynomial, r8 = passes. Assembled with arm-none-eabi-as (Cortex-M4, Thumb-2); no IT
# blocks, so that every instruction counts once whatever the flags:
#
#   start:        movs r6, #0                   2600
#   table_entry:  mov r2, r6                    4632
#                 movs r5, #8                   2508
#   table_bit:    lsls r4, r2, #31              07d4
#                 asrs r4, r4, #31              17e4
#                 ands r4, r7                   403c
#                 eor.w r2, r4, r2, lsr #1      ea84 0252
#                 subs r5, #1                   3d01
#                 bne table_bit                 d1f8
#                 str.w r2, [r3, r6, lsl #2]    f843 2026
#                 adds r6, #1                   3601
#                 cmp.w r6, #256                f5b6 7f80
#                 bne table_entry               d1f0
#   pass:         mov ip, r0                    4684
#                 mov.w r2, #0xFFFFFFFF         f04f 32ff
#   byte:         ldrb.w r4, [ip], #1           f81c 4b01
#                 eors r4, r2                   4054
#                 uxtb r4, r4                   b2e4
#                 ldr.w r4, [r3, r4, lsl #2]    f853 4024
#                 eor.w r2, r4, r2, lsr #8      ea84 2212
#                 cmp ip, r1                    458c
#                 bne byte                      d1f5
#                 mvns r2, r2                   43d2
#                 str.w r2, [r3, #1024]         f8c3 2400
#                 subs.w r8, r8, #1             f1b8 0801
#                 bne pass                      d1ec
#                 bkpt #0                       be00
PROGRAM: Final = bytes.fromhex(
    "00263246 0825d407 e4173c40 84ea5202 013df8d1 43f82620 0136b6f5 807ff0d1"
    "84464ff0 ff321cf8 014b5440 e4b253f8 244084ea 12228c45 f5d1d243 c3f80024"
    "b8f10108 ecd100be"
)
PROGRAM_ADDRESS: Final = 0x2001_0000
TABLE_ADDRESS: Final = 0x2002_0000
RESULT_ADDRESS: Final = TABLE_ADDRESS + 1024
BKPT_ADDRESS: Final = PROGRAM_ADDRESS + len(PROGRAM) - 2
STACK_TOP: Final = 0x2004_0000
POLYNOMIAL: Final = 0xEDB8_8320
DATA_LENGTH: Final = 64 * 1024
TABLE_INSTRUCTIONS: Final = 1 + 256 * (2 + 8 * 6 + 4)
PASS_INSTRUCTIONS: Final = 2 + 7 * DATA_LENGTH + 4

DHCSR: Final = 0xE000_EDF0
DEMCR: Final = 0xE000_EDFC
DWT_CTRL: Final = 0xE000_1000
DWT_CYCCNT: Final = 0xE000_1004
S_HALT: Final = 1 << 17
S_SLEEP: Final = 1 << 18
DEMCR_TRCENA: Final = 1 << 24
CYCCNTENA: Final = 1
XPSR_THUMB: Final = 1 << 24

POLL_SECONDS: Final = 0.001
RUN_LIMIT_SECONDS: Final = 300.0
REPLY: Final = "core-speed "  # marks the answers among whatever else a worker prints


def instructions(passes: int) -> int:
    """Instructions the program executes before its BKPT (exact: no branch depends on data)."""
    return TABLE_INSTRUCTIONS + passes * PASS_INSTRUCTIONS


# ---- a pyOCD session on a simulated unit --------------------------------------------------------


@contextmanager
def session_on(probe_id: str) -> Iterator[Any]:
    """A session as the station's driver opens one, attached without halting the core."""
    from pyocd.core.helpers import ConnectHelper

    options = {
        "auto_unlock": False,
        "connect_mode": "attach",
        "resume_on_disconnect": False,
        "warning.cortex_m_default": False,
    }
    session = ConnectHelper.session_with_chosen_probe(
        unique_id=probe_id, blocking=False, auto_open=False, options=options
    )
    if session is None:
        raise SystemExit(f"probe {probe_id} not found")
    target = getattr(session, "target", None)
    if target is not None and hasattr(target, "_svd_location"):
        target._svd_location = None  # as the station's driver: no SVD parse on a background thread
    session.open()
    try:
        yield session
    finally:
        session.close()


def flash_demo_firmware(session: Any, hex_path: str) -> None:
    from pyocd.flash.file_programmer import FileProgrammer

    FileProgrammer(session, progress=lambda _fraction: None).program(hex_path)


def wait_halted(target: Any, limit: float) -> None:
    deadline = time.perf_counter() + limit
    while not target.read32(DHCSR) & S_HALT:
        if time.perf_counter() > deadline:
            raise SystemExit(f"the core did not halt within {limit} s")
        time.sleep(POLL_SECONDS)


def run_crc(target: Any, passes: int, expected_crc: int) -> dict[str, Any]:
    """Start the CRC program from debug state and time it from resume() to S_HALT."""
    from station.sim import board

    registers = {
        "r0": board.APPLICATION_ADDRESS,
        "r1": board.APPLICATION_ADDRESS + DATA_LENGTH,
        "r3": TABLE_ADDRESS,
        "r7": POLYNOMIAL,
        "r8": passes,
        "sp": STACK_TOP,
        "xpsr": XPSR_THUMB,
        "pc": PROGRAM_ADDRESS,
    }
    for name, value in registers.items():
        target.write_core_register(name, value)
    target.write32(RESULT_ADDRESS, 0)
    target.write32(DWT_CYCCNT, 0)
    started = time.perf_counter()
    target.resume()
    returned = time.perf_counter()
    halted_at_return = bool(target.read32(DHCSR) & S_HALT)
    wait_halted(target, RUN_LIMIT_SECONDS)
    seconds = time.perf_counter() - started
    pc = target.read_core_register("pc")
    if pc != BKPT_ADDRESS or target.read32(RESULT_ADDRESS) != expected_crc:
        raise SystemExit(f"the CRC program went wrong: halted at 0x{pc:08X}, not at its BKPT or with a wrong CRC")
    return {
        "passes": passes,
        "instructions": instructions(passes),
        "seconds": seconds,
        "resume_call_s": returned - started,
        "halted_when_resume_returned": halted_at_return,
        "cyccnt": target.read32(DWT_CYCCNT),
    }


def reply(data: dict[str, Any]) -> None:
    print(REPLY + json.dumps(data), flush=True)


def busy_worker(probe_id: str, hex_path: str, application_crc: int) -> None:
    """A process with one session: the CRC program in RAM, run on command ("run <passes>")."""
    with session_on(probe_id) as session:
        target = session.target
        flash_demo_firmware(session, hex_path)
        target.reset_and_halt()
        target.write_memory_block8(PROGRAM_ADDRESS, list(PROGRAM))
        target.write32(DEMCR, target.read32(DEMCR) | DEMCR_TRCENA)
        target.write32(DWT_CTRL, target.read32(DWT_CTRL) | CYCCNTENA)
        reply({"ready": True})
        for line in sys.stdin:
            command = line.split()
            if command[:1] != ["run"]:
                break
            reply(run_crc(target, int(command[1]), application_crc))


def process_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def measure_idle(target: Any, seconds: float) -> dict[str, Any]:
    """This process's CPU time over ``seconds`` of wall time, and the firmware's SysTick count."""
    from station.sim import board

    ticks_before = target.read32(board.SYSTICK_COUNT_ADDRESS)
    cpu_before, wall_before = process_cpu_seconds(), time.perf_counter()
    time.sleep(seconds)
    cpu, wall = process_cpu_seconds() - cpu_before, time.perf_counter() - wall_before
    ticks = target.read32(board.SYSTICK_COUNT_ADDRESS) - ticks_before
    return {"wall_s": wall, "cpu_s": cpu, "cpu_per_wall": cpu / wall, "systick_per_s": ticks / wall}


def holding_worker(probe_id: str, hex_path: str, seconds: float) -> None:
    """Process A: flashes the demo firmware, measures its own CPU with the core halted and then
    running the firmware, and holds the session (its runner executing the core) until told."""
    from station.sim import board

    with session_on(probe_id) as session:
        target = session.target
        flash_demo_firmware(session, hex_path)
        target.reset_and_halt()
        halted = measure_idle(target, seconds)
        target.resume()  # from the reset vector: bootloader, application, SysTick, WFI
        deadline = time.perf_counter() + 10
        while target.read32(board.SYSTICK_COUNT_ADDRESS) < 100:
            if time.perf_counter() > deadline:
                raise SystemExit("the demo firmware's SysTick counter does not grow")
            time.sleep(0.01)
        running = measure_idle(target, seconds)
        reply({"halted": halted, "running": running})
        sys.stdin.readline()  # the other process's halts happen meanwhile
        reply({"after_halts": measure_idle(target, min(seconds, 1.0))})


def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("pyocd").setLevel(logging.CRITICAL)
    if len(sys.argv) != 5:
        raise SystemExit("usage: core_session.py busy|hold <probe id> <firmware.hex> <CRC | seconds>")
    kind, probe_id, hex_path, argument = sys.argv[1:]
    if kind == "busy":
        busy_worker(probe_id, hex_path, int(argument))
    elif kind == "hold":
        holding_worker(probe_id, hex_path, float(argument))
    else:
        raise SystemExit(f"unknown worker {kind!r}: busy or hold")


if __name__ == "__main__":
    main()
