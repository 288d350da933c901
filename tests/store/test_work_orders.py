"""A work order's quantity, enforced where the attempt opens, on every backend and across processes;
and the facts its reconciliation reads (``RegistryRepository.work_order_ledger``)."""

from __future__ import annotations

import multiprocessing
from multiprocessing.synchronize import Barrier

import pytest

from station.domain.errors import SerialInProgressError, StoreError, WorkOrderCompleteError
from station.domain.reconciliation import MismatchKind, TokenUseState, reconcile
from station.domain.records import AttemptOwner, AttemptRecord, AttemptResult, CredentialState, SealedToken, StepOutcome
from station.store import Database, open_database

PRODUCT = "ACME-TOASTER"
RACE_ROUNDS = 10


def _open(database: Database, recipe_hash: str, serial: str, work_order: str | None = "WO-CAP", *,
          is_rework: bool = False, owner: AttemptOwner | None = None) -> AttemptRecord:  # fmt: skip
    return database.attempts.create_attempt(serial=serial, station="line1-st1", operator="ann",
                                            recipe_hash=recipe_hash, product=PRODUCT, work_order=work_order,
                                            is_rework=is_rework, owner=owner)  # fmt: skip


def _pass(database: Database, attempt: AttemptRecord) -> None:
    database.attempts.finish_attempt(attempt.id, AttemptResult.PASSED)


def _fail(database: Database, attempt: AttemptRecord) -> None:
    database.attempts.finish_attempt(attempt.id, AttemptResult.FAILED, failure_code="FLASH")


def test_the_unit_after_the_last_is_refused_and_nothing_of_it_is_recorded(database: Database, recipe_hash: str) -> None:
    record, taken = database.registry.set_work_order_quantity("WO-CAP", 2, product=PRODUCT)
    assert (record.code, record.quantity, record.product, taken) == ("WO-CAP", 2, PRODUCT, 0)
    _pass(database, _open(database, recipe_hash, "SN-1"))
    running = _open(database, recipe_hash, "SN-2")  # an open attempt holds a place too
    with pytest.raises(WorkOrderCompleteError) as refused:
        _open(database, recipe_hash, "SN-3")
    assert refused.value.code == "WORK_ORDER_COMPLETE" and refused.value.needs_person
    assert str(refused.value) == "work order WO-CAP is complete: 2 of 2 units passed or in progress"
    assert (refused.value.work_order, refused.value.quantity, refused.value.taken) == ("WO-CAP", 2, 2)
    assert database.units.get_unit("SN-3") is None and database.attempts.history("SN-3") == []

    _fail(database, running)  # a failed attempt frees its place
    third = _open(database, recipe_hash, "SN-3")
    assert third.work_order == "WO-CAP"
    with pytest.raises(WorkOrderCompleteError):
        _open(database, recipe_hash, "SN-2")  # its place went to SN-3


def test_a_unit_holding_a_place_needs_no_second_one(database: Database, recipe_hash: str) -> None:
    database.registry.set_work_order_quantity("WO-CAP", 1)
    _open(database, recipe_hash, "SN-1", owner=AttemptOwner("line1-st1", "host-a", 4242, "boot:1", "2"))
    # The same unit scanned again meets its own open attempt, not a full work order.
    with pytest.raises(SerialInProgressError):
        _open(database, recipe_hash, "SN-1")


def test_rework_takes_no_place_and_a_passed_unit_keeps_its_own(database: Database, recipe_hash: str) -> None:
    database.registry.set_work_order_quantity("WO-CAP", 1)
    _pass(database, _open(database, recipe_hash, "SN-1"))
    rework = _open(database, recipe_hash, "SN-1", is_rework=True)  # a supervisor's erase makes nothing
    _fail(database, rework)
    with pytest.raises(WorkOrderCompleteError):  # the reworked unit's pass still counts
        _open(database, recipe_hash, "SN-2")
    _fail(database, _open(database, recipe_hash, "SN-9", is_rework=True))  # even with the order full


def test_without_a_quantity_or_a_work_order_there_is_no_cap(database: Database, recipe_hash: str) -> None:
    for number in range(3):
        _pass(database, _open(database, recipe_hash, f"SN-{number}", work_order="WO-OPEN"))
        _pass(database, _open(database, recipe_hash, f"SN-X{number}", work_order=None))
    assert database.registry.get_work_order("WO-OPEN").quantity is None  # type: ignore[union-attr]


def test_a_quantity_below_what_was_made_is_refused(database: Database, recipe_hash: str) -> None:
    for number in range(3):
        _pass(database, _open(database, recipe_hash, f"SN-{number}"))
    with pytest.raises(StoreError, match="already has 3 units passed or in progress: its quantity cannot be 2"):
        database.registry.set_work_order_quantity("WO-CAP", 2)
    with pytest.raises(StoreError, match="at least 1"):
        database.registry.set_work_order_quantity("WO-CAP", 0)
    with pytest.raises(StoreError, match="is for product ACME-TOASTER, not OTHER"):
        database.registry.set_work_order_quantity("WO-CAP", 5, product="OTHER")
    record, taken = database.registry.set_work_order_quantity("WO-CAP", 3)
    assert (record.quantity, record.product, taken) == (3, PRODUCT, 3)
    with pytest.raises(WorkOrderCompleteError):
        _open(database, recipe_hash, "SN-3")


# -- two processes racing for the last place ----------------------------------------------


def _race_worker(url: str, recipe_hash: str, barrier: Barrier, tasks: multiprocessing.Queue[str | None],
                 results: multiprocessing.Queue[tuple[str, str, str]]) -> None:  # fmt: skip
    """One station's process: open an attempt for each serial it is given, at the barrier's signal."""
    database = open_database(url)
    try:
        while (serial := tasks.get(timeout=120)) is not None:
            barrier.wait(timeout=120)
            try:
                attempt = _open(database, recipe_hash, serial, work_order="WO-RACE")
                results.put((serial, "claimed", str(attempt.id)))
            except WorkOrderCompleteError as error:
                results.put((serial, "refused", str(error)))
            except Exception as error:  # reported to the test, which fails on it
                results.put((serial, "error", repr(error)))
    finally:
        database.dispose()


def test_two_processes_racing_for_the_last_place_one_gets_it(database: Database, recipe_hash: str) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    tasks: list[multiprocessing.Queue[str | None]] = [context.Queue(), context.Queue()]
    results: multiprocessing.Queue[tuple[str, str, str]] = context.Queue()
    url = database.engine.url.render_as_string(hide_password=False)
    workers = [
        context.Process(target=_race_worker, args=(url, recipe_hash, barrier, task, results)) for task in tasks
    ]
    for worker in workers:
        worker.start()
    try:
        for number in range(RACE_ROUNDS):
            _, taken = database.registry.set_work_order_quantity("WO-RACE", number + 1, product=PRODUCT)
            assert taken == number  # one place left
            serials = [f"SN-R{number:02d}-{side}" for side in "ab"]
            for task, serial in zip(tasks, serials, strict=True):
                task.put(serial)
            outcomes = {serial: (kind, detail) for serial, kind, detail in (results.get(timeout=120) for _ in serials)}
            claimed = [serial for serial, (kind, _) in outcomes.items() if kind == "claimed"]
            refused = [serial for serial, (kind, _) in outcomes.items() if kind == "refused"]
            assert len(claimed) == 1 and len(refused) == 1, f"round {number}: {outcomes}"
            assert outcomes[refused[0]][1] == (
                f"work order WO-RACE is complete: {number + 1} of {number + 1} units passed or in progress"
            )
            assert database.units.get_unit(refused[0]) is None  # refused before anything of it was recorded
            [winner] = database.attempts.history(claimed[0])
            if number % 2 == 0:  # passed or still running: either way it keeps its place
                _pass(database, winner)
    finally:
        for task in tasks:
            task.put(None)
        for worker in workers:
            worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0, 0]
    with pytest.raises(WorkOrderCompleteError):
        _open(database, recipe_hash, "SN-LATE", work_order="WO-RACE")


# -- the facts of a reconciliation ----------------------------------------------------------


def _issue(database: Database, attempt: AttemptRecord, number: int, *, inject: bool = True) -> str:
    certificate_serial = f"{number:032x}"
    database.credentials.reserve_credential(
        certificate_serial=certificate_serial, certificate_fingerprint=f"{number:064x}", serial=attempt.serial,
        device_id=f"DEV{number:013d}", attempt_id=attempt.id, certificate_pem="-----BEGIN CERTIFICATE-----\n",
    )  # fmt: skip
    if inject:
        database.credentials.mark_injected(certificate_serial)
    return certificate_serial


def _activate(database: Database, attempt: AttemptRecord, outcome: str) -> None:
    """The activate step as the flow runs it: a use reserved, then ``used`` (accepted),
    ``released`` (refused) or left reserved (the reply never came)."""
    database.tokens.reserve_token_use("tok:ledger", attempt.id)
    if outcome == "used":
        database.tokens.confirm_token_use("tok:ledger", attempt.id)
    elif outcome == "released":
        database.tokens.release_token_use("tok:ledger", attempt.id)
    step = database.attempts.start_step(attempt.id, "activate")
    assert step.id is not None
    passed = outcome == "used"
    database.attempts.finish_step(step.id, StepOutcome.PASSED if passed else StepOutcome.FAILED,
                                  failure_code=None if passed else "ACTIVATION_403")  # fmt: skip


def test_the_ledger_holds_what_reconciliation_judges(database: Database, recipe_hash: str) -> None:
    database.tokens.add_sealed_tokens([SealedToken("tok:ledger", PRODUCT, b"n" * 12, b"c" * 40, None,
                                                   database.registry.upsert_station("x").created_at)])  # fmt: skip
    database.registry.set_work_order_quantity("WO-L", 5, product=PRODUCT)
    good = _open(database, recipe_hash, "SN-GOOD", work_order="WO-L")
    _issue(database, good, 1)
    _activate(database, good, "used")
    _pass(database, good)
    refused = _open(database, recipe_hash, "SN-REFUSED", work_order="WO-L")  # the service refused it
    refused_credential = _issue(database, refused, 2)
    _activate(database, refused, "released")
    _fail(database, refused)
    lost = _open(database, recipe_hash, "SN-LOST", work_order="WO-L")  # the activation's reply never came
    _activate(database, lost, "reserved")
    _fail(database, lost)
    bare = _open(database, recipe_hash, "SN-BARE", work_order="WO-L")  # passed without credential or token
    _pass(database, bare)
    running = _open(database, recipe_hash, "SN-RUN", work_order="WO-L")  # at work: not judged
    _issue(database, running, 3)
    _open(database, recipe_hash, "SN-ELSEWHERE", work_order="WO-OTHER")

    ledger = database.registry.work_order_ledger("WO-L")
    assert ledger is not None and database.registry.work_order_ledger("WO-NONE") is None
    assert database.registry.work_order_codes() == ["WO-L", "WO-OTHER"]
    by_serial = {attempt.serial: attempt for attempt in ledger.attempts}
    assert set(by_serial) == {"SN-GOOD", "SN-REFUSED", "SN-LOST", "SN-BARE", "SN-RUN"}
    assert (by_serial["SN-GOOD"].activation_tried, by_serial["SN-GOOD"].activated,
            by_serial["SN-GOOD"].credential_state) == (True, True, CredentialState.INJECTED)  # fmt: skip
    assert (by_serial["SN-LOST"].activation_tried, by_serial["SN-LOST"].activated) == (True, False)
    assert (by_serial["SN-BARE"].credential_state, by_serial["SN-BARE"].activation_tried) == (None, False)
    uses = {use.attempt_id: use.state for use in ledger.token_uses}
    assert uses == {good.id: TokenUseState.USED, refused.id: TokenUseState.RELEASED, lost.id: TokenUseState.RESERVED}
    credentials = {credential.serial: credential for credential in ledger.credentials}
    assert credentials["SN-GOOD"].passed_attempt_id == good.id
    assert credentials["SN-REFUSED"].passed_attempt_id is None
    assert credentials["SN-REFUSED"].attempt_result is AttemptResult.FAILED
    assert credentials["SN-RUN"].unit_in_progress and not credentials["SN-GOOD"].unit_in_progress

    result = reconcile(ledger)
    assert (result.units_passed, result.units_in_progress, result.units_not_passed) == (2, 1, 2)
    assert (result.credentials_issued, result.credentials_injected) == (3, 3)
    assert (result.token_uses, result.token_uses_released, result.activations) == (2, 1, 1)
    assert {(mismatch.kind, mismatch.serial) for mismatch in result.mismatches} == {
        (MismatchKind.CREDENTIAL_NOT_IN_PASSED_UNIT, "SN-REFUSED"),
        (MismatchKind.TOKEN_USE_WITHOUT_ACTIVATION, "SN-LOST"),
        (MismatchKind.PASSED_WITHOUT_CREDENTIAL, "SN-BARE"),
        (MismatchKind.PASSED_WITHOUT_TOKEN_USE, "SN-BARE"),
    }
    assert [mismatch.certificate_serial for mismatch in result.mismatches
            if mismatch.kind is MismatchKind.CREDENTIAL_NOT_IN_PASSED_UNIT] == [refused_credential]  # fmt: skip
