"""``--json`` on every command: one JSON document (NDJSON for the commands that stream) with the
fields its text shows, errors as ``{"error": {"code", "message"}}`` on stdout with the text
mode's exit code, control characters escaped by the encoder, no secret in any of it.

Most commands run against one demo directory made once for the module (``prepare_demo`` and a
headless demo run); the commands that change records change only records of their own."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from station.app import CompositionRoot, main
from station.cli import build_parser
from station.domain.records import AttemptResult
from station.operations.station import StationOptions
from station.security.vault import TokenVault
from station.sim.demo import (
    DEMO_CA_PASSPHRASE,
    DEMO_SUPERVISOR,
    DEMO_SUPERVISOR_PIN,
    DEMO_VAULT_PASSPHRASE,
    DemoEnvironment,
    prepare_demo,
)
from station.store import open_database

from .commands import every_command


@dataclass
class Demo:
    environment: DemoEnvironment

    @property
    def data(self) -> list[str]:
        """The option that points a command at the demo's records."""
        return ["--data-dir", str(self.environment.paths.data_dir)]

    def tokens(self) -> list[str]:
        """The plaintext of every vault token (to look for it where it must not be)."""
        database = open_database(self.environment.paths.db_url)
        try:
            vault = TokenVault(database.tokens).unlocked(DEMO_VAULT_PASSPHRASE)
            return [vault.open(sealed).secret() for sealed in database.tokens.sealed_tokens("ACME-TOASTER")]
        finally:
            database.dispose()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    root = tmp_path_factory.mktemp("json-output") / "demo"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("STATION_SIM_DIR", str(root / "sim"))
        environment = prepare_demo(root)
        assert main(["demo", "--headless", "--units", "1", "--demo-dir", str(root)]) == 0  # TST-000001 passes
        yield Demo(environment)


@pytest.fixture
def passphrases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATION_CA_PASSPHRASE", DEMO_CA_PASSPHRASE)
    monkeypatch.setenv("STATION_VAULT_PASSPHRASE", DEMO_VAULT_PASSPHRASE)


def pin_file(tmp_path: Path, pin: str = DEMO_SUPERVISOR_PIN) -> str:
    path = tmp_path / f"pin-{pin}"
    path.write_text(pin + "\n", encoding="utf-8")
    path.chmod(0o600)
    return str(path)


def document(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 0) -> Any:
    """Run ``station ARGV`` with its exit code checked; its stdout, parsed as one JSON document."""
    assert main(list(argv)) == code
    out = capsys.readouterr().out
    return json.loads(out)


def events(capsys: pytest.CaptureFixture[str], *argv: str, code: int = 0) -> list[dict[str, Any]]:
    """Run a streaming command; each line of its stdout parsed on its own (NDJSON), none of them
    holding a raw control character (the encoder escapes them)."""
    assert main(list(argv)) == code
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out
    return [json.loads(line) for line in out.splitlines()]


def test_every_command_takes_json() -> None:
    commands = every_command(build_parser())
    assert len(commands) >= 29
    for name, parser in commands.items():
        options = {option for action in parser._actions for option in action.option_strings}
        assert "--json" in options, f"station {name} lacks --json"


# --- errors ---------------------------------------------------------------------------------


def test_an_error_in_json_mode_is_a_json_error_with_the_same_exit_code(
    demo: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["units", "show", "TST-999999", *demo.data]) == 2
    text = capsys.readouterr()
    assert text.out == "" and "station: error [STORE]: no unit with serial 'TST-999999'" in text.err

    error = document(capsys, "units", "show", "TST-999999", "--json", *demo.data, code=2)["error"]
    assert error["code"] == "STORE" and "no unit with serial 'TST-999999'" in error["message"]


def test_a_usage_error_in_json_mode_is_json_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    error = document(capsys, "units", "show", "--json", code=2)["error"]
    assert error == {"code": "USAGE", "message": "station units show: the following arguments are required: SERIAL"}
    with pytest.raises(SystemExit) as usage:  # without --json, argparse's usage text as before
        main(["units", "show"])
    assert usage.value.code == 2 and "usage: station units show" in capsys.readouterr().err


def test_every_problem_of_a_recipe_is_in_the_json_error(demo: Demo, capsys: pytest.CaptureFixture[str]) -> None:
    recipe = demo.environment.recipe_path
    text = recipe.read_text(encoding="utf-8").replace("schema = 1\n", "schema = 1\ncolour = \"red\"\n", 1)
    broken = recipe.with_name("broken-for-json.toml")  # beside the images it names
    broken.write_text(text.replace("baud_rate = 115200", "baud_rate = 1", 1), encoding="utf-8")
    error = document(capsys, "recipe", "check", str(broken), "--json", code=2)["error"]
    assert error["code"] == "RECIPE" and len(error["problems"]) == 2
    assert "colour: unknown key" in error["problems"][0]["message"]
    assert "baud_rate: must be at least 300, not 1" in error["problems"][1]["message"]


# --- units on the line: streams ---------------------------------------------------------------


def test_provision_and_rework_print_ndjson_step_and_result_events(
    demo: Demo, passphrases: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    environment = demo.environment
    with environment.console_server() as consoles:
        unit = environment.create_units(1)[0]
        consoles.wait_for_port(unit.unit_id)
        slot = ["--recipe", str(environment.recipe_path), "--probe", unit.probe_id]
        common = [*slot, "--console", environment.console_path(unit), "--operator", "ann", *demo.data]

        # A scan with control characters is refused; its line is still one valid JSON object.
        refused = events(capsys, "provision", "--json", "--serial", "TST-\x1b[2J\n00", *common, code=1)
        assert [event["event"] for event in refused] == ["result"]
        assert refused[0]["result"] == "FAIL" and refused[0]["serial"] == "TST-\x1b[2J\n00"
        assert refused[0]["step"] == "scan" and refused[0]["code"] and refused[0]["attempt_id"] is None

        stream = events(capsys, "provision", "--json", "--serial", "TST-000500", *common)
        steps = [event for event in stream if event["event"] == "step"]
        assert steps and all(event["serial"] == "TST-000500" and isinstance(event["seconds"], float)
                             for event in steps)  # fmt: skip
        assert {"flash", "lock"} <= {event["step"] for event in steps}
        result = stream[-1]
        assert result["event"] == "result" and result["result"] == "PASS" and result["code"] is None
        assert result["serial"] == "TST-000500" and isinstance(result["attempt_id"], int) and result["device_id"]

    rework = events(capsys, "rework", "--json", "--serial", "TST-000500", *slot, "--supervisor", DEMO_SUPERVISOR,
                    "--pin-file", pin_file(tmp_path), *demo.data)  # fmt: skip
    assert rework[-1]["event"] == "rework" and rework[-1]["erased"] is True
    assert rework[-1]["serial"] == "TST-000500" and rework[-1]["code"] == "REWORKED"
    everything = json.dumps([refused, stream, rework])
    secrets = [DEMO_CA_PASSPHRASE, DEMO_VAULT_PASSPHRASE, *demo.tokens()]
    assert not [secret for secret in secrets if secret in everything]


def test_recover_prints_what_it_settled_and_an_inspection(
    demo: Demo, passphrases: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    environment = demo.environment
    settled = document(capsys, "recover", "--json", "--recipe", str(environment.recipe_path),
                       "--probe", "sim:unit-0001", *demo.data)  # fmt: skip
    assert settled == {"settled": []}

    recorded = hashlib.sha256(environment.recipe_path.read_bytes()).hexdigest()  # the demo ran with it
    station = CompositionRoot().open_station(StationOptions(data_dir=environment.paths.data_dir))
    try:  # through the station, whose key signs the chain entries, so that `db verify` stays OK
        attempts = station.database.attempts
        attempt = attempts.create_attempt(serial="TST-000600", station="json-station", operator="ann",
                                          recipe_hash=recorded, product="ACME-TOASTER")  # fmt: skip
        attempts.finish_attempt(attempt.id, AttemptResult.NEEDS_INSPECTION, failure_step="recovery",
                                failure_code="MAY_BE_LOCKED")  # fmt: skip
    finally:
        station.close()
    inspection = ["recover", "--json", "--inspected", str(attempt.id), "--note", "locked\nintact",
                  "--supervisor", DEMO_SUPERVISOR, *demo.data]  # fmt: skip
    refused = document(capsys, *inspection, "--pin-file", pin_file(tmp_path, "9999"), code=2)
    assert refused["error"] == {"code": "ACCESS", "message": "wrong name or PIN"}
    recorded = document(capsys, *inspection, "--pin-file", pin_file(tmp_path))
    assert recorded == {"attempt_id": attempt.id, "supervisor": DEMO_SUPERVISOR, "note": "locked intact"}


def test_the_headless_demo_streams_events_and_ends_with_a_summary(
    demo: Demo, capsys: pytest.CaptureFixture[str]
) -> None:
    root = demo.environment.root
    stream = events(capsys, "demo", "--json", "--units", "1", "--demo-dir", str(root))  # --json: no window
    kinds = [event["event"] for event in stream]
    assert kinds[:2] == ["demo", "unit"] and kinds[-2:] == ["result", "summary"] and "step" in kinds
    assert stream[0]["directory"] == str(root)
    serial = stream[1]["serial"]
    assert stream[-2]["result"] == "PASS" and stream[-2]["serial"] == serial
    summary = stream[-1]
    assert summary["passed"] == 1 and [unit["serial"] for unit in summary["units"]] == [serial]
    assert summary["shell"].startswith("export STATION_DATA_DIR=")
    assert summary["commands"][0] == f"station units show {serial}"


def test_the_demo_writes_its_recipe_and_says_how_to_check_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    written = document(capsys, "demo", "--write-recipe", str(tmp_path / "recipe"), "--json")
    assert written["folder"] == str(tmp_path / "recipe") and Path(written["recipe"]).is_file()
    assert all(Path(path).is_file() for path in written["files"])
    assert written["check_command"] == f"station recipe check {written['recipe']}"


def test_gui_without_a_display_is_a_json_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("QT_QPA_PLATFORM", "offscreen")
    error = document(capsys, "gui", "--json", code=2)["error"]
    assert error["code"] == "NO_DISPLAY" and "QT_QPA_PLATFORM=offscreen" in error["message"]


# --- records: one document each ---------------------------------------------------------------


def test_units_show_and_golden(demo: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    unit = document(capsys, "units", "show", "TST-000001", "--json", *demo.data)
    assert unit["serial"] == "TST-000001" and unit["attempt_count"] == len(unit["attempts"]) >= 1
    attempt = unit["attempts"][0]
    assert attempt["result"] == "PASSED" and attempt["started_at"].endswith("+00:00")
    assert isinstance(attempt["duration_s"], float) and attempt["steps"] and attempt["credentials"]
    assert "console_transcript" in attempt
    brief = document(capsys, "units", "show", "TST-000001", "--no-transcript", "--json", *demo.data)
    assert "console_transcript" not in brief["attempts"][0]

    golden = ["units", "golden", "TST-000001", "--supervisor", DEMO_SUPERVISOR, "--pin-file", pin_file(tmp_path),
              "--json", *demo.data]  # fmt: skip
    marked = document(capsys, *golden)
    assert (marked["serial"], marked["golden"]) == ("TST-000001", True)
    reference = marked["reference"]  # no probe given: taken from the unit's PASS attempt
    assert reference["source"] == f"attempt {attempt['attempt_id']}" and reference["locked"] is True
    assert reference["device_id"] == attempt["device_id"] and reference["recorded_by"] == DEMO_SUPERVISOR
    assert document(capsys, *golden, "--unmark") == {"serial": "TST-000001", "golden": False, "reference": None}


def test_work_order_set(demo: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    result = document(capsys, "work-order", "set", "WO-JSON", "--quantity", "5", "--product", "ACME-TOASTER",
                      "--supervisor", DEMO_SUPERVISOR, "--pin-file", pin_file(tmp_path), "--json", *demo.data)
    assert result == {"work_order": "WO-JSON", "quantity": 5, "product": "ACME-TOASTER", "taken": 0,
                      "places_left": 5}  # fmt: skip


def test_work_order_serial_rule_and_serials(demo: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rule = document(capsys, "work-order", "serial-rule", "WO-SN", "--template", "ACME{yy}{ww}{seq:06d}", "--first",
                    "1", "--last", "500", "--check-digit", "gs1", "--supervisor", DEMO_SUPERVISOR, "--pin-file",
                    pin_file(tmp_path), "--json", *demo.data)  # fmt: skip
    assert rule == {"work_order": "WO-SN", "template": "ACME{yy}{ww}{seq:06d}", "first": 1, "last": 500,
                    "check_digit": "gs1"}  # fmt: skip
    counts = document(capsys, "work-order", "serials", "WO-SN", "--json", *demo.data)
    assert (counts["range"], counts["leased"], counts["unleased"], counts["used"], counts["adds_up"]) == (
        500, 0, 500, 0, True)

    database = open_database(demo.environment.paths.db_url)
    try:
        serial = database.serials.allocate("WO-SN", "st-json", day=date(2026, 3, 4), block_size=5,
                                           lease=timedelta(hours=1)).serial  # fmt: skip
    finally:
        database.dispose()
    scrap = ["work-order", "scrap-serial", serial, "--supervisor", DEMO_SUPERVISOR, "--pin-file", pin_file(tmp_path),
             "--json", *demo.data]  # fmt: skip
    assert main([*scrap[:3], *scrap[3:-3], "--reason", " ", *scrap[-3:]]) == 2  # no reason: refused
    capsys.readouterr()
    scrapped = document(capsys, *scrap[:3], "--reason", "label torn", *scrap[3:])
    assert scrapped == {"serial": serial, "work_order": "WO-SN", "state": "scrapped", "scrapped_by": DEMO_SUPERVISOR,
                        "reason": "label torn"}  # fmt: skip
    counts = document(capsys, "work-order", "serials", "WO-SN", "--json", *demo.data)
    assert (counts["leased"], counts["scrapped"], counts["free"], counts["adds_up"]) == (5, 1, 4, True)
    assert main([*scrap[:3], "--reason", "again", *scrap[3:]]) == 2  # a scrapped serial stays as it is
    refusal = json.loads(capsys.readouterr().out)["error"]
    assert refusal["code"] == "SERIAL_ALLOCATION" and "cannot be scrapped" in refusal["message"]


def test_db_upgrade_status_and_verify(demo: Demo, capsys: pytest.CaptureFixture[str]) -> None:
    upgrade = document(capsys, "db", "upgrade", "--json", *demo.data)
    assert upgrade["upgraded"] is False and upgrade["revision"] == upgrade["previous_revision"]
    status = document(capsys, "db", "status", "--json", *demo.data)
    assert status["current"] is True and status["revision"] == upgrade["revision"]
    assert status["database"].endswith("station.db")
    verify = document(capsys, "db", "verify", "--json", *demo.data)
    assert verify["ok"] is True and verify["entries_checked"] > 0 and verify["findings"] == []
    assert verify["records_checked"] > 0 and len(verify["head"]) == 64


def test_report_yield_reconcile_and_public_key(demo: Demo, capsys: pytest.CaptureFixture[str]) -> None:
    figures = document(capsys, "report", "yield", "--serial", "TST-000001", "--json", *demo.data)
    assert figures["attempts"] == 1 and figures["final_yield"] == 1.0
    code = main(["report", "reconcile", "--json", *demo.data])
    reconciliation = json.loads(capsys.readouterr().out)
    assert code == (0 if reconciliation["reconciled"] else 1) and "work_orders" in reconciliation
    key = document(capsys, "report", "public-key", "--json", *demo.data)
    assert key["public_key_pem"].startswith("-----BEGIN PUBLIC KEY-----") and key["out"] is None
    assert len(key["fingerprint"]) == 64


def test_report_export_then_verify(demo: Demo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "export.csv"
    export = document(capsys, "report", "export", "--format", "csv", "--out", str(out), "--json", *demo.data)
    assert export["out"] == str(out) and export["rows"] >= 1 and export["format"] == "csv"
    assert Path(export["manifest"]).is_file() and Path(export["signature"]).is_file()

    verified = document(capsys, "report", "verify", str(out), "--json", *demo.data)
    assert verified["ok"] is True and verified["rows"] == export["rows"] and verified["findings"] == []
    assert verified["trusted_key"] is True and verified["chain"]["ok"] is True and verified["chain"]["checked"]

    out.write_text(out.read_text(encoding="utf-8") + "forged\n", encoding="utf-8")
    failed = document(capsys, "report", "verify", str(out), "--json", *demo.data, code=1)
    assert failed["ok"] is False and "file changed after signing" in [f["problem"] for f in failed["findings"]]


def test_recipe_check(demo: Demo, capsys: pytest.CaptureFixture[str]) -> None:
    recipe = document(capsys, "recipe", "check", str(demo.environment.recipe_path), "--json")
    assert recipe["ok"] is True and recipe["product"] == "ACME-TOASTER" and len(recipe["sha256"]) == 64
    assert recipe["images"] and all(len(image["sha256"]) == 64 for image in recipe["images"])
    assert isinstance(recipe["flash"]["start"], int) and recipe["steps"]


def test_ca_init_and_show(
    station_data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STATION_CA_PASSPHRASE", "ca passphrase for the test")
    created = document(capsys, "ca", "init", "--common-name", "JSON CA", "--json")
    assert created["created"] is True and "CN=JSON CA" in created["subject"]
    assert created["ca_dir"] == str(station_data_dir / "ca")
    shown = document(capsys, "ca", "show", "--json")
    assert shown["sha256_fingerprint"] == created["sha256_fingerprint"]
    assert shown["certificate_pem"].startswith("-----BEGIN CERTIFICATE-----")
    assert "ca passphrase for the test" not in json.dumps([created, shown])


def test_tokens_import_and_list_show_no_token(
    demo: Demo, passphrases: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    new_tokens = ["json-test-token-0001-abcdefgh", "json-test-token-0002-abcdefgh"]
    token_file = tmp_path / "tokens.txt"
    token_file.write_text("\n".join(new_tokens) + "\n", encoding="utf-8")
    imported = document(capsys, "tokens", "import", "--product", "JSON-PRODUCT", "--file", str(token_file),
                        "--json", *demo.data)  # fmt: skip
    assert imported == {"product": "JSON-PRODUCT", "added": 2, "read": 2, "duplicates": 0}
    listed = document(capsys, "tokens", "list", "--product", "JSON-PRODUCT", "--json", *demo.data)
    assert listed["count"] == listed["available"] == 2 and len(listed["tokens"]) == 2
    assert all(token["uses"] == 0 and token["exhausted"] is False for token in listed["tokens"])
    everything = json.dumps([imported, listed, document(capsys, "tokens", "list", "--json", *demo.data)])
    assert not [token for token in [*new_tokens, *demo.tokens()] if token in everything]


# --- simulated units ---------------------------------------------------------------------------


def test_sim_create_list_show_fault(sim_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    created = document(capsys, "sim", "create", "--count", "2", "--json")
    assert [unit["probe_id"] for unit in created["units"]] == ["sim:unit-0001", "sim:unit-0002"]
    faulted = document(capsys, "sim", "fault", "unit-0001", "algo-hang", "--json")
    assert faulted == {"probe_id": "sim:unit-0001", "faults": ["algo-hang"], "locked": False}
    listed = document(capsys, "sim", "list", "--json")
    assert [unit["unit"] for unit in listed["units"]] == ["unit-0001", "unit-0002"]
    assert listed["units"][0]["faults"] == ["algo-hang"] and listed["units"][1]["locked"] is False
    shown = document(capsys, "sim", "show", "sim:unit-0002", "--json")
    assert shown["unit"] == "unit-0002" and shown["device_id"] == listed["units"][1]["device_id"]
    assert shown["boot_count"] == 0 and shown["locked"] is False and len(shown["regions"]) == 6
    assert shown["regions"][0]["name"] == "bootloader" and shown["regions"][0]["content"] == "erased"


def test_sim_dms_add_product_and_show(sim_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    token_file = tmp_path / "tokens.txt"
    token_file.write_text("dms-json-token-1\ndms-json-token-2\n", encoding="utf-8")
    added = document(capsys, "sim", "dms", "add-product", "JSON-PRODUCT", "--token-file", str(token_file), "--json")
    assert added == {"product": "JSON-PRODUCT", "tokens": 2, "trusted_cas": 0, "production": True}
    shown = document(capsys, "sim", "dms", "show", "--json")
    assert shown["products"] == [{"code": "JSON-PRODUCT", "production": True, "tokens": 2,
                                  "trusted_ca_fingerprints": [], "devices": []}]  # fmt: skip
    assert "dms-json-token" not in json.dumps([added, shown])


def test_sim_serve_and_host_stream_ndjson(sim_dir: Path) -> None:
    assert main(["sim", "create"]) == 0
    environment = {**os.environ, "STATION_SIM_DIR": str(sim_dir)}
    server = subprocess.Popen([sys.executable, "-m", "station", "sim", "serve", "--json"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=environment)  # fmt: skip
    try:
        assert server.stdout is not None
        console = json.loads(server.stdout.readline())
        assert console["event"] == "console" and console["probe_id"] == "sim:unit-0001"
        assert Path(console["port"]).exists()
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert server.returncode == 0

    host = subprocess.Popen([sys.executable, "-m", "station", "sim", "host", "--exit-with-stdin", "--json"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=environment)  # fmt: skip
    try:
        assert host.stdout is not None and host.stdin is not None
        assert json.loads(host.stdout.readline()) == {"event": "ready", "sim_dir": str(sim_dir)}
        host.stdin.close()
        assert host.wait(timeout=60) == 0
    finally:
        if host.poll() is None:
            host.terminate()
            host.wait(timeout=30)
