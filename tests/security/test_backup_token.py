"""A backup whose key an AES key in a SoftHSM2 token protects: restored with the token (the same
chain head), refused without it; the token's PIN is in no message and no file of the archive."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from station.app import main
from station.config.paths import StationPaths
from station.domain.chain import ChainHead
from station.domain.errors import KeyStoreError
from station.operations.backup import make_backup
from station.operations.backup_archive import DEFAULT_BACKUP_KEY_LABEL, open_backup_token_key
from station.operations.restore import archive_header, restore_station, unlock_archive
from station.security.station_key import load_or_create_station_key
from station.store import open_database

from .softhsm import TOKEN_LABEL, USER_PIN, SoftHsm


def _station(tmp_path: Path) -> StationPaths:
    data_dir = tmp_path / "station"
    paths = StationPaths(data_dir, f"sqlite:///{data_dir / 'station.db'}")
    data_dir.mkdir()
    key = load_or_create_station_key(paths.station_key_path)
    database = open_database(paths.db_url)
    try:
        database.upgrade()
        database.keep_head_in(data_dir)
        database.audit_log(key).append_audit("engineer:eve", "test.entry", "an entry to back up")
    finally:
        database.dispose()
    return paths


def _head(paths: StationPaths) -> ChainHead | None:
    database = open_database(paths.db_url, create_dirs=False)
    try:
        return database.chain_head()
    finally:
        database.dispose()


def test_a_token_protected_backup_restores_only_with_the_token(softhsm: SoftHsm, tmp_path: Path) -> None:
    paths = _station(tmp_path)
    head = _head(paths)
    uri = f"pkcs11:token={TOKEN_LABEL}?module-path={softhsm.uri().module_path}"
    token = open_backup_token_key(uri, prompt=lambda _question: USER_PIN, create=True)  # makes the key
    try:
        summary = make_backup(paths, paths.data_dir / "station.toml", tmp_path / "line.backup", station="line",
                              token=token)  # fmt: skip
    finally:
        token.close()
    archive = summary.path.read_bytes()
    assert USER_PIN.encode() not in archive
    header = archive_header(summary.path)
    assert header.protection == "pkcs11" and header.token_uri is not None
    assert f"object={DEFAULT_BACKUP_KEY_LABEL}" in header.token_uri and "pin-" not in header.token_uri

    shutil.rmtree(paths.data_dir)
    token = open_backup_token_key(header.token_uri, prompt=lambda _question: USER_PIN)
    try:
        key = unlock_archive(header, token=token)
    finally:
        token.close()
    restore_station(summary.path, header, key, paths)
    assert _head(paths) == head and head is not None

    # Without the token nothing opens, and nothing is written.
    shutil.rmtree(paths.data_dir)
    softhsm.wipe()
    with pytest.raises(KeyStoreError) as refused:
        open_backup_token_key(header.token_uri, prompt=lambda _question: USER_PIN)
    assert USER_PIN not in str(refused.value)
    assert not paths.data_dir.exists()


def test_the_command_line_backs_up_and_restores_with_the_token(
    softhsm: SoftHsm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = _station(tmp_path)
    head = _head(paths)
    monkeypatch.setenv("STATION_DATA_DIR", str(paths.data_dir))
    pin_file = tmp_path / "token.pin"
    pin_file.write_text(USER_PIN + "\n", encoding="utf-8")
    pin_file.chmod(0o600)
    uri = f"pkcs11:token={TOKEN_LABEL};object=line-backups?module-path={softhsm.uri().module_path}"
    archive = tmp_path / "line.backup"
    assert main(["backup", "--out", str(archive), "--pkcs11", uri, "--pin-file", str(pin_file)]) == 0
    made = capsys.readouterr()
    assert "its key protected by the token key pkcs11:token=station-test" in made.out
    assert "object=line-backups" in made.out

    shutil.rmtree(paths.data_dir)
    assert main(["restore", str(archive), "--pin-file", str(pin_file)]) == 0
    restored = capsys.readouterr()
    assert "db verify: chain OK" in restored.out and _head(paths) == head
    assert USER_PIN not in made.out + made.err + restored.out + restored.err
