"""Reconciling a work order: what it made against what it spent, and every record that disagrees.

A work order is reconciled when every unit that passed holds the credential it was given and
was activated with a token use the unit accepted, every credential that reached a unit sits in
a unit that passed, every token use that counts went into an activation, and no more units
passed than ordered; and, for a work order whose serials a rule allocates, every passed unit's
serial is used, every used serial has a passed unit, and every number leased is free or in one
state (``SerialCounts.adds_up``). The store gathers the facts (``WorkOrderLedger``); the rule here, pure
Python, decides what disagrees, so that the command line, the window and the tests judge a
work order alike.

A token use is reserved before the activation command goes out, becomes used when the unit
accepts it and is released (given back, not counted) when the unit refuses it. A use is an
activation when it is used and its attempt ran the activate step (the reply may have been lost
and the activation found later), or, for uses recorded before uses had states, when the
attempt's activate step passed. A unit activated in an earlier attempt passes later without a
use of its own: a passed unit needs an accepted use in any of its attempts of the work order.

Attempts still in progress are not judged: their unit is still at work.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from station.domain.records import AttemptResult, CredentialState, WorkOrderRecord
from station.domain.serial_numbers import SerialCounts, SerialState


class TokenUseState(enum.StrEnum):
    """Where a token use stands (the store's ``token_uses.state``)."""

    RESERVED = "reserved"  # taken before the activation command was sent
    USED = "used"  # the unit accepted it
    RELEASED = "released"  # given back: the unit refused it, or was found not activated


class MismatchKind(enum.StrEnum):
    """Each way the records of a work order can disagree (stable names: they are in the JSON)."""

    CREDENTIAL_NOT_IN_PASSED_UNIT = "CREDENTIAL_NOT_IN_PASSED_UNIT"  # injected, yet no passed unit holds it
    CREDENTIAL_UNSETTLED = "CREDENTIAL_UNSETTLED"  # reserved, its attempt over, neither injected nor voided
    TOKEN_USE_WITHOUT_ACTIVATION = "TOKEN_USE_WITHOUT_ACTIVATION"  # a use that counts, no activation behind it
    PASSED_WITHOUT_CREDENTIAL = "PASSED_WITHOUT_CREDENTIAL"  # a passed unit without its injected credential
    PASSED_WITHOUT_TOKEN_USE = "PASSED_WITHOUT_TOKEN_USE"  # a passed unit without an accepted token use
    OVER_QUANTITY = "OVER_QUANTITY"  # more units passed than the work order's quantity
    SERIAL_USED_WITHOUT_PASS = "SERIAL_USED_WITHOUT_PASS"  # an allocated serial marked used, no unit passed with it
    PASSED_SERIAL_NOT_USED = "PASSED_SERIAL_NOT_USED"  # a unit passed with an allocated serial not marked used
    SERIALS_DO_NOT_ADD_UP = "SERIALS_DO_NOT_ADD_UP"  # leased numbers neither free nor in exactly one state


@dataclass(frozen=True)
class LedgerAttempt:
    """One production or rework attempt of the work order, as reconciliation needs it."""

    attempt_id: int
    serial: str
    result: AttemptResult
    is_rework: bool
    activation_tried: bool  # its activate step ran (whatever came of it)
    activated: bool  # its activate step passed
    certificate_fingerprint: str | None
    credential_state: CredentialState | None  # of the credential it carries (None: it carries none)
    unit_is_development: bool  # erased by a rework since: it never ships


@dataclass(frozen=True)
class LedgerCredential:
    """One credential issued in an attempt of the work order."""

    certificate_serial: str
    serial: str
    attempt_id: int
    attempt_result: AttemptResult
    state: CredentialState
    passed_attempt_id: int | None  # the passed attempt (in any work order) that carries it
    unit_in_progress: bool  # its unit has an open attempt now (a resume, say)


@dataclass(frozen=True)
class LedgerTokenUse:
    """One activation-token use taken in an attempt of the work order (by fingerprint only)."""

    fingerprint: str
    attempt_id: int
    state: TokenUseState | None  # None: recorded before uses had states (counted as used)


@dataclass(frozen=True)
class WorkOrderLedger:
    """Everything the store holds about a work order's units, credentials and token uses."""

    work_order: WorkOrderRecord
    attempts: tuple[LedgerAttempt, ...]
    credentials: tuple[LedgerCredential, ...]
    token_uses: tuple[LedgerTokenUse, ...]
    serials: tuple[tuple[str, SerialState], ...] = ()  # the serials its rule allocated here, and their states
    serial_counts: SerialCounts | None = None  # None: the work order has no serial rule here


@dataclass(frozen=True)
class Mismatch:
    kind: MismatchKind
    serial: str | None
    attempt_id: int | None
    detail: str
    certificate_serial: str | None = None


@dataclass(frozen=True)
class Reconciliation:
    """A work order's figures and its mismatches (none: it reconciles)."""

    work_order: WorkOrderRecord
    serials_seen: int
    units_passed: int
    units_in_progress: int
    units_not_passed: int  # seen, never passed, not running now
    reworked_after_pass: int  # passed, then erased by a rework: never ships
    credentials_issued: int
    credentials_reserved: int
    credentials_injected: int
    credentials_voided: int
    token_uses: int  # uses that count against the tokens' limits (all but the released)
    token_uses_released: int
    activations: int  # uses the unit accepted
    passed_serials: tuple[str, ...]
    mismatches: tuple[Mismatch, ...]
    serials: SerialCounts | None = None  # allocated, bound, used, returned, scrapped (None: no rule)

    @property
    def reconciled(self) -> bool:
        return not self.mismatches


def reconcile(ledger: WorkOrderLedger) -> Reconciliation:
    """The figures of a work order and every record that does not reconcile, in a stable order."""
    production = [attempt for attempt in ledger.attempts if not attempt.is_rework]
    passed = [attempt for attempt in production if attempt.result is AttemptResult.PASSED]
    passed_serials = sorted({attempt.serial for attempt in passed})
    running = {attempt.serial for attempt in production if attempt.result is AttemptResult.IN_PROGRESS}
    seen = {attempt.serial for attempt in production}
    attempts = {attempt.attempt_id: attempt for attempt in ledger.attempts}
    counted = [use for use in ledger.token_uses if use.state is not TokenUseState.RELEASED]
    accepted = [use for use in counted if _accepted(use, attempts.get(use.attempt_id))]
    activated_serials = {attempts[use.attempt_id].serial for use in accepted if use.attempt_id in attempts}
    mismatches = [
        *_passed_unit_mismatches(passed, activated_serials),
        *_credential_mismatches(ledger.credentials),
        *_token_mismatches(counted, attempts),
        *_serial_mismatches(ledger, set(passed_serials)),
    ]
    quantity = ledger.work_order.quantity
    if quantity is not None and len(passed_serials) > quantity:
        excess = f"{len(passed_serials)} units passed, the work order is for {quantity}"
        mismatches.append(Mismatch(MismatchKind.OVER_QUANTITY, None, None, excess))
    states = [credential.state for credential in ledger.credentials]
    return Reconciliation(
        work_order=ledger.work_order,
        serials_seen=len(seen),
        units_passed=len(passed_serials),
        units_in_progress=len(running - set(passed_serials)),
        units_not_passed=len(seen - running - set(passed_serials)),
        reworked_after_pass=len({attempt.serial for attempt in passed if attempt.unit_is_development}),
        credentials_issued=len(states),
        credentials_reserved=states.count(CredentialState.RESERVED),
        credentials_injected=states.count(CredentialState.INJECTED),
        credentials_voided=states.count(CredentialState.VOID),
        token_uses=len(counted),
        token_uses_released=len(ledger.token_uses) - len(counted),
        activations=len(accepted),
        passed_serials=tuple(passed_serials),
        mismatches=tuple(sorted(mismatches, key=_mismatch_order)),
        serials=ledger.serial_counts,
    )


def _serial_mismatches(ledger: WorkOrderLedger, passed_serials: set[str]) -> list[Mismatch]:
    found: list[Mismatch] = []
    for serial, state in ledger.serials:
        if state is SerialState.USED and serial not in passed_serials:
            found.append(Mismatch(MismatchKind.SERIAL_USED_WITHOUT_PASS, serial, None,
                                  "the serial is marked used but no unit passed with it"))  # fmt: skip
        elif state is not SerialState.USED and serial in passed_serials:
            detail = f"a unit passed with this allocated serial, which is {state.value}, not used"
            found.append(Mismatch(MismatchKind.PASSED_SERIAL_NOT_USED, serial, None, detail))
    counts = ledger.serial_counts
    if counts is not None and not counts.adds_up:
        detail = f"{counts.leased} numbers leased, {counts.free} free and {counts.handed_out} handed out"
        found.append(Mismatch(MismatchKind.SERIALS_DO_NOT_ADD_UP, None, None, detail))
    return found


def _mismatch_order(mismatch: Mismatch) -> tuple[str, int, str]:
    return (mismatch.serial or "", mismatch.attempt_id or 0, mismatch.kind.value)


def _accepted(use: LedgerTokenUse, attempt: LedgerAttempt | None) -> bool:
    """Whether the unit took this use: an activation (see the module's docstring)."""
    if attempt is None:
        return False
    if use.state is TokenUseState.USED:
        return attempt.activation_tried
    return use.state is None and attempt.activated


def _passed_unit_mismatches(passed: list[LedgerAttempt], activated_serials: set[str]) -> list[Mismatch]:
    found: list[Mismatch] = []
    for attempt in passed:
        # A unit erased by a rework after it passed had its credential voided on purpose.
        if attempt.credential_state is not CredentialState.INJECTED and not attempt.unit_is_development:
            held = "no credential" if attempt.certificate_fingerprint is None else (
                f"credential {attempt.certificate_fingerprint[:16]}… "
                f"{attempt.credential_state.value if attempt.credential_state else 'not on record'}")  # fmt: skip
            found.append(Mismatch(MismatchKind.PASSED_WITHOUT_CREDENTIAL, attempt.serial, attempt.attempt_id,
                                  f"unit passed in attempt {attempt.attempt_id} with {held}, not an injected one"))
        if attempt.serial not in activated_serials:
            found.append(Mismatch(MismatchKind.PASSED_WITHOUT_TOKEN_USE, attempt.serial, attempt.attempt_id,
                                  f"unit passed in attempt {attempt.attempt_id} without a token use it accepted"))
    return found


def _credential_mismatches(credentials: tuple[LedgerCredential, ...]) -> list[Mismatch]:
    found: list[Mismatch] = []
    for credential in credentials:
        if credential.attempt_result is AttemptResult.IN_PROGRESS or credential.unit_in_progress:
            continue  # its unit is still at work
        if credential.state is CredentialState.INJECTED and credential.passed_attempt_id is None:
            found.append(Mismatch(
                MismatchKind.CREDENTIAL_NOT_IN_PASSED_UNIT, credential.serial, credential.attempt_id,
                f"credential {credential.certificate_serial} is INJECTED, but no passed attempt of the unit "
                f"holds it (its attempt {credential.attempt_id} ended {credential.attempt_result.value})",
                credential.certificate_serial,
            ))  # fmt: skip
        elif credential.state is CredentialState.RESERVED and credential.passed_attempt_id is None:
            found.append(Mismatch(
                MismatchKind.CREDENTIAL_UNSETTLED, credential.serial, credential.attempt_id,
                f"credential {credential.certificate_serial} is still RESERVED after its attempt "
                f"{credential.attempt_id} ended {credential.attempt_result.value}: neither injected nor voided",
                credential.certificate_serial,
            ))  # fmt: skip
    return found


def _token_mismatches(counted: list[LedgerTokenUse], attempts: dict[int, LedgerAttempt]) -> list[Mismatch]:
    found: list[Mismatch] = []
    for use in counted:
        attempt = attempts.get(use.attempt_id)
        if attempt is None or attempt.result is AttemptResult.IN_PROGRESS or _accepted(use, attempt):
            continue
        if use.state is TokenUseState.RESERVED:
            why = "is still reserved: nobody saw the unit accept or refuse it"
        elif use.state is TokenUseState.USED:
            why = "is marked used, but the attempt never ran its activation"
        else:
            why = "counts, but the attempt's activation did not pass"
        found.append(Mismatch(MismatchKind.TOKEN_USE_WITHOUT_ACTIVATION, attempt.serial, attempt.attempt_id,
                              f"token use of {use.fingerprint} in attempt {attempt.attempt_id} "
                              f"({attempt.result.value}) {why}"))  # fmt: skip
    return found
