"""Small helpers shared by the CA, the credential builder and the station key.

Writing secret files goes through :func:`write_new_secret_file`, which creates the file with
mode 0600 and refuses to replace anything (``O_EXCL``), so that no code path of the station
can overwrite a key by accident.
"""

from __future__ import annotations

import enum
import hashlib
import os
import stat
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from station.domain.errors import StationError
from station.domain.recipe import KeyType

_CURVES: dict[KeyType, ec.EllipticCurve] = {KeyType.EC_P256: ec.SECP256R1(), KeyType.EC_P384: ec.SECP384R1()}
_HASHES: dict[KeyType, type[hashes.SHA256 | hashes.SHA384]] = {
    KeyType.EC_P256: hashes.SHA256,
    KeyType.EC_P384: hashes.SHA384,
}


SigningPublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey


class SigningAlgorithm(enum.StrEnum):
    """How a station key signs: what a manifest or ``station ca show`` names. ECDSA signatures
    are DER (as X.509, ``openssl pkeyutl`` and ``openssl dgst`` take them), over the SHA-2 hash."""

    ED25519 = "ed25519"
    ECDSA_P256_SHA256 = "ecdsa-p256-sha256"
    ECDSA_P384_SHA384 = "ecdsa-p384-sha384"

    @property
    def key_type(self) -> KeyType | None:
        """The recipe key type of an ECDSA algorithm's key; None for Ed25519."""
        return {"ecdsa-p256-sha256": KeyType.EC_P256, "ecdsa-p384-sha384": KeyType.EC_P384}.get(self.value)


def signing_algorithm_of(public_key: object) -> SigningAlgorithm | None:
    """The algorithm a station key of this public key signs with, or None for another key."""
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        return SigningAlgorithm.ED25519
    key_type = key_type_of(public_key)
    if key_type is KeyType.EC_P256:
        return SigningAlgorithm.ECDSA_P256_SHA256
    if key_type is KeyType.EC_P384:
        return SigningAlgorithm.ECDSA_P384_SHA384
    return None


def verify_signature(public_key: SigningPublicKey, data: bytes, signature: bytes) -> bool:
    """Whether ``signature`` (Ed25519, or DER ECDSA over the curve's SHA-2) is ``public_key``'s over ``data``."""
    try:
        if isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, data)
        else:
            key_type = key_type_of(public_key)
            if key_type is None:
                return False
            public_key.verify(signature, data, ec.ECDSA(signature_hash(key_type)))
    except InvalidSignature:
        return False
    return True


def public_key_fingerprint(key: object) -> str:
    """SHA-256 hex of the SubjectPublicKeyInfo DER (what ``openssl pkey -pubout -outform DER`` gives)."""
    return hashlib.sha256(public_key_der(key)).hexdigest()


def generate_private_key(key_type: KeyType | str) -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(_CURVES[KeyType(key_type)])


def key_type_of(public_key: object) -> KeyType | None:
    """The recipe key type of a public key, or None if it is not one the station issues for."""
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        for key_type, curve in _CURVES.items():
            if public_key.curve.name == curve.name:
                return key_type
    return None


def signature_hash(key_type: KeyType | str) -> hashes.SHA256 | hashes.SHA384:
    return _HASHES[KeyType(key_type)]()


def certificate_fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 of the certificate's DER encoding, lowercase hex (as the unit's console reports it)."""
    return hashlib.sha256(certificate.public_bytes(serialization.Encoding.DER)).hexdigest()


def public_key_der(key: object) -> bytes:
    """SubjectPublicKeyInfo DER of a public key, or of a private key's public half."""
    if hasattr(key, "public_key"):
        key = key.public_key()
    if not hasattr(key, "public_bytes"):
        raise TypeError("not a key")
    der: bytes = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return der


def write_new_secret_file(path: Path, data: bytes) -> None:
    """Create ``path`` with mode 0600 and write ``data``; FileExistsError if it exists at all."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            descriptor = -1
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        if descriptor >= 0:
            os.close(descriptor)
        path.unlink(missing_ok=True)
        raise


def write_public_file(path: Path, data: bytes) -> None:
    """Write a non-secret file atomically (temporary file, then rename)."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def read_private_first_line(path: Path, *, what: str, error: type[StationError], check_owner: bool = True) -> str:
    """The first line (stripped) of a file only its owner may read: a PIN file, a credential.

    Refused with ``error`` (whose message names the file, never its content) unless it is a
    regular file (not followed through a symbolic link), owned by the user running the station
    (``check_owner``), with no permission for group or others, holding UTF-8 text.
    """
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as problem:
        raise error(f"cannot open the {what} {path}: {problem.strerror or problem}") from None
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise error(f"the {what} {path} is not a regular file")
        if check_owner and status.st_uid != os.getuid():
            raise error(f"the {what} {path} belongs to another user")
        if status.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise error(
                f"the {what} {path} may be read by others (mode {stat.S_IMODE(status.st_mode):04o}): "
                "make it readable by its owner only (chmod 600)"
            )
        with os.fdopen(descriptor, "r", encoding="utf-8", errors="strict") as handle:
            descriptor = -1
            first_line = handle.readline(256)
    except UnicodeDecodeError:
        raise error(f"the {what} {path} is not text") from None
    finally:
        if descriptor >= 0:
            os.close(descriptor)
    value = first_line.strip()
    if not value:
        raise error(f"the {what} {path} is empty")
    return value
