"""The per-unit sequence: one scan in, one shippable and traceable unit out.

The steps, in order, each a small class under ``station.flow.steps``; the journal state it
commits is on the right (DESIGN.md's journal). ``StepRunner`` runs every one of them the same
way: its record before and after, its deadline, its retries.

=================  ==================================================================
``ConnectStep``     CONNECTED: device id read; a locked unit stops here, never erased
``FlashStep``       FLASHED: the recipe's images programmed
``VerifyStep``      VERIFIED: read back, SHA-256 per segment
``CredentialsStep`` CREDENTIALS_RESERVED, then INJECTED: written, read back, key matches
``LockStep``        LOCK_PENDING: from here on the unit "may be locked"
``LockConfirmStep`` LOCKED: the lock read back by a fresh session after the reset
``ActivateStep``    ACTIVATED: over the console, with the product's activation token
``IdentityStep``    device id, endpoint and certificate re-read after a reset
=================  ==================================================================

Then PASSED, committed before anyone is told; or FAILED(step, code, message) at the first
step that fails for good. A unit that failed after it was locked is resumed by scanning it
again: connect finds it locked with this station's credential, the steps up to the lock are
recorded as skipped, and the attempt continues at activation. A supervisor's rework runs the
one ``ReworkEraseStep`` instead.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC
from typing import Final

from station.domain.errors import (
    AlreadyPassedError,
    DevelopmentUnitError,
    InternalError,
    PermanentLockError,
    ResultNotRecordedError,
    SerialAllocationError,
    SerialInProgressError,
    StationError,
    UnitReworkedError,
)
from station.domain.identity import Serial
from station.domain.outcome import AttemptOutcome
from station.domain.recipe import Recipe, StepName
from station.domain.records import AttemptRecord, AttemptResult
from station.flow.credential_rules import MAY_BE_LOCKED_STATES, serial_may_be_carried, void_all
from station.flow.observer import ProvisioningObserver, QuietObserver
from station.flow.ports import (
    AttemptOwnership,
    CredentialIssuer,
    DevelopmentUnitRegistry,
    Journal,
    LineClaims,
    SerialPool,
    TokenSource,
)
from station.flow.recovery import recover_attempt, recover_unfinished
from station.flow.run import Slot, StationContext, UnitRun
from station.flow.step import Step, StepFailedError, StepRunner
from station.flow.steps.activate import ActivateStep, IdentityStep
from station.flow.steps.connect import ConnectStep
from station.flow.steps.credentials import CredentialsStep
from station.flow.steps.flash import FlashStep, VerifyStep
from station.flow.steps.lock import LockConfirmStep, LockStep
from station.flow.steps.rework import ReworkEraseStep
from station.flow.watchdog import Watchdog

LOG = logging.getLogger(__name__)

PROVISIONING_STEPS: Final[tuple[Step, ...]] = (
    ConnectStep(),
    FlashStep(),
    VerifyStep(),
    CredentialsStep(),
    LockStep(),
    LockConfirmStep(),
    ActivateStep(),
    IdentityStep(),
)
REWORK_STEPS: Final[tuple[Step, ...]] = (ReworkEraseStep(),)

# Where a failure is recorded when it happened outside any step: a station bug between steps.
INTERNAL_STEP: Final = "internal"
# Where a pass that could not be committed is reported: after the last step, at the record.
RECORD_STEP: Final = "record"


def _holder(attempt: AttemptRecord) -> str:
    where = attempt.owner.describe() if attempt.owner is not None else attempt.station
    return f"{where} since {attempt.started_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def display_steps() -> tuple[StepName, ...]:
    """The steps an operator's tile shows, in order (lock-confirm is shown as part of lock)."""
    return tuple(step.name for step in PROVISIONING_STEPS if step.shown_as is None)


def displayed_as(step: str) -> str:
    """The tile row a step's progress appears on."""
    for declared in (*PROVISIONING_STEPS, *REWORK_STEPS):
        if declared.name.value == step:
            return (declared.shown_as or declared.name).value
    return step


class UnitProvisioner:
    """Runs the recipe against units. One instance may serve every slot of a station."""

    def __init__(
        self,
        recipe: Recipe,
        journal: Journal,
        issuer: CredentialIssuer,
        tokens: TokenSource | None,
        *,
        development_registry: DevelopmentUnitRegistry | None = None,
        ownership: AttemptOwnership | None = None,
        watchdog: Watchdog | None = None,
        line_claims: LineClaims | None = None,
        serial_pool: SerialPool | None = None,
    ) -> None:
        """``ownership`` names the owner of the attempts this provisioner opens and judges whether
        another attempt's owner is gone; without it (single-process tools, tests) every open
        attempt found is taken as left by a crash. ``line_claims``: the line database's claims on
        serials, on a line whose stations share one; None: the station's journal alone. ``serial_pool``:
        serials from work orders' rules, for units without a label (``provision_unlabelled``)."""
        self.recipe = recipe
        self.journal = journal
        self.issuer = issuer
        self.tokens = tokens
        self.development_registry = development_registry
        self.ownership = ownership
        self.line_claims = line_claims
        self.serial_pool = serial_pool
        self._runner = StepRunner(watchdog or Watchdog.shared())

    # ---- provisioning -----------------------------------------------------------------------

    def provision(
        self, serial: Serial, slot: Slot, context: StationContext, observer: ProvisioningObserver | None = None
    ) -> AttemptOutcome:
        """Provision the unit with this serial; never raises for a unit's failure."""
        return self._provision(str(serial), slot, context, observer, allocated=False)

    def provision_unlabelled(
        self, slot: Slot, context: StationContext, observer: ProvisioningObserver | None = None
    ) -> AttemptOutcome:
        """Provision a unit that came without a label: its serial is the next of the work
        order's rule, bound to the unit once its device id is read (``SerialPool``). A unit
        that fails before it may carry its credential gives the serial back to the pool; one
        that may carry it keeps it (scanned with that serial, it resumes); a passed unit's is used."""
        pool, work_order = self.serial_pool, context.work_order
        try:
            if pool is None or work_order is None:
                raise SerialAllocationError(
                    "units without a label need a work order with a serial rule (station work-order serial-rule)"
                )
            serial = pool.allocate_serial(work_order, self.recipe.serial_rule)
            earlier = self.journal.attempts.latest_attempt(serial)
            if earlier is not None and (  # a unit has it (labelled by hand with a number of the range)
                earlier.result is not AttemptResult.FAILED
                or serial_may_be_carried(self.journal.credentials, serial, earlier.result)
            ):
                raise SerialAllocationError(
                    f"serial {serial} of work order {work_order} was already used by attempt {earlier.id} (a unit "
                    "labelled by hand?): it stays allocated for a supervisor to scrap; the unit was not touched"
                )
        except StationError as error:
            return AttemptOutcome.refused("", error)
        return self._provision(serial, slot, context, observer, allocated=True)

    def _provision(
        self, serial_text: str, slot: Slot, context: StationContext, observer: ProvisioningObserver | None, *,
        allocated: bool,
    ) -> AttemptOutcome:  # fmt: skip
        claimed = False
        try:
            latest = self.journal.attempts.latest_attempt(serial_text)
            self._refuse_before_touching(serial_text, latest)
            if latest is not None and latest.result is AttemptResult.IN_PROGRESS:
                if not self._owner_gone(latest):
                    raise SerialInProgressError(_holder(latest))
                # A crash left this unit's attempt open: settle it by asking the unit first.
                recover_attempt(self.journal, latest, slot)
            if self.line_claims is not None:
                self.line_claims.claim(serial_text, context.work_order)
                claimed = True
            run = self._start(serial_text, slot, context, observer, is_rework=False)
        except StationError as error:  # refused before the unit was touched
            if claimed and self.line_claims is not None:
                self.line_claims.release(serial_text, passed=False)
            if allocated and not isinstance(error, (AlreadyPassedError, SerialInProgressError)):
                self._settle_serial(serial_text, None)  # the serial is free to go to the next unit
            elif allocated:  # the line says another station uses it: never to another unit here
                LOG.error("serial %s: %s; it stays allocated for a supervisor to scrap", serial_text, error)
            return AttemptOutcome.refused(serial_text, error)
        if allocated:
            run.allocated_from = self.serial_pool
        outcome = self._execute(run, PROVISIONING_STEPS, self._passed)
        if self.line_claims is not None:
            self.line_claims.release(serial_text, passed=outcome.passed)
        if allocated or (outcome.passed and self._pool_holds(serial_text)):
            self._settle_serial(serial_text, outcome)
        return outcome

    def _pool_holds(self, serial: str) -> bool:
        """Whether a labelled unit's serial is one the pool handed out (a unit resumed by its serial)."""
        return self.serial_pool is not None and self.serial_pool.holds(serial)

    def _settle_serial(self, serial: str, outcome: AttemptOutcome | None) -> None:
        """The serial's end with its attempt's (see ``provision_unlabelled``); never raises: a
        serial left unsettled is settled at the next start (``settle_left_over``)."""
        pool = self.serial_pool
        if pool is None:
            return
        try:
            if outcome is not None and outcome.passed:
                pool.mark_used(serial)
            elif not serial_may_be_carried(self.journal.credentials, serial, _result_of(outcome)):
                pool.release(serial)
        except StationError as error:
            LOG.error("serial %s: not settled (%s); settled at the next start", serial, error)

    def _owner_gone(self, attempt: AttemptRecord) -> bool:
        return self.ownership is None or self.ownership.is_gone(attempt)

    def _refuse_before_touching(self, serial: str, latest: AttemptRecord | None) -> None:
        unit = self.journal.units.get_unit(serial)
        if unit is not None and unit.is_development:
            raise DevelopmentUnitError(
                f"unit {serial} was erased once (rework) and is a development unit: it must never ship"
            )
        if latest is not None and latest.result is AttemptResult.PASSED:
            raise AlreadyPassedError(
                f"unit {serial} already PASSED (attempt {latest.id}); a supervisor must start a rework"
            )

    # ---- rework -----------------------------------------------------------------------------

    def rework(self, serial: Serial, slot: Slot, context: StationContext) -> AttemptOutcome:
        """A supervisor's rework (``context.operator``): erase the unit, lock included.

        The unit is a development unit afterwards: the attempt row, the audit log and the
        unit's record all show it, and production refuses the unit from then on. The caller
        has checked the supervisor's PIN.
        """
        reason = self.recipe.lock.no_rework_reason
        if reason is not None:  # refused before anything is recorded or touched
            return AttemptOutcome.refused(str(serial), PermanentLockError(reason))
        run = self._start(str(serial), slot, context, None, is_rework=True)
        return self._execute(run, REWORK_STEPS, self._reworked)

    def _reworked(self, run: UnitRun) -> AttemptOutcome:
        """The erase went through: the unit is a development unit, its credentials void for good."""
        supervisor = run.context.operator
        self.journal.attempts.set_attempt_fields(run.attempt_id, device_id=run.device_id)
        self.journal.units.mark_development(run.serial)
        void_all(self.journal.credentials, self.journal.credentials.credentials_for_serial(run.serial))
        self.journal.audit.append_audit(
            supervisor, "unit.rework", f"serial {run.serial} device {run.device_id} erased; development unit for life"
        )
        reworked = UnitReworkedError(f"erased by supervisor {supervisor}: development unit, never to ship")
        return self._finish_failed(run, StepName.REWORK.value, reworked)

    # ---- crash recovery -----------------------------------------------------------------------

    def recover_unfinished(self, station: str, slots_by_probe: Mapping[str, Slot]) -> list[AttemptRecord]:
        """On start: settle every attempt of ``station`` whose owner is gone, by asking the units;
        an attempt whose owner is alive (another process of this station name) is left to it."""
        return recover_unfinished(self.journal, station, slots_by_probe, self._owner_gone)

    # ---- running an attempt ---------------------------------------------------------------------

    def _start(
        self,
        serial: str,
        slot: Slot,
        context: StationContext,
        observer: ProvisioningObserver | None,
        *,
        is_rework: bool,
    ) -> UnitRun:
        owner = None if self.ownership is None else self.ownership.owner(context.station, slot.name)
        attempt = self.journal.attempts.create_attempt(
            serial=serial,
            station=context.station,
            operator=context.operator,
            recipe_hash=self.recipe.content_hash,
            product=self.recipe.product,
            work_order=context.work_order,
            probe_id=slot.probe.probe_id,
            is_rework=is_rework,
            owner=owner,
        )
        return UnitRun(
            attempt=attempt,
            serial=serial,
            slot=slot,
            context=context,
            recipe=self.recipe,
            journal=self.journal,
            issuer=self.issuer,
            tokens=self.tokens,
            development_registry=self.development_registry,
            observer=observer or QuietObserver(),
        )

    def _execute(
        self, run: UnitRun, steps: Sequence[Step], when_done: Callable[[UnitRun], AttemptOutcome]
    ) -> AttemptOutcome:
        """Run ``steps`` in order; the first that fails for good ends the attempt as FAILED,
        otherwise ``when_done`` records how it ended."""
        working = contextlib.nullcontext() if self.ownership is None else self.ownership.working_on(run.attempt_id)
        with working:
            return self._execute_owned(run, steps, when_done)

    def _execute_owned(
        self, run: UnitRun, steps: Sequence[Step], when_done: Callable[[UnitRun], AttemptOutcome]
    ) -> AttemptOutcome:
        try:
            try:
                self._runner.run_all(run, steps)
            finally:
                run.close()
        except StepFailedError as failure:
            return self._finish_failed(run, failure.step, failure.error)
        except StationError as error:  # the journal itself failed between steps
            LOG.exception("attempt %s: station error between steps", run.attempt_id)
            return self._finish_failed(run, INTERNAL_STEP, error)
        except Exception as error:  # a bug must not take the station down with it
            LOG.exception("attempt %s: unexpected error", run.attempt_id)
            return self._finish_failed(run, INTERNAL_STEP, InternalError(f"internal error: {type(error).__name__}"))
        return when_done(run)

    def _passed(self, run: UnitRun) -> AttemptOutcome:
        """PASSED, committed before anyone is told. When the commit fails (the database locked
        or full), nobody is told PASS: the attempt stays open, and the next scan of the unit (or
        the next start) settles it by asking the unit, which then passes without a second
        credential or token use."""
        try:
            finished = self.journal.attempts.finish_attempt(run.attempt_id, AttemptResult.PASSED)
        except StationError as error:
            LOG.error("attempt %s: the pass could not be committed: %s", run.attempt_id, error)
            unrecorded = ResultNotRecordedError(
                f"the unit finished every step but its pass could not be recorded ({error}); "
                "it is not passed: scan it again"
            )
            return AttemptOutcome(run.serial, run.attempt, unrecorded, failure_step=RECORD_STEP,
                                  resumed=run.resume_credential is not None)
        return AttemptOutcome(run.serial, finished, resumed=run.resume_credential is not None)

    def _finish_failed(self, run: UnitRun, step: str, error: StationError) -> AttemptOutcome:
        if run.issued is not None and run.resume_credential is None:
            # A credential that never reached a locked unit is void: it is never offered again.
            attempt = self.journal.attempts.get_attempt(run.attempt_id)
            if attempt.state not in MAY_BE_LOCKED_STATES:
                void_all(self.journal.credentials, self.journal.credentials.credentials_for_attempt(run.attempt_id))
        record = self.journal.attempts.finish_attempt(
            run.attempt_id,
            AttemptResult.FAILED,
            failure_step=step,
            failure_code=error.code,
            failure_message=str(error),
        )
        return AttemptOutcome(run.serial, record, error, failure_step=step, resumed=run.resume_credential is not None)


def _result_of(outcome: AttemptOutcome | None) -> AttemptResult | None:
    return None if outcome is None or outcome.record is None else outcome.record.result
