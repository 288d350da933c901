"""Who owns an open attempt, whether that owner is still alive, and its heartbeat.

Every attempt names its owner: the station, the host, the process (its pid and when it
started, so that a pid the system reuses later is not taken for the owner) and the slot. The
owner stamps a heartbeat on its open attempts while it works. Recovery settles an attempt
only when its owner is provably gone: on this host, its process no longer exists (or is
another process under the same pid); on another host, its heartbeat is older than the lease
(``[recovery] owner_lease_seconds``). A live owner's attempt is never touched.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from station.domain.errors import StationError
from station.domain.records import AttemptOwner, AttemptRecord

LOG = logging.getLogger(__name__)
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def _process_start(pid: int) -> str | None:
    """The boot and the start time (clock ticks since boot) of process ``pid``; None when it is gone.

    Where /proc does not exist, the pid alone (a reused pid then passes for the owner, and only
    the heartbeat's lease settles its attempts)."""
    stat = Path(f"/proc/{pid}/stat")
    if not stat.parent.parent.joinpath("self").exists():
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return f"pid:{pid}"
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
        boot = BOOT_ID.read_text().strip() if BOOT_ID.exists() else "boot"
    except (OSError, IndexError):
        return None
    return f"{boot}:{fields[19]}"  # field 22 of stat; the first two are before the split


@dataclass(frozen=True)
class ProcessIdentity:
    host: str
    pid: int
    process_start: str

    @classmethod
    def current(cls) -> ProcessIdentity:
        pid = os.getpid()
        return cls(socket.gethostname(), pid, _process_start(pid) or f"pid:{pid}")


def _now() -> datetime:
    return datetime.now(UTC)


class Ownership:
    """This process as the owner of the attempts it opens, and the judge of others' liveness."""

    def __init__(
        self,
        process: ProcessIdentity,
        lease: timedelta,
        *,
        clock: Callable[[], datetime] = _now,
        process_start: Callable[[int], str | None] = _process_start,
    ) -> None:
        self.process = process
        self.lease = lease
        self._clock = clock
        self._process_start = process_start
        self._working: set[int] = set()
        self._working_lock = threading.Lock()

    def owner(self, station: str, slot: str) -> AttemptOwner:
        process = self.process
        return AttemptOwner(station, process.host, process.pid, process.process_start, slot)

    @contextmanager
    def working_on(self, attempt_id: int) -> Iterator[None]:
        """A slot of this process runs the attempt while the block runs."""
        with self._working_lock:
            self._working.add(attempt_id)
        try:
            yield
        finally:
            with self._working_lock:
                self._working.discard(attempt_id)

    def is_gone(self, attempt: AttemptRecord) -> bool:
        """Whether the attempt's owner provably no longer works on it."""
        owner = attempt.owner
        if owner is None:
            return True  # recorded before attempts had owners: the pre-owner rule (settle at start)
        process = self.process
        if (owner.host, owner.pid, owner.process_start) == (process.host, process.pid, process.process_start):
            # This process's own attempt (its pass could not be committed, say): gone unless a
            # slot still runs it.
            with self._working_lock:
                return attempt.id not in self._working
        if owner.host == self.process.host:
            return self._process_start(owner.pid) != owner.process_start
        last_sign = attempt.heartbeat_at or attempt.started_at
        return self._clock() - last_sign > self.lease


class Heartbeat:
    """Stamps this process's open attempts every ``interval`` so that other hosts see it alive."""

    def __init__(self, beat: Callable[[], int], interval: float) -> None:
        self._beat = beat
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="attempt heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._beat()
            except StationError as error:  # the store is busy or gone: the next beat tries again
                LOG.warning("the attempts' heartbeat was not recorded: %s", error)
