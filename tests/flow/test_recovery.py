"""Crash recovery for every journal state: the real store, a hand-written probe double.

An attempt left IN_PROGRESS is settled by asking the unit; these tests pin down, state by
state, what the station concludes and what becomes of the credential.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import pytest

from station.domain.errors import ProbeError
from station.domain.recipe import Recipe
from station.domain.records import AttemptResult, CredentialState, JournalState
from station.flow.ports import AttachedUnit, Journal, UnitConsole
from station.flow.run import Slot
from station.flow.sequence import UnitProvisioner
from station.sim.demo_recipe import load_demo_recipe
from station.sim.firmware import build_demo_firmware
from station.store import Database, open_database


class FakeProbe:
    """A probe whose unit is locked or not, or that cannot be reached at all."""

    def __init__(self, probe_id: str, *, locked: bool | None) -> None:
        self.probe_id = probe_id
        self.locked = locked
        self.asked = 0

    def is_locked(self) -> bool:
        self.asked += 1
        if self.locked is None:
            raise ProbeError(f"probe {self.probe_id} is not connected")
        return self.locked

    def attach(self) -> AbstractContextManager[AttachedUnit]:
        raise AssertionError("recovery never attaches: it only asks")

    def recovery_erase(self) -> str:
        raise AssertionError("recovery never erases")

    def interrupt(self) -> None:
        raise AssertionError("recovery runs no step")


def no_console() -> UnitConsole:
    raise AssertionError("recovery does not need the console")


class NoIssuer:
    device_generated = False

    def endpoint_name(self, serial: str, device_id: str) -> str:
        return f"endpoint-{device_id}"

    def issue_station_generated(self, serial: str, device_id: str) -> object:
        raise AssertionError("recovery issues nothing")

    issue_from_csr = issue_station_generated
    region_bytes = issue_station_generated
    check_region = issue_station_generated


class NoAudit:
    def append_audit(self, actor: str, action: str, detail: str) -> None:
        pass


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    database = open_database(f"sqlite:///{tmp_path / 'station.db'}")
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture
def recipe(tmp_path: Path) -> Recipe:
    return load_demo_recipe(tmp_path / "demo", build_demo_firmware(tmp_path / "demo"))


def provisioner_for(database: Database, recipe: Recipe) -> UnitProvisioner:
    database.registry.record_recipe(recipe.source_text, recipe.product, sha256=recipe.content_hash)
    journal = Journal(database.attempts, database.credentials, database.units, NoAudit())
    return UnitProvisioner(recipe, journal, NoIssuer(), None)  # type: ignore[arg-type]


def interrupted_attempt(database: Database, recipe: Recipe, state: JournalState, serial: str) -> int:
    """An attempt the station was killed in, at ``state``, with a credential if it had one."""
    database.registry.record_recipe(recipe.source_text, recipe.product, sha256=recipe.content_hash)
    attempt = database.attempts.create_attempt(
        serial=serial, station="station-9", operator="ann", recipe_hash=recipe.content_hash,
        product=recipe.product, probe_id="probe-1", device_id="00000000000000AA",
    )  # fmt: skip
    order = list(JournalState)
    if order.index(state) >= order.index(JournalState.CREDENTIALS_RESERVED):
        database.credentials.reserve_credential(
            certificate_serial=f"{attempt.id:040x}", certificate_fingerprint=f"{attempt.id:064x}", serial=serial,
            device_id="00000000000000AA", attempt_id=attempt.id, certificate_pem="-----BEGIN CERTIFICATE-----",
        )  # fmt: skip
    if order.index(state) >= order.index(JournalState.INJECTED):
        database.credentials.mark_injected(f"{attempt.id:040x}")
    if state is not JournalState.SCANNED:
        database.attempts.advance(attempt.id, state)
    return attempt.id


BEFORE_THE_LOCK = [
    JournalState.SCANNED,
    JournalState.CONNECTED,
    JournalState.FLASHED,
    JournalState.VERIFIED,
    JournalState.CREDENTIALS_RESERVED,
    JournalState.INJECTED,
]


@pytest.mark.parametrize("state", BEFORE_THE_LOCK)
def test_before_the_lock_nothing_is_kept_and_no_credential_survives(
    database: Database, recipe: Recipe, state: JournalState
) -> None:
    attempt_id = interrupted_attempt(database, recipe, state, "TST-100001")
    probe = FakeProbe("probe-1", locked=False)
    provisioner_for(database, recipe).recover_unfinished("station-9", {"probe-1": Slot("1", probe, no_console)})
    settled = database.attempts.get_attempt(attempt_id)
    assert settled.result is AttemptResult.FAILED and settled.failure_code == "INTERRUPTED"
    assert all(c.state is CredentialState.VOID for c in database.credentials.credentials_for_attempt(attempt_id))
    assert probe.asked == 0  # nothing irreversible happened: no need to ask


@pytest.mark.parametrize("state", [JournalState.LOCK_PENDING, JournalState.LOCKED, JournalState.ACTIVATED])
def test_a_locked_unit_keeps_its_credential_and_is_resumable(
    database: Database, recipe: Recipe, state: JournalState
) -> None:
    attempt_id = interrupted_attempt(database, recipe, state, "TST-100002")
    probe = FakeProbe("probe-1", locked=True)
    provisioner_for(database, recipe).recover_unfinished("station-9", {"probe-1": Slot("1", probe, no_console)})
    settled = database.attempts.get_attempt(attempt_id)
    assert settled.result is AttemptResult.FAILED and settled.failure_code == "INTERRUPTED_LOCKED"
    assert [c.state for c in database.credentials.credentials_for_attempt(attempt_id)] == [CredentialState.INJECTED]
    assert probe.asked == 1


def test_lock_pending_on_an_unlocked_unit_voids_the_credential(database: Database, recipe: Recipe) -> None:
    attempt_id = interrupted_attempt(database, recipe, JournalState.LOCK_PENDING, "TST-100003")
    provisioner_for(database, recipe).recover_unfinished("station-9",
        {"probe-1": Slot("1", FakeProbe("probe-1", locked=False), no_console)}
    )
    settled = database.attempts.get_attempt(attempt_id)
    assert settled.failure_code == "INTERRUPTED"
    assert [c.state for c in database.credentials.credentials_for_attempt(attempt_id)] == [CredentialState.VOID]


@pytest.mark.parametrize("slots", [{}, {"probe-1": "unreachable"}])
def test_a_unit_that_cannot_be_asked_is_flagged_for_inspection(
    database: Database, recipe: Recipe, slots: dict[str, str]
) -> None:
    attempt_id = interrupted_attempt(database, recipe, JournalState.LOCK_PENDING, "TST-100004")
    wiring = {probe: Slot("1", FakeProbe(probe, locked=None), no_console) for probe in slots}
    provisioner_for(database, recipe).recover_unfinished("station-9", wiring)
    settled = database.attempts.get_attempt(attempt_id)
    assert settled.result is AttemptResult.NEEDS_INSPECTION and settled.failure_code == "MAY_BE_LOCKED"
    assert "may be locked" in (settled.failure_message or "")
    # Not guessed either way: the credential is neither voided nor confirmed.
    assert [c.state for c in database.credentials.credentials_for_attempt(attempt_id)] == [CredentialState.INJECTED]


def test_only_this_stations_attempts_are_settled(database: Database, recipe: Recipe) -> None:
    ours = interrupted_attempt(database, recipe, JournalState.FLASHED, "TST-100005")
    database.registry.record_recipe(recipe.source_text, recipe.product, sha256=recipe.content_hash)
    theirs = database.attempts.create_attempt(
        serial="TST-100006", station="station-7", operator="bob", recipe_hash=recipe.content_hash,
        product=recipe.product,
    )  # fmt: skip
    provisioner_for(database, recipe).recover_unfinished("station-9", {})
    assert database.attempts.get_attempt(ours).result is AttemptResult.FAILED
    assert database.attempts.get_attempt(theirs.id).result is AttemptResult.IN_PROGRESS
