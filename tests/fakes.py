"""Hand-written doubles of the flow's ports, for flow tests that run in milliseconds.

A ``FakeUnit`` is a board: a bytearray flash, a device id, a lock latch that takes effect at
the next reset, and the firmware's answers on its console (``FakeConsole``), computed from
what its flash holds. ``FakeProbe`` attaches to it the way the pyOCD driver does (a locked
unit refuses, untouched) and can be told to fail: drop the link after some bytes, or hang in
a flash algorithm until the step's watchdog interrupts it. ``MemoryJournal`` keeps the
journal's rules (an attempt that finished never changes, a step finishes once, a credential
is reserved once) in dictionaries. Only the flow's ports are faked: everything else in these
tests is the station's own code.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from station.domain.errors import (
    AttemptFinishedError,
    CredentialError,
    DeviceInProgressError,
    ProbeError,
    SerialInProgressError,
    StoreError,
    TokenLimitError,
    UnitLockedError,
    VaultError,
    WorkOrderCompleteError,
)
from station.domain.recipe import Recipe
from station.domain.records import (
    AttemptOwner,
    AttemptRecord,
    AttemptResult,
    CredentialRecord,
    CredentialState,
    JournalState,
    StepEnd,
    StepOutcome,
    StepRecord,
    UnitRecord,
)
from station.flow.flash_plan import NO_CHIP_ERASE, ChipErasePermission, FlashReport
from station.flow.ports import Journal

FLASH_SIZE = 0x10_0000
ERASED = 0xFF
_CREDENTIAL_MAGIC = b"FAKECRED"


def now() -> datetime:
    return datetime.now(UTC)


# ---- the board ----------------------------------------------------------------------------------


@dataclass
class FakeUnit:
    """A board in a fixture: flash, a device id, a lock that latches at reset, an activation."""

    device_id: str
    flash: bytearray = field(default_factory=lambda: bytearray([ERASED]) * FLASH_SIZE)
    locked: bool = False
    lock_written: bool = False
    activated_product: str | None = None
    erased_for_rework: bool = False  # erased through the debug port (rework, or a fresh part)
    drop_writes: tuple[int, int] | None = None  # writes in this range are silently lost
    firmware_version: str | None = None  # what `ver` answers; None: the recipe's

    def write(self, address: int, data: bytes) -> None:
        for offset, byte in enumerate(data):
            where = address + offset
            if self.drop_writes is not None and self.drop_writes[0] <= where < self.drop_writes[1]:
                continue
            self.flash[where] = byte

    def reset(self) -> None:
        if self.lock_written:
            self.locked = True

    def erase_all(self) -> None:
        self.flash[:] = bytes([ERASED]) * FLASH_SIZE
        self.locked = self.lock_written = False
        self.erased_for_rework = True

    def credential(self, recipe: Recipe) -> dict[str, str] | None:
        region = recipe.flash.credentials_region
        content = bytes(self.flash[region.address : region.end])
        if not content.startswith(_CREDENTIAL_MAGIC):
            return None
        decoded: dict[str, str] = json.loads(content[len(_CREDENTIAL_MAGIC) :].rstrip(b"\xff"))
        return decoded


class FakeAttachedUnit:
    """An open debug session on a FakeUnit, through its probe (which may fail or hang)."""

    def __init__(self, probe: FakeProbe) -> None:
        self._probe = probe

    @property
    def _unit(self) -> FakeUnit:
        return self._probe.unit

    def read_device_id(self) -> str:
        self._probe.transfer(8)
        return self._unit.device_id

    def program(
        self,
        segments: Sequence[tuple[int, bytes]],
        progress: Callable[[float], None] | None = None,
        chip_erase: ChipErasePermission = NO_CHIP_ERASE,
    ) -> FlashReport:
        """Writes the bytes as given (a fake's flash needs no erase), skipping identical ones."""
        self._probe.flash_algorithm_runs()
        written = identical = 0
        for index, (address, data) in enumerate(segments):
            self._probe.transfer(len(data))
            if bytes(self._unit.flash[address : address + len(data)]) == data:
                identical += 1
            else:
                self._unit.write(address, data)
                written += len(data)
            if progress is not None:
                progress((index + 1) / len(segments))
        return FlashReport(bytes_programmed=written, pages_programmed=len(segments) - identical,
                           pages_identical=identical, pages_blank=0, sectors_erased=0, chip_erase=False,
                           decision=f"fake unit: {len(segments) - identical} segments written, {identical} identical",
                           busy_seconds=0.0)  # fmt: skip

    def read(self, address: int, length: int) -> bytes:
        self._probe.transfer(length)
        return bytes(self._unit.flash[address : address + length])

    def apply_lock(self) -> None:
        self._probe.transfer(4)
        self._unit.lock_written = True
        self._unit.reset()

    def reset(self) -> None:
        self._probe.transfer(4)
        self._unit.reset()


class FakeProbe:
    """One slot's probe; ``unit`` is whatever board sits in the fixture now.

    ``disconnect_after_bytes``: the link drops after that many bytes in one session (the
    simulator's disconnect-after). ``hang_flash``: the flash algorithm never halts; the call
    blocks until ``interrupt`` (a step's watchdog) closes the session.
    """

    def __init__(self, unit: FakeUnit, probe_id: str = "fake-probe-1") -> None:
        self.unit = unit
        self.probe_id = probe_id
        self.disconnect_after_bytes: int | None = None
        self.disconnects_left = 0  # how many sessions still drop (then the link holds)
        self.hang_flash = False
        self.sessions_opened = 0
        self.recovery_erases = 0
        self.interrupts = 0
        self._session_bytes = 0
        self._session_open = False
        self._interrupted = threading.Event()

    def transfer(self, count: int) -> None:
        if not self._session_open:
            raise ProbeError(f"probe {self.probe_id}: no session (closed under the step)")
        self._session_bytes += count
        limit = self.disconnect_after_bytes
        if limit is not None and self.disconnects_left > 0 and self._session_bytes > limit:
            self.disconnects_left -= 1
            self._session_open = False
            raise ProbeError(f"probe lost the unit after {limit} bytes: check the cable and the fixture")

    def flash_algorithm_runs(self) -> None:
        if self.hang_flash:
            self._interrupted.wait(60)
            raise ProbeError(f"probe {self.probe_id} was closed while the flash algorithm ran")

    @contextmanager
    def attach(self) -> Iterator[FakeAttachedUnit]:
        if self.unit.locked:
            raise UnitLockedError("the unit's debug port is locked")
        self.sessions_opened += 1
        self._session_bytes = 0
        self._session_open = True
        self._interrupted.clear()
        try:
            yield FakeAttachedUnit(self)
        finally:
            self._session_open = False

    def is_locked(self) -> bool:
        return self.unit.locked

    def recovery_erase(self) -> str:
        self.recovery_erases += 1
        self.unit.erase_all()
        return "fake part: erased, open until the production lock"

    def interrupt(self) -> None:
        self.interrupts += 1
        self._session_open = False
        self._interrupted.set()


# ---- the console ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FakeReply:
    status: int
    body: str


class FakeConsole:
    """The unit's firmware on its console, answering the recipe's commands from the unit's state.

    ``silent``: no answer (the command times out); ``refuse_activation``: the service's reply;
    ``lose_activation_replies``: that many activations are accepted by the unit but their reply
    never arrives (the station stopped, the cable was pulled); ``drop_activations``: that many
    activation commands never reach the unit (it stays not activated, the station hears nothing).
    """

    def __init__(self, unit: FakeUnit, recipe: Recipe, *, silent: bool = False) -> None:
        self.unit = unit
        self.recipe = recipe
        self.silent = silent
        self.refuse_activation: str | None = None
        self.valid_tokens: set[str] | None = None
        self.lose_activation_replies = 0
        self.drop_activations = 0
        self.lines: list[str] = []
        self._secrets: dict[str, str] = {}
        self.closed = False

    @property
    def transcript(self) -> str:
        text = "\n".join(self.lines)
        for secret, label in self._secrets.items():
            text = text.replace(secret, label)
        return text

    def discard_input(self) -> None:
        pass

    def wait_for_banner(self, timeout: float) -> str:
        self._answer_or_time_out()
        return "Ready"

    def command(
        self, line: str, *, timeout: float | None = None, secrets: Mapping[str, str] | None = None
    ) -> FakeReply:
        from station.domain.errors import ConsoleTimeoutError

        self._secrets.update(secrets or {})
        self.lines.append(f">> {line}")
        if self.silent:
            raise ConsoleTimeoutError("no reply from the unit's console within the time allowed")
        activation = line.startswith(self.recipe.console.commands.activate_command(""))
        if activation and self.drop_activations:
            self.drop_activations -= 1
            raise ConsoleTimeoutError("no reply from the unit's console within the time allowed")
        reply = self._answer(line)
        if self.lose_activation_replies and line.startswith(self.recipe.console.commands.activate_command("")):
            self.lose_activation_replies -= 1
            raise ConsoleTimeoutError("no reply from the unit's console within the time allowed")
        self.lines.append(f"<< {reply.status} {reply.body}")
        return reply

    def _answer_or_time_out(self) -> None:
        from station.domain.errors import ConsoleTimeoutError

        if self.silent:
            raise ConsoleTimeoutError("no boot banner from the unit's console within the time allowed")

    def _answer(self, line: str) -> FakeReply:
        commands = self.recipe.console.commands
        credential = self.unit.credential(self.recipe) or {}
        if line == commands.reboot:
            self.unit.reset()
            return FakeReply(0, "rebooting")
        if line == commands.version:
            return FakeReply(0, self.unit.firmware_version or self.recipe.firmware_version)
        if line == commands.uuid:
            return FakeReply(0, self.unit.device_id)
        if line == commands.endpoint:
            return FakeReply(0, credential.get("endpoint", ""))
        if line == commands.certificate_fingerprint:
            return FakeReply(0, credential.get("fingerprint", ""))
        if line == commands.activation_status:
            product = self.unit.activated_product
            return FakeReply(0, product) if product else FakeReply(1, "not activated")
        prefix = commands.activate_command("")
        if line.startswith(prefix):
            token = line[len(prefix) :]
            if self.refuse_activation is not None:
                return FakeReply(1, self.refuse_activation)
            if not credential:
                return FakeReply(1, "400 Bad Request: no valid application")
            if self.valid_tokens is not None and token not in self.valid_tokens:
                return FakeReply(1, "401 Unauthorized: unknown token")
            self.unit.activated_product = self.recipe.activation.product
            return FakeReply(0, "200 OK: activated")
        return FakeReply(1, f"unknown command {line.split()[0]!r}")

    def interrupt(self) -> None:
        self.silent = True

    def close(self) -> None:
        self.closed = True


# ---- credentials and tokens -----------------------------------------------------------------


@dataclass(frozen=True)
class FakeCredential:
    certificate_serial: str
    fingerprint: str
    certificate_pem: str
    endpoint_name: str


class FakeIssuer:
    """Issues numbered credentials; the region holds a small JSON record the fake firmware reads."""

    device_generated = False

    def __init__(self, first_number: int = 1) -> None:
        """``first_number``: the first certificate's number (stations of one line number theirs apart)."""
        self._numbers = itertools.count(first_number)

    def endpoint_name(self, serial: str, device_id: str) -> str:
        return f"endpoint-{device_id.lower()}"

    def issue_station_generated(self, serial: str, device_id: str) -> FakeCredential:
        number = next(self._numbers)
        fingerprint = hashlib.sha256(f"{serial}/{number}".encode()).hexdigest()
        endpoint = self.endpoint_name(serial, device_id)
        return FakeCredential(f"{number:040x}", fingerprint, f"CERTIFICATE {number}", endpoint)

    def issue_from_csr(self, serial: str, device_id: str, csr_pem: str) -> FakeCredential:
        raise AssertionError("the fake recipe uses station-generated credentials")

    def region_bytes(self, issued: Any) -> bytes:
        record = {"endpoint": issued.endpoint_name, "fingerprint": issued.fingerprint}
        return _CREDENTIAL_MAGIC + json.dumps(record).encode()

    def check_region(self, issued: Any, read_back: bytes) -> None:
        expected = self.region_bytes(issued)
        if read_back[: len(expected)] != expected:
            raise CredentialError("the credential region read back is not the credential written")


@dataclass(frozen=True)
class FakeToken:
    fingerprint: str
    text: str

    def secret(self) -> str:
        return self.text


class FakeTokens:
    """A vault of tokens with a use limit each; ``stolen_last_uses``: another slot takes that many
    last uses first (the store then refuses the use with TokenLimitError). Like the store, a
    reserved use names the token on the journal's attempt, and a released one unnames it."""

    def __init__(self, journal: MemoryJournal, count: int = 3, *, use_limit: int = 10) -> None:
        self.tokens = [FakeToken(f"tok:{index:04d}", f"secret-token-{index:04d}") for index in range(count)]
        self.uses: dict[str, list[int]] = {token.fingerprint: [] for token in self.tokens}
        self.use_limit = use_limit
        self.stolen_last_uses = 0
        self.states: dict[tuple[str, int], str] = {}
        self.journal = journal

    def next_token(self, product: str) -> FakeToken:
        for token in self.tokens:
            if len(self.uses[token.fingerprint]) < self.use_limit:
                return token
        raise VaultError(f"no activation token with a use left for {product}")

    def reserve_use(self, token: Any, attempt_id: int) -> None:
        if self.stolen_last_uses > 0:
            self.stolen_last_uses -= 1
            self.uses[token.fingerprint].extend([0] * (self.use_limit - len(self.uses[token.fingerprint])))
            raise TokenLimitError(f"activation token {token.fingerprint} has reached its use limit")
        self.uses[token.fingerprint].append(attempt_id)
        self.states[(token.fingerprint, attempt_id)] = "reserved"
        self.journal.set_attempt_fields(attempt_id, token_fingerprint=token.fingerprint)

    def confirm_use(self, token: Any, attempt_id: int) -> None:
        assert self.states.get((token.fingerprint, attempt_id)) == "reserved", "only a reserved use is confirmed"
        self.states[(token.fingerprint, attempt_id)] = "used"

    def release_use(self, token: Any, attempt_id: int) -> None:
        assert self.states.get((token.fingerprint, attempt_id)) == "reserved", "only a reserved use is released"
        self.states[(token.fingerprint, attempt_id)] = "released"
        self.uses[token.fingerprint].remove(attempt_id)
        if self.journal.get_attempt(attempt_id).ended_at is None:
            self.journal.set_attempt_fields(attempt_id, token_fingerprint=None)

    def settle_earlier_uses(self, serial: str, *, activated: bool, attempt_id: int) -> int:
        settled = 0
        for (fingerprint, attempt), state in list(self.states.items()):
            earlier = attempt != attempt_id and self.journal.get_attempt(attempt).serial == serial
            if state == "reserved" and earlier:
                self.states[(fingerprint, attempt)] = "used" if activated else "released"
                if not activated:
                    self.uses[fingerprint].remove(attempt)
                settled += 1
        return settled

    def used(self) -> list[tuple[str, int]]:
        """The uses the unit accepted (fingerprint, attempt)."""
        return [key for key, state in self.states.items() if state == "used"]


# ---- the journal ----------------------------------------------------------------------------


class MemoryJournal:
    """The journal's parts (attempts, credentials, units, audit) in memory, with the store's rules."""

    def __init__(self) -> None:
        self._attempts: dict[int, AttemptRecord] = {}
        self._steps: dict[int, StepRecord] = {}
        self._credentials: dict[str, CredentialRecord] = {}
        self._units: dict[str, UnitRecord] = {}
        self.audit_entries: list[tuple[str, str, str]] = []
        self._attempt_ids = itertools.count(1)
        self._step_ids = itertools.count(1)
        self._lock = threading.RLock()
        self.work_order_quantities: dict[str, int] = {}  # the store's cap (station.store.work_orders)

    def as_journal(self) -> Journal:
        return Journal(attempts=self, credentials=self, units=self, audit=self)

    # -- attempts ---------------------------------------------------------------------------

    def create_attempt(
        self, *, serial: str, station: str, operator: str, recipe_hash: str, product: str,
        work_order: str | None = None, device_id: str | None = None, probe_id: str | None = None,
        is_rework: bool = False, owner: AttemptOwner | None = None, at: datetime | None = None,
    ) -> AttemptRecord:  # fmt: skip
        with self._lock:
            if any(a.serial == serial and a.result is AttemptResult.IN_PROGRESS for a in self._attempts.values()):
                raise SerialInProgressError("another slot")
            quantity = self.work_order_quantities.get(work_order or "")
            if quantity is not None and not is_rework:
                holders = {a.serial for a in self._attempts.values() if a.work_order == work_order and not a.is_rework
                           and a.result in (AttemptResult.PASSED, AttemptResult.IN_PROGRESS)}  # fmt: skip
                if serial not in holders and len(holders) >= quantity:
                    raise WorkOrderCompleteError(work_order or "", quantity, len(holders))
            self._units.setdefault(serial, UnitRecord(serial, device_id, at or now()))
            previous = max((a.id for a in self._attempts.values() if a.serial == serial), default=None)
            attempt = AttemptRecord(
                id=next(self._attempt_ids), serial=serial, station=station, operator=operator, work_order=work_order,
                recipe_hash=recipe_hash, product=product, state=JournalState.SCANNED,
                result=AttemptResult.IN_PROGRESS, started_at=at or now(), device_id=device_id, probe_id=probe_id,
                previous_attempt_id=previous, is_rework=is_rework, owner=owner,
            )  # fmt: skip
            self._attempts[attempt.id] = attempt
            return attempt

    def _open(self, attempt_id: int) -> AttemptRecord:
        attempt = self._attempts.get(attempt_id)
        if attempt is None:
            raise StoreError(f"no attempt {attempt_id}")
        if attempt.result is not AttemptResult.IN_PROGRESS:
            raise AttemptFinishedError(f"attempt {attempt_id} is already finished ({attempt.result}); it cannot change")
        return attempt

    def advance(self, attempt_id: int, state: JournalState) -> None:
        with self._lock:
            self._attempts[attempt_id] = replace(self._open(attempt_id), state=state)

    def serials_of_device(self, device_id: str) -> list[str]:
        ordered = sorted(self._attempts.values(), key=lambda attempt: attempt.id)
        return list(dict.fromkeys(attempt.serial for attempt in ordered if attempt.device_id == device_id))

    def passed_serial_of_device(self, device_id: str) -> str | None:
        passed = [a for a in self._attempts.values() if a.device_id == device_id and a.result is AttemptResult.PASSED]
        return passed[0].serial if passed else None

    def set_attempt_fields(self, attempt_id: int, **fields: Any) -> None:
        with self._lock:
            device_id = fields.get("device_id")
            if device_id is not None and any(
                a.device_id == device_id and a.result is AttemptResult.IN_PROGRESS and a.id != attempt_id
                for a in self._attempts.values()
            ):
                raise DeviceInProgressError(device_id, "in another attempt")
            if "image_hashes" in fields:
                fields["image_hashes"] = tuple(fields["image_hashes"])
            self._attempts[attempt_id] = replace(self._open(attempt_id), **fields)

    def finish_attempt(
        self, attempt_id: int, result: AttemptResult, *, failure_step: str | None = None,
        failure_code: str | None = None, failure_message: str | None = None, at: datetime | None = None,
    ) -> AttemptRecord:  # fmt: skip
        if result is AttemptResult.FAILED and not failure_code:
            raise StoreError("a FAILED attempt needs a failure code")
        final = {AttemptResult.PASSED: JournalState.PASSED, AttemptResult.FAILED: JournalState.FAILED,
                 AttemptResult.NEEDS_INSPECTION: JournalState.NEEDS_INSPECTION}[result]  # fmt: skip
        with self._lock:
            self._attempts[attempt_id] = replace(
                self._open(attempt_id), result=result, state=final, failure_step=failure_step,
                failure_code=failure_code, failure_message=failure_message, ended_at=at or now(),
            )  # fmt: skip
        return self.get_attempt(attempt_id)

    def start_step(self, attempt_id: int, name: str, *, at: datetime | None = None) -> StepRecord:
        with self._lock:
            self._open(attempt_id)
            step = StepRecord(attempt_id, name, at or now(), StepOutcome.RUNNING, id=next(self._step_ids))
            assert step.id is not None
            self._steps[step.id] = step
            return step

    def finish_step(
        self, step_id: int, outcome: StepOutcome, *, detail: str = "", failure_code: str | None = None,
        at: datetime | None = None, advance_to: JournalState | None = None,
    ) -> StepRecord:  # fmt: skip
        with self._lock:
            step = self._steps[step_id]
            if step.outcome is not StepOutcome.RUNNING:
                raise StoreError(f"step {step_id} ({step.name}) is already finished ({step.outcome})")
            attempt = self._open(step.attempt_id)
            finished = replace(step, outcome=outcome, detail=detail, failure_code=failure_code, ended_at=at or now())
            self._steps[step_id] = finished
            if advance_to is not None:
                self._attempts[attempt.id] = replace(attempt, state=advance_to)
            return finished

    def finish_step_and_start(
        self, step_id: int, end: StepEnd, next_step: str, *, at: datetime | None = None
    ) -> tuple[StepRecord, StepRecord]:
        with self._lock:  # re-entrant: one "transaction", as the store's
            finished = self.finish_step(step_id, end.outcome, detail=end.detail, failure_code=end.failure_code,
                                        at=at, advance_to=end.advance_to)  # fmt: skip
            return finished, self.start_step(finished.attempt_id, next_step, at=at)

    def skip_step(
        self, attempt_id: int, name: str, reason: str, *, advance_to: JournalState | None = None,
        at: datetime | None = None,
    ) -> StepRecord:  # fmt: skip
        with self._lock:
            started = self.start_step(attempt_id, name, at=at)
            return self.finish_step(started.id or 0, StepOutcome.SKIPPED, detail=reason, at=at, advance_to=advance_to)

    def get_attempt(self, attempt_id: int) -> AttemptRecord:
        with self._lock:
            attempt = self._attempts[attempt_id]
            steps = tuple(step for step in self._steps.values() if step.attempt_id == attempt_id)
            return replace(attempt, steps=steps)

    def history(self, serial: str) -> list[AttemptRecord]:
        ordered = sorted(self._attempts.values(), key=lambda attempt: attempt.id)
        return [self.get_attempt(attempt.id) for attempt in ordered if attempt.serial == serial]

    def latest_attempt(self, serial: str) -> AttemptRecord | None:
        found = self.history(serial)
        return found[-1] if found else None

    def unfinished_attempts(self, station: str | None = None) -> list[AttemptRecord]:
        return [
            self.get_attempt(a.id) for a in self._attempts.values()
            if a.result is AttemptResult.IN_PROGRESS and (station is None or a.station == station)
        ]  # fmt: skip

    # -- credentials -------------------------------------------------------------------------

    def reserve_credential(
        self, *, certificate_serial: str, certificate_fingerprint: str, serial: str, device_id: str,
        attempt_id: int, certificate_pem: str, at: datetime | None = None,
    ) -> CredentialRecord:  # fmt: skip
        with self._lock:
            attempt = self._open(attempt_id)
            if certificate_serial in self._credentials or any(
                c.certificate_fingerprint == certificate_fingerprint for c in self._credentials.values()
            ):
                raise StoreError(f"credential {certificate_serial} was already reserved; never offered twice")
            record = CredentialRecord(
                certificate_serial, certificate_fingerprint, serial, device_id, attempt_id,
                CredentialState.RESERVED, certificate_pem, at or now(),
            )  # fmt: skip
            self._credentials[certificate_serial] = record
            self._attempts[attempt_id] = replace(attempt, certificate_fingerprint=certificate_fingerprint)
            return record

    def mark_injected(self, certificate_serial: str) -> CredentialRecord:
        with self._lock:
            record = self._credentials[certificate_serial]
            if record.state is not CredentialState.RESERVED:
                raise StoreError(f"credential {certificate_serial} is {record.state}, not RESERVED")
            self._credentials[certificate_serial] = replace(record, state=CredentialState.INJECTED)
            return self._credentials[certificate_serial]

    def void_credential(self, certificate_serial: str) -> CredentialRecord:
        with self._lock:
            record = replace(self._credentials[certificate_serial], state=CredentialState.VOID)
            self._credentials[certificate_serial] = record
            return record

    def credentials_for_attempt(self, attempt_id: int) -> list[CredentialRecord]:
        return [c for c in self._credentials.values() if c.attempt_id == attempt_id]

    def credentials_for_serial(self, serial: str) -> list[CredentialRecord]:
        return [c for c in self._credentials.values() if c.serial == serial]

    # -- units and audit ---------------------------------------------------------------------

    def get_unit(self, serial: str) -> UnitRecord | None:
        return self._units.get(serial)

    def mark_development(self, serial: str) -> UnitRecord:
        with self._lock:
            unit = self._units.get(serial) or UnitRecord(serial, None, now())
            self._units[serial] = replace(unit, is_development=True)
            return self._units[serial]

    def is_development_device(self, device_id: str) -> bool:
        development = {serial for serial, unit in self._units.items() if unit.is_development}
        return any(a.device_id == device_id and a.serial in development for a in self._attempts.values())

    def append_audit(self, actor: str, action: str, detail: str) -> None:
        self.audit_entries.append((actor, action, detail))
