"""People's signing keys: the keys engineers sign recipes with, and supervisors approve them.

A key lives in a file or in a token (``station.security.pkcs11.keys.TokenSigningKey``, which
signs the same way). A key file is PKCS#8 encrypted with the person's passphrase, mode 0600,
never overwritten (``write_new_secret_file``); its public half is written beside it
(``FILE.pub``) for registering elsewhere. A key file that is not encrypted, or that others may
read, is refused. The station keeps only public keys (``PersonKeyRecord``), and verifying
needs nothing else.

Ed25519 by default; EC P-256 (DER ECDSA over SHA-256) and P-384 are taken too, as in
``station.security.keys.SigningAlgorithm``. No message holds a passphrase or key material.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from station.domain.errors import SigningKeyError
from station.security.keys import (
    SigningAlgorithm,
    SigningPublicKey,
    public_key_fingerprint,
    signature_hash,
    signing_algorithm_of,
    verify_signature,
    write_new_secret_file,
)

MINIMUM_PASSPHRASE_LENGTH: Final = 8
PUBLIC_KEY_SUFFIX: Final = ".pub"
MAXIMUM_KEY_FILE_BYTES: Final = 64 * 1024
_CURVES: Final[dict[SigningAlgorithm, ec.EllipticCurve]] = {
    SigningAlgorithm.ECDSA_P256_SHA256: ec.SECP256R1(),
    SigningAlgorithm.ECDSA_P384_SHA384: ec.SECP384R1(),
}
PrivateSigningKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class PublicKeyInfo:
    """A person's public key as the station registers it."""

    pem: str
    algorithm: SigningAlgorithm
    fingerprint: str


class FileSigningKey:
    """A person's key, decrypted from its file: signs as a ``TokenSigningKey`` does."""

    __slots__ = ("_algorithm", "_private_key", "path")

    def __init__(self, private_key: PrivateSigningKey, path: Path) -> None:
        algorithm = signing_algorithm_of(private_key.public_key())
        if algorithm is None:
            raise SigningKeyError(f"{path} is neither an Ed25519 nor an EC P-256/P-384 key")
        self._private_key = private_key
        self._algorithm = algorithm
        self.path = path

    @property
    def algorithm(self) -> SigningAlgorithm:
        return self._algorithm

    @property
    def public_key(self) -> SigningPublicKey:
        return self._private_key.public_key()

    @property
    def public_key_fingerprint(self) -> str:
        return public_key_fingerprint(self.public_key)

    def public_key_pem(self) -> str:
        return _pem(self.public_key)

    def sign(self, data: bytes) -> bytes:
        if isinstance(self._private_key, ed25519.Ed25519PrivateKey):
            return self._private_key.sign(data)
        key_type = self._algorithm.key_type
        assert key_type is not None  # an ECDSA algorithm has its curve
        return self._private_key.sign(data, ec.ECDSA(signature_hash(key_type)))

    def __repr__(self) -> str:
        return f"FileSigningKey({str(self.path)!r}, {self._algorithm.value}, fingerprint={self.public_key_fingerprint})"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a signing key cannot be pickled")


def public_key_file(key_path: Path) -> Path:
    """Where the public half of a key file is written: ``FILE.pub``."""
    return key_path.with_name(key_path.name + PUBLIC_KEY_SUFFIX)


def generate_file_key(
    path: Path, passphrase: str, algorithm: SigningAlgorithm = SigningAlgorithm.ED25519
) -> FileSigningKey:
    """A new key pair: the private key encrypted with ``passphrase`` into ``path`` (mode 0600),
    the public key into ``FILE.pub``. SigningKeyError if either file exists: a key is never replaced."""
    if len(passphrase) < MINIMUM_PASSPHRASE_LENGTH:
        raise SigningKeyError(f"a signing key's passphrase must be at least {MINIMUM_PASSPHRASE_LENGTH} characters")
    public_path = public_key_file(path)
    for existing in (path, public_path):
        if existing.exists() or existing.is_symlink():
            raise SigningKeyError(f"{existing} exists already: a key file is never overwritten")
    if not path.parent.is_dir():
        raise SigningKeyError(f"cannot write {path}: folder {path.parent} does not exist")
    private_key: PrivateSigningKey
    if algorithm is SigningAlgorithm.ED25519:
        private_key = ed25519.Ed25519PrivateKey.generate()
    else:
        private_key = ec.generate_private_key(_CURVES[algorithm])
    encrypted = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode("utf-8")),
    )
    key = FileSigningKey(private_key, path)
    try:
        write_new_secret_file(path, encrypted)
    except FileExistsError:
        raise SigningKeyError(f"{path} exists already: a key file is never overwritten") from None
    except OSError as error:
        raise SigningKeyError(f"cannot write {path}: {error.strerror or error}") from None
    try:
        descriptor = os.open(public_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(descriptor, "w", encoding="ascii") as handle:
            handle.write(key.public_key_pem())
    except OSError as error:
        path.unlink(missing_ok=True)  # ours, written just now: no private key without its public half
        raise SigningKeyError(f"cannot write {public_path}: {error.strerror or error}") from None
    return key


def load_file_key(path: Path, passphrase: str) -> FileSigningKey:
    """The key in ``path``, decrypted; SigningKeyError (naming the file only) when it is missing,
    readable by others, not encrypted, or the passphrase is wrong."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as error:
        raise SigningKeyError(f"cannot open the signing key {path}: {error.strerror or error}") from None
    with os.fdopen(descriptor, "rb") as handle:
        status = os.fstat(handle.fileno())
        if not stat.S_ISREG(status.st_mode):
            raise SigningKeyError(f"the signing key {path} is not a regular file")
        if status.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SigningKeyError(
                f"the signing key {path} may be read by others (mode {stat.S_IMODE(status.st_mode):04o}): chmod 600 it"
            )
        data = handle.read(MAXIMUM_KEY_FILE_BYTES)
    try:
        private_key = serialization.load_pem_private_key(data, password=passphrase.encode("utf-8"))
    except TypeError:
        # cryptography: "Password was given but private key is not encrypted".
        raise SigningKeyError(f"the signing key {path} is not encrypted: a person's key needs a passphrase") from None
    except ValueError:
        raise SigningKeyError(f"wrong passphrase for the signing key {path} (or not a PEM private key)") from None
    if not isinstance(private_key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise SigningKeyError(f"{path} is neither an Ed25519 nor an EC P-256/P-384 key")
    return FileSigningKey(private_key, path)


def read_public_key(pem: bytes | str, where: str) -> PublicKeyInfo:
    """A PEM public key a person registers; SigningKeyError naming ``where`` unless it is one the
    station verifies with (Ed25519, EC P-256, EC P-384). A private key is refused unread."""
    data = pem.encode("ascii", errors="replace") if isinstance(pem, str) else pem
    if b"PRIVATE KEY" in data:
        raise SigningKeyError(f"{where} holds a private key: give the public key only (the .pub file)")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise SigningKeyError(f"{where} is not a PEM public key") from None
    algorithm = signing_algorithm_of(key)
    if algorithm is None:
        raise SigningKeyError(f"{where} is neither an Ed25519 nor an EC P-256/P-384 public key")
    assert isinstance(key, SigningPublicKey)  # signing_algorithm_of knows no other key
    return PublicKeyInfo(_pem(key), algorithm, public_key_fingerprint(key))


def verify_with_public_key(pem: str, data: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is the PEM public key's over ``data`` (False for any unusable key)."""
    try:
        key = serialization.load_pem_public_key(pem.encode("ascii"))
    except (ValueError, TypeError, UnicodeEncodeError):
        return False
    if signing_algorithm_of(key) is None:
        return False
    assert isinstance(key, SigningPublicKey)
    return verify_signature(key, data, signature)


def _pem(key: SigningPublicKey) -> str:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode("ascii")
