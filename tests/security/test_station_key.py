"""The station's Ed25519 key: created once with mode 0600, then the same key every time."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from station.domain.errors import StationKeyError
from station.domain.vault_and_signing import AuditSigner
from station.security.station_key import StationPublicKey, load_or_create_station_key, load_station_key


def test_created_once_with_mode_0600_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "data" / "station-key.pem"
    key = load_or_create_station_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    content = path.read_bytes()
    assert content.startswith(b"-----BEGIN PRIVATE KEY-----")

    again = load_or_create_station_key(path)
    assert path.read_bytes() == content
    assert again.public_key_fingerprint == key.public_key_fingerprint
    assert len(key.public_key_fingerprint) == 64


def test_signs_and_verifies_as_an_audit_signer(tmp_path: Path) -> None:
    key = load_or_create_station_key(tmp_path / "station-key.pem")
    signer: AuditSigner = key
    signature = signer.sign(b"entry 1")
    assert signer.verify(b"entry 1", signature)
    assert not signer.verify(b"entry 2", signature)

    public = StationPublicKey.from_pem(key.public_key_pem())
    assert public.verify(b"entry 1", signature)
    assert public.public_key_fingerprint == key.public_key_fingerprint
    assert "PRIVATE" not in key.public_key_pem()
    assert repr(key) == f"StationKey(fingerprint={key.public_key_fingerprint})"


def test_unusable_key_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "station-key.pem"
    path.write_bytes(b"not a key")
    os.chmod(path, 0o600)
    with pytest.raises(StationKeyError, match="is not an unencrypted PEM private key"):
        load_or_create_station_key(path)
    assert path.read_bytes() == b"not a key"  # never replaced

    with pytest.raises(StationKeyError, match="does not exist"):
        load_station_key(tmp_path / "missing.pem")


def test_key_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "station-key.pem"
    load_or_create_station_key(path)
    os.chmod(path, 0o644)
    with pytest.raises(StationKeyError, match="readable by others"):
        load_station_key(path)
