"""What the per-unit sequence needs from the world, as Protocols.

The flow is pure Python: drivers (pyOCD, pyserial), the store (SQLAlchemy), security
(cryptography) and the GUI implement these structurally, and tests use hand-written fakes.
Every secret crosses these ports as an object whose ``repr`` hides it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from station.domain.records import (
    AttemptOwner,
    AttemptRecord,
    AttemptResult,
    CredentialRecord,
    JournalState,
    StepEnd,
    StepOutcome,
    StepRecord,
    UnitRecord,
)
from station.domain.scan import SerialRule
from station.flow.flash_plan import ChipErasePermission, FlashReport

ProgressCallback = Callable[[float], None]


# ---- the unit ---------------------------------------------------------------------------------


class AttachedUnit(Protocol):
    """A unit with an open, unlocked debug session."""

    def read_device_id(self) -> str: ...

    def program(
        self,
        segments: Sequence[tuple[int, bytes]],
        progress: ProgressCallback | None = None,
        chip_erase: ChipErasePermission = ...,
    ) -> FlashReport:
        """Program the segments with the least flash work; a chip erase only where ``chip_erase``
        allows it (by default never: the credentials step writes one region)."""
        ...

    def read(self, address: int, length: int) -> bytes: ...

    def apply_lock(self) -> None: ...

    def reset(self) -> None: ...


class UnitProbe(Protocol):
    """One slot's debug probe."""

    probe_id: str

    def is_locked(self) -> bool: ...

    def attach(self) -> AbstractContextManager[AttachedUnit]: ...

    def recovery_erase(self) -> str:
        """Erase the unit through the family's recovery path (its lock included) and keep its
        debug port open until production locks it; says what was done, for the record."""
        ...

    def interrupt(self) -> None:
        """From another thread: end every session this probe has open, so that a call blocked in
        one returns with an error (a step's deadline passed). Later sessions open normally."""
        ...


class ConsoleReply(Protocol):
    @property
    def status(self) -> int: ...

    @property
    def body(self) -> str: ...


class UnitConsole(Protocol):
    """One open serial console; replies come back with secrets already replaced by labels."""

    @property
    def transcript(self) -> str: ...

    def discard_input(self) -> None: ...

    def wait_for_banner(self, timeout: float) -> str: ...

    def command(
        self, line: str, *, timeout: float | None = None, secrets: Mapping[str, str] | None = None
    ) -> ConsoleReply: ...

    def interrupt(self) -> None:
        """From another thread: make a blocked read or write return with ConsoleError at once."""
        ...

    def close(self) -> None: ...


ConsoleOpener = Callable[[], UnitConsole]


# ---- credentials, tokens, the device-management service ------------------------------------


class IssuedCredentialView(Protocol):
    """What the flow sees of an issued credential (no private key)."""

    @property
    def certificate_serial(self) -> str: ...

    @property
    def fingerprint(self) -> str: ...

    @property
    def certificate_pem(self) -> str: ...

    @property
    def endpoint_name(self) -> str: ...


class CredentialIssuer(Protocol):
    """Issues production credentials per the recipe's plan and checks what the unit holds."""

    @property
    def device_generated(self) -> bool: ...

    def endpoint_name(self, serial: str, device_id: str) -> str: ...

    def issue_station_generated(self, serial: str, device_id: str) -> IssuedCredentialView: ...

    def issue_from_csr(self, serial: str, device_id: str, csr_pem: str) -> IssuedCredentialView: ...

    def region_bytes(self, issued: IssuedCredentialView) -> bytes:
        """The credential region's content for this credential (may hold its private key)."""
        ...

    def check_region(self, issued: IssuedCredentialView, read_back: bytes) -> None:
        """CredentialError unless the region read back holds exactly this credential."""
        ...


class SecretToken(Protocol):
    """An activation token: its text only through ``secret()``, for the command line to the unit."""

    @property
    def fingerprint(self) -> str: ...

    def secret(self) -> str: ...


class TokenSource(Protocol):
    """Activation tokens and their uses: a use is reserved before the token is sent, and
    becomes a use only when the unit accepts it (released when it refuses)."""

    def next_token(self, product: str) -> SecretToken: ...

    def reserve_use(self, token: Any, attempt_id: int) -> None:
        """Take a use of a token this source handed out, for an attempt (TokenLimitError if
        other slots took its last use first). The attempt names the token from then on, in
        the same transaction."""
        ...

    def confirm_use(self, token: Any, attempt_id: int) -> None:
        """The unit accepted the token: the attempt's reserved use is a use."""
        ...

    def release_use(self, token: Any, attempt_id: int) -> None:
        """The unit refused the token: the attempt's reserved use is given back and the open
        attempt no longer names the token."""
        ...

    def settle_earlier_uses(self, serial: str, *, activated: bool, attempt_id: int) -> int:
        """Uses earlier attempts at this unit reserved and never settled (the station stopped
        while the activation was on its way): used if the unit is activated, else released."""
        ...


class LineClaims(Protocol):
    """Serials claimed across the whole line (the line database), at the scan while it answers."""

    def claim(self, serial: str, work_order: str | None = None) -> None:
        """Before a unit is touched: SerialInProgressError while another station's attempt holds
        the serial, AlreadyPassedError once it passed at another station, WorkOrderCompleteError
        when the work order's places are taken on the whole line."""
        ...

    def release(self, serial: str, *, passed: bool) -> None:
        """The attempt ended: a passed serial stays claimed; any other end frees it. Never raises."""
        ...


class SerialPool(Protocol):
    """Serials a work order's rule makes, for units that come without a label. A serial is
    taken at the start, bound to the unit once its device id is read, and either used (the
    unit passed), returned to the pool (the unit failed while it could not carry the serial
    yet) or kept bound (it may carry its credential: scanned again, it resumes as that serial)."""

    def allocate_serial(self, work_order: str, recipe_rule: SerialRule | None = None) -> str:
        """SerialAllocationError when the work order has no rule or nothing is left."""
        ...

    def bind(self, serial: str, attempt_id: int, device_id: str) -> object:
        """SerialAllocationError when the device carries another serial already."""
        ...

    def release(self, serial: str) -> object: ...

    def mark_used(self, serial: str) -> object: ...

    def holds(self, serial: str) -> bool:
        """Whether ``serial`` is one this station handed out and has not settled (allocated or bound)."""
        ...


class DevelopmentUnitRegistry(Protocol):
    """The device-management service's knowledge of development (ever-erased) units."""

    def is_development_unit(self, device_id: str) -> bool: ...


class AttemptOwnership(Protocol):
    """Who owns the attempts this station opens, and whether another attempt's owner is gone."""

    def owner(self, station: str, slot: str) -> AttemptOwner: ...

    def is_gone(self, attempt: AttemptRecord) -> bool:
        """Whether nobody works on the attempt any more: its process has ended (or, from another
        host, stopped beating), or it is this process's own and none of its slots runs it."""
        ...

    def working_on(self, attempt_id: int) -> AbstractContextManager[None]:
        """While this block runs, this process works on the attempt (a slot runs it)."""
        ...


# ---- the journal (the traceability store) ---------------------------------------------------


class AttemptJournal(Protocol):
    def create_attempt(
        self,
        *,
        serial: str,
        station: str,
        operator: str,
        recipe_hash: str,
        product: str,
        work_order: str | None = None,
        device_id: str | None = None,
        probe_id: str | None = None,
        is_rework: bool = False,
        owner: AttemptOwner | None = None,
        at: datetime | None = None,
    ) -> AttemptRecord:
        """The claim on the serial: SerialInProgressError when another attempt holds it."""
        ...

    def advance(self, attempt_id: int, state: JournalState) -> None: ...

    def passed_serial_of_device(self, device_id: str) -> str | None: ...

    def serials_of_device(self, device_id: str) -> list[str]:
        """Every serial an attempt has recorded this device under (any result), in order."""
        ...

    def history(self, serial: str) -> list[AttemptRecord]:
        """Every attempt at the serial, oldest first."""
        ...

    def set_attempt_fields(
        self,
        attempt_id: int,
        *,
        device_id: Any = ...,
        probe_id: Any = ...,
        image_hashes: Any = ...,
        certificate_fingerprint: Any = ...,
        token_fingerprint: Any = ...,
        console_transcript: Any = ...,
        is_rework: Any = ...,
    ) -> None: ...

    def finish_attempt(
        self,
        attempt_id: int,
        result: AttemptResult,
        *,
        failure_step: str | None = None,
        failure_code: str | None = None,
        failure_message: str | None = None,
        at: datetime | None = None,
    ) -> AttemptRecord: ...

    def start_step(self, attempt_id: int, name: str, *, at: datetime | None = None) -> StepRecord: ...

    def finish_step(
        self,
        step_id: int,
        outcome: StepOutcome,
        *,
        detail: str = "",
        failure_code: str | None = None,
        at: datetime | None = None,
        advance_to: JournalState | None = None,
    ) -> StepRecord: ...

    def finish_step_and_start(
        self, step_id: int, end: StepEnd, next_step: str, *, at: datetime | None = None
    ) -> tuple[StepRecord, StepRecord]:
        """End a running step and open the next one in one commit: (finished, started)."""
        ...

    def skip_step(
        self, attempt_id: int, name: str, reason: str, *, advance_to: JournalState | None = None,
        at: datetime | None = None,
    ) -> StepRecord:
        """Record a step that does not run (SKIPPED, with why) in one commit."""
        ...

    def get_attempt(self, attempt_id: int) -> AttemptRecord: ...

    def latest_attempt(self, serial: str) -> AttemptRecord | None: ...

    def unfinished_attempts(self, station: str | None = None) -> list[AttemptRecord]: ...


class CredentialJournal(Protocol):
    def reserve_credential(
        self,
        *,
        certificate_serial: str,
        certificate_fingerprint: str,
        serial: str,
        device_id: str,
        attempt_id: int,
        certificate_pem: str,
        at: datetime | None = None,
    ) -> CredentialRecord: ...

    def mark_injected(self, certificate_serial: str) -> CredentialRecord: ...

    def void_credential(self, certificate_serial: str) -> CredentialRecord: ...

    def credentials_for_attempt(self, attempt_id: int) -> list[CredentialRecord]: ...

    def credentials_for_serial(self, serial: str) -> list[CredentialRecord]: ...


class UnitJournal(Protocol):
    def get_unit(self, serial: str) -> UnitRecord | None: ...

    def mark_development(self, serial: str) -> UnitRecord: ...

    def is_development_device(self, device_id: str) -> bool: ...


class AuditTrail(Protocol):
    def append_audit(self, actor: str, action: str, detail: str) -> Any: ...


@dataclass(frozen=True)
class Journal:
    """The store as the flow uses it (the store's repositories satisfy each part)."""

    attempts: AttemptJournal
    credentials: CredentialJournal
    units: UnitJournal
    audit: AuditTrail
