"""The factory CA: created once, key encrypted at rest, never overwritten, opened only with its passphrase."""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from station.domain.errors import CaError
from station.security.ca import (
    CA_CERTIFICATE_FILE,
    CA_KEY_FILE,
    ca_certificate,
    describe_certificate,
    init_ca,
    load_ca,
)

from .support import CA_PASSPHRASE


def test_init_creates_a_self_signed_ec_p256_ca_with_an_encrypted_key(tmp_path: Path) -> None:
    ca_dir = tmp_path / "ca"
    ca = init_ca(ca_dir, CA_PASSPHRASE, "Line 3 Factory CA", validity_days=1000)

    key_file = ca_dir / CA_KEY_FILE
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key_pem = key_file.read_bytes()
    assert key_pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert CA_PASSPHRASE.encode() not in key_pem
    with pytest.raises(TypeError):  # encrypted: unreadable without a password
        serialization.load_pem_private_key(key_pem, password=None)

    certificate = ca.certificate
    assert isinstance(certificate.public_key(), ec.EllipticCurvePublicKey)
    assert certificate.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]
    assert certificate.subject == certificate.issuer
    assert certificate.subject.rfc4514_string() == "CN=Line 3 Factory CA"
    certificate.verify_directly_issued_by(certificate)
    constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca
    assert certificate.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert 1000 <= lifetime.days <= 1001

    assert ca_certificate(ca_dir) == certificate
    assert ca.fingerprint == hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()
    assert describe_certificate(certificate)["sha256_fingerprint"] == ca.fingerprint
    assert "private" not in repr(ca).lower()


def test_load_with_the_right_passphrase_gives_the_same_key(tmp_path: Path) -> None:
    ca = init_ca(tmp_path / "ca", CA_PASSPHRASE)
    loaded = load_ca(tmp_path / "ca", CA_PASSPHRASE)
    assert loaded.certificate == ca.certificate
    assert loaded.private_key.private_numbers() == ca.private_key.private_numbers()


def test_init_twice_refuses_and_leaves_the_first_key_byte_identical(tmp_path: Path) -> None:
    ca_dir = tmp_path / "ca"
    init_ca(ca_dir, CA_PASSPHRASE)
    key_before = (ca_dir / CA_KEY_FILE).read_bytes()
    certificate_before = (ca_dir / CA_CERTIFICATE_FILE).read_bytes()

    with pytest.raises(CaError, match=r"a factory CA already exists .* it is never overwritten"):
        init_ca(ca_dir, "another passphrase entirely")

    assert (ca_dir / CA_KEY_FILE).read_bytes() == key_before
    assert (ca_dir / CA_CERTIFICATE_FILE).read_bytes() == certificate_before
    assert sorted(path.name for path in ca_dir.iterdir()) == [CA_CERTIFICATE_FILE, CA_KEY_FILE]


def test_init_refuses_when_only_the_key_is_there(tmp_path: Path) -> None:
    ca_dir = tmp_path / "ca"
    ca_dir.mkdir()
    (ca_dir / CA_KEY_FILE).write_bytes(b"precious")
    with pytest.raises(CaError, match="already exists"):
        init_ca(ca_dir, CA_PASSPHRASE)
    assert (ca_dir / CA_KEY_FILE).read_bytes() == b"precious"


def test_wrong_passphrase_is_a_clear_error_without_the_passphrase(tmp_path: Path) -> None:
    init_ca(tmp_path / "ca", CA_PASSPHRASE)
    wrong = "not the passphrase at all"
    with pytest.raises(CaError) as caught:
        load_ca(tmp_path / "ca", wrong)
    assert str(caught.value).startswith("wrong CA passphrase")
    assert wrong not in str(caught.value) and CA_PASSPHRASE not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_short_passphrase_is_refused_and_nothing_written(tmp_path: Path) -> None:
    with pytest.raises(CaError, match="at least 8 characters"):
        init_ca(tmp_path / "ca", "short")
    assert not (tmp_path / "ca").exists()


def test_missing_ca_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CaError, match=r"no factory CA in .*: run `station ca init` first"):
        ca_certificate(tmp_path / "ca")


def test_key_that_does_not_belong_to_the_certificate(tmp_path: Path) -> None:
    init_ca(tmp_path / "one", CA_PASSPHRASE)
    init_ca(tmp_path / "two", CA_PASSPHRASE)
    (tmp_path / "one" / CA_KEY_FILE).unlink()
    (tmp_path / "one" / CA_KEY_FILE).write_bytes((tmp_path / "two" / CA_KEY_FILE).read_bytes())
    with pytest.raises(CaError, match="does not belong to the certificate"):
        load_ca(tmp_path / "one", CA_PASSPHRASE)


def test_p384_ca(tmp_path: Path) -> None:
    ca = init_ca(tmp_path / "ca", CA_PASSPHRASE, key_type="ec-p384")
    assert ca.certificate.public_key().curve.name == "secp384r1"  # type: ignore[union-attr]
    assert load_ca(tmp_path / "ca", CA_PASSPHRASE).key_type.value == "ec-p384"
