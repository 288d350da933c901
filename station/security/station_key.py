"""The station's own Ed25519 key: it signs audit-log entries and exports.

The key is created once (PEM PKCS#8, unencrypted so that the station can sign unattended,
mode 0600) and never replaced: losing it would orphan every signature it made. Its public
half is exported (``public_key_pem``) so that an auditor can verify without the station.

A station whose key lives in a hardware token signs with ``station.security.pkcs11.keys``
(Ed25519 where the token can, else EC P-256): :class:`StationPublicKey` verifies both, and
``algorithm`` says which.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from station.domain.errors import StationKeyError
from station.security.keys import (
    SigningAlgorithm,
    SigningPublicKey,
    public_key_fingerprint,
    signing_algorithm_of,
    verify_signature,
    write_new_secret_file,
)


class StationPublicKey:
    """Verifies the station's signatures with its public key only (an AuditVerifier)."""

    def __init__(self, public_key: SigningPublicKey) -> None:
        algorithm = signing_algorithm_of(public_key)
        if algorithm is None:
            raise StationKeyError("the station's public key must be Ed25519 or EC P-256/P-384")
        self._public_key = public_key
        self._algorithm = algorithm

    @classmethod
    def from_pem(cls, pem: bytes | str) -> StationPublicKey:
        data = pem.encode("ascii") if isinstance(pem, str) else pem
        try:
            key = serialization.load_pem_public_key(data)
        except ValueError:
            raise StationKeyError("not a PEM public key") from None
        if signing_algorithm_of(key) is None:
            raise StationKeyError("the station's public key must be Ed25519 or EC P-256/P-384")
        assert isinstance(key, SigningPublicKey)  # signing_algorithm_of knows no other key
        return cls(key)

    @property
    def algorithm(self) -> SigningAlgorithm:
        """Ed25519 for a key file; a token key may be EC P-256 (its signatures are DER ECDSA)."""
        return self._algorithm

    @property
    def public_key_fingerprint(self) -> str:
        return public_key_fingerprint(self._public_key)

    def verify(self, data: bytes, signature: bytes) -> bool:
        return verify_signature(self._public_key, data, signature)

    def public_key_pem(self) -> str:
        return self._public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(fingerprint={self.public_key_fingerprint})"


class StationKey(StationPublicKey):
    """The station's signing key (implements ``station.domain.vault_and_signing.AuditSigner``)."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        super().__init__(private_key.public_key())
        self._private_key = private_key

    def sign(self, data: bytes) -> bytes:
        return self._private_key.sign(data)

    @property
    def public_key(self) -> StationPublicKey:
        return StationPublicKey(self._private_key.public_key())

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("the station key cannot be pickled")


def load_or_create_station_key(path: Path) -> StationKey:
    """The key at ``path``, created (mode 0600) on first use; StationKeyError if unusable."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        private_key = Ed25519PrivateKey.generate()
        pem = private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:
            write_new_secret_file(path, pem)
            return StationKey(private_key)
        except FileExistsError:
            pass  # another process created it first: use theirs
    return load_station_key(path)


def load_station_key(path: Path) -> StationKey:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise StationKeyError(f"station key {path} does not exist") from None
    except OSError as error:
        raise StationKeyError(f"cannot read station key {path}: {error.strerror or error}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise StationKeyError(f"{path} is not an unencrypted PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise StationKeyError(f"{path} is not an Ed25519 key")
    mode = os.stat(path).st_mode & 0o777
    if mode & 0o077:
        raise StationKeyError(f"station key {path} is readable by others (mode {mode:o}); chmod 600 it")
    return StationKey(key)
