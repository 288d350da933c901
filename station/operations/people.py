"""Who may do what at the station: operators, supervisors, engineers, their PINs and lock-outs.

Operators log in with their badge (or id) alone. Supervisors and engineers give a PIN, kept
only as a slow salted hash (``station.security.pins``). A wrong PIN counts against the person
in the store, whichever front end it was typed in (the window, ``station rework`` on any
station of the line); after ``[access] pin_attempts`` wrong ones in a row no PIN of theirs is
accepted for ``lockout_minutes``, and the lock-out is audited. Every refusal is an
``AccessError`` of the domain's tree; no message holds a PIN.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final, Protocol

from station.config.settings import AccessSettings
from station.domain.errors import AccessError, LockedOutError
from station.domain.records import OperatorRecord
from station.flow.ports import AuditTrail
from station.security.pins import hash_pin, verify_pin

OPERATOR: Final = "operator"
SUPERVISOR: Final = "supervisor"
ENGINEER: Final = "engineer"
ROLES: Final = (OPERATOR, SUPERVISOR, ENGINEER)
ROLES_WITH_PIN: Final = frozenset({SUPERVISOR, ENGINEER})
NAME_PATTERN: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{1,31}$")
BADGE_PREFIXES: Final = ("BADGE:", "OP:")


@dataclass(frozen=True)
class User:
    name: str
    role: str

    @property
    def actor(self) -> str:
        """How the audit log names this person: ``role:name``."""
        return f"{self.role}:{self.name}"


class PeopleRegistry(Protocol):
    """The store's operator table as this module uses it (``RegistryRepository``)."""

    def get_operator(self, name: str) -> OperatorRecord | None: ...

    def operators(self) -> list[OperatorRecord]: ...

    def upsert_operator(self, name: str, role: str = ..., *, pin_hash: str | None = ...) -> OperatorRecord: ...

    def record_pin_failure(self, name: str, *, limit: int, lockout: timedelta) -> OperatorRecord: ...

    def clear_pin_failures(self, name: str) -> None: ...


def badge_name(scan: str) -> str:
    """The person's id in a badge scan: the text without an optional ``BADGE:``/``OP:`` prefix."""
    text = scan.strip()
    for prefix in BADGE_PREFIXES:
        if text.upper().startswith(prefix):
            return text[len(prefix) :].strip()
    return text


def _now() -> datetime:
    return datetime.now(UTC)


class People:
    """Logins, PIN checks and lock-outs over the store's operator table."""

    def __init__(
        self,
        registry: PeopleRegistry,
        audit: AuditTrail,
        access: AccessSettings,
        *,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._registry = registry
        self._audit = audit
        self._access = access
        self._clock = clock

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
        """A supervisor or engineer, by name and PIN (operators have no PIN)."""
        return self._check_pin(badge_name(name), pin, doing="sign in")

    def approve(self, name: str, pin: str, role: str, action: str) -> User:
        """The person ``name``, if they have ``role`` and ``pin`` is their PIN, approving ``action``.

        Every supervisor action goes through here, from the window (the signed-in supervisor
        types the PIN again) and from the command line (``--supervisor NAME``) alike.
        """
        user = self._check_pin(name, pin, doing=action)
        if user.role != role:
            self._audit.append_audit(user.actor, "access.refused", f"{action}: only a {role} may do this")
            raise AccessError(f"only a {role} may approve {action}; {user.name} is a {user.role}")
        self._audit.append_audit(user.actor, "access.approved", f"{action}: approved with the PIN")
        return user

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

    def create_first_engineer(self, name: str, pin: str) -> User:
        """A new station has no engineer yet: the first one registers themselves."""
        if self.has_role(ENGINEER):
            raise AccessError("the station already has an engineer")
        user = self.add(name, ENGINEER, pin)
        self._audit.append_audit(user.actor, "people.first-engineer", f"{name} registered as the first engineer")
        return user

    # ---- PINs and lock-outs -----------------------------------------------------------------

    def _check_pin(self, name: str, pin: str, *, doing: str) -> User:
        record = self._registry.get_operator(name)
        if record is None or record.role not in ROLES_WITH_PIN:
            self._audit.append_audit(f"unknown:{name}", "access.refused", f"{doing}: wrong name or PIN")
            raise AccessError("wrong name or PIN")
        now = self._clock()
        if record.locked_until is not None and record.locked_until > now:
            self._audit.append_audit(f"{record.role}:{record.name}", "access.refused", f"{doing}: locked out")
            raise self._locked_out(record.name, record.locked_until)
        if not verify_pin(pin, record.pin_hash):
            updated = self._registry.record_pin_failure(
                record.name, limit=self._access.pin_attempts, lockout=self._access.lockout
            )
            actor = f"{record.role}:{record.name}"
            if updated.locked_until is not None and updated.locked_until > now:
                self._audit.append_audit(
                    actor, "access.locked-out",
                    f"{record.name} locked out for {self._access.lockout_minutes} minute(s) after "
                    f"{self._access.pin_attempts} wrong PINs in a row ({doing})",
                )  # fmt: skip
                raise self._locked_out(record.name, updated.locked_until)
            self._audit.append_audit(
                actor, "access.refused", f"{doing}: wrong PIN ({updated.failed_pins} of {self._access.pin_attempts})"
            )
            raise AccessError("wrong name or PIN")
        if record.failed_pins or record.locked_until is not None:
            self._registry.clear_pin_failures(record.name)
        return User(record.name, record.role)

    @staticmethod
    def _locked_out(name: str, until: datetime) -> LockedOutError:
        shown = until.astimezone().strftime("%H:%M")
        return LockedOutError(f"{name} is locked out after too many wrong PINs until {shown}", until=until)
