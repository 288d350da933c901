"""Who may do what at the station: operators, supervisors, engineers, and their PINs.

Operators log in with their badge (or id) alone. Supervisors and engineers also give a PIN,
kept only as a slow salted hash (scrypt) in the store's operator table, so that a copied
database does not give the PINs away cheaply. Nothing here shows or logs a PIN.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from dataclasses import dataclass
from typing import Final, Protocol

from station.domain.errors import StationError
from station.domain.records import OperatorRecord

OPERATOR: Final = "operator"
SUPERVISOR: Final = "supervisor"
ENGINEER: Final = "engineer"
ROLES: Final = (OPERATOR, SUPERVISOR, ENGINEER)
ROLES_WITH_PIN: Final = frozenset({SUPERVISOR, ENGINEER})

# scrypt: 16 MiB and some tens of milliseconds per guess; a PIN has few digits, so this is
# what stands between a copied database and the PINs. Parameters travel with each hash.
SCRYPT_N: Final = 2**14
SCRYPT_R: Final = 8
SCRYPT_P: Final = 1
_SCHEME: Final = "scrypt"
PIN_PATTERN: Final = re.compile(r"^[0-9]{4,12}$")
NAME_PATTERN: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,31}$")
BADGE_PREFIXES: Final = ("BADGE:", "OP:")


class AccessError(StationError):
    """A login, PIN or permission check failed; the message never holds the PIN."""

    code = "ACCESS"


@dataclass(frozen=True)
class User:
    name: str
    role: str

    @property
    def is_operator_only(self) -> bool:
        return self.role == OPERATOR


class PeopleRegistry(Protocol):
    """The store's operator table as this module uses it (``RegistryRepository``)."""

    def get_operator(self, name: str) -> OperatorRecord | None: ...

    def operators(self) -> list[OperatorRecord]: ...

    def upsert_operator(self, name: str, role: str = ..., *, pin_hash: str | None = ...) -> OperatorRecord: ...


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


def badge_name(scan: str) -> str:
    """The person's id in a badge scan: the text without an optional ``BADGE:``/``OP:`` prefix."""
    text = scan.strip()
    for prefix in BADGE_PREFIXES:
        if text.upper().startswith(prefix):
            return text[len(prefix):].strip()
    return text


class People:
    """Logins and PIN checks over the store's operator table."""

    def __init__(self, registry: PeopleRegistry) -> None:
        self._registry = registry

    def find(self, name: str) -> User | None:
        record = self._registry.get_operator(name)
        if record is None or record.role not in ROLES:
            return None
        return User(record.name, record.role)

    def everyone(self) -> list[User]:
        return [User(record.name, record.role) for record in self._registry.operators() if record.role in ROLES]

    def has_role(self, role: str) -> bool:
        return any(user.role == role for user in self.everyone())

    def badge_login(self, scan: str) -> User:
        """The operator whose badge this is; supervisors and engineers need their PIN (sign_in)."""
        user = self.find(badge_name(scan))
        if user is None:
            raise AccessError("unknown badge: ask a supervisor to register you")
        if user.role in ROLES_WITH_PIN:
            raise AccessError(f"{user.name} is a {user.role}: sign in with the PIN")
        return user

    def sign_in(self, name: str, pin: str) -> User:
        """A supervisor or engineer, checked against the PIN hash (operators have no PIN)."""
        record = self._registry.get_operator(badge_name(name))
        if record is None or record.role not in ROLES_WITH_PIN or not verify_pin(pin, record.pin_hash):
            raise AccessError("wrong name or PIN")
        return User(record.name, record.role)

    def confirm(self, user: User, pin: str, role: str) -> None:
        """AccessError unless ``user`` has ``role`` and ``pin`` is their PIN (for guarded actions)."""
        if user.role != role:
            raise AccessError(f"only a {role} may do this")
        self.sign_in(user.name, pin)

    def add(self, name: str, role: str, pin: str | None) -> User:
        """Register someone (or change their role and PIN)."""
        if not NAME_PATTERN.match(name):
            raise AccessError("a name is 2 to 32 letters, digits, '.', '_' or '-'")
        if role not in ROLES:
            raise AccessError(f"role must be one of {', '.join(ROLES)}")
        if role in ROLES_WITH_PIN:
            if pin is None:
                raise AccessError(f"a {role} needs a PIN")
            self._registry.upsert_operator(name, role, pin_hash=hash_pin(pin))
        else:
            self._registry.upsert_operator(name, role, pin_hash=None)
        return User(name, role)
