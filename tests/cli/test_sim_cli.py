"""``station sim``: the commands an engineer or a trainer uses on simulated units."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import serial

from station.app import main
from station.sim import board
from station.sim.units import SimUnitStore


def run(*arguments: str) -> int:
    return main(["sim", *arguments])


def test_create_prints_probe_ids_and_makes_blank_units(
    sim_store: SimUnitStore, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("create", "--count", "3", "--timing", "0.5") == 0
    assert capsys.readouterr().out.split() == ["sim:unit-0001", "sim:unit-0002", "sim:unit-0003"]
    unit = sim_store.open_unit("unit-0003")
    assert unit.info.timing_factor == 0.5
    assert unit.read_nvm(0, board.FLASH_SIZE) == b"\xff" * board.FLASH_SIZE
    unit.close()


def test_fault_kinds_are_set_and_cleared(sim_store: SimUnitStore, capsys: pytest.CaptureFixture[str]) -> None:
    run("create")
    assert run("fault", "unit-0001", "drop-writes", "0x20000", "0x21000") == 0
    assert run("fault", "sim:unit-0001", "transfer-fault", "0x30000") == 0
    assert run("fault", "unit-0001", "disconnect-after", "4096") == 0
    assert run("fault", "unit-0001", "algo-hang") == 0
    assert run("fault", "unit-0001", "console", "garbage") == 0
    assert run("fault", "unit-0001", "self-reset-after", "10") == 0
    faults = sim_store.open_unit("unit-0001").reload().faults
    assert faults.drop_writes == (0x20000, 0x21000)
    assert faults.transfer_fault_address == 0x30000
    assert faults.disconnect_after_bytes == 4096
    assert faults.algo_hang and faults.console == "garbage" and faults.reset_after_transfers == 10
    assert run("fault", "unit-0001", "clear") == 0
    assert sim_store.open_unit("unit-0001").reload().faults.active == []


def test_locked_fault_makes_the_unit_arrive_locked(sim_store: SimUnitStore, capsys: pytest.CaptureFixture[str]) -> None:
    run("create")
    assert run("fault", "unit-0001", "locked") == 0
    assert sim_store.open_unit("unit-0001").reload().protected
    capsys.readouterr()
    assert run("show", "unit-0001") == 0
    shown = capsys.readouterr().out
    assert "LOCKED (APPROTECT)" in shown
    assert "region application" in shown and "erased" in shown


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (("fault", "unit-0001", "drop-writes", "0x20000"), "takes 2 value(s)"),
        (("fault", "unit-0001", "drop-writes", "0x30000", "0x20000"), "START < END"),
        (("fault", "unit-0001", "console", "loud"), "console behaviour must be one of"),
        (("fault", "unit-0001", "transfer-fault", "nowhere"), "is not a number"),
        (("fault", "unit-0042", "algo-hang"), "no simulated unit 'unit-0042'"),
        (("show", "../etc"), "no simulated unit"),
        (("create", "--count", "0"), "--count must be at least 1"),
        (("create", "--timing", "-1"), "must not be negative"),
    ],
)
def test_bad_input_is_refused_and_changes_nothing(
    sim_store: SimUnitStore, capsys: pytest.CaptureFixture[str], arguments: tuple[str, ...], message: str
) -> None:
    run("create")
    capsys.readouterr()
    before = (sim_store.units_dir / "unit-0001" / "unit.json").read_bytes()
    assert run(*arguments) == 2
    assert message in capsys.readouterr().err
    assert (sim_store.units_dir / "unit-0001" / "unit.json").read_bytes() == before
    assert sim_store.unit_ids() == ["unit-0001"]


def test_serve_prints_each_console_and_answers_on_it(sim_dir: Path) -> None:
    assert main(["sim", "create", "--count", "2"]) == 0
    server = subprocess.Popen(
        [sys.executable, "-m", "station", "sim", "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "STATION_SIM_DIR": str(sim_dir)},
    )
    try:
        assert server.stdout is not None
        lines = [server.stdout.readline().split(), server.stdout.readline().split()]
        assert [probe for probe, _ in lines] == ["sim:unit-0001", "sim:unit-0002"]
        with serial.Serial(lines[0][1], 115200, timeout=2) as port:
            port.write(b"get system.uuid\r\n")
            header = port.read(8)
            assert header[:2] == b"R0", header
            body = port.read(int(header[2:7]))
        unit = SimUnitStore(sim_dir).open_unit("unit-0001")
        assert body.strip().decode() == f"{unit.info.device_id:016X}"
        unit.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert server.returncode == 0
    deadline = time.monotonic() + 5
    while (sim_dir / "units" / "unit-0001" / "console").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not (sim_dir / "units" / "unit-0001" / "console").exists()
