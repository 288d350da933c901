"""No secret reaches the database file, its WAL, or an export.

Tokens reach the store only as AES-GCM ciphertext with a keyed fingerprint; credentials only
as certificates. After a realistic run, the raw bytes of every file are searched for the
token text and for any private-key marker or key material.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

from station.app import main
from station.domain.records import AttemptResult, JournalState, SealedToken, StepOutcome
from station.domain.vault_and_signing import VaultParameters
from station.store import Database, open_database

from .conftest import RECIPE_TEXT, TestSigner

TOKENS = [f"ACT-{index}-9f8e7d6c5b4a39281706f5e4d3c2b1a0-SECRET" for index in range(5)]


def _certificate(serial: str) -> tuple[str, tuple[bytes, bytes], str, str]:
    """A device certificate (PEM), its private key (raw scalar, PKCS#8 DER), serial hex and fingerprint."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, serial)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    key_der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    fingerprint = hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    scalar = key.private_numbers().private_value.to_bytes(32, "big")
    return pem, (scalar, key_der), f"{certificate.serial_number:x}", fingerprint


def _seal(tokens: list[str], key: bytes, fingerprint_key: bytes) -> list[SealedToken]:
    sealed = []
    for token in tokens:
        nonce = os.urandom(12)
        sealed.append(SealedToken(
            fingerprint=hmac.new(fingerprint_key, token.encode(), hashlib.sha256).hexdigest(),
            product="ACME-TOASTER", nonce=nonce,
            ciphertext=AESGCM(key).encrypt(nonce, token.encode(), b"ACME-TOASTER"),
            use_limit=2, imported_at=datetime.now(UTC),
        ))
    return sealed


def _secret_needles(private_keys: list[tuple[bytes, bytes]]) -> list[bytes]:
    needles = [token.encode() for token in TOKENS] + [b"PRIVATE KEY"]
    for scalar, der in private_keys:
        needles.append(scalar)  # raw key material
        needles.append(scalar.hex().encode())
        needles.append(base64.b64encode(der)[12:52])  # a stretch of its PEM body
    return needles


def test_database_wal_and_exports_hold_no_secret(
    sqlite_database: Database, sqlite_url: str, sqlite_path: Path, signer: TestSigner, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    database = sqlite_database
    vault_key, fingerprint_key = AESGCM.generate_key(256), os.urandom(32)
    database.tokens.set_vault_parameters(VaultParameters(
        salt=os.urandom(16), scrypt_n=2**14, scrypt_r=8, scrypt_p=1, check_nonce=os.urandom(12),
        check_value=AESGCM(vault_key).encrypt(b"\0" * 12, b"vault check", None),
    ))
    assert database.tokens.add_sealed_tokens(_seal(TOKENS, vault_key, fingerprint_key)) == len(TOKENS)
    sealed = database.tokens.sealed_tokens("ACME-TOASTER")
    audit = database.audit_log(signer)
    audit.append_audit("operator:ann", "tokens.import", f"{len(TOKENS)} tokens for ACME-TOASTER")

    recipe = database.registry.record_recipe(RECIPE_TEXT, "ACME-TOASTER")
    private_keys = []
    for index in range(6):
        serial = f"SN-{index:04d}"
        attempt = database.attempts.create_attempt(serial=serial, station="st1", operator="ann",
                                                   recipe_hash=recipe.sha256, product="ACME-TOASTER",
                                                   work_order="WO-1")
        step = database.attempts.start_step(attempt.id, "credentials")
        assert step.id is not None, "a started step is stored, so it has an id"
        pem, key_der, certificate_serial, fingerprint = _certificate(serial)
        private_keys.append(key_der)
        database.credentials.reserve_credential(
            certificate_serial=certificate_serial, certificate_fingerprint=fingerprint, serial=serial,
            device_id=f"DEV-{index}", attempt_id=attempt.id, certificate_pem=pem)
        database.credentials.mark_injected(certificate_serial)
        database.attempts.finish_step(step.id, StepOutcome.PASSED)
        database.attempts.advance(attempt.id, JournalState.ACTIVATED)
        token = sealed[index % len(sealed)]
        database.tokens.record_token_use(token.fingerprint, attempt.id)
        database.attempts.append_transcript(attempt.id, "> activate ***\n< activated\n")
        database.attempts.finish_attempt(attempt.id, AttemptResult.PASSED)
        audit.append_audit("station:st1", "unit.passed", serial)

    exports = tmp_path / "exports"
    exports.mkdir()
    data_dir = sqlite_path.parent  # the station that signed the chain signs the exports
    signer.write_private_pem(data_dir / "station-key.pem")
    station = ["--db", sqlite_url, "--data-dir", str(data_dir)]
    assert main(["report", "export", "--format", "csv", "--out", str(exports / "all.csv"), *station]) == 0
    assert main(["report", "export", "--format", "json", "--out", str(exports / "all.ndjson"), *station,
                 "--include-transcripts"]) == 0
    assert main(["units", "show", "SN-0001", "--db", sqlite_url]) == 0
    shown = capsys.readouterr().out
    (exports / "units-show.txt").write_text(shown, encoding="utf-8")
    assert sealed[1].fingerprint in shown  # fingerprints are what the record shows

    # The files as they are while the station runs: the WAL still holds the recent pages.
    files = [sqlite_path, *sqlite_path.parent.glob("station.db-*"), *exports.iterdir()]
    wal = sqlite_path.with_name("station.db-wal")
    assert wal in files and wal.stat().st_size > 0
    needles = _secret_needles(private_keys)
    for path in files:
        data = path.read_bytes()
        for needle in needles:
            assert needle not in data, f"{path.name} holds a secret ({needle[:12]!r}...)"
    # ...and after a checkpoint folds the WAL into the database file.
    database.dispose()
    reopened = open_database(sqlite_url)
    with reopened.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    reopened.dispose()
    data = sqlite_path.read_bytes()
    assert all(needle not in data for needle in needles)
    # The ciphertext did reach the store: the scan above looked at the right files.
    assert sealed[0].ciphertext in data
