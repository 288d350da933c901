"""The factory CA with its key inside a token: generated there, used there, never out.

Its directory holds what a file CA's does, without the key::

    ca-cert.pem   the CA certificate, self-signed by the token's key
    ca-key.uri    the key's PKCS#11 URI (token label and serial, key label, module; no PIN)

``station.security.ca.load_ca`` refuses a directory with ``ca-key.uri``: a CA configured for a
token is opened through the token or not at all, never from a file. The certificate's
contents are the file CA's (``ca_certificate_contents``), and device certificates are the
same (``station.security.credentials``): only the signing happens in the token.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from station.domain.errors import CaError, CredentialError, StationError
from station.security.ca import (
    CA_TOKEN_KEY_FILE,
    DEFAULT_COMMON_NAME,
    DEFAULT_VALIDITY_DAYS,
    ca_certificate,
    ca_certificate_contents,
    ca_paths,
    check_ca_parameters,
)
from station.security.certificates import (
    CaCertificateFacts,
    CertificateSigner,
    build_certificate,
    check_ca_key_matches,
)
from station.security.keys import SigningAlgorithm, write_new_secret_file, write_public_file
from station.security.pkcs11.keys import TokenSigningKey, destroy_new_key, generate_signing_key, open_signing_key
from station.security.pkcs11.token import TokenSession
from station.security.pkcs11.uri import Pkcs11Uri, parse_pkcs11_uri

DEFAULT_CA_KEY_LABEL: Final = "station-factory-ca"
_CA_ALGORITHMS: Final = (SigningAlgorithm.ECDSA_P256_SHA256, SigningAlgorithm.ECDSA_P384_SHA384)


@dataclass(frozen=True)
class TokenCa(CaCertificateFacts):
    """The CA, its key in an open token session: a ``CertificateAuthority`` like ``FactoryCa``."""

    certificate: x509.Certificate
    key: TokenSigningKey = field(repr=False, compare=False)

    @property
    def signer(self) -> CertificateSigner:
        return self.key

    @property
    def key_location(self) -> str:
        return f"token {self.key.uri}"

    def __repr__(self) -> str:
        return f"TokenCa(subject={self.certificate.subject.rfc4514_string()!r}, fingerprint={self.fingerprint})"


def init_token_ca(
    ca_dir: Path,
    session: TokenSession,
    *,
    label: str = DEFAULT_CA_KEY_LABEL,
    common_name: str = DEFAULT_COMMON_NAME,
    algorithm: SigningAlgorithm = SigningAlgorithm.ECDSA_P256_SHA256,
    validity_days: int = DEFAULT_VALIDITY_DAYS,
    now: dt.datetime | None = None,
) -> TokenCa:
    """Generate the CA key in the token, self-sign the CA certificate with it, and write the
    certificate and the key's URI to ``ca_dir``. CaError if a CA is there already; nothing is
    left behind (no key in the token, no file) when a step fails."""
    certificate_path, key_path = ca_paths(ca_dir)
    uri_path = ca_dir / CA_TOKEN_KEY_FILE
    for existing in (key_path, certificate_path, uri_path):
        if existing.exists():
            raise CaError(f"a factory CA already exists in {ca_dir} ({existing.name}); it is never overwritten")
    check_ca_parameters(common_name, validity_days)
    if algorithm not in _CA_ALGORITHMS:
        raise CaError("a factory CA's key is EC P-256 or P-384")

    ca_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(ca_dir, 0o700)
    key = generate_signing_key(session, label, algorithm)
    written: list[Path] = []
    try:
        contents = ca_certificate_contents(common_name, key.public_key, validity_days, now=now)
        certificate = build_certificate(contents, key)
        try:  # created exclusively, like a file CA's key: two processes never both make a CA here
            write_new_secret_file(uri_path, f"{key.uri}\n".encode())
        except FileExistsError:
            raise CaError(f"a factory CA already exists in {ca_dir} ({uri_path.name}); never overwritten") from None
        written.append(uri_path)
        write_public_file(certificate_path, certificate.public_bytes(serialization.Encoding.PEM))
        written.append(certificate_path)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        destroy_new_key(key)
        raise
    return TokenCa(certificate, key)


def token_ca_uri(ca_dir: Path) -> Pkcs11Uri | None:
    """The URI of the CA key when the CA in ``ca_dir`` keeps it in a token, else None."""
    path = ca_dir / CA_TOKEN_KEY_FILE
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise CaError(f"cannot read {path}: {getattr(error, 'strerror', None) or error}") from None
    try:
        uri = parse_pkcs11_uri(text)
    except StationError as error:
        raise CaError(f"{path} does not hold a usable PKCS#11 URI: {error}") from None
    if uri.object is None:
        raise CaError(f"{path} names no key (object=)")
    return uri


def load_token_ca(ca_dir: Path, session: TokenSession) -> TokenCa:
    """Open the CA in ``ca_dir`` through ``session``, which must be on the token its URI names."""
    uri = token_ca_uri(ca_dir)
    if uri is None or uri.object is None:
        raise CaError(f"the factory CA in {ca_dir} does not keep its key in a token")
    for wanted, found in ((uri.token, session.label), (uri.serial, session.serial)):
        if wanted is not None and wanted != found:
            raise CaError(f"the factory CA's key is in {uri.token_description()} (serial {uri.serial}), "
                          f"not in token {session.label!r} (serial {session.serial})")  # fmt: skip
    certificate = ca_certificate(ca_dir)
    key = open_signing_key(session, uri.object)
    try:
        check_ca_key_matches(certificate, key, where=f"token {session.label!r}")
    except CredentialError as error:
        raise CaError(str(error)) from None
    return TokenCa(certificate, key)
