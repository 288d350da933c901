"""``station tokens import|list`` on the real store: fingerprints shown, tokens never."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from station.app import main
from station.config import VAULT_PASSPHRASE_ENVIRONMENT_VARIABLE

PASSPHRASE = "vault passphrase for the line"
TOKENS = ["Zq8JrT1bX4mN6pQ2wE9vK3aL", "Hh7sD2fG5jK8lZ1xC4vB6nM9", "Pp0oI9uY8tR7eW6qA5sD4fG3"]


@pytest.fixture
def database(station_data_dir: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    assert main(["db", "upgrade"]) == 0
    capsys.readouterr()
    return station_data_dir / "station.db"


def token_file(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "tokens.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_import_and_list_show_fingerprints_only(
    database: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(VAULT_PASSPHRASE_ENVIRONMENT_VARIABLE, PASSPHRASE)
    path = token_file(tmp_path, ["# ACME toaster tokens", *TOKENS, TOKENS[0]])

    assert main(["-v", "tokens", "import", "--product", "ACME-TOASTER", "--file", str(path), "--use-limit", "2"]) == 0
    imported = capsys.readouterr()
    assert "imported 3 new activation token(s) for ACME-TOASTER (4 read, 1 already known or repeated)" in imported.out

    assert main(["tokens", "list"]) == 0
    listed = capsys.readouterr()
    rows = [line for line in listed.out.splitlines() if line.startswith("tok:")]
    assert len(rows) == 3
    assert all("ACME-TOASTER" in row and row.split()[2:4] == ["0", "2"] for row in rows)
    assert "3 token(s), 3 available" in listed.out

    assert main(["tokens", "list", "--product", "ACME-FRIDGE"]) == 0
    assert "no activation tokens for ACME-FRIDGE" in capsys.readouterr().out

    assert main(["db", "verify"]) == 0  # the import was audited, signed by the station key
    verified = capsys.readouterr()

    everything = imported.out + imported.err + listed.out + listed.err + verified.out + caplog.text
    stored = b"".join(path.read_bytes() for path in database.parent.glob("station.db*"))
    for token in TOKENS:
        assert token not in everything
        assert token.encode() not in stored


def test_import_again_asks_no_confirmation_and_skips_known_tokens(
    database: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(VAULT_PASSPHRASE_ENVIRONMENT_VARIABLE, PASSPHRASE)
    path = token_file(tmp_path, TOKENS[:2])
    assert main(["tokens", "import", "--product", "ACME-TOASTER", "--file", str(path)]) == 0
    assert main(["tokens", "import", "--product", "ACME-TOASTER", "--file", str(path)]) == 0
    assert "imported 0 new activation token(s)" in capsys.readouterr().out


def test_wrong_passphrase_exits_2(
    database: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(VAULT_PASSPHRASE_ENVIRONMENT_VARIABLE, PASSPHRASE)
    assert main(["tokens", "import", "--product", "ACME-TOASTER", "--file", str(token_file(tmp_path, TOKENS[:1]))]) == 0
    monkeypatch.setenv(VAULT_PASSPHRASE_ENVIRONMENT_VARIABLE, "not the vault passphrase")
    assert main(["tokens", "import", "--product", "ACME-TOASTER", "--file", str(token_file(tmp_path, TOKENS[1:]))]) == 2
    assert "station: error [VAULT]: wrong vault passphrase" in capsys.readouterr().err
    assert main(["tokens", "list"]) == 0
    assert "1 token(s), 1 available" in capsys.readouterr().out


def test_bad_file_exits_2_naming_lines_not_tokens(
    database: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(VAULT_PASSPHRASE_ENVIRONMENT_VARIABLE, PASSPHRASE)
    path = token_file(tmp_path, [TOKENS[0], f"{TOKENS[1]} {TOKENS[2]}"])
    assert main(["tokens", "import", "--product", "ACME-TOASTER", "--file", str(path)]) == 2
    err = capsys.readouterr().err
    assert "line 2: contains whitespace inside the token" in err
    for token in TOKENS:
        assert token not in err
    assert main(["tokens", "list"]) == 0
    assert "no activation tokens" in capsys.readouterr().out


def test_missing_file_and_missing_passphrase(
    database: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["tokens", "import", "--product", "ACME-TOASTER", "--file", str(tmp_path / "none.txt")]) == 2
    assert "token file" in capsys.readouterr().err
    path = token_file(tmp_path, TOKENS)
    assert main(["tokens", "import", "--product", "ACME-TOASTER", "--file", str(path)]) == 2
    assert "no vault passphrase: set STATION_VAULT_PASSPHRASE" in capsys.readouterr().err


def test_database_without_schema_is_refused(
    station_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(VAULT_PASSPHRASE_ENVIRONMENT_VARIABLE, PASSPHRASE)
    path = token_file(tmp_path, TOKENS)
    assert main(["tokens", "import", "--product", "ACME-TOASTER", "--file", str(path)]) == 2
    assert "station db upgrade" in capsys.readouterr().err
