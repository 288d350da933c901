"""``station ca init|show``: passphrase from the environment or a prompt; an existing CA is never replaced."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from station.app import main
from station.config import CA_PASSPHRASE_ENVIRONMENT_VARIABLE
from station.security.ca import CA_KEY_FILE, load_ca

PASSPHRASE = "factory CA passphrase"


def test_init_then_show(
    station_data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(CA_PASSPHRASE_ENVIRONMENT_VARIABLE, PASSPHRASE)
    assert main(["ca", "init", "--common-name", "Line 7 CA", "--validity-days", "365"]) == 0
    created = capsys.readouterr().out
    assert "created factory CA in" in created and "CN=Line 7 CA" in created
    assert PASSPHRASE not in created

    assert main(["ca", "show"]) == 0
    out = capsys.readouterr().out
    certificate = x509.load_pem_x509_certificate(out.encode())
    fingerprint = hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()
    assert f"sha256      {fingerprint}" in out and f"sha256      {fingerprint}" in created
    assert "subject     CN=Line 7 CA" in out
    assert load_ca(station_data_dir / "ca", PASSPHRASE).certificate == certificate


def test_init_twice_exits_2_and_keeps_the_first_key(
    station_data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(CA_PASSPHRASE_ENVIRONMENT_VARIABLE, PASSPHRASE)
    assert main(["ca", "init"]) == 0
    key = (station_data_dir / "ca" / CA_KEY_FILE).read_bytes()
    capsys.readouterr()

    monkeypatch.setenv(CA_PASSPHRASE_ENVIRONMENT_VARIABLE, "a different passphrase")
    assert main(["ca", "init"]) == 2
    assert "station: error [CA]: a factory CA already exists" in capsys.readouterr().err
    assert (station_data_dir / "ca" / CA_KEY_FILE).read_bytes() == key


def test_without_passphrase_and_without_terminal(
    station_data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ca", "init"]) == 2
    assert (
        "station: error [PASSPHRASE]: no CA passphrase: set STATION_CA_PASSPHRASE or run the command in a terminal"
    ) in capsys.readouterr().err
    assert not (station_data_dir / "ca").exists()


def _prompts(monkeypatch: pytest.MonkeyPatch, answers: list[str]) -> list[str]:
    asked: list[str] = []
    replies: Iterator[str] = iter(answers)

    def fake_getpass(prompt: str = "") -> str:
        asked.append(prompt)
        return next(replies)

    monkeypatch.setattr("station.cli.passphrase.interactive", lambda: True)
    monkeypatch.setattr("getpass.getpass", fake_getpass)
    return asked


def test_prompted_twice_on_a_terminal(station_data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    asked = _prompts(monkeypatch, [PASSPHRASE, PASSPHRASE])
    assert main(["ca", "init"]) == 0
    assert asked == ["CA passphrase: ", "CA passphrase again: "]
    load_ca(station_data_dir / "ca", PASSPHRASE)


def test_prompted_passphrases_that_differ(
    station_data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _prompts(monkeypatch, [PASSPHRASE, PASSPHRASE + "!"])
    assert main(["ca", "init"]) == 2
    err = capsys.readouterr().err
    assert "the two CA passphrases differ; nothing was changed" in err and PASSPHRASE not in err
    assert not (station_data_dir / "ca").exists()


def test_show_without_a_ca(station_data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ca", "show"]) == 2
    assert "no factory CA in" in capsys.readouterr().err
