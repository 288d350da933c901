"""Small helpers shared by the CA, the credential builder and the station key.

Writing secret files goes through :func:`write_new_secret_file`, which creates the file with
mode 0600 and refuses to replace anything (``O_EXCL``), so that no code path of the station
can overwrite a key by accident.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from station.domain.recipe import KeyType

_CURVES: dict[KeyType, ec.EllipticCurve] = {KeyType.EC_P256: ec.SECP256R1(), KeyType.EC_P384: ec.SECP384R1()}
_HASHES: dict[KeyType, type[hashes.SHA256 | hashes.SHA384]] = {
    KeyType.EC_P256: hashes.SHA256,
    KeyType.EC_P384: hashes.SHA384,
}


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
