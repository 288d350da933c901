"""Certificates assembled from their contents with asn1crypto: the bytes cryptography's builder gives."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from station.domain.errors import CredentialError
from station.domain.identity import DeviceId
from station.security.ca import ca_certificate_contents
from station.security.certificates import CertificateContents, PrivateKeySigner, build_certificate
from station.security.credentials import device_certificate_contents
from station.security.keys import SigningAlgorithm


def _with_cryptography(contents: CertificateContents, key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(contents.subject)
        .issuer_name(contents.issuer)
        .public_key(contents.public_key)
        .serial_number(contents.serial_number)
        .not_valid_before(contents.not_before)
        .not_valid_after(contents.not_after)
    )
    for extension in contents.extensions:
        builder = builder.add_extension(extension.value, critical=extension.critical)
    return builder.sign(key, hashes.SHA256())


@pytest.mark.parametrize("years", [10, 40])  # UTCTime until 2049, GeneralizedTime from 2050
def test_the_to_be_signed_bytes_are_cryptographys(years: int) -> None:
    now = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_contents = ca_certificate_contents("Factory CA", ca_key.public_key(), 365 * years, now=now)
    ca_certificate = build_certificate(ca_contents, PrivateKeySigner(ca_key))
    assert ca_certificate.tbs_certificate_bytes == _with_cryptography(ca_contents, ca_key).tbs_certificate_bytes
    ca_certificate.verify_directly_issued_by(ca_certificate)

    unit_key = ec.generate_private_key(ec.SECP256R1()).public_key()
    unit_contents = device_certificate_contents(
        ca_certificate, unit_key, "acme-0123456789ABCDEF", DeviceId.parse("0123456789ABCDEF"), "SN 1/ü", 365, now
    )
    unit_certificate = build_certificate(unit_contents, PrivateKeySigner(ca_key))
    assert unit_certificate.tbs_certificate_bytes == _with_cryptography(unit_contents, ca_key).tbs_certificate_bytes
    unit_certificate.verify_directly_issued_by(ca_certificate)


def test_a_signer_whose_signature_does_not_verify_is_caught() -> None:
    class SwappedKeySigner:
        """A token that signs with another key than the one it reports (a broken or swapped token)."""

        def __init__(self) -> None:
            self._reported = PrivateKeySigner(ec.generate_private_key(ec.SECP256R1()))
            self._used = PrivateKeySigner(ec.generate_private_key(ec.SECP256R1()))

        @property
        def algorithm(self) -> SigningAlgorithm:
            return SigningAlgorithm.ECDSA_P256_SHA256

        @property
        def public_key(self) -> ec.EllipticCurvePublicKey:
            return self._reported.public_key

        def sign(self, data: bytes) -> bytes:
            return self._used.sign(data)

    signer = SwappedKeySigner()
    contents = ca_certificate_contents("Factory CA", signer.public_key, 365)
    with pytest.raises(CredentialError, match="gave a signature that does not verify"):
        build_certificate(contents, signer)


def test_naive_times_are_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    contents = ca_certificate_contents("Factory CA", key.public_key(), 365)
    naive = CertificateContents(**{**contents.__dict__, "not_before": dt.datetime(2026, 1, 1)})
    with pytest.raises(ValueError, match="timezone-aware"):
        build_certificate(naive, PrivateKeySigner(key))
