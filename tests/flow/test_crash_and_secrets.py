"""A station killed mid-lock, and secrets that must stay out of every record."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from station.app import main
from station.domain.records import AttemptResult, CredentialState
from station.sim.demo import DEMO_CA_PASSPHRASE, DEMO_VAULT_PASSPHRASE
from station.sim.units import Faults, SimUnit

from .conftest import Line


def provision_command(line: Line, serial: str, unit: SimUnit) -> list[str]:
    return [
        sys.executable, "-m", "station", "provision",
        "--recipe", str(line.recipe.path),
        "--serial", serial,
        "--probe", unit.probe_id,
        "--console", line.environment.console_path(unit),
        "--operator", "ann",
        "--work-order", "WO-1001",
        "--db", line.environment.paths.db_url,
    ]  # fmt: skip


def station_environment(line: Line) -> dict[str, str]:
    return {
        **os.environ,
        "STATION_DATA_DIR": str(line.environment.paths.data_dir),
        "STATION_SIM_DIR": str(line.environment.sim_dir),
        "STATION_CA_PASSPHRASE": DEMO_CA_PASSPHRASE,
        "STATION_VAULT_PASSPHRASE": DEMO_VAULT_PASSPHRASE,
        "STATION_NAME": "line-1-station-1",
    }


def attempt_state(database: Path, serial: str) -> str | None:
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as connection:
        row = connection.execute(
            "SELECT attempts.state FROM attempts JOIN units ON attempts.unit_id = units.id "
            "WHERE units.serial = ? ORDER BY attempts.id DESC LIMIT 1",
            (serial,),
        ).fetchone()
    return None if row is None else str(row[0])


def kill_at_lock_pending(line: Line, serial: str, unit: SimUnit) -> bool:
    """Run `station provision` and SIGKILL it the moment its attempt is LOCK_PENDING."""
    database = line.environment.paths.data_dir / "station.db"
    process = subprocess.Popen(
        provision_command(line, serial, unit),
        env=station_environment(line),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    try:
        while process.poll() is None and time.monotonic() < deadline:
            if attempt_state(database, serial) == "LOCK_PENDING":
                os.kill(process.pid, signal.SIGKILL)
                process.wait(timeout=10)
                return True
            time.sleep(0.001)
        return False
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_killed_while_lock_pending_is_resolved_by_asking_the_unit(line: Line) -> None:
    for number in range(1, 6):
        serial = f"TST-0008{number:02d}"
        unit = line.new_unit()
        if kill_at_lock_pending(line, serial, unit):
            break
    else:
        raise AssertionError("the provisioning process never stayed in LOCK_PENDING long enough to be killed")

    interrupted = line.station.database.attempts.latest_attempt(serial)
    assert interrupted is not None and interrupted.result is AttemptResult.IN_PROGRESS

    restarted = subprocess.run(
        provision_command(line, serial, unit),
        env=station_environment(line),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    assert f"recovered attempt {interrupted.id}" in restarted.stdout
    assert restarted.stdout.strip().endswith(f"PASS {serial}")

    history = line.station.database.attempts.history(serial)
    settled = history[0]
    assert settled.result is AttemptResult.FAILED
    credentials = line.station.database.credentials.credentials_for_serial(serial)
    serials = [credential.certificate_serial for credential in credentials]
    assert len(serials) == len(set(serials))  # no credential issued twice
    injected = [credential for credential in credentials if credential.state is CredentialState.INJECTED]
    assert len(injected) == 1  # the unit holds exactly one live credential
    if settled.failure_code == "INTERRUPTED_LOCKED":
        # The lock had taken effect: resumed at activation with the same credential, no re-flash.
        assert len(credentials) == 1
        assert {step.name: step.outcome.value for step in history[-1].steps}["flash"] == "SKIPPED"
    else:
        # The kill came before the lock latched: that credential is void, never offered again.
        assert settled.failure_code == "INTERRUPTED"
        assert [c.state for c in credentials if c.attempt_id == settled.id] == [CredentialState.VOID]
    assert unit.reload().protected and unit.info.activated_product == "ACME-TOASTER"


def test_the_token_appears_nowhere(line: Line, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    tokens = line.all_tokens()
    assert tokens
    passing = line.new_unit()
    assert line.provision("TST-000901", passing).passed
    silent = line.new_unit()
    with silent.locked():
        silent.info.faults = Faults(console="silent")
    assert not line.provision("TST-000902", silent).passed
    with silent.locked():
        silent.info.faults = Faults()
    assert line.provision("TST-000902", silent).passed
    garbled = line.new_unit()
    with garbled.locked():
        garbled.info.faults = Faults(console="garbage")
    assert not line.provision("TST-000903", garbled).passed

    exports = []
    for form in ("csv", "json"):
        out = tmp_path / f"export.{form}"
        arguments = ["report", "export", "--format", form, "--out", str(out), "--db", line.environment.paths.db_url,
                     "--data-dir", str(line.environment.paths.data_dir)]
        assert main([*arguments, "--include-transcripts"] if form == "json" else arguments) == 0
        exports.append(out)

    transcripts = "\n".join(
        attempt.console_transcript
        for serial in ("TST-000901", "TST-000902", "TST-000903")
        for attempt in line.station.database.attempts.history(serial)
    )
    assert "dms_activate tok:" in transcripts  # the command is there, with the fingerprint
    data_dir = line.environment.paths.data_dir
    files = [*data_dir.glob("station.db*"), *(data_dir / "logs").glob("*"), *exports]
    assert any(path.name == "station.db-wal" for path in files) or any(path.name == "station.db" for path in files)
    haystacks = {str(path): path.read_bytes() for path in files if path.is_file()}
    haystacks["transcripts"] = transcripts.encode()
    haystacks["log records"] = caplog.text.encode()
    assert "dms_activate" in caplog.text or "activate" in caplog.text
    for token in tokens:
        needle = token.encode()
        for name, content in haystacks.items():
            assert needle not in content, f"an activation token was found in {name}"


def test_rework_and_recover_commands(
    line: Line, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from station.sim.units import lock_unit_as_delivered

    for name, value in station_environment(line).items():
        monkeypatch.setenv(name, value)
    line.station.people.add("sue", "supervisor", "4321")
    pin_file = tmp_path / "sue.pin"
    pin_file.write_text("4321\n")
    pin_file.chmod(0o600)
    unit = line.new_unit()
    lock_unit_as_delivered(unit)
    common = ["--recipe", str(line.recipe.path), "--db", line.environment.paths.db_url]
    assert main(["recover", *common, "--probe", unit.probe_id]) == 0
    assert "no unfinished attempts" in capsys.readouterr().out

    rework = ["rework", *common, "--serial", "TST-000950", "--probe", unit.probe_id, "--supervisor", "sue"]
    assert main([*rework, "--pin-file", str(pin_file)]) == 0
    assert "REWORK TST-000950 REWORKED" in capsys.readouterr().out
    assert unit.reload().ever_erased and not unit.info.protected
    refused = main(["provision", *common, "--serial", "TST-000950", "--probe", unit.probe_id,
                    "--console", line.environment.console_path(unit), "--operator", "ann"])  # fmt: skip
    assert refused == 1
    assert "FAIL TST-000950 scan DEVELOPMENT_UNIT" in capsys.readouterr().out


def test_a_forged_scan_prints_no_pass_line_and_no_control_character(
    line: Line, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in station_environment(line).items():
        monkeypatch.setenv(name, value)
    unit = line.new_unit()
    forged = "X\nPASS TST-000123\x07\x1b[2J\u2028PASS TST-000124"
    code = main(["provision", "--recipe", str(line.recipe.path), "--serial", forged, "--probe", unit.probe_id,
                 "--console", line.environment.console_path(unit), "--operator", "ann",
                 "--db", line.environment.paths.db_url])  # fmt: skip
    assert code == 1
    captured = capsys.readouterr()
    for stream in (captured.out, captured.err):
        assert not [text for text in stream.splitlines() if text.startswith("PASS")], stream
        assert not [character for character in stream if character != "\n" and not character.isprintable()]
    assert captured.out.strip().startswith('FAIL "X\\nPASS TST-000123\\x07\\x1b[2J\\u2028PASS TST-000124" scan SCAN:')
    log = (line.environment.paths.log_dir / "station.log").read_text(encoding="utf-8")
    assert not [text for text in log.splitlines() if text.startswith("PASS")]
