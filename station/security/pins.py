"""PINs of supervisors and engineers, kept only as slow salted hashes (scrypt).

A PIN has few digits, so the hash's cost (16 MiB and some tens of milliseconds per guess)
and the lock-out after a few wrong tries (``station.operations.people``) are what stand
between a copied database and the PINs. Parameters travel with each hash. Nothing here shows
or logs a PIN.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from typing import Final

from station.domain.errors import AccessError

SCRYPT_N: Final = 2**14
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
_SCHEME: Final = "scrypt"
PIN_PATTERN: Final = re.compile(r"^[0-9]{4,12}$")


def check_pin_rule(pin: str) -> None:
    if not PIN_PATTERN.match(pin):
        raise AccessError("a PIN is 4 to 12 digits")


def hash_pin(pin: str, *, n: int = SCRYPT_N) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64) of a PIN that satisfies the rule."""
    check_pin_rule(pin)
    salt = os.urandom(16)
    digest = _scrypt(pin, salt, n, SCRYPT_R, SCRYPT_P)
    return "$".join((_SCHEME, str(n), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)))


def verify_pin(pin: str, stored: str | None) -> bool:
    """Whether ``pin`` is the PIN whose hash is ``stored`` (constant-time comparison)."""
    if not stored or not pin:
        return False
    try:
        scheme, n_text, r_text, p_text, salt_text, digest_text = stored.split("$")
        if scheme != _SCHEME:
            return False
        salt, expected = base64.b64decode(salt_text), base64.b64decode(digest_text)
        digest = _scrypt(pin, salt, int(n_text), int(r_text), int(p_text))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected)


def _scrypt(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(pin.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=256 * 1024 * 1024, dklen=32)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
