"""One attempt while it runs: the unit's identity as learned so far and the resources it holds.

A ``UnitRun`` is created when the attempt's row is, handed to every step, and closed at the
end whatever happened. It owns the debug session and the console port, so that a failed try
can drop them (the next try opens fresh ones) and the watchdog can interrupt them from its
own thread. It is mutable on purpose and never leaves the flow: callers get the immutable
``AttemptOutcome``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import dataclass, field

from station.domain.errors import ConsoleError, IdentityError, StationError
from station.domain.recipe import Recipe
from station.domain.records import AttemptRecord, CredentialRecord
from station.flow.console_log import ObservedConsole
from station.flow.observer import ProvisioningObserver
from station.flow.ports import (
    AttachedUnit,
    ConsoleOpener,
    CredentialIssuer,
    DevelopmentUnitRegistry,
    IssuedCredentialView,
    Journal,
    SecretToken,
    SerialPool,
    TokenSource,
    UnitConsole,
    UnitProbe,
)

LOG = logging.getLogger(__name__)


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


@dataclass
class UnitRun:
    """The state of one attempt while it runs (see the module's docstring)."""

    attempt: AttemptRecord
    serial: str
    slot: Slot
    context: StationContext
    recipe: Recipe
    journal: Journal
    issuer: CredentialIssuer
    tokens: TokenSource | None
    development_registry: DevelopmentUnitRegistry | None
    observer: ProvisioningObserver
    device_id: str | None = None
    issued: IssuedCredentialView | None = None
    resume_credential: CredentialRecord | None = None
    fresh_part_erase: str | None = None  # what erasing a factory-fresh part did (None: not one)
    token: SecretToken | None = None
    # The pool this attempt's serial came from (a unit without a label); bound at connect.
    allocated_from: SerialPool | None = None
    _unit: AttachedUnit | None = field(default=None, repr=False)
    _session: contextlib.ExitStack = field(default_factory=contextlib.ExitStack, repr=False)
    _console: UnitConsole | None = field(default=None, repr=False)
    _transcripts: list[str] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def attempt_id(self) -> int:
        return self.attempt.id

    @property
    def resumed_note(self) -> str | None:
        """Why the steps up to the lock do not run: the unit came locked with the credential this
        station injected, so the attempt continues at activation (None: not resuming)."""
        credential = self.resume_credential
        if credential is None:
            return None
        return f"resumed: unit already locked with credential {credential.certificate_serial}"

    # ---- the debug session -------------------------------------------------------------------

    def open_session(self) -> AttachedUnit:
        """A fresh debug session on the slot's unit (UnitLockedError, untouched, when locked)."""
        self.close_session()
        unit = self._session.enter_context(self.slot.probe.attach())
        self._unit = unit
        return unit

    def attached(self) -> AttachedUnit:
        """The open session, or a new one on the same unit after a failed try closed it.

        A new session checks that the fixture still holds the unit identified at connect: a
        board swapped between two tries is never flashed under this attempt.
        """
        if self._unit is not None:
            return self._unit
        unit = self.open_session()
        found = unit.read_device_id()
        if self.device_id is not None and found.upper() != self.device_id.upper():
            self.close_session()
            raise IdentityError(f"the fixture now holds device {found}, not {self.device_id}: scan the unit again")
        return unit

    def close_session(self) -> None:
        self._unit = None
        with contextlib.suppress(Exception):
            self._session.close()
        self._session = contextlib.ExitStack()

    # ---- the console ----------------------------------------------------------------------------

    def console(self) -> UnitConsole:
        """The unit's console port, opened on first use in this (the slot's) thread."""
        if self._console is None:
            try:
                console = self.slot.open_console()
            except ConsoleError:
                raise
            except Exception as error:
                raise ConsoleError(f"cannot open the unit's console: {type(error).__name__}") from error
            with self._lock:
                self._console = ObservedConsole(console, self.observer)
        return self._console

    def close_console(self) -> None:
        """Close the port, keeping what went over it for the attempt's transcript."""
        with self._lock:
            console, self._console = self._console, None
        if console is None:
            return
        with contextlib.suppress(Exception):
            self._transcripts.append(console.transcript)
        with contextlib.suppress(Exception):
            console.close()

    @property
    def transcript(self) -> str:
        """Everything that went over the console in this attempt (secrets replaced by labels)."""
        return "\n".join(part for part in self._transcripts if part)

    # ---- the end of a try, and of the run -----------------------------------------------------

    def interrupt(self) -> None:
        """From the watchdog's thread: end the probe's sessions and the console's blocked I/O."""
        LOG.warning(
            "attempt %s: step deadline passed; interrupting probe %s", self.attempt_id, self.slot.probe.probe_id
        )
        with contextlib.suppress(Exception):
            self.slot.probe.interrupt()
        with self._lock:
            console = self._console
        if console is not None:
            with contextlib.suppress(Exception):
                console.interrupt()

    def after_failed_try(self, *, interrupted: bool) -> None:
        """A failed try leaves no half-used session behind: the next try opens a fresh one."""
        self.close_session()
        if interrupted:
            self.close_console()

    def close(self) -> None:
        """Release the session and the port; record the console transcript with the attempt."""
        self.close_session()
        had_console = self._console is not None or bool(self._transcripts)
        self.close_console()
        if had_console:
            try:
                self.journal.attempts.set_attempt_fields(self.attempt_id, console_transcript=self.transcript)
            except StationError:
                LOG.exception("attempt %s: the console transcript could not be recorded", self.attempt_id)
