"""The factory CA: a self-signed certificate and its private key, encrypted at rest.

(A CA whose key lives in a hardware token is ``station.security.pkcs11.ca``: the same
certificate contents, :func:`ca_certificate_contents`, signed through the token.)

One CA per station or per line signs every unit's device certificate. Its directory holds::

    ca-cert.pem   the CA certificate (public; the device-management service trusts it)
    ca-key.pem    the private key, PKCS#8 encrypted with the CA passphrase, mode 0600

A CA key that exists is never overwritten: ``init_ca`` refuses, and the key file is created
with ``O_EXCL`` so that not even a race between two processes can replace it. The passphrase
is never stored and never appears in a message.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from station.domain.errors import CaError
from station.domain.recipe import KeyType
from station.security.certificates import (
    CaCertificateFacts,
    CertificateContents,
    CertificateSigner,
    PrivateKeySigner,
    build_certificate,
    ca_key_usage,
    extension,
)
from station.security.keys import (
    SigningPublicKey,
    certificate_fingerprint,
    generate_private_key,
    key_type_of,
    public_key_der,
    write_new_secret_file,
    write_public_file,
)

CA_CERTIFICATE_FILE: Final = "ca-cert.pem"
CA_KEY_FILE: Final = "ca-key.pem"
CA_TOKEN_KEY_FILE: Final = "ca-key.uri"  # a CA whose key is in a token (station.security.pkcs11.ca)
DEFAULT_COMMON_NAME: Final = "Provisioning Station Factory CA"
DEFAULT_VALIDITY_DAYS: Final = 20 * 365
MINIMUM_PASSPHRASE_LENGTH: Final = 8


@dataclass(frozen=True)
class FactoryCa(CaCertificateFacts):
    """The CA, opened with its passphrase: it can sign. The key never leaves this object."""

    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey = field(repr=False, compare=False)
    key_file: Path | None = field(default=None, compare=False)

    @property
    def signer(self) -> CertificateSigner:
        return PrivateKeySigner(self.private_key)

    @property
    def key_location(self) -> str:
        return f"file {self.key_file}" if self.key_file is not None else "a key file"

    def __repr__(self) -> str:
        return f"FactoryCa(subject={self.certificate.subject.rfc4514_string()!r}, fingerprint={self.fingerprint})"


def ca_paths(ca_dir: Path) -> tuple[Path, Path]:
    """(certificate path, key path)."""
    return ca_dir / CA_CERTIFICATE_FILE, ca_dir / CA_KEY_FILE


def init_ca(
    ca_dir: Path,
    passphrase: str,
    common_name: str = DEFAULT_COMMON_NAME,
    key_type: KeyType | str = KeyType.EC_P256,
    validity_days: int = DEFAULT_VALIDITY_DAYS,
    *,
    now: dt.datetime | None = None,
) -> FactoryCa:
    """Create the CA in ``ca_dir``; CaError if a CA key (or certificate) is already there."""
    certificate_path, key_path = ca_paths(ca_dir)
    for existing in (key_path, certificate_path, ca_dir / CA_TOKEN_KEY_FILE):
        if existing.exists():
            raise CaError(f"a factory CA already exists in {ca_dir} ({existing.name}); it is never overwritten")
    if len(passphrase) < MINIMUM_PASSPHRASE_LENGTH:
        raise CaError(f"the CA passphrase must be at least {MINIMUM_PASSPHRASE_LENGTH} characters")
    check_ca_parameters(common_name, validity_days)

    private_key = generate_private_key(KeyType(key_type))
    contents = ca_certificate_contents(common_name, private_key.public_key(), validity_days, now=now)
    certificate = build_certificate(contents, PrivateKeySigner(private_key))
    key_pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode("utf-8")),
    )

    ca_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(ca_dir, 0o700)
    try:
        write_new_secret_file(key_path, key_pem)
    except FileExistsError:
        raise CaError(f"a factory CA already exists in {ca_dir} ({key_path.name}); it is never overwritten") from None
    try:
        write_public_file(certificate_path, certificate.public_bytes(serialization.Encoding.PEM))
    except BaseException:
        key_path.unlink(missing_ok=True)  # ours, written just now: leave no key without its certificate
        raise
    return FactoryCa(certificate, private_key, key_path)


def check_ca_parameters(common_name: str, validity_days: int) -> None:
    """CaError unless a new CA's name and validity are ones the station accepts (any key store)."""
    if not common_name.strip() or len(common_name) > 64:
        raise CaError("the CA common name must be 1 to 64 characters")
    if not 1 <= validity_days <= 100 * 366:
        raise CaError("the CA validity must be between 1 day and 100 years")


def ca_certificate_contents(
    common_name: str, public_key: SigningPublicKey, validity_days: int, *, now: dt.datetime | None = None
) -> CertificateContents:
    """What a factory CA's self-signed certificate says, wherever its key is held: CA without
    intermediates (path length 0), certificate and CRL signing, its own key identifiers."""
    issued_at = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    return CertificateContents(
        subject=subject,
        issuer=subject,
        public_key=public_key,
        serial_number=x509.random_serial_number(),
        not_before=issued_at - dt.timedelta(minutes=5),
        not_after=issued_at + dt.timedelta(days=validity_days),
        extensions=(
            extension(x509.BasicConstraints(ca=True, path_length=0), critical=True),
            extension(ca_key_usage(), critical=True),
            extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False),
            extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False),
        ),
    )


def ca_certificate(ca_dir: Path) -> x509.Certificate:
    """The CA certificate; needs no passphrase."""
    certificate_path, _ = ca_paths(ca_dir)
    try:
        data = certificate_path.read_bytes()
    except FileNotFoundError:
        raise CaError(f"no factory CA in {ca_dir}: run `station ca init` first") from None
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        raise CaError(f"{certificate_path} is not a PEM certificate") from None


def load_ca(ca_dir: Path, passphrase: str) -> FactoryCa:
    """Open the CA with its passphrase; CaError (without the passphrase) if it is wrong."""
    certificate = ca_certificate(ca_dir)
    _, key_path = ca_paths(ca_dir)
    if (ca_dir / CA_TOKEN_KEY_FILE).exists():
        raise CaError(
            f"the factory CA in {ca_dir} keeps its key in a PKCS#11 token ({CA_TOKEN_KEY_FILE}): "
            "it is opened through the token, never from a file"
        )
    try:
        key_pem = key_path.read_bytes()
    except FileNotFoundError:
        raise CaError(f"the factory CA in {ca_dir} has no private key ({key_path.name})") from None
    try:
        private_key = serialization.load_pem_private_key(key_pem, password=passphrase.encode("utf-8"))
    except (ValueError, TypeError):
        # cryptography says "Bad decrypt. Incorrect password?" for a wrong passphrase and
        # similar for a damaged file; neither message, nor ours, holds the passphrase.
        raise CaError(f"wrong CA passphrase (cannot decrypt {key_path})") from None
    if not isinstance(private_key, ec.EllipticCurvePrivateKey) or key_type_of(private_key.public_key()) is None:
        raise CaError(f"{key_path} is not an EC P-256 or P-384 key")
    if public_key_der(private_key) != public_key_der(certificate.public_key()):
        raise CaError(f"{key_path} does not belong to the certificate {CA_CERTIFICATE_FILE}")
    return FactoryCa(certificate, private_key, key_path)


def describe_certificate(certificate: x509.Certificate) -> dict[str, str]:
    """What ``station ca show`` prints besides the PEM."""
    return {
        "subject": certificate.subject.rfc4514_string(),
        "issuer": certificate.issuer.rfc4514_string(),
        "serial": f"{certificate.serial_number:x}",
        "not_before": certificate.not_valid_before_utc.isoformat(),
        "not_after": certificate.not_valid_after_utc.isoformat(),
        "sha256_fingerprint": certificate_fingerprint(certificate),
    }
