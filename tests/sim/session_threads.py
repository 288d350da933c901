"""A simulator host whose probe sessions run on threads of the test's own process.

``station sim host`` serves each session from a process of its own, out of a test's reach. This
serves the same socket with the same session loop (``_serve_session``), one thread per session,
so that a test can hold a hosted unit at one exact point -- a reset that lags behind the session
that asked for it -- with a monkeypatch, and make a race happen every time rather than now and
then. Only the process boundary differs; the wire, the posting of writes and the device model
are the simulator's own.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from station.sim import device as sim_device
from station.sim.chips.nrf52840 import CTRL_AP, CTRL_AP_APPROTECTSTATUS, Nrf52Port
from station.sim.host import _serve_session, _socket_address, host_socket_path
from station.sim.units import SimUnitStore

SESSION_END_SECONDS = 10.0  # teardown's bound on a session thread that does not end


class ThreadedHost:
    """Serves ``<sim dir>/probe-host.sock`` until closed; every ``sim:`` probe opened meanwhile
    (the station's driver, stock pyOCD) is a hosted session on a thread here."""

    def __init__(self, sim_dir: Path) -> None:
        self._store = SimUnitStore(sim_dir)
        self._path = host_socket_path(sim_dir)
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        with _socket_address(self._path) as address:
            self._listener.bind(address)
        self._listener.listen(16)
        self._listener.settimeout(0.05)  # the accept loop looks at the stop flag this often
        self._stop = threading.Event()
        self._sessions: list[threading.Thread] = []
        self._acceptor = threading.Thread(target=self._accept, name="threaded-host", daemon=True)
        self._acceptor.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            connection.settimeout(None)
            session = threading.Thread(
                target=_serve_session, args=(connection, self._store, None), name="hosted-session", daemon=True
            )
            self._sessions.append(session)
            session.start()

    def close(self) -> None:
        """Stop taking sessions, and wait for the open ones to end (their clients closed them)."""
        self._stop.set()
        self._acceptor.join(SESSION_END_SECONDS)
        self._listener.close()
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()
        for session in self._sessions:
            session.join(SESSION_END_SECONDS)


@contextlib.contextmanager
def threaded_host(sim_dir: Path) -> Iterator[ThreadedHost]:
    host = ThreadedHost(sim_dir)
    try:
        yield host
    finally:
        host.close()


class LaggingResets:
    """Makes every hosted unit's chip reset wait, at most ``limit`` seconds, until some session
    has read CTRL-AP APPROTECTSTATUS after the reset was asked for.

    That is the widest the window between a lock session's last write (the reset) and the
    lock-confirm's status read can be: a station that does not wait for the reset to happen
    reads the protection as it was before, every time; one that waits, waits ``limit``.
    """

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.resets_held = 0
        self._status_read = threading.Event()

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Into every ``SimDevice`` of this process (on a threaded host: the hosted ones)."""
        original_reset = sim_device.SimDevice.system_reset
        original_read = Nrf52Port.read_ap

        def lagging_reset(device: sim_device.SimDevice) -> None:
            self._status_read.clear()
            self.resets_held += 1
            self._status_read.wait(self.limit)
            original_reset(device)

        def noting_read(port: Nrf52Port, apsel: int, register: int) -> int | None:
            value = original_read(port, apsel, register)
            if apsel == CTRL_AP and register == CTRL_AP_APPROTECTSTATUS:
                self._status_read.set()
            return value

        monkeypatch.setattr(sim_device.SimDevice, "system_reset", lagging_reset)
        monkeypatch.setattr(Nrf52Port, "read_ap", noting_read)

    def release(self) -> None:
        """Let a reset still held go on (teardown: its session thread must end)."""
        self._status_read.set()
