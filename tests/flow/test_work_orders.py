"""A work order's quantity and its reconciliation, end to end: `station work-order set`, `station
provision` processes racing for the last place on simulated units (real pyOCD, real ptys, one
SQLite database), and `station report reconcile` on what they made, clean and tampered with."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from station.app import main
from station.domain.errors import WorkOrderCompleteError
from station.domain.identity import Serial
from station.domain.records import AttemptResult
from station.flow.run import StationContext
from station.sim import board
from station.sim.demo import DEMO_SUPERVISOR, DEMO_SUPERVISOR_PIN
from station.sim.units import SimUnit

from .conftest import Line
from .test_crash_and_secrets import station_environment

ROUNDS = 10


def provision_command(line: Line, serial: str, unit: SimUnit, work_order: str) -> list[str]:
    return [
        sys.executable, "-m", "station", "provision", "--recipe", str(line.recipe.path), "--serial", serial,
        "--probe", unit.probe_id, "--console", line.environment.console_path(unit), "--operator", "ann",
        "--work-order", work_order, "--db", line.environment.paths.db_url,
    ]  # fmt: skip


def start(line: Line, serial: str, unit: SimUnit, work_order: str, station: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        provision_command(line, serial, unit, work_order),
        env={**station_environment(line), "STATION_NAME": station},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=180)
    return process.returncode, out, err


def last_line(out: str, err: str) -> str:
    return out.strip().splitlines()[-1] if out.strip() else err


def assert_untouched(unit: SimUnit) -> None:
    info = unit.reload()
    assert info.boot_count == 0 and not info.protected
    assert unit.read_nvm(0, board.FLASH_SIZE) == b"\xff" * board.FLASH_SIZE


def provision_in_process(line: Line, serial: str, work_order: str) -> None:
    unit = line.new_unit()
    context = StationContext(line.context.station, "ann", work_order)
    outcome = line.provisioner.provision(Serial(serial), line.slot(unit), context)
    assert outcome.passed, outcome.summary


def station_command(line: Line, *arguments: str) -> list[str]:
    return [*arguments, "--db", line.environment.paths.db_url, "--data-dir", str(line.environment.paths.data_dir)]


def test_set_quantity_then_the_unit_after_the_last_is_refused_untouched(
    line: Line, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_text(DEMO_SUPERVISOR_PIN + "\n", encoding="utf-8")
    pin_file.chmod(0o600)
    setting = station_command(line, "work-order", "set", "WO-CAP", "--quantity", "1", "--product",
                              line.recipe.product, "--supervisor", DEMO_SUPERVISOR, "--pin-file", str(pin_file))
    assert main(setting) == 0
    assert capsys.readouterr().out.strip() == (
        f"work order WO-CAP: quantity 1, product {line.recipe.product}; 0 units passed or in progress, 1 places left"
    )
    audit = [entry for entry in line.station.database.audit_log().entries() if entry.action == "work-order.quantity"]
    assert [entry.actor for entry in audit] == [f"supervisor:{DEMO_SUPERVISOR}"]
    assert audit[0].detail.startswith("work order WO-CAP quantity 1 (was none)")

    provision_in_process(line, "TST-005001", "WO-CAP")
    unit = line.new_unit()
    code, out, err = finish(start(line, "TST-005002", unit, "WO-CAP", "station-b"))
    assert code == 1, out + err
    assert last_line(out, err) == (
        "FAIL TST-005002 scan WORK_ORDER_COMPLETE: work order WO-CAP is complete: 1 of 1 units passed or in progress"
    )
    assert_untouched(unit)
    assert line.station.database.units.get_unit("TST-005002") is None

    below = station_command(line, "work-order", "set", "WO-CAP", "--quantity", "1", "--supervisor", DEMO_SUPERVISOR,
                            "--pin-file", str(pin_file))  # fmt: skip
    with pytest.raises(SystemExit) as usage:
        main([*below[:4], "0", *below[5:]])
    assert usage.value.code == 2 and "a work order makes at least 1 unit, not 0" in capsys.readouterr().err


def test_two_processes_racing_for_the_last_unit_one_passes_the_other_is_refused_untouched(line: Line) -> None:
    registry = line.station.database.registry
    for number in range(ROUNDS):
        _, taken = registry.set_work_order_quantity("WO-RACE", number + 1, product=line.recipe.product)
        assert taken == number  # one place left
        serials = [f"TST-006{number:02d}{side}" for side in "01"]
        units = [line.new_unit(), line.new_unit()]
        processes = [start(line, serial, unit, "WO-RACE", station)
                     for serial, unit, station in zip(serials, units, ("station-a", "station-b"), strict=True)]
        results = [finish(process) for process in processes]
        lines = [last_line(out, err) for _, out, err in results]
        passed = [index for index, text in enumerate(lines) if text == f"PASS {serials[index]}"]
        assert len(passed) == 1, f"round {number}: {results}"
        loser = 1 - passed[0]
        assert results[loser][0] == 1, f"round {number}: {results[loser]}"
        assert lines[loser] == (
            f"FAIL {serials[loser]} scan WORK_ORDER_COMPLETE: work order WO-RACE is complete: "
            f"{number + 1} of {number + 1} units passed or in progress"
        )
        assert "error" not in results[loser][2].lower()
        assert_untouched(units[loser])
        assert line.station.database.attempts.history(serials[loser]) == []
        [attempt] = line.station.database.attempts.history(serials[passed[0]])
        assert attempt.result is AttemptResult.PASSED and attempt.work_order == "WO-RACE"
    with pytest.raises(WorkOrderCompleteError):
        line.station.database.attempts.create_attempt(
            serial="TST-006999", station="x", operator="ann", recipe_hash=line.recipe.content_hash,
            product=line.recipe.product, work_order="WO-RACE",
        )  # fmt: skip


# -- reconciliation -----------------------------------------------------------------------------


def reconcile(line: Line, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(station_command(line, "report", "reconcile", "--work-order", "WO-REC", *extra))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def tamper(line: Line, statement: str, *parameters: object) -> None:
    """Change the records behind the station's back, as a broken tool or a person might."""
    with sqlite3.connect(line.environment.paths.data_dir / "station.db", timeout=30) as connection:
        assert connection.execute(statement, parameters).rowcount >= 1


def attempt_of(line: Line, serial: str) -> int:
    [attempt] = line.station.database.attempts.history(serial)
    return attempt.id


def test_reconcile_is_clean_after_provisioning_and_names_each_tampered_serial(
    line: Line, capsys: pytest.CaptureFixture[str]
) -> None:
    serials = [f"TST-0070{number:02d}" for number in range(1, 5)]
    line.station.database.registry.set_work_order_quantity("WO-REC", 5, product=line.recipe.product)
    for serial in serials:
        provision_in_process(line, serial, "WO-REC")
    locked = line.new_unit()  # a unit that fails before anything is spent on it
    assert main(["sim", "fault", locked.unit_id, "locked"]) == 0
    context = StationContext(line.context.station, "ann", "WO-REC")
    assert line.provisioner.provision(Serial("TST-007009"), line.slot(locked), context).failure_code == "UNIT_LOCKED"
    capsys.readouterr()

    code, text = reconcile(line, capsys, "--serials")
    assert code == 0, text
    assert f"work order WO-REC  product {line.recipe.product}  quantity 5" in text
    assert "units passed   4" in text and "serials        5 seen: 4 passed, 0 in progress, 1 not passed" in text
    assert "credentials    4 issued: 4 injected, 0 voided, 0 reserved" in text
    assert "token uses     4 (4 activations; 0 more given back)" in text
    assert "passed serials " + " ".join(serials) in text
    assert "  reconciled" in text and text.strip().endswith("RECONCILED: 1 work order(s)")
    code, text = reconcile(line, capsys, "--json")
    document = json.loads(text)
    assert code == 0 and document["reconciled"] is True
    [order] = document["work_orders"]
    assert (order["work_order"], order["quantity"], order["passed_serials"], order["mismatches"]) == (
        "WO-REC", 5, serials, [])
    assert order["credentials"] == {"issued": 4, "reserved": 0, "injected": 4, "voided": 0}
    assert (order["token_uses"], order["activations"], order["units"]["passed"]) == (4, 4, 4)

    # A credential marked injected whose attempt did not pass (the unit failed after all).
    tamper(line, "UPDATE attempts SET result = 'FAILED', state = 'FAILED', failure_step = 'identity', "
                 "failure_code = 'IDENTITY_MISMATCH' WHERE id = ?", attempt_of(line, serials[0]))  # fmt: skip
    # A token use whose attempt has no activation (the locked unit's, which never got that far).
    tamper(line, "INSERT INTO token_uses (fingerprint, attempt_id, used_at) "
                 "SELECT fingerprint, ?, used_at FROM token_uses LIMIT 1", attempt_of(line, "TST-007009"))  # fmt: skip
    # A passed attempt without an injected credential.
    tamper(line, "UPDATE credentials SET state = 'VOID' WHERE serial = ?", serials[2])

    code, text = reconcile(line, capsys)
    assert code == 1, text
    mismatch_lines = [row.strip() for row in text.splitlines() if row.strip().startswith("MISMATCH")]
    assert [row.split(":")[0] for row in mismatch_lines] == [
        f"MISMATCH CREDENTIAL_NOT_IN_PASSED_UNIT {serials[0]}",
        f"MISMATCH PASSED_WITHOUT_CREDENTIAL {serials[2]}",
        "MISMATCH TOKEN_USE_WITHOUT_ACTIVATION TST-007009",
    ]
    assert "units passed   3" in text and text.strip().endswith("NOT RECONCILED: 1 of 1 work order(s): WO-REC")
    code, text = reconcile(line, capsys, "--json")
    [order] = json.loads(text)["work_orders"]
    assert code == 1 and order["reconciled"] is False
    assert [(found["kind"], found["serial"]) for found in order["mismatches"]] == [
        ("CREDENTIAL_NOT_IN_PASSED_UNIT", serials[0]),
        ("PASSED_WITHOUT_CREDENTIAL", serials[2]),
        ("TOKEN_USE_WITHOUT_ACTIVATION", "TST-007009"),
    ]

    assert main(station_command(line, "report", "reconcile", "--work-order", "WO-NOPE")) == 2
    assert capsys.readouterr().err.startswith("station: error [STORE]: no work order 'WO-NOPE'")
