"""Who is signed in at the station's window, and what their role lets them do.

The command line has no session: each supervisor action there names the supervisor and gives
the PIN (``People.approve``). The window keeps one person signed in at a time; every login,
logout and refusal is in the audit log under that person's name.
"""

from __future__ import annotations

from station.domain.errors import AccessError
from station.flow.ports import AuditTrail
from station.operations.people import ENGINEER, People, User, badge_name

STATION_ACTOR = "station"


class StationSession:
    def __init__(self, people: People, audit: AuditTrail) -> None:
        self.people = people
        self._audit = audit
        self.user: User | None = None

    @property
    def actor(self) -> str:
        """How the audit log names whoever acts now."""
        return self.user.actor if self.user is not None else STATION_ACTOR

    def audit(self, action: str, detail: str) -> None:
        self._audit.append_audit(self.actor, action, detail)

    def login_with_badge(self, scan: str) -> User:
        user = self.people.badge_login(scan)
        self._start(user)
        return user

    def sign_in(self, name: str, pin: str) -> User:
        try:
            user = self.people.sign_in(name, pin)
        except AccessError:
            self._audit.append_audit(f"unknown:{badge_name(name)}", "session.refused", "wrong name or PIN")
            raise
        self._start(user)
        return user

    def needs_first_engineer(self) -> bool:
        return not self.people.has_role(ENGINEER)

    def create_first_engineer(self, name: str, pin: str) -> User:
        user = self.people.create_first_engineer(name, pin)
        self._start(user)
        return user

    def logout(self, reason: str = "logout") -> bool:
        """End the session; False when nobody was signed in."""
        if self.user is None:
            return False
        self.audit("session.logout", f"{self.user.name} logged out ({reason})")
        self.user = None
        return True

    def require(self, role: str) -> User:
        """The signed-in person, if they have ``role``; AccessError otherwise."""
        if self.user is None or self.user.role != role:
            raise AccessError(f"only a signed-in {role} may do this")
        return self.user

    def _start(self, user: User) -> None:
        self.user = user
        self.audit("session.login", f"{user.name} logged in as {user.role}")
