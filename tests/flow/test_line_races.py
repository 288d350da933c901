"""Several processes on one database, as on a line: the races of issue 13, reproduced for real.

Each round runs `station provision` processes side by side against one SQLite database, on
simulated units through real pyOCD and real ptys.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from station.domain.records import AttemptResult, StepOutcome
from station.sim import board
from station.sim.units import SimUnit

from .conftest import Line
from .test_crash_and_secrets import provision_command, station_environment

ROUNDS = 10


def new_slow_unit(line: Line) -> SimUnit:
    """A unit at datasheet speed: a pass takes seconds, so a second process meets it running."""
    unit = line.environment.units.create_unit(timing_factor=1.0)
    line.units.append(unit)
    line.consoles.wait_for_port(unit.unit_id)
    return unit


def start(line: Line, serial: str, unit: SimUnit, station: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        provision_command(line, serial, unit),
        env={**station_environment(line), "STATION_NAME": station},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=180)
    return process.returncode, out, err


def test_one_serial_on_two_stations_at_once_passes_once_and_the_other_is_refused_untouched(line: Line) -> None:
    for number in range(ROUNDS):
        serial = f"TST-003{number:03d}"
        units = [new_slow_unit(line), new_slow_unit(line)]
        processes = [start(line, serial, unit, station) for unit, station in zip(units, ("station-a", "station-b"),
                                                                                  strict=True)]  # fmt: skip
        results = [finish(process) for process in processes]
        last_lines = [out.strip().splitlines()[-1] if out.strip() else err for _, out, err in results]
        passed = [index for index, line_text in enumerate(last_lines) if line_text == f"PASS {serial}"]
        assert len(passed) == 1, f"round {number}: {results}"
        loser = 1 - passed[0]
        code, _, err = results[loser]
        assert code == 1, f"round {number}: {results[loser]}"
        winner_station = f"station-{'ab'[passed[0]]}"
        refusal = f"FAIL {serial} scan SERIAL_IN_PROGRESS: this serial is being provisioned at {winner_station}/cli"
        assert last_lines[loser].startswith(refusal), last_lines[loser]
        assert "error" not in err.lower()
        info = units[loser].reload()
        assert info.boot_count == 0 and not info.protected
        assert units[loser].read_nvm(0, board.FLASH_SIZE) == b"\xff" * board.FLASH_SIZE  # never touched
        history = line.station.database.attempts.history(serial)
        assert [attempt.result for attempt in history] == [AttemptResult.PASSED]
        for unit in units:
            unit.close()


def test_two_processes_of_one_station_name_both_pass(line: Line) -> None:
    """The second one's start-up recovery must not settle the first one's live attempt."""
    for number in range(ROUNDS):
        serials = [f"TST-004{number:02d}0", f"TST-004{number:02d}1"]
        units = [new_slow_unit(line), new_slow_unit(line)]
        first = start(line, serials[0], units[0], "line-1-station-1")
        deadline = time.monotonic() + 60
        while line.station.database.attempts.latest_attempt(serials[0]) is None:  # the first one is at work
            assert time.monotonic() < deadline and first.poll() is None, finish(first)
            time.sleep(0.05)
        second = start(line, serials[1], units[1], "line-1-station-1")
        results = [finish(first), finish(second)]
        for serial, (code, out, err) in zip(serials, results, strict=True):
            assert code == 0 and out.strip().endswith(f"PASS {serial}"), f"round {number}: {out}{err}"
            assert "recovered attempt" not in out
        for serial in serials:
            [attempt] = line.station.database.attempts.history(serial)
            assert attempt.result is AttemptResult.PASSED
            assert all(step.outcome is StepOutcome.PASSED for step in attempt.steps)
        for unit in units:
            unit.close()


def test_the_owner_is_recorded_with_its_process(line: Line, tmp_path: Path) -> None:
    unit = new_slow_unit(line)
    process = start(line, "TST-004999", unit, "station-z")
    code, out, err = finish(process)
    assert code == 0, out + err
    [attempt] = line.station.database.attempts.history("TST-004999")
    assert attempt.owner is not None
    assert (attempt.owner.station, attempt.owner.pid, attempt.owner.slot) == ("station-z", process.pid, "cli")
    assert attempt.owner.host == os.uname().nodename and attempt.owner.process_start
