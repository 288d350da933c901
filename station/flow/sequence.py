"""The per-unit provisioning sequence: one scan in, one shippable and traceable unit out.

The journal (the traceability store) is written before every irreversible act, in the
order DESIGN.md gives::

    SCANNED -> CONNECTED -> FLASHED -> VERIFIED -> CREDENTIALS_RESERVED -> INJECTED
            -> LOCK_PENDING -> LOCKED -> ACTIVATED -> PASSED | FAILED

so that a crash at any point leaves a row that tells the restarted station what might have
happened, and the station then asks the unit instead of guessing. Every step runs under the
recipe's timeout and retry count; any exception becomes a FAILED step with a code from the
one error tree and an operator message, never a crash of the station. PASS is reported only
after the PASSED row is committed.

A unit that failed after it was locked (a silent console, say) is resumed by scanning it
again: the station finds the credential it injected, asks the unit through its console who
it is, and continues at activation, without flashing and without a new credential.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from station.domain.errors import (
    ActivationError,
    ConsoleCommandError,
    ConsoleError,
    ConsoleProtocolError,
    ConsoleTimeoutError,
    CredentialError,
    DevelopmentUnitError,
    FlashError,
    IdentityError,
    LockError,
    ProbeError,
    StationError,
    StepTimeoutError,
    UnitError,
    UnitLockedError,
    VaultError,
    VerifyError,
)
from station.domain.recipe import Recipe, StepName
from station.domain.records import (
    AttemptRecord,
    AttemptResult,
    CredentialRecord,
    CredentialState,
    JournalState,
    StepOutcome,
)
from station.domain.scan import parse_scan
from station.flow.ports import (
    AttachedUnit,
    ConsoleOpener,
    CredentialIssuer,
    DevelopmentUnitRegistry,
    IssuedCredentialView,
    Journal,
    SecretToken,
    TokenSource,
    UnitConsole,
    UnitProbe,
)

LOG = logging.getLogger(__name__)
T = TypeVar("T")

# Errors worth another try within the recipe's retry count: the link, not the unit, failed.
RETRYABLE = (ProbeError, FlashError, ConsoleTimeoutError, ConsoleProtocolError, StepTimeoutError)
# Failures where the station needs a person rather than the next unit (shown amber).
NEEDS_PERSON_CODES = frozenset({UnitLockedError.code, VaultError.code, ProbeError.code, "NO_PROBE"})
SCAN_STEP = "scan"
TOKEN_LIMIT_CODE = "TOKEN_LIMIT"  # the store's refusal of a token at its use limit
TOKEN_RACE_TRIES = 20
REWORK_STEP = "rework"


# ---- what callers get -------------------------------------------------------------------------


@dataclass(frozen=True)
class StationContext:
    """Who runs the unit, where, for which order."""

    station: str
    operator: str
    work_order: str | None = None


@dataclass(frozen=True)
class Slot:
    """A place a unit sits: its probe and how to open its console."""

    name: str
    probe: UnitProbe
    open_console: ConsoleOpener


@dataclass(frozen=True)
class AttemptOutcome:
    """The result an operator sees; ``attempt_id`` is None when the scan was refused outright."""

    serial: str
    passed: bool
    attempt_id: int | None = None
    device_id: str | None = None
    resumed: bool = False
    failure_step: str | None = None
    failure_code: str | None = None
    message: str = ""
    step_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def needs_person(self) -> bool:
        return self.failure_code in NEEDS_PERSON_CODES

    @property
    def summary(self) -> str:
        if self.passed:
            return f"PASS {self.serial}"
        return f"FAIL {self.serial} {self.failure_step} {self.failure_code}: {self.message}"


class ProvisioningObserver(Protocol):
    """Live progress for a CLI line printer or a GUI tile (called from the worker's thread)."""

    def step_started(self, step: str) -> None: ...

    def step_finished(self, step: str, outcome: StepOutcome, detail: str) -> None: ...

    def progress(self, step: str, fraction: float) -> None: ...

    def identified(self, serial: str, device_id: str) -> None: ...


class QuietObserver:
    """An observer that ignores everything."""

    def step_started(self, step: str) -> None:
        pass

    def step_finished(self, step: str, outcome: StepOutcome, detail: str) -> None:
        pass

    def progress(self, step: str, fraction: float) -> None:
        pass

    def identified(self, serial: str, device_id: str) -> None:
        pass


class _StepFailedError(Exception):
    def __init__(self, step: str, error: StationError) -> None:
        super().__init__(str(error))
        self.step = step
        self.error = error


@dataclass
class StepContext:
    """Handed to each step action: its deadline, a place for a detail line, and progress."""

    name: str
    deadline: float
    report_progress: Callable[[float], None]
    detail: str = ""

    def remaining(self) -> float:
        return max(0.0, self.deadline - time.monotonic())

    def check_deadline(self) -> None:
        if time.monotonic() > self.deadline:
            raise StepTimeoutError(f"step {self.name} took longer than the recipe allows")


@dataclass
class _Run:
    """The state of one attempt while it runs."""

    attempt: AttemptRecord
    serial: str
    slot: Slot
    observer: ProvisioningObserver
    device_id: str | None = None
    issued: IssuedCredentialView | None = None
    resume_credential: CredentialRecord | None = None
    console: UnitConsole | None = None
    unit: AttachedUnit | None = None
    token: SecretToken | None = None
    stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    step_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def attempt_id(self) -> int:
        return self.attempt.id


# ---- the sequence ----------------------------------------------------------------------------


class UnitProvisioner:
    """Runs the recipe against units. One instance serves every slot of a station."""

    def __init__(
        self,
        recipe: Recipe,
        journal: Journal,
        issuer: CredentialIssuer,
        tokens: TokenSource | None,
        context: StationContext,
        *,
        development_registry: DevelopmentUnitRegistry | None = None,
    ) -> None:
        self.recipe = recipe
        self.journal = journal
        self.issuer = issuer
        self.tokens = tokens
        self.context = context
        self.development_registry = development_registry

    # ---- public entry points ----------------------------------------------------------------

    def provision(self, scan_text: str, slot: Slot, observer: ProvisioningObserver | None = None) -> AttemptOutcome:
        """Provision the unit whose label was scanned; never raises for a unit's failure."""
        observer = observer or QuietObserver()
        try:
            serial = str(parse_scan(scan_text, self.recipe.serial_rule))
            latest = self.journal.attempts.latest_attempt(serial)
            self._refuse_before_touching(serial, latest)
            if latest is not None and latest.result is AttemptResult.IN_PROGRESS:
                # A crash left this unit's attempt open: settle it by asking the unit first.
                self.recover_attempt(latest, slot)
        except StationError as error:
            return AttemptOutcome(
                serial=scan_text.strip(),
                passed=False,
                failure_step=SCAN_STEP,
                failure_code=error.code,
                message=str(error),
            )
        attempt = self.journal.attempts.create_attempt(
            serial=serial,
            station=self.context.station,
            operator=self.context.operator,
            recipe_hash=self.recipe.content_hash,
            product=self.recipe.product,
            work_order=self.context.work_order,
            probe_id=slot.probe.probe_id,
        )
        run = _Run(attempt=attempt, serial=serial, slot=slot, observer=observer)
        return self._execute(run)

    def _refuse_before_touching(self, serial: str, latest: AttemptRecord | None) -> None:
        unit = self.journal.units.get_unit(serial)
        if unit is not None and unit.is_development:
            raise DevelopmentUnitError(
                f"unit {serial} was erased once (rework) and is a development unit: it must never ship"
            )
        if latest is not None and latest.result is AttemptResult.PASSED:
            raise StationError(
                f"unit {serial} already PASSED (attempt {latest.id}); a supervisor must start a rework",
                code="ALREADY_PASSED",
            )

    def _execute(self, run: _Run) -> AttemptOutcome:
        try:
            try:
                self._connect(run)
                if run.resume_credential is None:
                    self._program_credential_and_lock(run)
                else:
                    self._skip_to_activation(run)
                self._activate(run)
                self._check_identity(run)
            finally:
                run.stack.close()
                run.unit = None
                self._close_console(run)
        except _StepFailedError as failure:
            return self._finish_failed(run, failure.step, failure.error)
        except Exception as error:  # a bug must not take the station down with it
            LOG.exception("attempt %s: unexpected error", run.attempt_id)
            return self._finish_failed(run, "internal", UnitError(f"internal error: {type(error).__name__}"))
        finished = self.journal.attempts.finish_attempt(run.attempt_id, AttemptResult.PASSED)
        return AttemptOutcome(
            serial=run.serial,
            passed=finished.result is AttemptResult.PASSED,
            attempt_id=run.attempt_id,
            device_id=run.device_id,
            resumed=run.resume_credential is not None,
            step_seconds=dict(run.step_seconds),
        )

    def _finish_failed(self, run: _Run, step: str, error: StationError) -> AttemptOutcome:
        if run.issued is not None and run.resume_credential is None:
            self._void_if_not_locked(run)
        message = str(error)
        self.journal.attempts.finish_attempt(
            run.attempt_id,
            AttemptResult.FAILED,
            failure_step=step,
            failure_code=error.code,
            failure_message=message,
        )
        return AttemptOutcome(
            serial=run.serial,
            passed=False,
            attempt_id=run.attempt_id,
            device_id=run.device_id,
            resumed=run.resume_credential is not None,
            failure_step=step,
            failure_code=error.code,
            message=message,
            step_seconds=dict(run.step_seconds),
        )

    def _void_if_not_locked(self, run: _Run) -> None:
        """A credential that never reached a locked unit is void: it is never offered again."""
        attempt = self.journal.attempts.get_attempt(run.attempt_id)
        if attempt.state in (JournalState.LOCK_PENDING, JournalState.LOCKED, JournalState.ACTIVATED):
            return  # the unit keeps it; a rescan resumes with it
        self._void(self.journal.credentials.credentials_for_attempt(run.attempt_id))

    # ---- step machinery ---------------------------------------------------------------------

    def _step(
        self, run: _Run, name: str, action: Callable[[StepContext], T], *, reaches: JournalState | None = None
    ) -> T:
        """Run one step under the recipe's timeout and retries, journaling every try.

        ``reaches`` is the journal state a passed step leads to; it is committed together with
        the step's PASSED record, before the step returns.
        """
        try:
            policy = self.recipe.step(name)
            timeout, tries = policy.timeout_seconds, policy.retries + 1
        except (StationError, ValueError):
            timeout, tries = 60.0, 1
        journal = self.journal.attempts
        for try_number in range(1, tries + 1):
            record = journal.start_step(run.attempt_id, name)
            run.observer.step_started(name)
            started = time.monotonic()
            context = StepContext(
                name=name,
                deadline=started + timeout,
                report_progress=lambda fraction: run.observer.progress(name, fraction),
            )
            try:
                result = action(context)
            except StationError as error:
                detail = f"try {try_number} of {tries}: {error}" if tries > 1 else str(error)
                journal.finish_step(record.id or 0, StepOutcome.FAILED, detail=detail, failure_code=error.code)
                run.observer.step_finished(name, StepOutcome.FAILED, detail)
                run.step_seconds[name] = run.step_seconds.get(name, 0.0) + time.monotonic() - started
                if try_number < tries and isinstance(error, RETRYABLE):
                    LOG.info("attempt %s: %s failed (%s), trying again", run.attempt_id, name, error.code)
                    continue
                raise _StepFailedError(name, error) from error
            except Exception as error:
                LOG.exception("attempt %s: step %s raised", run.attempt_id, name)
                wrapped = UnitError(f"internal error in step {name}: {type(error).__name__}", code="INTERNAL")
                journal.finish_step(record.id or 0, StepOutcome.FAILED, detail=str(wrapped), failure_code=wrapped.code)
                run.observer.step_finished(name, StepOutcome.FAILED, str(wrapped))
                raise _StepFailedError(name, wrapped) from error
            journal.finish_step(record.id or 0, StepOutcome.PASSED, detail=context.detail, advance_to=reaches)
            run.observer.step_finished(name, StepOutcome.PASSED, context.detail)
            run.step_seconds[name] = run.step_seconds.get(name, 0.0) + time.monotonic() - started
            return result
        raise AssertionError("unreachable")

    def _skip(self, run: _Run, name: str, detail: str) -> None:
        record = self.journal.attempts.start_step(run.attempt_id, name)
        self.journal.attempts.finish_step(record.id or 0, StepOutcome.SKIPPED, detail=detail)
        run.observer.step_finished(name, StepOutcome.SKIPPED, detail)

    def _advance(self, run: _Run, state: JournalState) -> None:
        self.journal.attempts.advance(run.attempt_id, state)

    # ---- connect and identify ---------------------------------------------------------------

    def _connect(self, run: _Run) -> None:
        def connect(step: StepContext) -> None:
            try:
                run.unit = run.stack.enter_context(run.slot.probe.attach())
            except UnitLockedError as locked:
                credential = self._resumable_credential(run.serial)
                if credential is None:
                    raise UnitLockedError(
                        "the unit arrived locked: it was not touched; set it aside for a supervisor (rework)"
                    ) from locked
                self._confirm_locked_unit(run, credential, step)
                run.resume_credential = credential
                run.device_id = credential.device_id
                step.detail = f"locked unit holds credential {credential.certificate_serial}: resuming"
            else:
                run.device_id = run.unit.read_device_id()
                step.detail = f"device id {run.device_id}"
            self._check_device_may_be_used(run.serial, run.device_id)
            if run.resume_credential is None:
                self._void_superseded_credentials(run.serial)
            self.journal.attempts.set_attempt_fields(run.attempt_id, device_id=run.device_id)
            run.observer.identified(run.serial, run.device_id)

        def connect_once(step: StepContext) -> None:
            try:
                connect(step)
            except BaseException:
                run.stack.close()  # a retry opens a fresh session, never a second one
                run.unit = None
                raise

        self._step(run, StepName.CONNECT.value, connect_once, reaches=JournalState.CONNECTED)

    def _check_device_may_be_used(self, serial: str, device_id: str) -> None:
        if self.journal.units.is_development_device(device_id) or (
            self.development_registry is not None and self.development_registry.is_development_unit(device_id)
        ):
            raise DevelopmentUnitError(
                f"device {device_id} was erased through its debug port once: a development unit, never to ship"
            )
        if self.recipe.binding is not None:
            self.recipe.binding.check(serial, device_id)

    def _void(self, credentials: list[CredentialRecord]) -> None:
        """Void credentials for good: none of them is ever offered to a unit again."""
        for credential in credentials:
            if credential.state is not CredentialState.VOID:
                self.journal.credentials.void_credential(credential.certificate_serial)

    def _void_superseded_credentials(self, serial: str) -> None:
        """The unit is unlocked, so no credential of earlier attempts is on a locked unit: void them."""
        self._void(self.journal.credentials.credentials_for_serial(serial))

    def _resumable_credential(self, serial: str) -> CredentialRecord | None:
        """The credential this station injected into a unit that then got locked, if any."""
        injected = [
            credential
            for credential in self.journal.credentials.credentials_for_serial(serial)
            if credential.state is CredentialState.INJECTED
        ]
        return injected[-1] if injected else None

    def _confirm_locked_unit(self, run: _Run, credential: CredentialRecord, step: StepContext) -> None:
        """A locked unit's debug port says nothing: ask its console who it is."""
        console = self._console(run)
        self._reboot(console, step)
        uuid = self._query(console, self.recipe.console.commands.uuid, step)
        fingerprint = self._query(console, self.recipe.console.commands.certificate_fingerprint, step, required=False)
        if uuid.upper() != credential.device_id.upper() or fingerprint.lower() != credential.certificate_fingerprint:
            raise UnitLockedError(
                "the unit is locked and is not the unit this serial was credentialed on; set it aside"
            )

    # ---- flash, verify, credentials, lock ----------------------------------------------------

    def _program_credential_and_lock(self, run: _Run) -> None:
        unit = run.unit
        assert unit is not None
        self._flash(run, unit)
        self._verify(run, unit)
        self._credentials(run, unit)
        self._lock(run, unit)
        run.stack.close()  # the lock is confirmed with a fresh session
        run.unit = None
        self._confirm_lock(run)

    def _flash(self, run: _Run, unit: AttachedUnit) -> None:
        segments = [(segment.address, segment.data) for image in self.recipe.images for segment in image.segments]

        def flash(step: StepContext) -> None:
            statistics = unit.program(segments, step.report_progress)
            step.detail = _describe_programming(statistics, sum(len(data) for _, data in segments))
            self.journal.attempts.set_attempt_fields(
                run.attempt_id, image_hashes=[f"{image.name}:{image.sha256}" for image in self.recipe.images]
            )

        self._step(run, StepName.FLASH.value, flash, reaches=JournalState.FLASHED)

    def _verify(self, run: _Run, unit: AttachedUnit) -> None:
        def verify(step: StepContext) -> None:
            checked = []
            for index, image in enumerate(self.recipe.images):
                for segment in image.segments:
                    step.check_deadline()
                    read_back = unit.read(segment.address, len(segment.data))
                    if hashlib.sha256(read_back).digest() != hashlib.sha256(segment.data).digest():
                        offset = next(i for i, (a, b) in enumerate(zip(read_back, segment.data, strict=True)) if a != b)
                        raise VerifyError(
                            f"{image.name}: flash read back differs from the image",
                            address=segment.address + offset,
                        )
                checked.append(f"{image.name} sha256 {image.sha256[:12]}… ok")
                step.report_progress((index + 1) / len(self.recipe.images))
            step.detail = "; ".join(checked)

        self._step(run, StepName.VERIFY.value, verify, reaches=JournalState.VERIFIED)

    def _credentials(self, run: _Run, unit: AttachedUnit) -> None:
        region = self.recipe.flash.credentials_region
        device_id = run.device_id or ""

        def credentials(step: StepContext) -> None:
            if self.issuer.device_generated:
                unit.reset()  # let the new firmware boot: it makes the key and answers the console
                console = self._console(run)
                self._reboot(console, step)
                common_name = self.issuer.endpoint_name(run.serial, device_id)
                command = self.recipe.console.commands.csr_command(common_name, run.serial, device_id)
                csr = self._query(console, command, step)
                issued = self.issuer.issue_from_csr(run.serial, device_id, csr)
            else:
                issued = self.issuer.issue_station_generated(run.serial, device_id)
            # Committed before the credential leaves the station: never offered to another unit.
            self.journal.credentials.reserve_credential(
                certificate_serial=issued.certificate_serial,
                certificate_fingerprint=issued.fingerprint,
                serial=run.serial,
                device_id=device_id,
                attempt_id=run.attempt_id,
                certificate_pem=issued.certificate_pem,
            )
            run.issued = issued
            self._advance(run, JournalState.CREDENTIALS_RESERVED)
            content = self.issuer.region_bytes(issued)
            if len(content) > region.size:
                raise CredentialError(f"credential bundle ({len(content)} bytes) does not fit region {region.name}")
            unit.program([(region.address, content + b"\xff" * (region.size - len(content)))])
            self.issuer.check_region(issued, unit.read(region.address, region.size))
            self.journal.credentials.mark_injected(issued.certificate_serial)
            step.detail = (
                f"certificate {issued.certificate_serial} ({issued.fingerprint[:16]}…) for {issued.endpoint_name}"
            )

        self._step(run, StepName.CREDENTIALS.value, credentials, reaches=JournalState.INJECTED)

    def _lock(self, run: _Run, unit: AttachedUnit) -> None:
        def lock(step: StepContext) -> None:
            self._advance(run, JournalState.LOCK_PENDING)  # from here on the unit "may be locked"
            unit.apply_lock()
            step.detail = f"{self.recipe.lock_method.value} written, unit reset"

        self._step(run, StepName.LOCK.value, lock)

    def _confirm_lock(self, run: _Run) -> None:
        def confirm(step: StepContext) -> None:
            if not run.slot.probe.is_locked():
                raise LockError("the unit is not locked after the reset")
            step.detail = "lock state read back with a fresh session: locked"

        self._step(run, "lock-confirm", confirm, reaches=JournalState.LOCKED)

    def _skip_to_activation(self, run: _Run) -> None:
        credential = run.resume_credential
        assert credential is not None
        detail = f"resumed: unit already locked with credential {credential.certificate_serial}"
        for name in (StepName.FLASH, StepName.VERIFY, StepName.CREDENTIALS, StepName.LOCK):
            self._skip(run, name.value, detail)
        self.journal.attempts.set_attempt_fields(
            run.attempt_id, certificate_fingerprint=credential.certificate_fingerprint
        )
        self._advance(run, JournalState.LOCKED)

    # ---- console: activation and identity ----------------------------------------------------

    def _console(self, run: _Run) -> UnitConsole:
        if run.console is None:
            try:
                run.console = run.slot.open_console()
            except ConsoleError:
                raise
            except Exception as error:
                raise ConsoleError(f"cannot open the unit's console: {type(error).__name__}") from error
        return run.console

    def _close_console(self, run: _Run) -> None:
        if run.console is not None:
            with contextlib.suppress(Exception):
                self.journal.attempts.set_attempt_fields(run.attempt_id, console_transcript=run.console.transcript)
            with contextlib.suppress(Exception):
                run.console.close()
            run.console = None

    def _reboot(self, console: UnitConsole, step: StepContext) -> str:
        """Reboot the unit through its console and wait for its banner (fresh, known state)."""
        dialect = self.recipe.console
        console.discard_input()
        reply = console.command(dialect.commands.reboot, timeout=min(dialect.command_timeout_seconds, step.remaining()))
        if reply.status != 0:
            raise ConsoleCommandError("the unit refused to reboot", status=reply.status, body=reply.body.strip())
        return console.wait_for_banner(min(dialect.boot_timeout_seconds, step.remaining()))

    def _query(self, console: UnitConsole, command: str, step: StepContext, *, required: bool = True) -> str:
        dialect = self.recipe.console
        reply = console.command(command, timeout=min(dialect.command_timeout_seconds, step.remaining()))
        if reply.status != 0:
            if not required:
                return ""
            raise ConsoleCommandError(
                f"the unit answered {command.split()[0]!r} with an error: {reply.body.strip()}",
                status=reply.status,
                body=reply.body.strip(),
            )
        return reply.body.strip()

    def _activate(self, run: _Run) -> None:
        dialect = self.recipe.console

        def activate(step: StepContext) -> None:
            console = self._console(run)
            self._reboot(console, step)
            version = self._query(console, dialect.commands.version, step)
            if version != self.recipe.firmware_version:
                raise IdentityError(
                    f"the unit runs firmware {version!r}, the recipe expects {self.recipe.firmware_version!r}",
                    code="FIRMWARE_VERSION",
                )
            if self.tokens is None:
                raise VaultError("the token vault is locked: a supervisor must unlock it for the shift")
            token = run.token
            if token is None:  # one token per attempt, however many tries the step takes
                token = self._take_token(run.attempt_id)
                self.journal.attempts.set_attempt_fields(run.attempt_id, token_fingerprint=token.fingerprint)
                run.token = token
            reply = console.command(
                dialect.commands.activate_command(token.secret()),
                timeout=min(dialect.activate_timeout_seconds, step.remaining()),
                secrets={token.secret(): token.fingerprint},
            )
            body = reply.body.strip()
            if reply.status != 0:
                raise ActivationError(
                    f"activation refused: {body}", status=reply.status, body=body, code=_activation_code(body)
                )
            step.detail = f"{body} with token {token.fingerprint}"

        self._step(run, StepName.ACTIVATE.value, activate, reaches=JournalState.ACTIVATED)

    def _take_token(self, attempt_id: int) -> SecretToken:
        """The next token with a use left, its use recorded; another slot may take a last use first."""
        assert self.tokens is not None
        for _ in range(TOKEN_RACE_TRIES):
            token = self.tokens.next_token(self.recipe.activation.token_pool)
            try:
                self.tokens.record_use(token, attempt_id)
            except StationError as error:
                if error.code == TOKEN_LIMIT_CODE:
                    continue
                raise
            return token
        raise VaultError("could not take an activation token: other slots took every use left")

    def _check_identity(self, run: _Run) -> None:
        commands = self.recipe.console.commands
        expected_endpoint = (
            run.issued.endpoint_name
            if run.issued is not None
            else self.issuer.endpoint_name(run.serial, run.device_id or "")
        )
        expected_fingerprint = (
            run.issued.fingerprint
            if run.issued is not None
            else (run.resume_credential.certificate_fingerprint if run.resume_credential else "")
        )

        def identity(step: StepContext) -> None:
            console = self._console(run)
            self._reboot(console, step)  # the identity must survive a reset
            found = {
                "device id": (self._query(console, commands.uuid, step).upper(), (run.device_id or "").upper()),
                "endpoint": (self._query(console, commands.endpoint, step), expected_endpoint),
                "certificate": (
                    self._query(console, commands.certificate_fingerprint, step).lower(),
                    expected_fingerprint.lower(),
                ),
            }
            wrong = [name for name, (seen, wanted) in found.items() if seen != wanted]
            if wrong:
                raise IdentityError(f"after a reset the unit reports another {', '.join(wrong)} than injected")
            step.detail = (
                f"device {run.device_id}, endpoint {expected_endpoint}, certificate {expected_fingerprint[:16]}…"
            )

        self._step(run, StepName.IDENTITY.value, identity)

    # ---- rework ---------------------------------------------------------------------------------

    def rework(self, serial_text: str, slot: Slot, supervisor: str) -> AttemptOutcome:
        """A supervisor's rework: erase the unit (lock included). It is a development unit afterwards.

        This is the only path that erases a locked unit. The attempt row, the audit log and
        the unit's record all show it; production refuses the unit from then on.
        """
        try:
            serial = str(parse_scan(serial_text, self.recipe.serial_rule))
        except StationError as error:
            return AttemptOutcome(
                serial_text.strip(), False, failure_step=SCAN_STEP, failure_code=error.code, message=str(error)
            )
        attempt = self.journal.attempts.create_attempt(
            serial=serial,
            station=self.context.station,
            operator=supervisor,
            recipe_hash=self.recipe.content_hash,
            product=self.recipe.product,
            work_order=self.context.work_order,
            probe_id=slot.probe.probe_id,
            is_rework=True,
        )
        run = _Run(attempt=attempt, serial=serial, slot=slot, observer=QuietObserver())

        def erase(step: StepContext) -> None:
            was_locked = slot.probe.is_locked()
            slot.probe.rework_erase()
            if slot.probe.is_locked():
                raise LockError("the unit is still locked after the rework erase")
            with slot.probe.attach() as unit:
                run.device_id = unit.read_device_id()
            step.detail = f"{'locked' if was_locked else 'unlocked'} unit erased; device {run.device_id}"

        try:
            self._step(run, REWORK_STEP, erase)
        except _StepFailedError as failure:
            return self._finish_failed(run, failure.step, failure.error)
        self.journal.attempts.set_attempt_fields(run.attempt_id, device_id=run.device_id)
        self.journal.units.mark_development(serial)
        self._void(self.journal.credentials.credentials_for_serial(serial))
        self.journal.audit.append_audit(
            supervisor, "unit.rework", f"serial {serial} device {run.device_id} erased; development unit for life"
        )
        message = f"erased by supervisor {supervisor}: development unit, never to ship"
        self.journal.attempts.finish_attempt(
            run.attempt_id,
            AttemptResult.FAILED,
            failure_step=REWORK_STEP,
            failure_code="REWORKED",
            failure_message=message,
        )
        return AttemptOutcome(
            serial,
            False,
            attempt_id=run.attempt_id,
            device_id=run.device_id,
            failure_step=REWORK_STEP,
            failure_code="REWORKED",
            message=message,
        )

    # ---- crash recovery -------------------------------------------------------------------------

    def recover_attempt(self, attempt: AttemptRecord, slot: Slot | None) -> AttemptRecord:
        """Settle an attempt a crash left open, by asking the unit (or flag it for inspection).

        Before credentials nothing irreversible happened. A credential that may have left the
        station is voided unless the unit is locked with it, in which case the attempt is
        closed as resumable: the next scan continues at activation.
        """
        state = attempt.state
        credentials = self.journal.credentials.credentials_for_attempt(attempt.id)
        may_be_locked = state in (JournalState.LOCK_PENDING, JournalState.LOCKED, JournalState.ACTIVATED)
        if not may_be_locked:
            self._void(credentials)
            return self.journal.attempts.finish_attempt(
                attempt.id,
                AttemptResult.FAILED,
                failure_step="recovery",
                failure_code="INTERRUPTED",
                failure_message=f"the station stopped at {state.value}; the unit was not locked: scan it again",
            )
        locked = None
        if slot is not None:
            with contextlib.suppress(StationError):
                locked = slot.probe.is_locked()
        if locked is None:
            return self.journal.attempts.finish_attempt(
                attempt.id,
                AttemptResult.NEEDS_INSPECTION,
                failure_step="recovery",
                failure_code="MAY_BE_LOCKED",
                failure_message=(
                    f"the station stopped at {state.value} and the unit could not be asked: it may be locked; "
                    "a supervisor must inspect it"
                ),
            )
        if locked:
            if state is JournalState.LOCK_PENDING:
                self.journal.attempts.advance(attempt.id, JournalState.LOCKED)
            return self.journal.attempts.finish_attempt(
                attempt.id,
                AttemptResult.FAILED,
                failure_step="recovery",
                failure_code="INTERRUPTED_LOCKED",
                failure_message="the station stopped after locking the unit: scan it again to resume at activation",
            )
        self._void(credentials)
        return self.journal.attempts.finish_attempt(
            attempt.id,
            AttemptResult.FAILED,
            failure_step="recovery",
            failure_code="INTERRUPTED",
            failure_message="the station stopped before the lock took effect; the unit is unlocked: scan it again",
        )

    def recover_unfinished(self, slots_by_probe: dict[str, Slot]) -> list[AttemptRecord]:
        """On start: settle every attempt of this station that a crash left open."""
        settled = []
        for attempt in self.journal.attempts.unfinished_attempts(self.context.station):
            slot = slots_by_probe.get(attempt.probe_id or "")
            settled.append(self.recover_attempt(attempt, slot))
        return settled


def _describe_programming(statistics: object, total: int) -> str:
    programmed = getattr(statistics, "pages_programmed", None)
    identical = getattr(statistics, "pages_identical", None)
    if programmed is None:
        return f"{total} bytes programmed"
    return f"{total} bytes: {programmed} pages programmed, {identical} identical"


def _activation_code(body: str) -> str:
    """ACTIVATION_403 and friends from a ``403 Forbidden: ...`` reply; ACTIVATION_REFUSED otherwise."""
    head = body.split(" ", 1)[0]
    return f"ACTIVATION_{head}" if head.isdigit() and len(head) == 3 else ActivationError.code
