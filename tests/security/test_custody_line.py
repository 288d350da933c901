"""Issue 18's must-show for key custody: a station whose CA key, signing key and vault key live in
a SoftHSM2 token, driven through the ``station`` command line on simulated units.

The CA is made in the token (``station ca init --pkcs11``), three units are provisioned and
their certificates verify against it with cryptography and ``openssl verify``; an export signed
by the token key verifies with ``station report verify`` and ``openssl``; a copy of the data
directory without the token opens nothing, and no token secret can be read from it; the PIN
appears in no output, log or file.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from station.app import main
from station.config.custody import CustodySettings
from station.config.settings import StationSettings, save_settings
from station.security.vault import TokenVault
from station.sim.demo import DEMO_VAULT_PASSPHRASE, DemoEnvironment, prepare_demo
from station.store import open_database

from .softhsm import SOFTHSM_MODULE, TOKEN_LABEL, USER_PIN, SoftHsm

TOKEN = f"pkcs11:token={TOKEN_LABEL}"
SERIALS = ("TST-000701", "TST-000702", "TST-000703")


@pytest.fixture
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DemoEnvironment]:
    monkeypatch.setenv("STATION_SIM_DIR", str(tmp_path / "demo" / "sim"))
    monkeypatch.setenv("STATION_NAME", "line-1-hsm")
    for name in ("STATION_CA_PASSPHRASE", "STATION_VAULT_PASSPHRASE", "STATION_DATA_DIR", "STATION_DB_URL"):
        monkeypatch.delenv(name, raising=False)
    yield prepare_demo(tmp_path / "demo")


def token_station(data_dir: Path, tmp_path: Path) -> Path:
    """A data directory whose settings keep every key in the test token; the PIN in a private file."""
    pin_file = tmp_path / "token.pin"
    pin_file.write_text(USER_PIN + "\n", encoding="utf-8")
    pin_file.chmod(0o600)
    custody = CustodySettings(
        pkcs11_module=SOFTHSM_MODULE, ca_key=f"{TOKEN};object=factory-ca",
        station_key=f"{TOKEN};object=station-signing", vault_key=f"{TOKEN};object=vault-wrap", pin_file=pin_file,
    )  # fmt: skip
    data_dir.mkdir(parents=True)
    save_settings(StationSettings(custody=custody), data_dir / "station.toml")
    return data_dir


def demo_tokens(environment: DemoEnvironment, count: int) -> list[str]:
    """Activation tokens the simulated device service knows (test-only: read from the demo vault)."""
    database = open_database(environment.paths.db_url)
    try:
        vault = TokenVault(database.tokens).unlocked(DEMO_VAULT_PASSPHRASE)
        return [vault.open(sealed).secret() for sealed in database.tokens.sealed_tokens("ACME-TOASTER")[:count]]
    finally:
        database.dispose()


def everything_written(*roots: Path) -> bytes:
    return b"".join(path.read_bytes() for root in roots for path in sorted(root.rglob("*")) if path.is_file())


def test_a_station_whose_keys_live_in_a_token(
    environment: DemoEnvironment, softhsm: SoftHsm, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = token_station(tmp_path / "line-data", tmp_path)
    where = ["--data-dir", str(data)]
    assert main(["ca", "init", "--pkcs11", f"{TOKEN};object=factory-ca", "--common-name", "HSM Factory CA",
                 *where]) == 0  # fmt: skip
    created = capsys.readouterr().out
    assert "made in the token; it never leaves it" in created and f"token {TOKEN_LABEL!r}" in created
    assert not (data / "ca" / "ca-key.pem").exists() and (data / "ca" / "ca-key.uri").exists()
    ca_pem = (data / "ca" / "ca-cert.pem").read_bytes()
    ca_certificate = x509.load_pem_x509_certificate(ca_pem)
    environment.service.trust_ca("ACME-TOASTER", ca_pem)  # the customer's cloud trusts this station's CA

    assert main(["db", "upgrade", *where]) == 0
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("\n".join(demo_tokens(environment, 5)) + "\n", encoding="utf-8")
    assert main(["tokens", "import", "--file", str(tokens), "--product", "ACME-TOASTER", *where]) == 0
    tokens.unlink()
    assert (data / "vault-key.wrapped").exists()

    recipe = str(environment.recipe_for("nrf52840"))
    with environment.console_server() as consoles:
        for serial in SERIALS:
            unit = environment.units.create_unit()
            consoles.wait_for_port(unit.unit_id)
            code = main(["provision", "--recipe", recipe, "--serial", serial, "--probe", unit.probe_id,
                         "--console", environment.console_path(unit), "--operator", "ann", *where])  # fmt: skip
            assert code == 0, capsys.readouterr()
            unit.close()
    assert [line for line in capsys.readouterr().out.splitlines() if line.startswith("PASS")] == [
        f"PASS {serial}" for serial in SERIALS]  # fmt: skip

    # Each device certificate was signed in the token: cryptography and openssl both say so.
    database = open_database(f"sqlite:///{data / 'station.db'}")
    try:
        issued = [credential.certificate_pem for serial in SERIALS
                  for credential in database.credentials.credentials_for_serial(serial)]  # fmt: skip
    finally:
        database.dispose()
    assert len(issued) == 3
    for index, pem in enumerate(issued):
        x509.load_pem_x509_certificate(pem.encode()).verify_directly_issued_by(ca_certificate)
        device = tmp_path / f"device-{index}.pem"
        device.write_text(pem, encoding="ascii")
        checked = subprocess.run(["openssl", "verify", "-CAfile", str(data / "ca" / "ca-cert.pem"), str(device)],
                                 capture_output=True, text=True, check=False)  # fmt: skip
        assert checked.returncode == 0 and checked.stdout.strip().endswith(": OK"), checked

    # An export signed by the token key: the station and openssl verify it.
    export = tmp_path / "attempts.csv"
    assert main(["report", "export", "--format", "csv", "--out", str(export), *where]) == 0
    assert main(["report", "verify", str(export), *where]) == 0
    assert '"signature_algorithm": "ed25519"' in Path(f"{export}.manifest.json").read_text(encoding="utf-8")
    checked = subprocess.run(
        ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(data / "station-key.pub"), "-rawin",
         "-in", f"{export}.manifest.json", "-sigfile", f"{export}.sig"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert checked.returncode == 0 and "Signature Verified Successfully" in checked.stdout, checked
    assert main(["db", "verify", *where]) == 0
    assert main(["ca", "show", *where]) == 0
    assert f"private key token {TOKEN_LABEL!r}" in capsys.readouterr().out
    assert main(["status", *where]) == 0
    status = capsys.readouterr().out
    for line in (f"station key  token {TOKEN};object=station-signing", f"CA key       token {TOKEN_LABEL!r}",
                 f"vault key    token {TOKEN};object=vault-wrap"):  # fmt: skip
        assert line in status, status

    # The data directory copied to another machine, without the token: nothing opens.
    copy = tmp_path / "copied-data"
    shutil.copytree(data, copy)
    softhsm.wipe()
    softhsm.init_token("another-token")  # a token is there, just not this station's
    copied = ["--data-dir", str(copy)]
    capsys.readouterr()
    unit = environment.units.create_unit()
    with environment.console_server() as consoles:
        consoles.wait_for_port(unit.unit_id)
        assert main(["provision", "--recipe", recipe, "--serial", "TST-000704", "--probe", unit.probe_id,
                     "--console", environment.console_path(unit), "--operator", "ann", *copied]) != 0  # fmt: skip
    assert unit.reload().protected is False and not unit.reload().ever_erased
    unit.close()
    refused = capsys.readouterr().err
    assert f"token {TOKEN_LABEL!r}" in refused and "not" in refused, refused
    refreshed = tmp_path / "more-tokens.txt"
    refreshed.write_text("x" * 32 + "\n", encoding="utf-8")
    assert main(["tokens", "import", "--file", str(refreshed), "--product", "ACME-TOASTER", *copied]) != 0
    assert f"token {TOKEN_LABEL!r}" in capsys.readouterr().err

    # Nothing in either directory, the output or the log holds a token's secret or the PIN.
    written = everything_written(data, copy)
    for secret in demo_tokens(environment, 5):
        assert secret.encode() not in written
    assert USER_PIN.encode() not in written
    assert USER_PIN not in capsys.readouterr().out
