"""The station's link to its line database: forwarding in the background, and the line's policy.

While the station runs, a thread forwards its chain to the line database every few seconds
(``station.store.forwarding``): what the station committed reaches the line in order, once,
whenever the line answers. The link's state is what the window's banner and ``station status``
show: connected, how many entries wait, offline since when, a conflict a supervisor must look at.

The line's policy (``[line] policy``) decides what a station does while the line is away:
``stop`` refuses new scans once the line has not answered for ``grace_seconds`` (a unit that
runs finishes), ``continue`` works on what the station holds and forwards on reconnection.
A conflict (the station's chain and the line's copy disagree) stops forwarding under either
policy and is reported, never merged.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from station.config.line import LineSettings
from station.domain.errors import LineConflictError, LineDatabaseError, LineOfflineError
from station.domain.text import token
from station.flow.ports import DevelopmentUnitRegistry
from station.store import Database
from station.store.forwarding import ForwardReport, LineComparison, compare_with_line, forward
from station.store.line import DEVELOPMENT_UNIT_PASSED, DEVICE_PASSED_TWICE, SERIAL_PASSED_TWICE, LineDatabase
from station.store.line_serials import LineSerialCounts, LineSerials

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class LineState:
    """What the station knows of its line database now."""

    configured: bool
    connected: bool = False
    pending: int = 0  # entries of this station's chain the line does not hold yet
    offline_since: datetime | None = None
    conflict: str | None = None
    last_error: str | None = None
    to_inspect: int = 0  # conflicts between stations the line found (describe_conflict says which)

    def describe(self) -> str:
        if not self.configured:
            return "no line database (this station's records are its own)"
        if self.conflict:
            return f"CONFLICT: {self.conflict}"
        inspect = f"; {self.to_inspect} conflict(s) to inspect (station line conflicts)" if self.to_inspect else ""
        if self.connected:
            waiting = f"{self.pending} entries to forward" if self.pending else "all forwarded"
            return f"connected, {waiting}{inspect}"
        since = f" since {self.offline_since:%Y-%m-%d %H:%M:%S} UTC" if self.offline_since else ""
        return f"offline{since}, {self.pending} entries waiting ({self.last_error or 'not reached yet'})"


class LineLink:
    """Forwards ``database``'s chain as ``station`` to the line database ``settings`` name."""

    def __init__(self, database: Database, settings: LineSettings, station: str) -> None:
        if settings.database_url is None:
            raise LineDatabaseError("no line database is configured ([line] database_url)")
        self.settings = settings
        self._database = database
        self._station = station
        self._line = LineDatabase(settings.database_url)
        self._lock = threading.Lock()
        self._state = LineState(configured=True, offline_since=None)
        self._offline_since_monotonic: float | None = None
        self._line_sequence = 0  # the newest entry the line was last seen to hold
        self._schema_ready = False
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def line(self) -> LineDatabase:
        """The line database itself (its serial leases are taken through it)."""
        return self._line

    # ---- forwarding ------------------------------------------------------------------------------

    def forward_now(self) -> ForwardReport:
        """Forward everything now (the command line; and each pass of the thread)."""
        try:
            if not self._schema_ready:
                self._line.ensure_schema()
                self._schema_ready = True
            report = forward(self._database, self._line, self._station)
            if report.forwarded:  # new records of this station: do they disagree with another's?
                for kind, subject, stations in self._line.find_conflicts():
                    LOG.error("line database: %s %s (%s): a supervisor must inspect it", kind, subject, stations)
            to_inspect = len(self._line.conflicts())
        except LineDatabaseError as error:
            self._failed(error)
            raise
        with self._lock:
            self._line_sequence = report.line_sequence
            self._state = LineState(configured=True, connected=True, pending=report.pending, to_inspect=to_inspect)
            self._offline_since_monotonic = None
        return report

    def _failed(self, error: LineDatabaseError) -> None:
        conflict = str(error) if isinstance(error, LineConflictError) else None
        pending = max(0, self._database.last_sequence() - self._line_sequence)
        with self._lock:
            previous = self._state
            if self._offline_since_monotonic is None:
                self._offline_since_monotonic = time.monotonic()
            self._state = LineState(
                configured=True, connected=False, pending=pending,
                offline_since=previous.offline_since or datetime.now(UTC), conflict=conflict or previous.conflict,
                last_error=str(error),
            )  # fmt: skip
        (LOG.error if conflict else LOG.warning)("line database: %s", error)

    def start(self) -> None:
        """Forward in the background until :meth:`close`."""
        self._thread = threading.Thread(target=self._run, name="line-forwarder", daemon=True)
        self._thread.start()

    def poke(self) -> None:
        """Forward soon (a unit just ended)."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self.state().conflict is None:
                try:
                    self.forward_now()
                except LineDatabaseError:
                    pass  # the state says it; the next pass tries again
                except Exception:  # a bug must not end forwarding silently
                    LOG.exception("line database: forwarding failed")
            self._wake.wait(self.settings.forward_every_seconds)
            self._wake.clear()

    def close(self) -> None:
        """Stop forwarding; a line that answered a moment ago gets what is left first (a command
        that provisioned one unit ends before the thread's next pass)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            if self.state().connected:  # the next process forwards it if this fails
                with contextlib.suppress(LineDatabaseError):
                    self.forward_now()
        self._line.dispose()

    # ---- the line's claims on serials (flow.ports.LineClaims) ------------------------------------------

    def claim(self, serial: str, work_order: str | None = None) -> None:
        """One live attempt per serial on the whole line, while the line answers. When it does not,
        the station goes on on its own journal (the policy decides for how long: ``refusal``);
        what two stations did apart is found when both have forwarded (``find_conflicts``)."""
        quantity = None
        if work_order is not None:
            record = self._database.registry.get_work_order(work_order)
            quantity = None if record is None else record.quantity
        try:
            self._line.claim(serial, self._station, work_order, quantity)
        except LineDatabaseError as error:
            self._failed(error)
            LOG.warning("line database: %s not claimed on the line (%s); this station's journal decides", serial, error)

    def release(self, serial: str, *, passed: bool) -> None:
        try:
            self._line.release(serial, self._station, passed=passed)
        except LineDatabaseError as error:
            self._failed(error)
            LOG.warning("line database: the claim on %s was not released (%s)", serial, error)
        self.poke()  # the attempt's records: forward them soon

    def is_development_unit(self, device_id: str) -> bool:
        """A development unit anywhere on the line is one here (``flow.ports.DevelopmentUnitRegistry``);
        when the line does not answer, the station's own records and registry decide."""
        try:
            return self._line.is_development_device(device_id)
        except LineDatabaseError as error:
            self._failed(error)
            return False

    # ---- what the station shows, and the policy --------------------------------------------------------

    def state(self) -> LineState:
        with self._lock:
            return self._state

    def refusal(self) -> LineOfflineError | None:
        """Why no new scan may start, under the ``stop`` policy: the line away past the grace."""
        if self.settings.policy != "stop":
            return None
        with self._lock:
            state, since = self._state, self._offline_since_monotonic
        if state.conflict:
            return LineOfflineError(f"the line database and this station disagree: {state.conflict}")
        if since is None or time.monotonic() - since < self.settings.grace_seconds:
            return None
        return LineOfflineError(
            f"the line database has not answered since {state.offline_since:%H:%M:%S} UTC: no new unit until it "
            "does (the line's policy is stop)"
        )


def forward_once(database: Database, settings: LineSettings, station: str) -> ForwardReport:
    """Forward everything now, without a thread (``station line forward``)."""
    link = LineLink(database, settings, station)
    try:
        return link.forward_now()
    finally:
        link.close()


def compare_against_line(database: Database, settings: LineSettings, station: str) -> LineComparison:
    """``station db verify --against-line``: the line's copy of this station's chain against its database."""
    if settings.database_url is None:
        raise LineDatabaseError("no line database is configured ([line] database_url in the station settings)")
    line = LineDatabase(settings.database_url)
    try:
        line.ensure_schema()
        return compare_with_line(database, line, station)
    finally:
        line.dispose()


def line_holds(database: Database, settings: LineSettings, station: str) -> ForwardReport:
    """What the line holds of this station and what waits, without forwarding anything."""
    if settings.database_url is None:
        raise LineDatabaseError("no line database is configured ([line] database_url in the station settings)")
    line = LineDatabase(settings.database_url)
    try:
        line.ensure_schema()
        held = line.last_entry(station)
    finally:
        line.dispose()
    return ForwardReport(0, 0 if held is None else held.sequence, database.last_sequence())


def line_conflicts(settings: LineSettings) -> list[tuple[str, str, str, datetime]]:
    """Conflicts between stations found on the line (``station line conflicts``), oldest first."""
    if settings.database_url is None:
        raise LineDatabaseError("no line database is configured ([line] database_url in the station settings)")
    line = LineDatabase(settings.database_url)
    try:
        line.ensure_schema()
        line.find_conflicts()
        return line.conflicts()
    finally:
        line.dispose()


_CONFLICT_WORDS = {
    SERIAL_PASSED_TWICE: "serial {subject} PASSED at {stations}",
    DEVICE_PASSED_TWICE: "device {subject} PASSED under two serials (one board, two labels): {stations}",
    DEVELOPMENT_UNIT_PASSED: "device {subject} PASSED at one station after another erased it (a development unit): "
    "{stations}",
}


def describe_conflict(kind: str, subject: str, stations: str) -> str:
    """A conflict the line found, in a supervisor's words (a kind this station does not know, as
    a newer station recorded it: its subject and stations)."""
    words = _CONFLICT_WORDS.get(kind, "{subject} at {stations}")
    return words.format(subject=token(subject), stations=" and ".join(token(name) for name in stations.split(",")))


def line_serial_counts(settings: LineSettings, work_order: str) -> LineSerialCounts:
    """A work order's serials on the whole line (``station line serials``): leased, free,
    allocated, bound, used, returned and scrapped, per station too."""
    if settings.database_url is None:
        raise LineDatabaseError("no line database is configured ([line] database_url in the station settings)")
    line = LineDatabase(settings.database_url)
    try:
        line.ensure_schema()
        return LineSerials(line).counts(work_order)
    finally:
        line.dispose()


class AnyRegistry:
    """Development units known to any of several registries (the device service's, the line's)."""

    def __init__(self, *registries: DevelopmentUnitRegistry) -> None:
        self._registries = registries

    def is_development_unit(self, device_id: str) -> bool:
        return any(registry.is_development_unit(device_id) for registry in self._registries)
