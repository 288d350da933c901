"""Deadlines and retries end to end: real pyOCD on simulated units, in this process and hosted.

A flash algorithm that never halts (the simulator's ``algo-hang``) blocks inside pyOCD, where
no check of the station's runs; the step's watchdog ends the probe session at the recipe's
deadline and the unit fails as STEP_TIMEOUT. A link that drops once (``disconnect-after``)
costs one try of a step that may retry.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from station.domain.errors import ProbeError, StepTimeoutError
from station.domain.records import AttemptResult, JournalState, StepOutcome
from station.sim.demo import DEMO_CA_PASSPHRASE, DEMO_VAULT_PASSPHRASE, prepare_demo
from station.sim.units import Faults, SimUnit

from .conftest import FAST_CONSOLE, Line, variant_recipe

FLASH_POLICY = "[steps.flash]\ntimeout_seconds = 120\nretries = 1"
FLASH_DEADLINE = {FLASH_POLICY: "[steps.flash]\ntimeout_seconds = 3\nretries = 0"}
FLASH_RETRY = {FLASH_POLICY: "[steps.flash]\ntimeout_seconds = 60\nretries = 1"}
TIMED_OUT = "flash STEP_TIMEOUT: step flash did not finish within its deadline of 3 s"


def set_faults(unit: SimUnit, **faults: object) -> None:
    with unit.locked():
        unit.info.faults = Faults(**faults)  # type: ignore[arg-type]


def test_a_hung_flash_algorithm_fails_at_the_deadline_and_the_probe_works_again(
    make_line: Callable[..., Line],
) -> None:
    line = make_line(replacements=FLASH_DEADLINE)
    unit = line.new_unit()
    set_faults(unit, algo_hang=True)
    started = time.monotonic()
    outcome = line.provision("TST-001001", unit)
    elapsed = time.monotonic() - started
    assert isinstance(outcome.error, StepTimeoutError), outcome.summary
    assert outcome.summary.startswith(f"FAIL TST-001001 {TIMED_OUT}")
    record = line.station.database.attempts.latest_attempt("TST-001001")
    assert record is not None and record.result is AttemptResult.FAILED and record.state is JournalState.FAILED
    flash = next(step for step in record.steps if step.name == "flash")
    assert flash.outcome is StepOutcome.FAILED and flash.failure_code == "STEP_TIMEOUT"
    assert flash.ended_at is not None and (flash.ended_at - flash.started_at).total_seconds() < 3 + 5
    assert line.station.database.credentials.credentials_for_serial("TST-001001") == []
    print(f"hung flash ended after {elapsed:.2f} s (deadline 3 s)")
    # The same probe, the fault cleared (the fixture reseated): the unit passes.
    set_faults(unit)
    again = line.provision("TST-001001", unit)
    assert again.passed, again.summary


def test_a_dropped_link_fails_one_try_and_the_retry_passes(make_line: Callable[..., Line]) -> None:
    line = make_line(replacements=FLASH_RETRY)
    unit = line.new_unit()
    set_faults(unit, disconnect_after_bytes=20_000, disconnect_sessions=1)
    outcome = line.provision("TST-001002", unit)
    record = line.station.database.attempts.latest_attempt("TST-001002")
    assert record is not None
    flash = [step for step in record.steps if step.name == "flash"]
    assert [step.outcome for step in flash][-1] is StepOutcome.PASSED, outcome.summary
    assert flash[0].outcome is StepOutcome.FAILED and flash[0].failure_code == ProbeError.code
    assert flash[0].detail.startswith("try 1 of 2: ")
    assert outcome.passed, outcome.summary


def test_station_provision_on_a_hosted_unit_fails_a_hung_flash_at_its_deadline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The command line, each probe session in the simulator host's own process: the watchdog
    ends that process's session, and the next run on the same probe passes."""
    monkeypatch.setenv("STATION_SIM_DIR", str(tmp_path / "demo" / "sim"))
    environment = prepare_demo(tmp_path / "demo")
    recipe = variant_recipe(environment, "deadline", {**FAST_CONSOLE, **FLASH_DEADLINE})
    unit = environment.create_units(1)[0]
    set_faults(unit, algo_hang=True)
    command = [
        sys.executable, "-m", "station", "provision", "--recipe", str(recipe), "--serial", "TST-001003",
        "--probe", unit.probe_id, "--console", environment.console_path(unit), "--operator", "ann",
        "--db", environment.paths.db_url,
    ]  # fmt: skip
    environ = {
        **os.environ,
        "STATION_DATA_DIR": str(environment.paths.data_dir),
        "STATION_SIM_DIR": str(environment.sim_dir),
        "STATION_CA_PASSPHRASE": DEMO_CA_PASSPHRASE,
        "STATION_VAULT_PASSPHRASE": DEMO_VAULT_PASSPHRASE,
    }
    with environment.simulator_host() as host:
        host.wait_for_port(unit.unit_id)
        started = time.monotonic()
        hung = subprocess.run(command, env=environ, capture_output=True, text=True, timeout=120, check=False)
        elapsed = time.monotonic() - started
        assert hung.returncode == 1, hung.stdout + hung.stderr
        last = hung.stdout.strip().splitlines()[-1]
        assert last.startswith(f"FAIL TST-001003 {TIMED_OUT}")
        print(f"station provision with a hung flash algorithm: {elapsed:.2f} s (deadline 3 s)")
        set_faults(unit)
        again = subprocess.run(command, env=environ, capture_output=True, text=True, timeout=120, check=False)
        assert again.returncode == 0, again.stdout + again.stderr
        assert again.stdout.strip().endswith("PASS TST-001003")
    unit.close()
