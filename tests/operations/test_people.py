"""People, PINs and lock-outs, without Qt: the rules both front ends rely on."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from station.config.settings import AccessSettings
from station.domain.errors import AccessError, LockedOutError
from station.domain.records import OperatorRecord
from station.operations.people import People
from station.operations.session import StationSession
from station.security.pins import hash_pin, verify_pin


class MemoryRegistry:
    """The store's operator table, in a dictionary (the store's own is tested in tests/store)."""

    def __init__(self) -> None:
        self.rows: dict[str, OperatorRecord] = {}

    def get_operator(self, name: str) -> OperatorRecord | None:
        return self.rows.get(name)

    def operators(self) -> list[OperatorRecord]:
        return list(self.rows.values())

    def upsert_operator(self, name: str, role: str = "operator", *, pin_hash: str | None = None) -> OperatorRecord:
        self.rows[name] = OperatorRecord(name, role, pin_hash)
        return self.rows[name]

    def record_pin_failure(self, name: str, *, limit: int, lockout: timedelta) -> OperatorRecord:
        row = self.rows[name]
        failed = row.failed_pins + 1
        row = replace(row, failed_pins=0, locked_until=NOW[0] + lockout) if failed >= limit else replace(
            row, failed_pins=failed
        )
        self.rows[name] = row
        return row

    def clear_pin_failures(self, name: str) -> None:
        self.rows[name] = replace(self.rows[name], failed_pins=0, locked_until=None)


class AuditList:
    def __init__(self) -> None:
        self.entries: list[tuple[str, str, str]] = []

    def append_audit(self, actor: str, action: str, detail: str) -> None:
        self.entries.append((actor, action, detail))

    def actions(self) -> list[tuple[str, str]]:
        return [(actor, action) for actor, action, _ in self.entries]


NOW = [datetime(2026, 12, 6, 8, 0, tzinfo=UTC)]


@pytest.fixture
def audit() -> AuditList:
    return AuditList()


@pytest.fixture
def people(audit: AuditList) -> People:
    NOW[0] = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)
    people = People(MemoryRegistry(), audit, AccessSettings(pin_attempts=3, lockout_minutes=10), clock=lambda: NOW[0])
    people.add("anna", "operator", None)
    people.add("sam", "supervisor", "2468")
    people.add("eng", "engineer", "1357")
    return people


def test_pins_are_kept_as_slow_salted_hashes() -> None:
    first, second = hash_pin("4711"), hash_pin("4711")
    assert first != second and "4711" not in first
    assert first.startswith("scrypt$")
    assert verify_pin("4711", first)
    assert not verify_pin("4712", first)
    assert not verify_pin("", first)
    assert not verify_pin("4711", "garbage")
    with pytest.raises(AccessError):
        hash_pin("12")


def test_roles_badges_and_pins(people: People) -> None:
    assert people.badge_login("BADGE:anna").name == "anna"
    with pytest.raises(AccessError, match="PIN"):
        people.badge_login("sam")
    with pytest.raises(AccessError, match="unknown badge"):
        people.badge_login("nobody")
    assert people.sign_in("sam", "2468").role == "supervisor"
    with pytest.raises(AccessError):
        people.sign_in("sam", "0000")
    with pytest.raises(AccessError):
        people.sign_in("anna", "")
    with pytest.raises(AccessError, match="needs a PIN"):
        people.add("eve", "engineer", None)
    with pytest.raises(AccessError, match="a name is"):
        people.add("x", "operator", None)


def test_an_approval_needs_the_role_and_the_pin_and_is_audited(people: People, audit: AuditList) -> None:
    assert people.approve("sam", "2468", "supervisor", "rework of TST-1").name == "sam"
    assert ("supervisor:sam", "access.approved") in audit.actions()
    with pytest.raises(AccessError, match="only a supervisor may approve"):
        people.approve("eng", "1357", "supervisor", "rework of TST-1")
    with pytest.raises(AccessError, match="wrong name or PIN"):
        people.approve("anna", "", "supervisor", "rework of TST-1")  # an operator has no PIN
    assert ("engineer:eng", "access.refused") in audit.actions()


def test_wrong_pins_in_a_row_lock_the_person_out_until_the_time_passes(people: People, audit: AuditList) -> None:
    for _ in range(2):
        with pytest.raises(AccessError, match="wrong name or PIN"):
            people.sign_in("sam", "0000")
    with pytest.raises(LockedOutError) as locked:
        people.approve("sam", "1111", "supervisor", "golden marking of TST-1")
    assert locked.value.until == NOW[0] + timedelta(minutes=10)
    assert audit.actions().count(("supervisor:sam", "access.locked-out")) == 1
    lock_out = next(detail for _, action, detail in audit.entries if action == "access.locked-out")
    assert "after 3 wrong PINs in a row" in lock_out and "2468" not in lock_out
    # Locked out: the right PIN is refused too, in sign-in and approvals alike.
    with pytest.raises(LockedOutError):
        people.sign_in("sam", "2468")
    NOW[0] += timedelta(minutes=9, seconds=59)
    with pytest.raises(LockedOutError):
        people.approve("sam", "2468", "supervisor", "rework")
    NOW[0] += timedelta(seconds=2)
    assert people.sign_in("sam", "2468").name == "sam"


def test_a_right_pin_starts_the_count_again(people: People) -> None:
    for _ in range(2):
        with pytest.raises(AccessError):
            people.sign_in("sam", "0000")
    people.sign_in("sam", "2468")
    for _ in range(2):
        with pytest.raises(AccessError):
            people.sign_in("sam", "0000")
    assert people.sign_in("sam", "2468").name == "sam"  # never three in a row


def test_no_pin_reaches_the_audit_log(people: People, audit: AuditList) -> None:
    for pin in ("9876", "5432", "2468"):
        with contextlib.suppress(AccessError):
            people.sign_in("sam", pin)
    assert not [entry for entry in audit.entries if any(pin in " ".join(entry) for pin in ("9876", "5432", "2468"))]


def test_a_session_signs_in_requires_roles_and_logs_out(people: People, audit: AuditList) -> None:
    session = StationSession(people, audit)
    assert session.actor == "station"
    with pytest.raises(AccessError, match="only a signed-in supervisor"):
        session.require("supervisor")
    session.login_with_badge("OP:anna")
    assert session.actor == "operator:anna"
    with pytest.raises(AccessError):
        session.require("supervisor")
    with pytest.raises(AccessError):
        session.sign_in("sam", "0000")
    assert ("unknown:sam", "session.refused") in audit.actions()
    assert session.sign_in("sam", "2468").role == "supervisor"
    assert session.require("supervisor").name == "sam"
    assert session.logout("idle") and session.user is None and not session.logout()
    assert audit.actions()[-1] == ("supervisor:sam", "session.logout")


def test_the_first_engineer_registers_once(audit: AuditList) -> None:
    people = People(MemoryRegistry(), audit, AccessSettings())
    session = StationSession(people, audit)
    assert session.needs_first_engineer()
    assert session.create_first_engineer("first", "1234").role == "engineer"
    assert not session.needs_first_engineer()
    with pytest.raises(AccessError, match="already has an engineer"):
        session.create_first_engineer("second", "1234")
