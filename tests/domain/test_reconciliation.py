"""The reconciliation rule on hand-made ledgers: what counts as a mismatch, and what does not."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from station.domain.reconciliation import (
    LedgerAttempt,
    LedgerCredential,
    LedgerTokenUse,
    MismatchKind,
    TokenUseState,
    WorkOrderLedger,
    reconcile,
)
from station.domain.records import AttemptResult, CredentialState, WorkOrderRecord
from station.domain.serial_numbers import SerialCounts, SerialState

ORDER = WorkOrderRecord(code="WO-1", product="ACME-TOASTER", quantity=3, created_at=datetime(2026, 3, 1, tzinfo=UTC))


def _attempt(
    attempt_id: int, serial: str, result: AttemptResult = AttemptResult.PASSED, **fields: object
) -> LedgerAttempt:
    values: dict[str, object] = {
        "attempt_id": attempt_id, "serial": serial, "result": result, "is_rework": False,
        "activation_tried": result is AttemptResult.PASSED, "activated": result is AttemptResult.PASSED,
        "certificate_fingerprint": f"{attempt_id:064x}",
        "credential_state": CredentialState.INJECTED if result is AttemptResult.PASSED else None,
        "unit_is_development": False,
    }  # fmt: skip
    values.update(fields)
    return LedgerAttempt(**values)  # type: ignore[arg-type]


def _credential(attempt_id: int, serial: str, state: CredentialState = CredentialState.INJECTED,
                **fields: object) -> LedgerCredential:  # fmt: skip
    values: dict[str, object] = {
        "certificate_serial": f"{attempt_id:032x}", "serial": serial, "attempt_id": attempt_id,
        "attempt_result": AttemptResult.PASSED, "state": state, "passed_attempt_id": attempt_id,
        "unit_in_progress": False,
    }  # fmt: skip
    values.update(fields)
    return LedgerCredential(**values)  # type: ignore[arg-type]


def _use(attempt_id: int, state: TokenUseState | None = TokenUseState.USED) -> LedgerTokenUse:
    return LedgerTokenUse(f"tok:{attempt_id:04d}", attempt_id, state)


def _clean() -> WorkOrderLedger:
    return WorkOrderLedger(
        ORDER,
        attempts=(_attempt(1, "SN-1"), _attempt(2, "SN-2"), _attempt(3, "SN-3", AttemptResult.FAILED)),
        credentials=(_credential(1, "SN-1"), _credential(2, "SN-2"),
                     _credential(3, "SN-3", CredentialState.VOID, attempt_result=AttemptResult.FAILED,
                                 passed_attempt_id=None)),
        token_uses=(_use(1), _use(2, None)),  # None: a use recorded before uses had states
    )  # fmt: skip


def test_a_work_order_whose_records_agree_reconciles_with_its_figures() -> None:
    result = reconcile(_clean())
    assert result.reconciled and result.mismatches == ()
    assert (result.serials_seen, result.units_passed, result.units_in_progress, result.units_not_passed) == (3, 2, 0, 1)
    assert (result.credentials_issued, result.credentials_injected, result.credentials_voided,
            result.credentials_reserved) == (3, 2, 1, 0)  # fmt: skip
    assert (result.token_uses, result.token_uses_released, result.activations) == (2, 0, 2)
    assert result.passed_serials == ("SN-1", "SN-2")


def test_each_kind_of_mismatch_names_its_serial() -> None:
    ledger = WorkOrderLedger(
        ORDER,
        attempts=(
            _attempt(1, "SN-1", credential_state=CredentialState.VOID),  # passed, its credential voided
            _attempt(2, "SN-2"),  # passed, no token use recorded
            _attempt(3, "SN-3", AttemptResult.FAILED, activation_tried=True),  # its reply never came
            _attempt(4, "SN-4", AttemptResult.FAILED),
            _attempt(5, "SN-5", AttemptResult.NEEDS_INSPECTION),
            _attempt(6, "SN-6", AttemptResult.FAILED),  # failed at flash, yet a use "used"
            _attempt(7, "SN-7", AttemptResult.FAILED, activation_tried=True),  # an old-style use, refused
            _attempt(8, "SN-8", AttemptResult.FAILED, activation_tried=True),  # refused, its use given back
        ),
        credentials=(
            _credential(1, "SN-1", CredentialState.VOID),
            _credential(4, "SN-4", attempt_result=AttemptResult.FAILED, passed_attempt_id=None),
            _credential(5, "SN-5", CredentialState.RESERVED, attempt_result=AttemptResult.NEEDS_INSPECTION,
                        passed_attempt_id=None),
        ),
        token_uses=(_use(1), _use(3, TokenUseState.RESERVED), _use(6), _use(7, None),
                    _use(8, TokenUseState.RELEASED)),
    )  # fmt: skip
    result = reconcile(ledger)
    assert not result.reconciled
    assert [(mismatch.kind, mismatch.serial, mismatch.attempt_id) for mismatch in result.mismatches] == [
        (MismatchKind.PASSED_WITHOUT_CREDENTIAL, "SN-1", 1),
        (MismatchKind.PASSED_WITHOUT_TOKEN_USE, "SN-2", 2),
        (MismatchKind.TOKEN_USE_WITHOUT_ACTIVATION, "SN-3", 3),
        (MismatchKind.CREDENTIAL_NOT_IN_PASSED_UNIT, "SN-4", 4),
        (MismatchKind.CREDENTIAL_UNSETTLED, "SN-5", 5),
        (MismatchKind.TOKEN_USE_WITHOUT_ACTIVATION, "SN-6", 6),
        (MismatchKind.TOKEN_USE_WITHOUT_ACTIVATION, "SN-7", 7),
    ]
    assert (result.token_uses, result.token_uses_released, result.activations) == (4, 1, 1)
    details = {mismatch.serial: mismatch.detail for mismatch in result.mismatches}
    assert details["SN-4"] == (
        f"credential {4:032x} is INJECTED, but no passed attempt of the unit holds it (its attempt 4 ended FAILED)"
    )
    assert details["SN-3"] == (
        "token use of tok:0003 in attempt 3 (FAILED) is still reserved: nobody saw the unit accept or refuse it"
    )
    assert details["SN-6"].endswith("is marked used, but the attempt never ran its activation")
    assert details["SN-7"].endswith("counts, but the attempt's activation did not pass")


def test_more_units_passed_than_ordered_is_a_mismatch_of_the_work_order() -> None:
    ledger = replace(_clean(), work_order=replace(ORDER, quantity=1))
    [mismatch] = reconcile(ledger).mismatches
    assert (mismatch.kind, mismatch.serial, mismatch.detail) == (
        MismatchKind.OVER_QUANTITY, None, "2 units passed, the work order is for 1"
    )
    assert reconcile(replace(ledger, work_order=replace(ORDER, quantity=None))).reconciled


def test_units_still_at_work_are_not_judged() -> None:
    ledger = WorkOrderLedger(
        ORDER,
        attempts=(_attempt(1, "SN-1", AttemptResult.IN_PROGRESS, activation_tried=True),),  # activation running
        credentials=(_credential(1, "SN-1", attempt_result=AttemptResult.IN_PROGRESS, passed_attempt_id=None,
                                 unit_in_progress=True),),
        token_uses=(_use(1, TokenUseState.RESERVED),),
    )  # fmt: skip
    result = reconcile(ledger)
    assert result.reconciled and (result.units_in_progress, result.units_passed) == (1, 0)


def test_a_resumed_unit_passes_with_the_credential_of_its_failed_attempt() -> None:
    """Failed after the lock (the activation's reply was lost), then resumed: the unit reports itself
    activated, so the earlier attempt's use was confirmed and the passed attempt took none; it carries
    the credential the failed attempt injected."""
    ledger = WorkOrderLedger(
        ORDER,
        attempts=(
            _attempt(1, "SN-1", AttemptResult.FAILED, credential_state=CredentialState.INJECTED,
                     activation_tried=True),
            _attempt(2, "SN-1", certificate_fingerprint=f"{1:064x}"),
        ),
        credentials=(_credential(1, "SN-1", attempt_result=AttemptResult.FAILED, passed_attempt_id=2),),
        token_uses=(_use(1),),
    )  # fmt: skip
    result = reconcile(ledger)
    assert result.reconciled and (result.units_passed, result.units_not_passed) == (1, 0)


def test_a_unit_erased_after_it_passed_is_counted_and_its_void_credential_expected() -> None:
    ledger = WorkOrderLedger(
        ORDER,
        attempts=(
            _attempt(1, "SN-1", credential_state=CredentialState.VOID, unit_is_development=True),
            _attempt(2, "SN-1", AttemptResult.FAILED, is_rework=True, unit_is_development=True),
        ),
        credentials=(_credential(1, "SN-1", CredentialState.VOID),),
        token_uses=(_use(1),),
    )  # fmt: skip
    result = reconcile(ledger)
    assert result.reconciled and (result.units_passed, result.reworked_after_pass, result.serials_seen) == (1, 1, 1)


def _serial_counts(**changes: int) -> SerialCounts:
    values = {"range_size": 100, "leased": 10, "unleased": 90, "free": 7, "allocated": 0, "bound": 0, "used": 2,
              "returned": 1, "scrapped": 0, "returns": 1}  # fmt: skip
    values.update(changes)
    return SerialCounts(work_order="WO-1", **values)


def test_allocated_serials_reconcile_with_the_units_that_passed() -> None:
    serials = (("SN-1", SerialState.USED), ("SN-2", SerialState.USED), ("SN-3", SerialState.RETURNED))
    clean = replace(_clean(), serials=serials, serial_counts=_serial_counts())
    result = reconcile(clean)
    assert result.reconciled and result.serials is not None and result.serials.used == 2

    # A serial marked used whose unit never passed; a passed unit whose serial is still bound.
    wrong = replace(clean, serials=(("SN-1", SerialState.BOUND), ("SN-2", SerialState.USED),
                                    ("SN-3", SerialState.USED)))  # fmt: skip
    kinds = {(mismatch.kind, mismatch.serial) for mismatch in reconcile(wrong).mismatches}
    assert kinds == {(MismatchKind.PASSED_SERIAL_NOT_USED, "SN-1"), (MismatchKind.SERIAL_USED_WITHOUT_PASS, "SN-3")}

    # A number lost: leased, yet neither free nor in a state.
    lost = replace(clean, serial_counts=_serial_counts(free=6))
    assert [mismatch.kind for mismatch in reconcile(lost).mismatches] == [MismatchKind.SERIALS_DO_NOT_ADD_UP]
