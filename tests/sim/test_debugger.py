"""A debugger's view of a simulated unit running the demo firmware, through pyOCD's Python API only.

What an engineer who attaches pyOCD to a unit on the line relies on: a core halted and left
halted is found halted, with its registers, by the next session and the next process; a
single step executes exactly one instruction (checked against capstone's decoding of the
code in flash); FPB breakpoints and DWT watchpoints stop the core with the DFSR bits the
architecture gives them; code the debugger rewrites is what the core runs next; and the
firmware keeps emulated time (SysTick against the DWT cycle counter) and can be halted from
another process. Architectural constants come from pyOCD, never from the simulator, so a
simulator that got a bit wrong cannot agree with itself here.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Final

import capstone
import pytest
from pyocd.core.session import Session
from pyocd.core.target import Target
from pyocd.coresight.cortex_m import CortexM
from pyocd.flash.loader import FlashLoader

from station.sim import board
from station.sim.firmware import DemoFirmware
from station.sim.units import SimUnit, SimUnitStore

from .support import session_for, write_firmware
from .test_firmware_build import application_symbols

DWT_CTRL: Final = 0xE000_1000  # ARMv7-M: the DWT's control register and cycle counter
DWT_CYCCNT: Final = 0xE000_1004
DWT_CTRL_CYCCNTENA: Final = 1 << 0
SYST_RVR: Final = 0xE000_E014  # ARMv7-M: SysTick reload value register
SYSTICK_RELOAD: Final = 63_999  # what the demo firmware writes there: 1 kHz from the 64 MHz clock
CYCLES_PER_TICK: Final = SYSTICK_RELOAD + 1
XPSR_THUMB: Final = 1 << 24
COMPARED_REGISTERS: Final = (*(f"r{index}" for index in range(13)), "sp", "lr", "pc", "xpsr")
STOP_SECONDS: Final = 30.0  # bound on waiting for the core to stop: generous on a shared machine
STEPS: Final = 30  # reset handler of the bootloader into the application's: branches taken and not

# Thumb: movs r0,#1; bkpt #0; movs r0,#2; bkpt #0 -- and the nop that replaces the first bkpt.
MOVS_R0_1: Final = b"\x01\x20"
MOVS_R0_2: Final = b"\x02\x20"
BKPT: Final = b"\x00\xbe"
NOP: Final = b"\x00\xbf"
RAM_PROGRAM_ADDRESS: Final = 0x2001_0000  # clear of the application's variables and stack
FLASH_PROGRAM_ADDRESS: Final = 0x0008_0000  # a page no demo image touches


def wait_until(condition: Callable[[], bool], what: str, timeout: float = STOP_SECONDS) -> None:
    """Poll ``condition`` until it holds; a clear failure naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.005)


@contextmanager
def attached(unit: SimUnit, **options: Any) -> Iterator[Session]:
    """A session that finds the core as it is (no halt on connect) and leaves it so (no resume)."""
    with session_for(unit, connect_mode="attach", resume_on_disconnect=False, **options) as session:
        yield session


def is_halted(target: Any) -> bool:
    return bool(target.read32(CortexM.DHCSR) & CortexM.S_HALT)


def wait_for_halt(target: Any, what: str) -> None:
    wait_until(lambda: is_halted(target), what)


def halt(target: Any) -> None:
    target.halt()
    wait_for_halt(target, "the core to halt")


def registers(target: Any) -> dict[str, int]:
    return {name: int(target.read_core_register(name)) for name in COMPARED_REGISTERS}


def symbol(firmware: DemoFirmware, name: str) -> tuple[int, int]:
    """A symbol's address (Thumb bit cleared) and size in the application's ELF."""
    address, size = application_symbols(firmware)[name]
    return address & ~1, size


def in_application_code(firmware: DemoFirmware, address: int) -> bool:
    start, _ = symbol(firmware, "vector_table")
    end, _ = symbol(firmware, "__data_load")
    return start <= address < end


def thumb_disassembler() -> capstone.Cs:
    disassembler = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
    disassembler.detail = True
    return disassembler


def decode(disassembler: capstone.Cs, code: bytes, address: int) -> Any:
    instruction = next(disassembler.disasm(code, address, count=1), None)
    assert instruction is not None, f"no instruction decodes at 0x{address:08X}: {code.hex()}"
    return instruction


@pytest.fixture
def flashed(sim_store: SimUnitStore, demo_firmware: DemoFirmware) -> Iterator[SimUnit]:
    """A new unit with the demo bootloader, header and application in flash, never run yet."""
    unit = sim_store.create_unit()
    write_firmware(unit, demo_firmware)
    yield unit
    unit.close()


def run_firmware_until_it_counts(target: Any, ticks: int) -> None:
    """From reset: run until the application's SysTick counter reached ``ticks``."""
    target.reset_and_halt()
    target.resume()
    wait_until(lambda: target.read32(board.SYSTICK_COUNT_ADDRESS) >= ticks, f"{ticks} SysTick interrupts")


# ---- 1. a halted core outlives the session and the process ---------------------------------------

_PRINT_REGISTERS = textwrap.dedent(
    """
    import json, sys
    from pyocd.core.helpers import ConnectHelper
    from pyocd.coresight.cortex_m import CortexM
    names = sys.argv[2].split(",")
    options = {"auto_unlock": False, "connect_mode": "attach", "resume_on_disconnect": False}
    with ConnectHelper.session_with_chosen_probe(unique_id=sys.argv[1], options=options) as session:
        target = session.target
        dhcsr = target.read32(CortexM.DHCSR)
        values = {name: target.read_core_register(name) for name in names}
    print(json.dumps({"dhcsr": dhcsr, "registers": values}))
    """
)


def registers_from_another_process(unit: SimUnit) -> tuple[int, dict[str, int]]:
    """DHCSR and the compared registers as a new process with its own pyOCD session reads them."""
    done = subprocess.run(
        [sys.executable, "-c", _PRINT_REGISTERS, unit.probe_id, ",".join(COMPARED_REGISTERS)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return int(report["dhcsr"]), {name: int(value) for name, value in report["registers"].items()}


@pytest.mark.parametrize("reader", ["new session", "new process"])
def test_a_halted_core_is_found_halted_with_the_same_registers(
    flashed: SimUnit, demo_firmware: DemoFirmware, reader: str
) -> None:
    with attached(flashed) as session:
        target = session.target
        run_firmware_until_it_counts(target, 20)
        halt(target)
        left = registers(target)
        counted = target.read32(board.SYSTICK_COUNT_ADDRESS)
    # Real state, not zeros compared with zeros: halted inside the running application.
    assert in_application_code(demo_firmware, left["pc"]) and left["sp"] != 0 and left["xpsr"] & XPSR_THUMB

    if reader == "new session":
        with attached(flashed) as session:
            dhcsr = session.target.read32(CortexM.DHCSR)
            found = registers(session.target)
            assert session.target.read32(board.SYSTICK_COUNT_ADDRESS) == counted
    else:
        dhcsr, found = registers_from_another_process(flashed)
    assert dhcsr & CortexM.S_HALT, f"DHCSR 0x{dhcsr:08X}: the core no longer reads as halted"
    assert found == left


# ---- 2. one step, one instruction ----------------------------------------------------------------


def branch_target(instruction: Any, register: Callable[[str], int]) -> int:
    """Where a branch goes if taken: its immediate, or the value of the register it branches to."""
    operand = instruction.operands[-1]
    if operand.type == capstone.arm.ARM_OP_IMM:
        return int(operand.imm) & 0xFFFF_FFFF
    if operand.type == capstone.arm.ARM_OP_REG:
        return int(register(instruction.reg_name(operand.reg))) & ~1
    raise AssertionError(f"a branch this test cannot follow: {instruction.mnemonic} {instruction.op_str}")


def is_branch(instruction: Any) -> bool:
    groups = (capstone.CS_GRP_JUMP, capstone.CS_GRP_CALL, capstone.CS_GRP_RET, capstone.CS_GRP_BRANCH_RELATIVE)
    _, written = instruction.regs_access()
    return any(instruction.group(group) for group in groups) or capstone.arm.ARM_REG_PC in written


def test_each_step_executes_exactly_one_instruction_of_the_code_in_flash(flashed: SimUnit) -> None:
    disassembler = thumb_disassembler()
    taken = not_taken = 0
    trace: list[str] = []
    with attached(flashed) as session:
        target = session.target
        target.reset_and_halt()
        pc = target.read_core_register("pc")
        assert pc == int.from_bytes(flashed.read_nvm(board.BOOTLOADER_ADDRESS + 4, 4), "little") & ~1
        for _ in range(STEPS):
            instruction = decode(disassembler, bytes(target.read_memory_block8(pc, 4)), pc)
            fall_through = pc + instruction.size
            goes_to = branch_target(instruction, target.read_core_register) if is_branch(instruction) else None
            target.step()
            assert is_halted(target)
            new_pc = target.read_core_register("pc")
            trace.append(f"0x{pc:05X} {instruction.mnemonic} {instruction.op_str} -> 0x{new_pc:05X}")
            assert pc < board.FLASH_SIZE, "\n".join(trace)
            if goes_to is None:
                assert new_pc == fall_through, "\n".join(trace)
            else:
                assert new_pc in (goes_to, fall_through), "\n".join(trace)
                taken += new_pc == goes_to != fall_through
                not_taken += new_pc == fall_through != goes_to
            pc = new_pc
    assert taken >= 1 and not_taken >= 1, "\n".join(trace)


# ---- 3. breakpoint and watchpoint units ----------------------------------------------------------


def first_store(disassembler: capstone.Cs, code: bytes, address: int) -> Any:
    for instruction in disassembler.disasm(code, address):
        if instruction.mnemonic.startswith("str"):
            return instruction
    raise AssertionError(f"no store instruction in {code.hex()}")


def test_a_flash_breakpoint_and_a_ram_watchpoint_stop_the_core_with_their_dfsr_bits(
    flashed: SimUnit, demo_firmware: DemoFirmware
) -> None:
    heartbeat, heartbeat_size = symbol(demo_firmware, "heartbeat")
    code_before = flashed.read_nvm(heartbeat, heartbeat_size)
    with attached(flashed) as session:
        target = session.target
        target.reset_and_halt()
        assert target.set_breakpoint(heartbeat, Target.BreakpointType.HW)
        target.resume()
        wait_for_halt(target, "the breakpoint at heartbeat()")
        dfsr = target.read32(CortexM.DFSR)
        assert target.read_core_register("pc") == heartbeat
        assert dfsr & CortexM.DFSR_BKPT and not dfsr & CortexM.DFSR_DWTTRAP, f"DFSR 0x{dfsr:X}"
        assert flashed.read_nvm(heartbeat, heartbeat_size) == code_before  # a comparator, not a BKPT in flash

        target.remove_breakpoint(heartbeat)
        before = target.read32(board.HEARTBEAT_COUNT_ADDRESS)
        store = first_store(
            thumb_disassembler(), bytes(target.read_memory_block8(heartbeat, heartbeat_size)), heartbeat
        )
        assert target.set_watchpoint(board.HEARTBEAT_COUNT_ADDRESS, 4, Target.WatchpointType.WRITE)
        target.resume()
        wait_for_halt(target, "the watchpoint on heartbeat_count")
        dfsr = target.read32(CortexM.DFSR)
        assert dfsr & CortexM.DFSR_DWTTRAP and not dfsr & CortexM.DFSR_BKPT, f"DFSR 0x{dfsr:X}"
        assert target.read_core_register("pc") == store.address + store.size  # just past the store
        assert target.read32(board.HEARTBEAT_COUNT_ADDRESS) == before + 1


# ---- 4. code the debugger rewrites is the code that runs -------------------------------------------


def run_from(target: Any, address: int) -> None:
    """Start the core at ``address`` (Thumb) with r0 cleared, and wait for it to stop."""
    target.write_core_register("r0", 0)
    target.write_core_register("xpsr", XPSR_THUMB)
    target.write_core_register("pc", address)
    target.resume()
    wait_for_halt(target, f"the program at 0x{address:08X} to reach a bkpt")


def test_a_bkpt_replaced_by_a_nop_in_ram_is_run_as_a_nop(flashed: SimUnit) -> None:
    with attached(flashed) as session:
        target = session.target
        target.reset_and_halt()
        target.write_memory_block8(RAM_PROGRAM_ADDRESS, list(MOVS_R0_1 + BKPT + MOVS_R0_2 + BKPT))
        run_from(target, RAM_PROGRAM_ADDRESS)
        assert target.read_core_register("pc") == RAM_PROGRAM_ADDRESS + 2
        assert target.read_core_register("r0") == 1
        assert target.read32(CortexM.DFSR) & CortexM.DFSR_BKPT

        target.write16(RAM_PROGRAM_ADDRESS + 2, int.from_bytes(NOP, "little"))
        run_from(target, RAM_PROGRAM_ADDRESS)
        assert target.read_core_register("pc") == RAM_PROGRAM_ADDRESS + 6
        assert target.read_core_register("r0") == 2


def program_flash(session: Session, address: int, code: bytes) -> None:
    loader = FlashLoader(session, progress=lambda _fraction: None)
    loader.add_data(address, code)
    loader.commit()


def test_a_bkpt_reprogrammed_as_a_nop_in_flash_is_run_as_a_nop(flashed: SimUnit) -> None:
    with attached(flashed) as session:
        target = session.target
        target.reset_and_halt()
        program_flash(session, FLASH_PROGRAM_ADDRESS, MOVS_R0_1 + BKPT + MOVS_R0_2 + BKPT)
        run_from(target, FLASH_PROGRAM_ADDRESS)
        assert target.read_core_register("pc") == FLASH_PROGRAM_ADDRESS + 2
        assert target.read_core_register("r0") == 1

        program_flash(session, FLASH_PROGRAM_ADDRESS, MOVS_R0_1 + NOP + MOVS_R0_2 + BKPT)  # erase and reprogram
        assert flashed.read_nvm(FLASH_PROGRAM_ADDRESS + 2, 2) == NOP
        run_from(target, FLASH_PROGRAM_ADDRESS)
        assert target.read_core_register("pc") == FLASH_PROGRAM_ADDRESS + 6
        assert target.read_core_register("r0") == 2


# ---- 5. the firmware keeps emulated time, and stops for a debugger in another process ---------------


def sample(target: Any) -> tuple[int, int, int]:
    """DWT_CYCCNT, systick_count, DWT_CYCCNT: the count was read between the two cycle readings."""
    before = target.read32(DWT_CYCCNT)
    count = target.read32(board.SYSTICK_COUNT_ADDRESS)
    return before, count, target.read32(DWT_CYCCNT)


_HALT_FROM_ANOTHER_PROCESS = textwrap.dedent(
    """
    import json, sys, time
    from pyocd.core.helpers import ConnectHelper
    from pyocd.coresight.cortex_m import CortexM
    options = {"auto_unlock": False, "connect_mode": "attach", "resume_on_disconnect": False}
    with ConnectHelper.session_with_chosen_probe(unique_id=sys.argv[1], options=options) as session:
        target = session.target
        running = target.read32(CortexM.DHCSR)
        started = time.monotonic()
        target.halt()
        while not target.read32(CortexM.DHCSR) & CortexM.S_HALT and time.monotonic() - started < 30:
            pass
        latency = time.monotonic() - started
        dhcsr = target.read32(CortexM.DHCSR)
        pc = target.read_core_register("pc")
    print(json.dumps({"running": running, "latency": latency, "dhcsr": dhcsr, "pc": pc}))
    """
)


def test_the_firmware_counts_systick_at_its_reload_rate_and_halts_from_another_process(
    flashed: SimUnit, demo_firmware: DemoFirmware, record_property: Callable[[str, object], None]
) -> None:
    with attached(flashed) as session:
        target = session.target
        target.reset_and_halt()
        target.write32(CortexM.DEMCR, target.read32(CortexM.DEMCR) | CortexM.DEMCR_TRCENA)
        target.write32(DWT_CTRL, target.read32(DWT_CTRL) | DWT_CTRL_CYCCNTENA)
        target.resume()
        wait_until(lambda: target.read32(board.SYSTICK_COUNT_ADDRESS) >= 10, "the firmware's first SysTick interrupts")
        assert target.read32(SYST_RVR) == SYSTICK_RELOAD
        first = sample(target)
        wait_until(lambda: target.read32(board.SYSTICK_COUNT_ADDRESS) >= first[1] + 300, "300 more SysTick interrupts")
        second = sample(target)
        # Emulated time only: the counter grew by the cycles that passed between the two
        # readings of it (bounded by the cycle readings around each) over the reload period.
        least, most = (second[0] - first[2]) // CYCLES_PER_TICK, (second[2] - first[0]) // CYCLES_PER_TICK
        grown = second[1] - first[1]
        assert least - 2 <= grown <= most + 2, f"{grown} ticks in {least}..{most} tick periods"

        halter = subprocess.run(
            [sys.executable, "-c", _HALT_FROM_ANOTHER_PROCESS, flashed.probe_id],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert halter.returncode == 0, halter.stderr
        report = json.loads(halter.stdout.strip().splitlines()[-1])
        record_property("halt_from_another_process_ms", round(1000 * report["latency"], 1))
        print(f"halt from another process took {1000 * report['latency']:.1f} ms")
        assert not report["running"] & CortexM.S_HALT, "the core was not running when the other process attached"
        assert report["dhcsr"] & CortexM.S_HALT
        assert report["latency"] < 5.0  # a sanity bound only: the machine is shared
        # This session, still open, sees the halt too, and where the core stopped.
        assert is_halted(target)
        assert target.read_core_register("pc") == report["pc"]
        assert in_application_code(demo_firmware, report["pc"])


# ---- 6. a core between sessions ---------------------------------------------------------------------


def test_a_core_keeps_its_state_with_no_session_open_and_runs_on_in_the_next(
    flashed: SimUnit, sim_store: SimUnitStore
) -> None:
    with attached(flashed) as session:
        run_firmware_until_it_counts(session.target, 20)
        halt(session.target)
        left = registers(session.target)
        counted = session.target.read32(board.SYSTICK_COUNT_ADDRESS)
    # Nobody has the unit open: no process, no session. The state is the unit's, in its files.
    flashed.close()
    reopened = sim_store.open_unit(flashed.unit_id)
    try:
        with attached(reopened) as session:
            target = session.target
            assert is_halted(target)
            assert registers(target) == left
            assert target.read32(board.SYSTICK_COUNT_ADDRESS) == counted
            target.resume()
            wait_until(lambda: target.read32(board.SYSTICK_COUNT_ADDRESS) > counted, "the resumed firmware to count")
            assert not is_halted(target)
            counted = target.read32(board.SYSTICK_COUNT_ADDRESS)
        # Left running: the next session finds it running and counting, from where it was.
        with attached(reopened) as session:
            target = session.target
            assert not is_halted(target)
            found = target.read32(board.SYSTICK_COUNT_ADDRESS)
            assert found >= counted
            wait_until(lambda: target.read32(board.SYSTICK_COUNT_ADDRESS) > found, "the firmware to count on")
    finally:
        reopened.close()
