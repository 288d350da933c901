"""Units without a label, end to end on simulated units (real pyOCD, real ptys, real store): the
serial comes from the work order's rule, is bound to the unit once its device id is read, goes
back to the pool when the unit fails before it may carry it, stays with a unit that may (which
resumes under it), and ships with a passed unit; a crash's leftovers are settled at start."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from station.app import main
from station.config.line import LineSettings
from station.config.settings import StationSettings, save_settings
from station.domain.errors import StoreError
from station.domain.outcome import AttemptOutcome
from station.domain.scan import SerialRule
from station.domain.serial_numbers import SerialState
from station.operations import serials as serial_operations
from station.operations.serials import SerialAllocator, serial_allocator
from station.reports.reconcile import reconcile_work_orders
from station.sim import board
from station.sim.demo import DEMO_CA_PASSPHRASE, DEMO_SUPERVISOR, DEMO_SUPERVISOR_PIN, DEMO_VAULT_PASSPHRASE
from station.sim.units import SimUnit

from .conftest import Line
from .test_provisioning import set_faults

WORK_ORDER = "WO-1001"  # the line fixture's


def _with_rule(line: Line, first: int = 900001, last: int = 900100) -> SerialAllocator:
    allocator = serial_allocator(line.station)
    allocator.set_rule(WORK_ORDER, "TST-{seq:06d}", first, last, DEMO_SUPERVISOR, DEMO_SUPERVISOR_PIN)
    return allocator


def _unlabelled(line: Line, unit: SimUnit) -> AttemptOutcome:
    return line.provisioner.provision_unlabelled(line.slot(unit), line.context)


def test_an_unlabelled_unit_gets_the_next_serial_bound_to_its_device_and_used_when_it_passes(line: Line) -> None:
    allocator = _with_rule(line)
    unit = line.new_unit()
    outcome = _unlabelled(line, unit)
    assert outcome.passed, outcome.summary
    assert outcome.serial == "TST-900001" and outcome.record is not None
    record = line.station.database.serials.get("TST-900001")
    assert record is not None
    assert (record.state, record.device_id, record.attempt_id) == (
        SerialState.USED,
        unit.reload().device_id_text,
        outcome.record.id,
    )
    assert outcome.record.device_id == record.device_id
    assert unit.reload().activated_product == "ACME-TOASTER"
    counts = allocator.allocation_counts(WORK_ORDER)
    assert (counts.used, counts.allocated, counts.bound, counts.returned, counts.adds_up) == (1, 0, 0, 0, True)


def test_a_unit_failing_before_it_may_carry_its_serial_gives_it_to_the_next_unit(line: Line) -> None:
    allocator = _with_rule(line)
    broken = line.new_unit()
    application = board.APPLICATION_ADDRESS
    set_faults(broken, drop_writes=(application + 0x3000, application + 0x4000))
    failed = _unlabelled(line, broken)
    assert failed.failure_step == "verify" and failed.serial == "TST-900001"
    returned = line.station.database.serials.get("TST-900001")
    assert returned is not None and (returned.state, returned.device_id) == (SerialState.RETURNED, None)

    good = line.new_unit()
    passed = _unlabelled(line, good)
    assert passed.passed and passed.serial == "TST-900001", passed.summary  # the pool's serial first
    used = line.station.database.serials.get("TST-900001")
    assert used is not None and (used.state, used.device_id) == (SerialState.USED, good.reload().device_id_text)
    assert used.times_returned == 1
    counts = allocator.allocation_counts(WORK_ORDER)
    assert (counts.used, counts.returns, counts.returned, counts.adds_up) == (1, 1, 0, True)
    (reconciled,) = reconcile_work_orders(line.station.database, [WORK_ORDER])  # the report agrees
    assert reconciled.reconciled, reconciled.mismatches
    assert reconciled.serials is not None and (reconciled.serials.used, reconciled.serials.returns) == (1, 1)


def test_a_unit_that_may_carry_its_serial_keeps_it_and_resumes_under_it(line: Line) -> None:
    _with_rule(line)
    unit = line.new_unit()
    set_faults(unit, console="silent")
    failed = _unlabelled(line, unit)
    assert failed.failure_step == "activate" and unit.reload().protected
    kept = line.station.database.serials.get(failed.serial)
    assert kept is not None and (kept.state, kept.device_id) == (SerialState.BOUND, unit.reload().device_id_text)
    other = line.new_unit()
    assert _unlabelled(line, other).serial != failed.serial  # never handed to another unit

    set_faults(unit)  # the console answers again: scanned with its serial, the unit resumes
    resumed = line.provision(failed.serial, unit)
    assert resumed.passed and resumed.resumed, resumed.summary
    used = line.station.database.serials.get(failed.serial)
    assert used is not None and used.state is SerialState.USED


def test_a_work_order_without_a_rule_refuses_an_unlabelled_unit_untouched(line: Line) -> None:
    unit = line.new_unit()
    outcome = _unlabelled(line, unit)
    assert outcome.failure_code == "SERIAL_ALLOCATION" and outcome.record is None
    assert "serial rule" in outcome.message
    info = unit.reload()
    assert info.boot_count == 0 and not info.protected
    assert unit.read_nvm(0, board.FLASH_SIZE) == b"\xff" * board.FLASH_SIZE


def test_a_device_that_carries_a_serial_is_not_given_another(line: Line) -> None:
    _with_rule(line)
    unit = line.new_unit()
    set_faults(unit, console="silent")
    kept = _unlabelled(line, unit).serial  # bound to the locked unit
    outcome = _unlabelled(line, unit)  # the same unit, again without its label
    assert outcome.failure_step == "connect" and outcome.failure_code in ("UNIT_LOCKED", "SERIAL_ALLOCATION")
    again = line.station.database.serials.get(outcome.serial)
    assert again is not None and again.state is SerialState.RETURNED  # the new serial went back
    record = line.station.database.serials.get(kept)
    assert record is not None and record.state is SerialState.BOUND


def test_serials_a_crash_left_are_settled_by_their_attempts_end(line: Line, monkeypatch: pytest.MonkeyPatch) -> None:
    allocator = _with_rule(line)
    orphan = allocator.allocate_for(WORK_ORDER).serial  # the station stopped before the attempt opened
    journal = line.station.database
    assert allocator.settle_left_over(journal.attempts, journal.credentials) == []  # too young: maybe starting
    monkeypatch.setattr(serial_operations, "UNSTARTED_GRACE", timedelta(0))
    settled = allocator.settle_left_over(journal.attempts, journal.credentials)
    assert [(record.serial, record.state) for record in settled] == [(orphan, SerialState.RETURNED)]
    entries = [entry for entry in line.station.database.audit_log().entries() if entry.action == "serial.update"]
    assert any(orphan in entry.detail and "returned" in entry.detail for entry in entries)


def test_the_command_line_provisions_a_unit_without_a_label(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], line: Line
) -> None:
    monkeypatch.setenv("STATION_CA_PASSPHRASE", DEMO_CA_PASSPHRASE)
    monkeypatch.setenv("STATION_VAULT_PASSPHRASE", DEMO_VAULT_PASSPHRASE)
    _with_rule(line, first=5, last=6)
    unit = line.new_unit()
    code = main([
        "provision", "--recipe", str(line.recipe.path), "--allocate-serial", "--work-order", WORK_ORDER,
        "--probe", unit.probe_id, "--console", line.environment.console_path(unit), "--operator", "ann",
        "--data-dir", str(line.environment.paths.data_dir),
    ])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "PASS TST-000005" in out
    record = line.station.database.serials.get("TST-000005")
    assert record is not None and record.state is SerialState.USED


def test_on_a_line_the_station_leases_from_the_line_database_and_the_line_reports_the_serials(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], line: Line
) -> None:
    monkeypatch.setenv("STATION_CA_PASSPHRASE", DEMO_CA_PASSPHRASE)
    monkeypatch.setenv("STATION_VAULT_PASSPHRASE", DEMO_VAULT_PASSPHRASE)
    data = line.environment.paths.data_dir
    line_url = f"sqlite:///{tmp_path / 'line.db'}"
    save_settings(StationSettings(line=LineSettings(database_url=line_url, policy="continue")), data / "station.toml")
    pin_file = tmp_path / "pin"
    pin_file.write_text(DEMO_SUPERVISOR_PIN + "\n")
    pin_file.chmod(0o600)
    where = ["--data-dir", str(data)]
    rule = ["work-order", "serial-rule", WORK_ORDER, "--template", "TST-{seq:06d}", "--first", "300001", "--last",
            "300100", "--supervisor", DEMO_SUPERVISOR, "--pin-file", str(pin_file)]  # fmt: skip
    assert main([*rule, *where]) == 0
    units = [line.new_unit(), line.new_unit()]
    set_faults(units[0], drop_writes=(board.APPLICATION_ADDRESS + 0x3000, board.APPLICATION_ADDRESS + 0x4000))
    for unit in units:
        main(["provision", "--recipe", str(line.recipe.path), "--allocate-serial", "--work-order", WORK_ORDER,
              "--probe", unit.probe_id, "--console", line.environment.console_path(unit), "--operator", "ann",
              *where])  # fmt: skip
    out = capsys.readouterr().out
    assert "FAIL TST-300001" in out and "PASS TST-300001" in out  # the failed unit's serial, to the next unit
    assert main(["line", "forward", *where]) == 0
    capsys.readouterr()
    assert main(["line", "serials", WORK_ORDER, "--json", *where]) == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["leased"], report["used"], report["returned"], report["allocated"], report["adds_up"]) == (
        50, 1, 0, 0, True)
    assert report["by_station"] == {"line-1-station-1": {"used": 1}}
    assert main(["line", "serials", WORK_ORDER, *where]) == 0
    assert "used 1, returned 0, scrapped 0; adds up" in capsys.readouterr().out


def test_a_serial_of_the_range_a_labelled_unit_used_is_never_given_again(line: Line) -> None:
    labelled = line.new_unit()
    assert line.provision("TST-900001", labelled).passed  # labelled by hand with a number of the range
    allocator = _with_rule(line)
    unit = line.new_unit()
    refused = _unlabelled(line, unit)
    assert refused.failure_code == "SERIAL_ALLOCATION" and "already used by attempt" in refused.message
    assert unit.reload().boot_count == 0  # not touched
    kept = line.station.database.serials.get("TST-900001")
    assert kept is not None and kept.state is SerialState.ALLOCATED  # for a supervisor to scrap, not the pool
    passed = _unlabelled(line, unit)
    assert passed.passed and passed.serial == "TST-900002", passed.summary
    journal = line.station.database
    assert allocator.settle_left_over(journal.attempts, journal.credentials) == []  # left as it is at a restart


class _StoppedBeforeUse:
    """The station's pool, but the station stops between the committed PASS and marking its serial used."""

    def __init__(self, pool: SerialAllocator) -> None:
        self._pool = pool

    def allocate_serial(self, work_order: str, recipe_rule: SerialRule | None = None) -> str:
        return self._pool.allocate_serial(work_order, recipe_rule)

    def bind(self, serial: str, attempt_id: int, device_id: str) -> object:
        return self._pool.bind(serial, attempt_id, device_id)

    def release(self, serial: str) -> object:
        return self._pool.release(serial)

    def holds(self, serial: str) -> bool:
        return self._pool.holds(serial)

    def mark_used(self, serial: str) -> object:
        raise StoreError("the station stopped here")


def test_a_passed_units_serial_left_bound_by_a_stop_is_used_at_the_next_start(line: Line) -> None:
    allocator = _with_rule(line)
    line.provisioner.serial_pool = _StoppedBeforeUse(allocator)
    unit = line.new_unit()
    outcome = _unlabelled(line, unit)
    assert outcome.passed, outcome.summary  # the PASS is committed; the serial's end is not
    left = line.station.database.serials.get(outcome.serial)
    assert left is not None and left.state is SerialState.BOUND
    journal = line.station.database
    settled = allocator.settle_left_over(journal.attempts, journal.credentials)
    assert [(record.serial, record.state) for record in settled] == [(outcome.serial, SerialState.USED)]
    (reconciled,) = reconcile_work_orders(journal, [WORK_ORDER])
    assert reconciled.reconciled, reconciled.mismatches
