"""Issue 18's must-show for signed recipes, through the ``station`` command line on simulated units.

A demo line whose settings put it in production: engineers eve and dan and supervisor sam make
their keys with ``station people key new``. An unsigned recipe, one signed by a non-engineer,
one approved by its own signer when two people are required, and a recipe or an image changed
by one byte after signing: each is refused by ``station recipe check`` and by
``station provision`` with its code, and the unit is never touched. A recipe signed by eve and
approved by sam provisions a unit, and the attempt's recipe record and the PDF's cover name both.
No passphrase, PIN or private key appears in any output, log, signature or database file.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from operations.recipe_signing_support import PASSPHRASE, PINS, ROLES, change_one_byte, forge, recipe_copy
from reports.pdf_support import needs_poppler, pdf_text

from station.app import CompositionRoot, main
from station.config.paths import SIGNING_KEY_PASSPHRASE_ENVIRONMENT_VARIABLE
from station.domain.recipe_signature import signature_path
from station.domain.records import AttemptFilter
from station.operations.station import StationOptions
from station.security.signing_keys import generate_file_key, load_file_key
from station.sim.demo import DEMO_CA_PASSPHRASE, DEMO_VAULT_PASSPHRASE, DemoEnvironment, prepare_demo
from station.sim.demo_recipe import write_demo_recipe
from station.sim.firmware import build_demo_firmware
from station.store import open_database


@dataclass
class ProductionLine:
    environment: DemoEnvironment
    data: Path
    folder: Path
    pin_files: dict[str, Path]
    key_files: dict[str, Path]
    outputs: list[str] = field(default_factory=list)  # everything the commands printed

    @property
    def store(self) -> list[str]:
        return ["--data-dir", str(self.data)]

    def run(self, capsys: pytest.CaptureFixture[str], *words: str) -> tuple[int, str, str]:
        code = main([*words, *self.store])
        captured = capsys.readouterr()
        self.outputs += [captured.out, captured.err]
        return code, captured.out, captured.err

    def sign(self, capsys: pytest.CaptureFixture[str], action: str, path: Path, person: str) -> tuple[int, str, str]:
        return self.run(capsys, "recipe", action, str(path), "--as", person, "--key", str(self.key_files[person]))

    def copy(self, name: str, *, two_people: bool = False) -> Path:
        return recipe_copy(self.environment.recipe_for("nrf52840"), self.folder / name, two_people=two_people)


@pytest.fixture
def line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[ProductionLine]:
    monkeypatch.setenv("STATION_SIM_DIR", str(tmp_path / "demo" / "sim"))
    monkeypatch.setenv("STATION_NAME", "line-1-signed")
    for name in ("STATION_DATA_DIR", "STATION_DB_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("STATION_CA_PASSPHRASE", DEMO_CA_PASSPHRASE)
    monkeypatch.setenv("STATION_VAULT_PASSPHRASE", DEMO_VAULT_PASSPHRASE)
    monkeypatch.setenv(SIGNING_KEY_PASSPHRASE_ENVIRONMENT_VARIABLE, PASSPHRASE)
    environment = prepare_demo(tmp_path / "demo")
    data = environment.paths.data_dir
    (data / "station.toml").write_text('[custody]\nmode = "production"\n', encoding="utf-8")
    station = CompositionRoot().open_station(StationOptions(data_dir=data))
    try:
        for name, pin in PINS.items():
            station.people.add(name, ROLES[name], pin)
    finally:
        station.close()
    pin_files: dict[str, Path] = {}
    for name, pin in PINS.items():
        pin_files[name] = tmp_path / f"{name}.pin"
        pin_files[name].write_text(pin + "\n", encoding="utf-8")
        pin_files[name].chmod(0o600)
    keys = tmp_path / "keys"
    keys.mkdir()
    production = ProductionLine(environment, data, tmp_path / "cases", pin_files,
                                {name: keys / f"{name}.key" for name in PINS})  # fmt: skip
    for name in PINS:
        code, out, err = production.run(capsys, "people", "key", "new", name, "--out", str(production.key_files[name]),
                                        "--pin-file", str(pin_files[name]))  # fmt: skip
        assert code == 0, err
        assert out.startswith(f"registered: {name}")
    yield production


def _attempt_count(line: ProductionLine) -> int:
    database = open_database(line.environment.paths.db_url)
    try:
        return database.attempts.count_attempts(AttemptFilter())
    finally:
        database.dispose()


def test_each_refusal_is_refused_at_check_and_at_start_and_the_unit_is_never_touched(
    line: ProductionLine, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = {name: load_file_key(path, PASSPHRASE) for name, path in line.key_files.items()}
    unsigned = line.copy("unsigned")
    by_supervisor = line.copy("by-supervisor")
    code, _, err = line.sign(capsys, "sign", by_supervisor, "sam")
    assert code == 2 and "[RECIPE_SIGNER]" in err and "sam has the role supervisor" in err
    forge(by_supervisor, keys["sam"], "sam", "engineer")  # made by hand instead
    self_approved = line.copy("self-approved", two_people=True)
    assert line.sign(capsys, "sign", self_approved, "eve")[0] == 0
    code, _, err = line.sign(capsys, "approve", self_approved, "eve")
    assert code == 2 and "[RECIPE_SELF_APPROVAL]" in err
    forge(self_approved, keys["eve"], "eve", "engineer", approval=(keys["eve"], "eve", "engineer"))
    recipe_changed = line.copy("recipe-changed")
    assert line.sign(capsys, "sign", recipe_changed, "eve")[0] == 0
    change_one_byte(recipe_changed)
    image_changed = line.copy("image-changed")
    assert line.sign(capsys, "sign", image_changed, "eve")[0] == 0
    change_one_byte(image_changed.with_name("application.bin"), b"")
    cases = {
        unsigned: "RECIPE_UNSIGNED",
        by_supervisor: "RECIPE_SIGNER",
        self_approved: "RECIPE_SELF_APPROVAL",
        recipe_changed: "RECIPE_CHANGED",
        image_changed: "RECIPE",  # the image no longer matches the hash the signed recipe pins
    }
    environment = line.environment
    unit = environment.create_units(1, target="nrf52840")[0]
    try:
        before = unit.reload()
        for path, code_name in cases.items():
            code, out, err = line.run(capsys, "recipe", "check", str(path))
            assert (code, out) == (2, ""), (path, out)
            assert f"station: error [{code_name}]:" in err, (path, err)
            code, out, err = line.run(
                capsys, "provision", "--recipe", str(path), "--serial", "TST-000901", "--probe", unit.probe_id,
                "--console", environment.console_path(unit), "--operator", "ann",
            )  # fmt: skip
            assert code == 2 and "PASS" not in out and "connect" not in out, (path, out)
            assert f"station: error [{code_name}]:" in err, (path, err)
            code, out, _ = line.run(capsys, "recipe", "check", "--json", str(path))
            assert code == 2 and f'"code": "{code_name}"' in out
        after = unit.reload()
    finally:
        unit.close()
    assert (after.boot_count, after.protected, after.activated_product, after.ever_erased) == (
        before.boot_count, False, None, False)  # fmt: skip
    assert _attempt_count(line) == 0


@needs_poppler
def test_a_signed_approved_recipe_runs_and_its_record_and_report_name_signer_and_approver(
    line: ProductionLine, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = line.copy("approved", two_people=True)
    code, out, _ = line.sign(capsys, "sign", path, "eve")
    assert code == 0 and "approval    required ([approval] required = 2) and missing" in out
    code, _, err = line.run(capsys, "recipe", "check", str(path))
    assert code == 2 and "[RECIPE_APPROVAL_MISSING]" in err
    assert line.sign(capsys, "approve", path, "sam")[0] == 0
    code, out, _ = line.run(capsys, "recipe", "check", str(path))
    eve, sam = (load_file_key(line.key_files[name], PASSPHRASE).public_key_fingerprint for name in ("eve", "sam"))
    assert code == 0
    assert "signature   eve (engineer) at " in out and f"ed25519 key {eve}" in out
    assert "approval    sam (supervisor) at " in out and f"ed25519 key {sam}" in out
    environment = line.environment
    with environment.console_server() as consoles:
        unit = environment.create_units(1, target="nrf52840")[0]
        consoles.wait_for_port(unit.unit_id)
        try:
            code, out, err = line.run(
                capsys, "provision", "--recipe", str(path), "--serial", "TST-000902", "--probe", unit.probe_id,
                "--console", environment.console_path(unit), "--operator", "ann",
            )  # fmt: skip
        finally:
            unit.close()
    assert code == 0 and "PASS TST-000902" in out, out + err
    database = open_database(environment.paths.db_url)
    try:
        [attempt] = list(database.attempts.iter_attempts(AttemptFilter(), with_transcripts=False))
        recipe = database.registry.get_recipe(attempt.recipe_hash)
    finally:
        database.dispose()
    assert recipe is not None and [(s.signer, s.signer_key, s.approver, s.approver_key) for s in recipe.signatures] \
        == [("eve", eve, "sam", sam)]  # fmt: skip
    assert recipe.signatures[0].document == signature_path(path).read_text(encoding="ascii")
    report = tmp_path / "report.pdf"
    code, _, err = line.run(capsys, "report", "export", "--format", "pdf", "--out", str(report))
    assert code == 0, err
    text = pdf_text(report)
    assert attempt.recipe_hash in text
    assert "signed by eve (engineer), key:" in text and eve in text
    assert "approved by sam (supervisor), key:" in text and sam in text


def test_no_passphrase_pin_or_private_key_reaches_outputs_logs_signatures_or_the_database(
    line: ProductionLine, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = line.copy("secrets", two_people=True)
    assert line.sign(capsys, "sign", path, "eve")[0] == 0
    assert line.sign(capsys, "approve", path, "sam")[0] == 0
    assert line.run(capsys, "recipe", "check", "--json", str(path))[0] == 0
    assert line.run(capsys, "people", "key", "list")[0] == 0
    monkeypatch.setenv(SIGNING_KEY_PASSPHRASE_ENVIRONMENT_VARIABLE, PASSPHRASE[::-1])  # a wrong passphrase
    code, _, err = line.sign(capsys, "approve", path, "dan")
    assert code == 2 and "[SIGNING_KEY]" in err and "wrong passphrase" in err
    wrong_pin = line.folder / "wrong.pin"
    wrong_pin.write_text("909090909\n", encoding="utf-8")
    wrong_pin.chmod(0o600)
    eve_public = line.key_files["eve"].with_name("eve.key.pub")
    code, _, err = line.run(capsys, "people", "key", "add", "dan", "--public-key", str(eve_public),
                            "--pin-file", str(wrong_pin))  # fmt: skip
    assert code == 2 and "wrong name or PIN" in err

    needles = [PASSPHRASE, PASSPHRASE[::-1], *PINS.values(), "909090909", "PRIVATE KEY"]
    for key_path in line.key_files.values():
        private = serialization.load_pem_private_key(key_path.read_bytes(), PASSPHRASE.encode())
        raw = private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                    serialization.NoEncryption())  # fmt: skip
        needles += [raw.hex(), base64.b64encode(raw).decode()[:24], key_path.read_text(encoding="ascii").split("\n")[1]]
    printed = "\n".join(line.outputs)
    files = [signature_path(path), *line.data.glob("station.db*"), *line.environment.paths.log_dir.rglob("*")]
    for needle in needles:
        assert needle not in printed, needle[:8]
        for file in files:
            if file.is_file():
                assert needle.encode() not in file.read_bytes(), (file.name, needle[:8])


def test_without_a_station_the_check_verifies_the_signature_but_not_the_people(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STATION_DATA_DIR", str(tmp_path / "no-station"))
    path = write_demo_recipe(tmp_path / "recipe", build_demo_firmware(tmp_path / "recipe"))
    forge(path, generate_file_key(tmp_path / "eve.key", PASSPHRASE), "eve", "engineer")
    assert main(["recipe", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "signature   eve (engineer) at " in out
    assert "the signers are not checked against a station's people: no station database at" in out
    production = tmp_path / "production.toml"
    production.write_text('[custody]\nmode = "production"\n', encoding="utf-8")
    assert main(["recipe", "check", str(path), "--settings", str(production)]) == 2
    assert "[RECIPE_SIGNER]" in capsys.readouterr().err
    change_one_byte(path)
    assert main(["recipe", "check", str(path)]) == 2  # a signature that is there must hold, station or not
    assert "[RECIPE_CHANGED]" in capsys.readouterr().err
    assert not (tmp_path / "no-station").exists()


def test_a_revoked_key_makes_its_signatures_refused(line: ProductionLine, capsys: pytest.CaptureFixture[str]) -> None:
    path = line.copy("revoked")
    assert line.sign(capsys, "sign", path, "eve")[0] == 0
    eve = load_file_key(line.key_files["eve"], PASSPHRASE).public_key_fingerprint
    code, _, err = line.run(capsys, "people", "key", "revoke", "eve", eve, "--by", "sam",
                            "--pin-file", str(line.pin_files["sam"]))  # fmt: skip
    assert code == 2 and "only eve or an engineer may revoke" in err
    code, out, _ = line.run(capsys, "people", "key", "revoke", "eve", eve, "--by", "dan",
                            "--pin-file", str(line.pin_files["dan"]))  # fmt: skip
    assert code == 0 and out.startswith("revoked: eve") and "revoked 20" in out
    code, _, err = line.run(capsys, "recipe", "check", str(path))
    assert code == 2 and "[RECIPE_SIGNER]" in err and f"used key {eve}, revoked at" in err
    code, out, _ = line.run(capsys, "people", "key", "list", "eve", "--json")
    [key] = json.loads(out)["keys"]
    assert key["fingerprint"] == eve and key["revoked_at"] is not None and "PRIVATE" not in out
