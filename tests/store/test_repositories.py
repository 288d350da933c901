"""The repository suite: run against every backend (see conftest's ``db_url``)."""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Connection, event, text

from station.domain.errors import DeviceInProgressError, SerialInProgressError, StoreError, TokenLimitError
from station.domain.records import (
    AttemptFilter,
    AttemptOwner,
    AttemptRecord,
    AttemptResult,
    CredentialRecord,
    CredentialState,
    JournalState,
    SealedToken,
    StepEnd,
    StepOutcome,
)
from station.domain.vault_and_signing import TokenRepository, VaultParameters
from station.store import Database, open_database

from .conftest import RECIPE_TEXT

T0 = datetime(2026, 3, 1, 8, 0, 0, 123456, tzinfo=UTC)


def _attempt(database: Database, recipe_hash: str, serial: str = "SN-0001", **extra: object) -> AttemptRecord:
    fields: dict[str, object] = {
        "serial": serial, "station": "line1-st1", "operator": "ann", "recipe_hash": recipe_hash,
        "product": "ACME-TOASTER", "work_order": "WO-1",
    }
    fields.update(extra)
    return database.attempts.create_attempt(**fields)  # type: ignore[arg-type]


def _token(fingerprint: str, *, product: str = "ACME-TOASTER", limit: int | None = None) -> SealedToken:
    return SealedToken(fingerprint=fingerprint, product=product, nonce=b"n" * 12, ciphertext=b"c" * 40,
                       use_limit=limit, imported_at=T0)


# -- reference data ---------------------------------------------------------------------


def test_registry_upserts(database: Database) -> None:
    station = database.registry.upsert_station("line1-st1", "first station")
    assert station.name == "line1-st1" and station.created_at.tzinfo is not None
    assert database.registry.upsert_station("line1-st1", "renamed").description == "renamed"
    assert [s.name for s in database.registry.stations()] == ["line1-st1"]

    operator = database.registry.upsert_operator("ann", "supervisor", pin_hash="scrypt$abc")
    assert (operator.role, operator.pin_hash) == ("supervisor", "scrypt$abc")
    assert database.registry.upsert_operator("ann", "operator").pin_hash == "scrypt$abc"  # kept
    assert database.registry.upsert_operator("ann", "operator", pin_hash=None).pin_hash is None
    assert database.registry.get_operator("nobody") is None
    assert [o.name for o in database.registry.operators()] == ["ann"]

    order = database.registry.upsert_work_order("WO-1", product="ACME-TOASTER", quantity=500)
    assert (order.product, order.quantity) == ("ACME-TOASTER", 500)
    assert database.registry.upsert_work_order("WO-1").quantity == 500
    assert database.registry.get_work_order("WO-1") == order


def test_recipes_are_kept_by_hash_of_their_text(database: Database) -> None:
    recipe = database.registry.record_recipe("a = 1\n", "P1")
    assert recipe.sha256 == hashlib.sha256(b"a = 1\n").hexdigest()
    assert database.registry.record_recipe("a = 1\n", "P1") == recipe  # idempotent
    assert database.registry.get_recipe(recipe.sha256) == recipe
    assert database.registry.record_recipe("a = 2\n", "P1").sha256 != recipe.sha256  # edited = new
    with pytest.raises(StoreError, match="not the SHA-256"):
        database.registry.record_recipe("a = 3\n", "P1", sha256="0" * 64)
    with pytest.raises(StoreError, match="already recorded for product P1"):
        database.registry.record_recipe("a = 1\n", "P2")


# -- units ------------------------------------------------------------------------------


def test_units(database: Database) -> None:
    assert database.units.get_unit("SN-1") is None
    unit = database.units.get_or_create_unit("SN-1", at=T0)
    assert unit.first_seen_at == T0 and unit.device_id is None
    assert database.units.get_or_create_unit("SN-1", "DEV-A").device_id == "DEV-A"
    assert database.units.get_or_create_unit("SN-1", "DEV-B").device_id == "DEV-A"  # first one stays
    assert database.units.mark_development("SN-1").is_development
    assert database.units.set_golden("SN-1").is_golden
    assert not database.units.set_golden("SN-1", False).is_golden
    assert database.units.get_unit("SN-1").is_development  # type: ignore[union-attr]


def test_development_devices_are_known_by_device_id(database: Database, recipe_hash: str) -> None:
    database.units.get_or_create_unit("SN-1", "DEV-A")
    assert not database.units.is_development_device("DEV-A")
    database.units.mark_development("SN-1")
    assert database.units.is_development_device("DEV-A")
    # A device seen only in an attempt (the unit kept another id) counts too.
    attempt = _attempt(database, recipe_hash, serial="SN-2", device_id="DEV-B")
    database.units.get_or_create_unit("SN-3", "DEV-C")
    database.attempts.set_attempt_fields(attempt.id, device_id="DEV-C")
    database.units.mark_development("SN-2")
    assert database.units.is_development_device("DEV-C") and database.units.is_development_device("DEV-B")
    assert not database.units.is_development_device("DEV-Z")


def test_times_are_utc_aware_and_naive_times_are_refused(database: Database) -> None:
    plus_two = timezone(timedelta(hours=2))
    unit = database.units.get_or_create_unit("SN-TZ", at=datetime(2026, 3, 1, 10, 0, tzinfo=plus_two))
    assert unit.first_seen_at == datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    assert unit.first_seen_at.utcoffset() == timedelta(0)
    with pytest.raises(StoreError, match="timezone-aware"):
        database.units.get_or_create_unit("SN-NAIVE", at=datetime(2026, 3, 1, 10, 0))


# -- attempts and steps -----------------------------------------------------------------


def test_attempt_lifecycle(database: Database, recipe_hash: str) -> None:
    attempt = _attempt(database, recipe_hash, probe_id="sim:unit-0001", at=T0)
    assert (attempt.state, attempt.result) == (JournalState.SCANNED, AttemptResult.IN_PROGRESS)
    assert attempt.started_at == T0 and attempt.previous_attempt_id is None
    assert (attempt.station, attempt.operator, attempt.work_order) == ("line1-st1", "ann", "WO-1")
    # The record create_attempt returns is the record as stored, field for field.
    assert attempt == database.attempts.get_attempt(attempt.id)
    owned = _attempt(database, recipe_hash, serial="SN-OWNED", owner=_owner("2"), work_order=None)
    assert owned == database.attempts.get_attempt(owned.id) and owned.owner is not None

    database.attempts.set_attempt_fields(attempt.id, device_id="DEV-1", image_hashes=["aa" * 32, "bb" * 32])
    database.attempts.advance(attempt.id, JournalState.CONNECTED)
    step = database.attempts.start_step(attempt.id, "flash", at=T0 + timedelta(seconds=1))
    assert step.outcome is StepOutcome.RUNNING and step.id is not None
    finished = database.attempts.finish_step(step.id, StepOutcome.PASSED, detail="2 regions",
                                             at=T0 + timedelta(seconds=3.5))
    assert finished.ended_at == T0 + timedelta(seconds=3.5)
    with pytest.raises(StoreError, match="already finished"):
        database.attempts.finish_step(step.id, StepOutcome.FAILED)
    database.attempts.append_transcript(attempt.id, "> hello\n")
    database.attempts.append_transcript(attempt.id, "< ok\n")
    database.attempts.advance(attempt.id, JournalState.FLASHED)

    done = database.attempts.finish_attempt(attempt.id, AttemptResult.PASSED, at=T0 + timedelta(seconds=9))
    assert (done.state, done.result, done.ended_at) == (JournalState.PASSED, AttemptResult.PASSED,
                                                        T0 + timedelta(seconds=9))
    assert done.device_id == "DEV-1" and done.image_hashes == ("aa" * 32, "bb" * 32)
    assert done.console_transcript == "> hello\n< ok\n"
    assert [(s.name, s.outcome, s.detail) for s in done.steps] == [("flash", StepOutcome.PASSED, "2 regions")]
    assert database.units.get_unit("SN-0001").device_id == "DEV-1"  # type: ignore[union-attr]

    # A finished attempt is final.
    with pytest.raises(StoreError, match="already finished"):
        database.attempts.advance(attempt.id, JournalState.LOCKED)
    with pytest.raises(StoreError, match="already finished"):
        database.attempts.finish_attempt(attempt.id, AttemptResult.FAILED, failure_code="X")
    with pytest.raises(StoreError, match="already finished"):
        database.attempts.start_step(attempt.id, "late")


def test_finish_rules(database: Database, recipe_hash: str) -> None:
    attempt = _attempt(database, recipe_hash)
    with pytest.raises(StoreError, match="use finish_attempt"):
        database.attempts.advance(attempt.id, JournalState.PASSED)
    with pytest.raises(StoreError, match="needs a failure code"):
        database.attempts.finish_attempt(attempt.id, AttemptResult.FAILED)
    with pytest.raises(StoreError, match="carries no failure"):
        database.attempts.finish_attempt(attempt.id, AttemptResult.PASSED, failure_code="X")
    with pytest.raises(StoreError, match="cannot finish as IN_PROGRESS"):
        database.attempts.finish_attempt(attempt.id, AttemptResult.IN_PROGRESS)
    failed = database.attempts.finish_attempt(attempt.id, AttemptResult.FAILED, failure_step="flash",
                                              failure_code="PROBE_TIMEOUT", failure_message="Move the board")
    assert (failed.state, failed.failure_step, failed.failure_code, failed.failure_message) == (
        JournalState.FAILED, "flash", "PROBE_TIMEOUT", "Move the board")
    with pytest.raises(StoreError, match="no attempt 999999"):
        database.attempts.get_attempt(999999)


def test_a_passed_step_and_the_state_it_reaches_are_one_commit(database: Database, recipe_hash: str) -> None:
    attempt = _attempt(database, recipe_hash)
    step = database.attempts.start_step(attempt.id, "connect")
    assert step.id is not None, "a started step is stored, so it has an id"
    finished = database.attempts.finish_step(step.id, StepOutcome.PASSED, detail="device id D",
                                             advance_to=JournalState.CONNECTED)
    assert (finished.name, finished.attempt_id, finished.outcome) == ("connect", attempt.id, StepOutcome.PASSED)
    assert database.attempts.get_attempt(attempt.id).state is JournalState.CONNECTED

    # A final state is refused before anything is written: the step stays RUNNING.
    second = database.attempts.start_step(attempt.id, "flash")
    assert second.id is not None, "a started step is stored, so it has an id"
    with pytest.raises(StoreError, match="use finish_attempt"):
        database.attempts.finish_step(second.id, StepOutcome.PASSED, advance_to=JournalState.PASSED)
    assert database.attempts.get_attempt(attempt.id).steps[-1].outcome is StepOutcome.RUNNING

    # A step of a finished attempt cannot move its attempt: the whole commit is refused. (The
    # attempt's end closed the step it left running: no step stays RUNNING in the records.)
    database.attempts.finish_attempt(attempt.id, AttemptResult.FAILED, failure_code="X")
    with pytest.raises(StoreError, match="already finished"):
        database.attempts.finish_step(second.id, StepOutcome.PASSED, advance_to=JournalState.FLASHED)
    after = database.attempts.get_attempt(attempt.id)
    assert after.state is JournalState.FAILED and after.steps[-1].outcome is StepOutcome.FAILED
    with pytest.raises(StoreError, match="no step 424242"):
        database.attempts.finish_step(424242, StepOutcome.PASSED)


def test_attempt_needs_a_recorded_recipe(database: Database) -> None:
    with pytest.raises(StoreError, match="is not recorded"):
        _attempt(database, "f" * 64)
    assert database.units.get_unit("SN-0001") is None  # nothing written


def test_history_latest_and_unfinished(database: Database, recipe_hash: str) -> None:
    first = _attempt(database, recipe_hash, at=T0)
    database.attempts.finish_attempt(first.id, AttemptResult.FAILED, failure_code="FLASH")
    other = _attempt(database, recipe_hash, serial="SN-0002", station="line1-st2")
    second = _attempt(database, recipe_hash, is_rework=True, at=T0 + timedelta(minutes=5))
    assert second.previous_attempt_id == first.id and second.is_rework
    database.attempts.start_step(second.id, "connect")

    history = database.attempts.history("SN-0001")
    assert [a.id for a in history] == [first.id, second.id]
    assert [s.name for s in history[1].steps] == ["connect"]
    assert database.attempts.history("SN-NONE") == []
    latest = database.attempts.latest_attempt("SN-0001")
    assert latest is not None and latest.id == second.id
    assert database.attempts.latest_attempt("SN-NONE") is None
    assert [a.id for a in database.attempts.unfinished_attempts()] == [other.id, second.id]
    assert [a.id for a in database.attempts.unfinished_attempts("line1-st1")] == [second.id]


def test_iter_attempts_filters(database: Database, recipe_hash: str) -> None:
    other_hash = database.registry.record_recipe("other\n", "OTHER").sha256
    made = []
    for index in range(6):
        attempt = _attempt(
            database, recipe_hash if index % 2 == 0 else other_hash, serial=f"SN-{index}",
            product="ACME-TOASTER" if index % 2 == 0 else "OTHER",
            work_order="WO-A" if index < 3 else "WO-B", operator="ann" if index < 4 else "bob",
            station="st1" if index != 5 else "st2", at=T0 + timedelta(days=index),
        )
        step = database.attempts.start_step(attempt.id, "flash", at=T0 + timedelta(days=index))
        assert step.id is not None, "a started step is stored, so it has an id"
        database.attempts.finish_step(step.id, StepOutcome.PASSED, at=T0 + timedelta(days=index, seconds=2))
        if index % 3 == 0:
            database.attempts.finish_attempt(attempt.id, AttemptResult.PASSED)
        made.append(attempt.id)

    def ids(**wanted: object) -> list[int]:
        found = [a.id for a in database.attempts.iter_attempts(AttemptFilter(**wanted), batch_size=2)]  # type: ignore[arg-type]
        assert database.attempts.count_attempts(AttemptFilter(**wanted)) == len(found)  # type: ignore[arg-type]
        return found

    assert ids() == made
    assert ids(work_order="WO-A") == made[:3]
    assert ids(product="OTHER") == made[1::2]
    assert ids(operator="bob") == made[4:]
    assert ids(station="st2") == [made[5]]
    assert ids(since=T0 + timedelta(days=2), until=T0 + timedelta(days=4)) == made[2:4]
    assert ids(result=AttemptResult.PASSED) == [made[0], made[3]]
    assert ids(serials=("SN-1", "SN-4")) == [made[1], made[4]]
    assert ids(work_order="WO-B", result=AttemptResult.IN_PROGRESS) == [made[4], made[5]]
    every = list(database.attempts.iter_attempts())
    assert all(len(a.steps) == 1 and a.steps[0].name == "flash" for a in every)


# -- credentials ------------------------------------------------------------------------


def _reserve(
    database: Database, attempt_id: int, serial_hex: str = "0a1b", fingerprint: str = "ab" * 32
) -> CredentialRecord:
    return database.credentials.reserve_credential(
        certificate_serial=serial_hex, certificate_fingerprint=fingerprint, serial="SN-0001",
        device_id="DEV-1", attempt_id=attempt_id,
        certificate_pem="-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )


def test_credentials_lifecycle(database: Database, recipe_hash: str) -> None:
    attempt = _attempt(database, recipe_hash)
    credential = _reserve(database, attempt.id, "0A1B")
    assert credential.state is CredentialState.RESERVED and credential.certificate_serial == "0a1b"
    assert database.attempts.get_attempt(attempt.id).certificate_fingerprint == "ab" * 32
    assert database.credentials.mark_injected("0a1b").state is CredentialState.INJECTED
    with pytest.raises(StoreError, match="not RESERVED"):
        database.credentials.mark_injected("0a1b")
    assert database.credentials.void_credential("0a1b").state is CredentialState.VOID
    with pytest.raises(StoreError, match="not RESERVED"):
        database.credentials.mark_injected("0a1b")
    assert [c.certificate_serial for c in database.credentials.credentials_for_attempt(attempt.id)] == ["0a1b"]
    assert database.credentials.credentials_for_serial("SN-0001")[0].state is CredentialState.VOID
    assert database.credentials.get_credential("0A1B") is not None
    with pytest.raises(StoreError, match="no credential"):
        database.credentials.void_credential("ffff")


def test_a_credential_is_never_offered_twice(database: Database, recipe_hash: str) -> None:
    first = _attempt(database, recipe_hash)
    _reserve(database, first.id)
    database.credentials.void_credential("0a1b")
    second = _attempt(database, recipe_hash, serial="SN-0002")
    with pytest.raises(StoreError, match="never offered twice"):
        _reserve(database, second.id)  # same certificate serial, even though VOID
    with pytest.raises(StoreError, match="never offered twice"):
        _reserve(database, second.id, "0c0d")  # same fingerprint under another serial
    assert database.credentials.credentials_for_attempt(second.id) == []


def test_concurrent_reservations_of_one_credential_give_it_once(database: Database, recipe_hash: str) -> None:
    attempts = [_attempt(database, recipe_hash, serial=f"SN-{index}") for index in range(8)]
    outcomes: list[str] = []
    barrier = threading.Barrier(len(attempts))

    def reserve(attempt_id: int) -> None:
        barrier.wait()
        try:
            _reserve(database, attempt_id, "beef")
            outcomes.append("reserved")
        except StoreError:
            outcomes.append("refused")

    threads = [threading.Thread(target=reserve, args=(a.id,)) for a in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused"] * 7 + ["reserved"]


def test_private_keys_are_refused(database: Database, recipe_hash: str) -> None:
    attempt = _attempt(database, recipe_hash)
    with pytest.raises(StoreError, match="private key"):
        database.credentials.reserve_credential(
            certificate_serial="01", certificate_fingerprint="cd" * 32, serial="SN-0001", device_id="D",
            attempt_id=attempt.id,
            certificate_pem="-----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY-----\n",
        )


# -- token vault ------------------------------------------------------------------------


def test_token_repository_protocol(database: Database, recipe_hash: str) -> None:
    tokens: TokenRepository = database.tokens
    assert tokens.vault_parameters() is None
    parameters = VaultParameters(salt=b"s" * 16, scrypt_n=2**14, scrypt_r=8, scrypt_p=1,
                                 check_nonce=b"n" * 12, check_value=b"v" * 32)
    tokens.set_vault_parameters(parameters)
    assert tokens.vault_parameters() == parameters
    with pytest.raises(StoreError, match="never replaced"):
        tokens.set_vault_parameters(parameters)

    assert tokens.add_sealed_tokens([_token("f1"), _token("f2", limit=2), _token("f3", product="OTHER")]) == 3
    assert tokens.add_sealed_tokens([_token("f1"), _token("f4")]) == 1
    assert [t.fingerprint for t in tokens.sealed_tokens("ACME-TOASTER")] == ["f1", "f2", "f4"]
    assert tokens.sealed_tokens("ACME-TOASTER")[0] == _token("f1")

    attempt = _attempt(database, recipe_hash)
    tokens.record_token_use("f2", attempt.id)
    assert database.attempts.get_attempt(attempt.id).token_fingerprint == "f2"
    statuses = {s.fingerprint: s for s in tokens.token_statuses()}
    assert (statuses["f2"].uses, statuses["f2"].use_limit, statuses["f2"].exhausted) == (1, 2, False)
    assert statuses["f1"].uses == 0 and statuses["f3"].product == "OTHER"
    assert [s.fingerprint for s in tokens.token_statuses("OTHER")] == ["f3"]

    tokens.record_token_use("f2", attempt.id)
    with pytest.raises(TokenLimitError, match="reached its use limit"):
        tokens.record_token_use("f2", attempt.id)
    assert {s.fingerprint: s for s in tokens.token_statuses()}["f2"].exhausted
    with pytest.raises(StoreError, match="no activation token"):
        tokens.record_token_use("nope", attempt.id)
    with pytest.raises(StoreError, match="no attempt"):
        tokens.record_token_use("f1", 999999)
    for _ in range(3):
        tokens.record_token_use("f1", attempt.id)  # no limit
    assert {s.fingerprint: s for s in tokens.token_statuses()}["f1"].uses == 3


def test_next_usable_token_is_the_oldest_below_its_limit(database: Database, recipe_hash: str) -> None:
    tokens: TokenRepository = database.tokens
    assert tokens.next_usable_token("ACME-TOASTER") is None and tokens.token_count("ACME-TOASTER") == 0
    later = T0 + timedelta(hours=1)
    tokens.add_sealed_tokens([
        _token("old-once", limit=1),
        _token("old-twice", limit=2),
        _token("other", product="OTHER"),
    ])
    tokens.add_sealed_tokens([
        SealedToken(fingerprint="new-unlimited", product="ACME-TOASTER", nonce=b"n" * 12, ciphertext=b"c" * 40,
                    use_limit=None, imported_at=later),
    ])
    attempt = _attempt(database, recipe_hash)
    expected_order = ["old-once", "old-twice", "old-twice", "new-unlimited", "new-unlimited"]
    for fingerprint in expected_order:
        token = tokens.next_usable_token("ACME-TOASTER")
        assert token is not None and token.fingerprint == fingerprint
        tokens.record_token_use(fingerprint, attempt.id)
    assert tokens.token_count("ACME-TOASTER") == 3 and tokens.token_count("OTHER") == 1
    only_other = tokens.next_usable_token("OTHER")
    assert only_other is not None and only_other == _token("other", product="OTHER")


def test_a_reserved_use_counts_until_the_unit_answers(database: Database, recipe_hash: str) -> None:
    tokens = database.tokens
    tokens.add_sealed_tokens([_token("once", limit=1)])
    first = _attempt(database, recipe_hash, serial="SN-R1")
    tokens.reserve_token_use("once", first.id)
    assert tokens.next_usable_token("ACME-TOASTER") is None  # reserved: taken
    with pytest.raises(TokenLimitError):
        tokens.reserve_token_use("once", first.id)
    tokens.release_token_use("once", first.id)  # the unit refused it: given back
    assert database.attempts.get_attempt(first.id).token_fingerprint is None
    assert tokens.token_statuses()[0].uses == 0
    with pytest.raises(StoreError, match="holds no reserved use"):
        tokens.confirm_token_use("once", first.id)  # released is final
    second = _attempt(database, recipe_hash, serial="SN-R2")
    tokens.reserve_token_use("once", second.id)
    tokens.confirm_token_use("once", second.id)
    assert tokens.token_statuses()[0].uses == 1 and tokens.token_statuses()[0].exhausted
    with database.engine.connect() as connection:
        states = connection.execute(text("SELECT attempt_id, state FROM token_uses ORDER BY id")).all()
    assert [tuple(row) for row in states] == [(first.id, "released"), (second.id, "used")]


def test_reserved_uses_of_a_units_earlier_attempts_are_settled_by_what_the_unit_says(
    database: Database, recipe_hash: str
) -> None:
    tokens = database.tokens
    tokens.add_sealed_tokens([_token("t1", limit=5)])
    for activated in (True, False):
        serial = f"SN-S{int(activated)}"
        earlier = _attempt(database, recipe_hash, serial=serial)
        tokens.reserve_token_use("t1", earlier.id)
        database.attempts.finish_attempt(earlier.id, AttemptResult.FAILED, failure_step="activate",
                                         failure_code="STEP_TIMEOUT")
        current = _attempt(database, recipe_hash, serial=serial)
        tokens.reserve_token_use("t1", current.id)
        assert tokens.settle_reserved_uses(serial, activated=activated, except_attempt=current.id) == 1
        assert tokens.settle_reserved_uses(serial, activated=activated, except_attempt=current.id) == 0
        with database.engine.connect() as connection:
            state = connection.execute(text("SELECT state FROM token_uses WHERE attempt_id = :a"),
                                       {"a": earlier.id}).scalar_one()
        assert state == ("used" if activated else "released")
        tokens.confirm_token_use("t1", current.id)  # the current attempt's own use is untouched
        database.attempts.finish_attempt(current.id, AttemptResult.FAILED, failure_step="identity",
                                         failure_code="IDENTITY_MISMATCH")
    assert tokens.token_statuses()[0].uses == 3  # used, used (current), released not counted, used


def test_token_limit_holds_under_concurrent_use(database: Database, recipe_hash: str) -> None:
    database.tokens.add_sealed_tokens([_token("shared", limit=3)])
    attempts = [_attempt(database, recipe_hash, serial=f"SN-{index}") for index in range(8)]
    outcomes: list[str] = []
    barrier = threading.Barrier(len(attempts))

    def use(attempt_id: int) -> None:
        barrier.wait()
        try:
            database.tokens.record_token_use("shared", attempt_id)
            outcomes.append("used")
        except TokenLimitError:
            outcomes.append("refused")

    threads = [threading.Thread(target=use, args=(a.id,)) for a in attempts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused"] * 5 + ["used"] * 3
    assert database.tokens.token_statuses()[0].uses == 3


def test_journal_writes_of_concurrent_slots_are_each_committed_or_refused_alone(
    database: Database, recipe_hash: str, db_url: str
) -> None:
    """Eight slots journaling at once (SQLite shares their commits): every good write is stored
    and visible to a fresh connection; a write refused in the same moment changes nothing."""
    attempts = [_attempt(database, recipe_hash, serial=f"SN-{index}") for index in range(8)]
    finished = _attempt(database, recipe_hash, serial="SN-DONE")
    database.attempts.finish_attempt(finished.id, AttemptResult.FAILED, failure_code="X")
    barrier = threading.Barrier(len(attempts) + 1)
    refusals: list[str] = []

    def slot(attempt_id: int) -> None:
        barrier.wait()
        for name in ("connect", "flash", "verify"):
            step = database.attempts.start_step(attempt_id, name)
            assert step.id is not None, "a started step is stored, so it has an id"
            database.attempts.finish_step(step.id, StepOutcome.PASSED, detail=name, advance_to=JournalState.CONNECTED)
            database.attempts.set_attempt_fields(attempt_id, device_id=f"DEV-{attempt_id}")

    def late_writer() -> None:
        barrier.wait()
        for _ in range(3):
            try:
                database.attempts.start_step(finished.id, "late")
            except StoreError as error:
                refusals.append(str(error))

    threads = [threading.Thread(target=slot, args=(attempt.id,)) for attempt in attempts]
    threads.append(threading.Thread(target=late_writer))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(refusals) == 3 and all("already finished" in refusal for refusal in refusals)
    reopened = open_database(db_url)  # what a restarted station would read
    try:
        for attempt in attempts:
            stored = reopened.attempts.get_attempt(attempt.id)
            assert [(s.name, s.outcome) for s in stored.steps] == [
                ("connect", StepOutcome.PASSED), ("flash", StepOutcome.PASSED), ("verify", StepOutcome.PASSED)
            ]
            assert stored.state is JournalState.CONNECTED and stored.device_id == f"DEV-{attempt.id}"
        assert reopened.attempts.get_attempt(finished.id).steps == ()
    finally:
        reopened.dispose()


def test_a_step_boundary_is_one_commit_and_all_or_nothing(database: Database, recipe_hash: str) -> None:
    """A passed step, the state it reaches and the next step's RUNNING row: one commit, on
    every backend; when any part is refused, none of it is stored."""
    attempt = _attempt(database, recipe_hash)
    first = database.attempts.start_step(attempt.id, "connect")
    commits: list[int] = []
    event.listen(database.engine, "commit", lambda _connection: commits.append(1))
    finished, started = database.attempts.finish_step_and_start(
        first.id or 0, StepEnd(StepOutcome.PASSED, "device id D", None, JournalState.CONNECTED), "flash"
    )
    assert len(commits) == 1
    assert (finished.name, finished.outcome, started.name, started.outcome) == (
        "connect", StepOutcome.PASSED, "flash", StepOutcome.RUNNING)
    stored = database.attempts.get_attempt(attempt.id)
    assert stored.state is JournalState.CONNECTED
    assert [(step.id, step.outcome) for step in stored.steps] == [
        (first.id, StepOutcome.PASSED), (started.id, StepOutcome.RUNNING)]

    # Refused (a final state is no step's to reach): the running step stays as it was.
    with pytest.raises(StoreError, match="use finish_attempt"):
        database.attempts.finish_step_and_start(
            started.id or 0, StepEnd(StepOutcome.PASSED, advance_to=JournalState.PASSED), "verify")
    # Refused half-way (the step was already closed): nothing of the boundary is stored.
    database.attempts.finish_step(started.id or 0, StepOutcome.FAILED, failure_code="X")
    with pytest.raises(StoreError, match="already finished"):
        database.attempts.finish_step_and_start(
            started.id or 0, StepEnd(StepOutcome.PASSED, advance_to=JournalState.FLASHED), "verify")
    after = database.attempts.get_attempt(attempt.id)
    assert after.state is JournalState.CONNECTED and [step.name for step in after.steps] == ["connect", "flash"]

    skipped = database.attempts.skip_step(attempt.id, "verify", "resumed", advance_to=JournalState.VERIFIED)
    assert (skipped.outcome, skipped.detail) == (StepOutcome.SKIPPED, "resumed")
    assert database.attempts.get_attempt(attempt.id).state is JournalState.VERIFIED
    database.attempts.finish_attempt(attempt.id, AttemptResult.FAILED, failure_code="X")
    with pytest.raises(StoreError, match="already finished"):
        database.attempts.skip_step(attempt.id, "lock", "never")
    assert [step.name for step in database.attempts.get_attempt(attempt.id).steps] == ["connect", "flash", "verify"]


def test_journal_writes_queued_behind_a_commit_share_the_next_one(database: Database, recipe_hash: str) -> None:
    """White-box check of the group commit (SQLite and PostgreSQL): writes that queue while a
    journal transaction is open go into the next one, each in its own savepoint, and a refused
    one is undone alone."""
    attempt = _attempt(database, recipe_hash)
    sessions = database.attempts._sessions
    commits: list[int] = []
    event.listen(database.engine, "commit", lambda _connection: commits.append(1))
    results: dict[str, object] = {}

    def write(name: str, refuse: bool, hold: bool = False) -> None:
        def work(connection: Connection) -> str:
            statement = text("UPDATE attempts SET probe_id = :name WHERE id = :id")
            connection.execute(statement, {"name": name, "id": attempt.id})
            while hold and len(sessions._queue) < 2:  # the first write's transaction stays open until two queue
                time.sleep(0.001)
            if refuse:
                raise StoreError(f"{name} refused")
            return name

        try:
            results[name] = sessions.write_journal(work)
        except StoreError as error:
            results[name] = error

    commits.clear()
    first = threading.Thread(target=write, args=("first", False, True))
    first.start()
    while not sessions._leading:
        time.sleep(0.001)
    queued = [threading.Thread(target=write, args=(name, name == "refused")) for name in ("second", "refused")]
    for thread in queued:
        thread.start()
    for thread in [first, *queued]:
        thread.join(timeout=60)

    assert results["first"] == "first" and results["second"] == "second"
    assert isinstance(results["refused"], StoreError)
    assert len(commits) == 2  # the first write's own, then one for the two queued behind it
    assert database.attempts.get_attempt(attempt.id).probe_id == "second"


def test_a_journal_write_alone_in_its_batch_that_is_refused_changes_nothing(sqlite_database: Database) -> None:
    """A write with nobody queued beside it runs without a savepoint: its failure must undo
    the whole transaction, what it wrote before failing included."""
    database = sqlite_database
    attempt = _attempt(database, database.registry.record_recipe(RECIPE_TEXT, "ACME-TOASTER").sha256)
    sessions = database.attempts._sessions

    def work(connection: Connection) -> None:
        connection.execute(text("UPDATE attempts SET probe_id = 'half-done' WHERE id = :id"), {"id": attempt.id})
        raise StoreError("refused after writing")

    with pytest.raises(StoreError, match="refused after writing"):
        sessions.write_journal(work)
    assert database.attempts.get_attempt(attempt.id).probe_id == attempt.probe_id
    database.attempts.set_attempt_fields(attempt.id, probe_id="next")  # the writer goes on
    assert database.attempts.get_attempt(attempt.id).probe_id == "next"


def test_a_step_of_a_missing_or_finished_attempt_is_refused_and_says_why(database: Database, recipe_hash: str) -> None:
    with pytest.raises(StoreError, match="no attempt 999999"):
        database.attempts.start_step(999999, "connect")
    attempt = _attempt(database, recipe_hash)
    database.attempts.finish_attempt(attempt.id, AttemptResult.FAILED, failure_code="X")
    with pytest.raises(StoreError, match="already finished"):
        database.attempts.start_step(attempt.id, "connect")
    assert database.attempts.get_attempt(attempt.id).steps == ()


# -- PIN lock-outs and inspections ------------------------------------------------------


def test_wrong_pins_lock_a_person_out_at_the_limit(database: Database) -> None:
    database.registry.upsert_operator("sue", "supervisor", pin_hash="scrypt$x")
    for count in (1, 2):
        record = database.registry.record_pin_failure("sue", limit=3, lockout=timedelta(minutes=10))
        assert (record.failed_pins, record.locked_until) == (count, None)
    before = datetime.now(UTC)
    locked = database.registry.record_pin_failure("sue", limit=3, lockout=timedelta(minutes=10))
    assert locked.failed_pins == 0 and locked.locked_until is not None
    assert before + timedelta(minutes=9) < locked.locked_until < before + timedelta(minutes=11)
    assert database.registry.get_operator("sue") == locked
    database.registry.clear_pin_failures("sue")
    cleared = database.registry.get_operator("sue")
    assert cleared is not None and (cleared.failed_pins, cleared.locked_until) == (0, None)
    with pytest.raises(StoreError, match="no person named nobody"):
        database.registry.record_pin_failure("nobody", limit=3, lockout=timedelta(minutes=10))


def test_wrong_pins_from_two_stations_at_once_are_all_counted(database: Database, db_url: str) -> None:
    database.registry.upsert_operator("sue", "supervisor", pin_hash="scrypt$x")
    other = open_database(db_url)  # not database.url: that one hides the password
    try:
        barrier = threading.Barrier(8)

        def wrong_pin(store: Database) -> None:
            barrier.wait()
            store.registry.record_pin_failure("sue", limit=100, lockout=timedelta(minutes=10))

        threads = [threading.Thread(target=wrong_pin, args=(database if n % 2 else other,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        other.dispose()
    record = database.registry.get_operator("sue")
    assert record is not None and record.failed_pins == 8


def test_an_inspection_is_recorded_once_for_an_attempt_that_waits_for_one(
    database: Database, recipe_hash: str
) -> None:
    waiting = _attempt(database, recipe_hash, serial="SN-I1")
    database.attempts.finish_attempt(
        waiting.id, AttemptResult.NEEDS_INSPECTION, failure_step="recovery", failure_code="MAY_BE_LOCKED"
    )
    other_station = _attempt(database, recipe_hash, serial="SN-I2", station="line1-st2")
    database.attempts.finish_attempt(
        other_station.id, AttemptResult.NEEDS_INSPECTION, failure_step="recovery", failure_code="MAY_BE_LOCKED"
    )
    passed = _attempt(database, recipe_hash, serial="SN-I3")
    database.attempts.finish_attempt(passed.id, AttemptResult.PASSED)
    assert [a.id for a in database.inspections.pending("line1-st1")] == [waiting.id]
    assert [a.id for a in database.inspections.pending()] == [waiting.id, other_station.id]

    record = database.inspections.record(waiting.id, "sue", "unit locked, credential intact", at=T0)
    assert (record.attempt_id, record.supervisor, record.note, record.recorded_at) == (
        waiting.id, "sue", "unit locked, credential intact", T0
    )
    assert database.inspections.for_attempt(waiting.id) == record
    assert database.inspections.pending("line1-st1") == []
    with pytest.raises(StoreError, match="inspected already"):
        database.inspections.record(waiting.id, "sue", "again")
    with pytest.raises(StoreError, match="does not wait for an inspection"):
        database.inspections.record(passed.id, "sue", "nothing to inspect")
    with pytest.raises(StoreError, match="no attempt 9999"):
        database.inspections.record(9999, "sue", "no such attempt")


# -- claims and owners ------------------------------------------------------------------


def _owner(slot: str = "1", pid: int = 4242, host: str = "host-a") -> AttemptOwner:
    return AttemptOwner(station="line1-st1", host=host, pid=pid, process_start="boot:123", slot=slot)


def test_a_serial_has_one_open_attempt_whichever_process_asks(
    database: Database, db_url: str, recipe_hash: str
) -> None:
    first = _attempt(database, recipe_hash, serial="SN-C1", owner=_owner("2"))
    assert first.owner == _owner("2") and first.heartbeat_at is not None
    other = open_database(db_url)
    try:
        with pytest.raises(SerialInProgressError) as refused:
            _attempt(other, recipe_hash, serial="SN-C1", owner=_owner("1", pid=777))
    finally:
        other.dispose()
    assert refused.value.holder.startswith("line1-st1/2 since ")
    assert str(refused.value).startswith("this serial is being provisioned at line1-st1/2 since ")
    assert [a.id for a in database.attempts.history("SN-C1")] == [first.id]
    database.attempts.finish_attempt(first.id, AttemptResult.FAILED, failure_code="FLASH")
    assert _attempt(database, recipe_hash, serial="SN-C1").previous_attempt_id == first.id


def test_two_processes_claiming_one_serial_at_once_give_one_attempt(
    database: Database, db_url: str, recipe_hash: str
) -> None:
    stores = [database, *(open_database(db_url) for _ in range(3))]
    barrier = threading.Barrier(len(stores))
    outcomes: list[str] = []

    def claim(store: Database, number: int) -> None:
        barrier.wait()
        try:
            _attempt(store, recipe_hash, serial="SN-RACE", owner=_owner(str(number), pid=1000 + number))
            outcomes.append("claimed")
        except SerialInProgressError:
            outcomes.append("refused")

    threads = [threading.Thread(target=claim, args=(store, number)) for number, store in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for store in stores[1:]:
        store.dispose()
    assert sorted(outcomes) == ["claimed", "refused", "refused", "refused"]
    assert len(database.attempts.history("SN-RACE")) == 1


def test_a_device_has_one_open_attempt_and_passes_once(database: Database, recipe_hash: str) -> None:
    first = _attempt(database, recipe_hash, serial="SN-D1")
    database.attempts.set_attempt_fields(first.id, device_id="00000000000000D1")
    second = _attempt(database, recipe_hash, serial="SN-D2", owner=_owner("3"))
    with pytest.raises(DeviceInProgressError, match="device 00000000000000D1 is being provisioned under serial SN-D1"):
        database.attempts.set_attempt_fields(second.id, device_id="00000000000000D1")
    assert database.attempts.get_attempt(second.id).device_id is None  # nothing of the refused change stays
    database.attempts.finish_attempt(first.id, AttemptResult.PASSED)
    assert database.attempts.passed_serial_of_device("00000000000000D1") == "SN-D1"
    assert database.attempts.passed_serial_of_device("00000000000000FF") is None
    database.attempts.set_attempt_fields(second.id, device_id="00000000000000D1")  # no open claim now
    with pytest.raises(StoreError, match="cannot pass: its unit or its device has passed already"):
        database.attempts.finish_attempt(second.id, AttemptResult.PASSED)
    assert database.attempts.get_attempt(second.id).result is AttemptResult.IN_PROGRESS


def test_the_owners_heartbeat_stamps_only_its_own_open_attempts(database: Database, recipe_hash: str) -> None:
    mine = _attempt(database, recipe_hash, serial="SN-H1", owner=_owner("1"), at=T0)
    also_mine = _attempt(database, recipe_hash, serial="SN-H2", owner=_owner("2"), at=T0)
    theirs = _attempt(database, recipe_hash, serial="SN-H3", owner=_owner("1", pid=99), at=T0)
    done = _attempt(database, recipe_hash, serial="SN-H4", owner=_owner("3"), at=T0)
    database.attempts.finish_attempt(done.id, AttemptResult.FAILED, failure_code="FLASH")
    later = T0 + timedelta(seconds=20)
    assert database.attempts.heartbeat(_owner("any slot"), at=later) == 2
    assert database.attempts.get_attempt(mine.id).heartbeat_at == later
    assert database.attempts.get_attempt(also_mine.id).heartbeat_at == later
    assert database.attempts.get_attempt(theirs.id).heartbeat_at == T0


def test_finishing_an_attempt_closes_the_step_its_owner_never_finished(database: Database, recipe_hash: str) -> None:
    attempt = _attempt(database, recipe_hash, serial="SN-S1")
    database.attempts.start_step(attempt.id, "flash")
    database.attempts.finish_attempt(attempt.id, AttemptResult.FAILED, failure_step="recovery",
                                     failure_code="INTERRUPTED")  # fmt: skip
    [step] = database.attempts.get_attempt(attempt.id).steps
    assert step.outcome is StepOutcome.FAILED and step.failure_code == "INTERRUPTED" and step.ended_at is not None
