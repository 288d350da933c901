"""gdb-multiarch against stock ``pyocd gdbserver`` on a simulated unit, as an engineer on the line uses them.

The first gdb session loads the application's ELF into flash and checks it, resets, breaks at
a function in flash, steps five instructions there, watches a RAM variable until the firmware
writes it, reads the registers and detaches. A second gdb session, through a new gdbserver
process, then finds the core as the first one left it.

What stock pyOCD does, and so what is asserted: its gdbserver resumes the core when the last
gdb detaches (``GDBServer.notify_client_detached``), so the first session leaves the core
running from where it stopped, and the second finds it running on from there (same firmware
state, counters carried on, no reset) rather than at the same pc. And its stop reply never
names the watchpoint that fired (no ``watch:`` field), so gdb reports the watchpoint's stop as
a SIGTRAP without its "Old value"/"New value" lines: the test prints the variable itself
before and after, and reads DFSR to see that the DWT stopped the core.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

import pytest
from pyocd.coresight.cortex_m import CortexM

from station.sim import board
from station.sim.firmware import DemoFirmware
from station.sim.units import SimUnit, SimUnitStore

from .test_debugger import (
    branch_target,
    decode,
    first_store,
    in_application_code,
    is_branch,
    symbol,
    thumb_disassembler,
    wait_until,
)

GDB: Final = shutil.which("gdb-multiarch")
pytestmark = pytest.mark.skipif(
    GDB is None, reason="gdb-multiarch is not installed (Debian package gdb-multiarch; scripts/test installs it)"
)

STEPIS: Final = 5
SERVER_START_SECONDS: Final = 60.0
GDB_SECONDS: Final = 180.0
REGISTER_LINE: Final = re.compile(r"^(r\d+|sp|lr|pc|xpsr)\s+(0x[0-9a-f]+)\b", re.MULTILINE)
# Registers the demo firmware sets while it boots and never touches again: its main loop uses
# r0, r1 and r3, heartbeat() and the SysTick handler r2 and r3 (checked in the disassembly).
BOOT_REGISTERS: Final = tuple(f"r{index}" for index in range(4, 13))


def free_port() -> int:
    with socket.socket() as probe_socket:
        probe_socket.bind(("127.0.0.1", 0))
        return int(probe_socket.getsockname()[1])


@contextmanager
def gdbserver(unit: SimUnit, log: Path) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    """``pyocd gdbserver`` serving the unit, once it says it is listening; stopped at the end
    if it has not ended by itself (it does when its last gdb disconnects)."""
    port = free_port()
    command = [sys.executable, "-m", "pyocd", "gdbserver", "-u", unit.probe_id, "-t", "nrf52840"]
    command += ["--port", str(port), "--telnet-port", str(free_port())]
    with log.open("wb") as output:
        server = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, cwd=log.parent)
    try:
        wait_until(
            lambda: server.poll() is not None or b"GDB server listening on port" in log.read_bytes(),
            "pyocd gdbserver to listen",
            SERVER_START_SECONDS,
        )
        assert server.poll() is None, log.read_text(errors="replace")
        yield port, server
    finally:
        if server.poll() is None:
            server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)


def ended(server: subprocess.Popen[bytes], log: Path) -> None:
    """The gdbserver ends cleanly once its last gdb has gone (no ``--persist``)."""
    assert server.wait(timeout=SERVER_START_SECONDS) == 0, log.read_text(errors="replace")


def run_gdb(commands: list[str], elf: Path, directory: Path, name: str) -> str:
    """One batch gdb session with the ELF's symbols; its whole output, checked for errors."""
    assert GDB is not None
    script = directory / f"{name}.gdb"
    setup = ["set pagination off", "set confirm off", "set mem inaccessible-by-default off"]
    script.write_text("\n".join(setup + commands) + "\n")
    done = subprocess.run(
        [GDB, "-q", "-batch", "-nx", "-x", str(script), str(elf)],
        capture_output=True,
        text=True,
        timeout=GDB_SECONDS,
        check=False,
    )
    output = done.stdout + done.stderr
    (directory / f"{name}.out").write_text(output)
    assert done.returncode == 0 and "Error" not in output, output
    return output


def marked(output: str, mark: str) -> dict[str, int]:
    """The ``name=value`` pairs of every line that starts with ``mark``, parsed as integers."""
    values: dict[str, int] = {}
    for line in output.splitlines():
        if line.startswith(mark + " "):
            for pair in line.split()[1:]:
                name, _, value = pair.partition("=")
                values[name] = int(value, 0)
    assert values, f"no {mark} line in:\n{output}"
    return values


def printf(mark: str, **expressions: str) -> str:
    """A gdb command printing ``mark name=0x...`` for each expression."""
    pattern = " ".join(f"{name}=0x%x" for name in expressions)
    return f'printf "{mark} {pattern}\\n", {", ".join(expressions.values())}'


def info_registers(output: str) -> dict[str, int]:
    return {name: int(value, 16) for name, value in REGISTER_LINE.findall(output)}


def expected_steps(unit: SimUnit, start: int, lr: int, count: int) -> list[int]:
    """The pcs ``count`` single steps from ``start`` reach, from capstone's decoding of flash."""
    disassembler = thumb_disassembler()
    pcs, pc = [], start
    for _ in range(count):
        instruction = decode(disassembler, unit.read_nvm(pc, 4), pc)
        pc = branch_target(instruction, {"lr": lr}.__getitem__) if is_branch(instruction) else pc + instruction.size
        pcs.append(pc)
    return pcs


@pytest.fixture
def bootloader_only(sim_store: SimUnitStore, demo_firmware: DemoFirmware) -> Iterator[SimUnit]:
    """A unit with the demo bootloader and application header; gdb loads the application."""
    unit = sim_store.create_unit()
    with unit.locked():
        for image in (demo_firmware.bootloader, demo_firmware.app_header):
            unit.program_nvm(image.address, image.data)
    yield unit
    unit.close()


def test_gdb_loads_breaks_steps_and_watches_in_flash_and_a_second_gdb_finds_the_core_as_left(
    bootloader_only: SimUnit, demo_firmware: DemoFirmware, tmp_path: Path
) -> None:
    unit = bootloader_only
    elf = demo_firmware.application_symbols
    heartbeat, heartbeat_size = symbol(demo_firmware, "heartbeat")
    assert unit.read_nvm(board.APPLICATION_ADDRESS, 16) == b"\xff" * 16  # nothing there before gdb loads it

    steps = [command for _ in range(STEPIS) for command in ("stepi", printf("STEP", pc="$pc"))]
    first_session = [
        "load " + str(elf),
        "compare-sections",
        "monitor reset halt",
        "break heartbeat",
        "continue",
        printf("BREAK", pc="$pc", lr="$lr", dfsr=f"*(unsigned int *)0x{CortexM.DFSR:X}"),
        "delete",
        *steps,
        "watch heartbeat_count",
        printf("OLD", value="heartbeat_count"),
        "continue",
        printf("WATCH", value="heartbeat_count", pc="$pc", dfsr=f"*(unsigned int *)0x{CortexM.DFSR:X}"),
        "info registers",
        printf("DETACH", systick="systick_count", heartbeat="heartbeat_count"),
        "detach",
    ]
    with gdbserver(unit, tmp_path / "gdbserver-1.log") as (port, server):
        first = run_gdb([f"target extended-remote :{port}", *first_session], elf, tmp_path, "first")
        ended(server, tmp_path / "gdbserver-1.log")  # its only gdb has gone: it ends by itself

    # load and compare-sections: the application is in flash, byte for byte.
    for section in (".vectors", ".text", ".data"):
        assert re.search(rf"Section {re.escape(section)}, range .*: matched\.", first), first
    assert "MIS-MATCHED" not in first
    program = (elf.parent / "application.bin").read_bytes()
    assert unit.read_nvm(board.APPLICATION_ADDRESS, len(program)) == program

    # break heartbeat (a flash address: an FPB comparator), continue stops there.
    assert re.search(r"Breakpoint 1, heartbeat \(\)", first), first
    stopped = marked(first, "BREAK")
    assert stopped["pc"] == heartbeat and stopped["dfsr"] & CortexM.DFSR_BKPT

    # stepi x5: each a new pc in flash, exactly the next instruction's.
    stepped = [int(line.split("=")[1], 16) for line in first.splitlines() if line.startswith("STEP ")]
    assert stepped == expected_steps(unit, heartbeat, stopped["lr"], STEPIS), first
    assert all(in_application_code(demo_firmware, pc) for pc in stepped)

    # watch heartbeat_count: a hardware watchpoint; continue stops just past the store, new value in RAM.
    assert "Hardware watchpoint 2: heartbeat_count" in first
    old, watched = marked(first, "OLD")["value"], marked(first, "WATCH")
    store = first_store(thumb_disassembler(), unit.read_nvm(heartbeat, heartbeat_size), heartbeat)
    assert watched["value"] == old + 1
    assert watched["pc"] == store.address + store.size
    assert watched["dfsr"] & CortexM.DFSR_DWTTRAP and not watched["dfsr"] & CortexM.DFSR_BKPT

    # info registers: the core as the watchpoint left it.
    left = info_registers(first)
    assert left["pc"] == watched["pc"] and set(BOOT_REGISTERS) <= set(left), first
    assert "[Inferior 1 (Remote target) detached]" in first
    detached = marked(first, "DETACH")
    boots = unit.reload().boot_count

    second_session = [
        "info registers",
        "x/i $pc",
        printf("FOUND", systick="systick_count", heartbeat="heartbeat_count"),
        "detach",
    ]
    with gdbserver(unit, tmp_path / "gdbserver-2.log") as (port, server):
        second = run_gdb([f"target extended-remote :{port}", *second_session], elf, tmp_path, "second")
        ended(server, tmp_path / "gdbserver-2.log")

    # The core the first session left: same firmware state, run on from there (pyOCD resumed it
    # at detach), never reset, never a fresh core with zeroed registers.
    found = info_registers(second)
    assert {name: found[name] for name in BOOT_REGISTERS} == {name: left[name] for name in BOOT_REGISTERS}, second
    assert in_application_code(demo_firmware, found["pc"]), second
    if found["xpsr"] & 0x1FF == 0:  # thread mode: the main loop, or heartbeat() (a leaf)
        assert found["sp"] == left["sp"], second
    shown = re.search(r"=> 0x([0-9a-f]+) <(\w+)\+?\d*>:", second)
    assert shown is not None and int(shown.group(1), 16) == found["pc"], second
    counters = marked(second, "FOUND")
    assert counters["systick"] >= detached["systick"] and counters["heartbeat"] >= detached["heartbeat"]
    assert unit.reload().boot_count == boots
