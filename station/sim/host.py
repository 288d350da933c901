"""Simulated units served from their own processes, as a real probe does its work on its own CPU.

Run inside the station's process, a simulated unit's device model -- the emulated core
running pyOCD's flash algorithm, the DAP, the flash timing -- and its console competed with
the station for the interpreter: with eight slots the simulation took more CPU than the
station itself, throughput stopped growing with slots and the window stuttered. On a real
line the probe's firmware and the chip do that work. So the demo, training mode and the
benchmarks start a *simulator host* (``station sim host``), which runs

* a probe server on ``<sim dir>/probe-host.sock``: each probe session that any pyOCD process
  opens on a ``sim:`` probe is served by a child process of its own, which holds that unit's
  device model for the session's lifetime. The children are forked ahead, eight spares
  waiting at any time, each with its emulator built, so that opening a session never waits
  for a fork -- nor, when eight slots connect in the same instant, for seven forks for other
  probes: real probes do not queue behind each other; and
* every unit's console on its pty (:class:`~station.sim.console.ConsoleServer`) in a second child.

The ``sim`` probe plugin uses the host while its socket answers and runs the device model in
its own process otherwise, so stock pyOCD tools and the tests work either way.

The wire format is length-prefixed pickles over a Unix socket that only the sim directory's
owner can open (mode 0600): both ends are this package, run by the same user.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import importlib
import logging
import os
import pickle
import pkgutil
import select
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any, Final, NoReturn

from pyocd.core import exceptions

from station.domain.errors import SimulationError
from station.sim import chips
from station.sim.core_memory import PreparedEngine
from station.sim.device import SimDevice
from station.sim.units import SimUnitStore

LOG = logging.getLogger(__name__)

HOST_SOCKET_NAME: Final = "probe-host.sock"
READY_LINE: Final = "simulator host ready"
_LENGTH = struct.Struct("<I")
_MAX_MESSAGE = 64 * 1024 * 1024

# What a client may call on the device model in the session's child (see SimDevice).
DEVICE_CALLS: Final = frozenset(
    {
        "check_link",
        "read_dp",
        "write_dp",
        "read_ap",
        "write_ap",
        "read_ap_many",
        "write_ap_many",
        "read_memory",
        "write_memory",
        "read_block",
        "write_block",
        "set_reset_pin",
        "reset_pin_asserted",
    }
)


# Calls whose result is nothing are posted: the client does not wait for them, and a failure
# is reported by the next call that waits -- as a CMSIS-DAP probe queues transfers and pyOCD
# sees a write's fault at the next read or flush. Without this, every register write of the
# flash algorithm's set-up would cost a round trip.
POSTED_CALLS: Final = frozenset({"write_dp", "write_ap", "write_ap_many", "write_memory", "write_block"})
# Queued calls are sent once they hold this many bytes, even if no reply is awaited yet.
_UNSENT_LIMIT: Final = 64 * 1024


def host_socket_path(sim_dir: Path) -> Path:
    return sim_dir / HOST_SOCKET_NAME


_SHORT_PATH_LIMIT = 100  # sun_path holds 108 bytes


@contextlib.contextmanager
def _socket_address(path: Path) -> Iterator[str]:
    """An address for binding or connecting to ``path``, however deep the sim directory is.

    A Unix socket's path must fit in 108 bytes; a longer one (pytest's temporary directories,
    a deep data directory) is reached through the directory's descriptor in /proc instead.
    """
    if len(os.fsencode(path)) <= _SHORT_PATH_LIMIT:
        yield str(path)
        return
    directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{directory}/{path.name}"
    finally:
        os.close(directory)


# ---- framing --------------------------------------------------------------------------------


def _frame(message: object) -> bytes:
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(payload)) + payload


def _send(connection: socket.socket, message: object) -> None:
    connection.sendall(_frame(message))


class _FrameReader:
    """Reads framed messages from a connection through a buffer: one receive brings every frame
    that has arrived (a reply's length and body, or a burst of queued writes), where reading
    each frame's length and body exactly would cost two system calls per message."""

    _CHUNK = 256 * 1024

    def __init__(self, connection: socket.socket) -> None:
        self._connection = connection
        self._buffer = bytearray()
        self._start = 0  # where the next frame begins in the buffer

    def _fill(self, needed: int) -> None:
        while len(self._buffer) - self._start < needed:
            if self._start:  # drop what was consumed before reading more
                del self._buffer[: self._start]
                self._start = 0
            chunk = self._connection.recv(self._CHUNK)
            if not chunk:
                raise EOFError("simulator host connection closed")
            self._buffer += chunk

    def receive(self) -> Any:
        self._fill(_LENGTH.size)
        (size,) = _LENGTH.unpack_from(self._buffer, self._start)
        if size > _MAX_MESSAGE:
            raise EOFError(f"simulator host message of {size} bytes refused")
        self._fill(_LENGTH.size + size)
        body = self._start + _LENGTH.size
        message = pickle.loads(self._buffer[body : body + size])
        self._start = body + size
        if self._start == len(self._buffer):
            self._buffer.clear()
            self._start = 0
        return message


# ---- client: the probe plugin's side ------------------------------------------------------------


@dataclasses.dataclass
class _Reply:
    arrived: bool = False
    status: str = ""
    value: Any = None


class HostedDevice:
    """A unit's device model living in a host child: the same calls as ``SimDevice``."""

    def __init__(self, connection: socket.socket, unit_id: str) -> None:
        self._connection = connection
        self._reader = _FrameReader(connection)
        self.unit_id = unit_id
        # Calls sent whose replies have not been read yet, oldest first: the host answers every
        # call that is not posted, in order.
        self._awaiting: collections.deque[_Reply] = collections.deque()
        # A posted call went out after the last answered call: the host may not have done it yet.
        self._posted_unconfirmed = False
        # Calls not sent yet, framed: posted writes and deferred reads wait here until a reply
        # is wanted (or the queue is long), and then go in one send -- as a CMSIS-DAP probe
        # queues transfers until a read needs its answer or pyOCD flushes.
        self._unsent = bytearray()

    @classmethod
    def open(cls, sim_dir: Path, unit_id: str) -> HostedDevice | None:
        """A session on the host for ``unit_id``; None when no host answers at ``sim_dir``.

        Raises pyOCD's ``ProbeError`` when the host answers but cannot open the unit.
        """
        path = host_socket_path(sim_dir)
        if not path.exists():
            return None
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            with _socket_address(path) as address:
                connection.connect(address)
        except OSError as error:
            connection.close()
            LOG.warning("simulator host at %s does not answer (%s); simulating in this process", path, error)
            return None
        device = cls(connection, unit_id)
        try:
            device._call("open", unit_id)
        except exceptions.ProbeDisconnected as error:
            # Accepted, then dropped before any answer: a host ending (its last session
            # processes closing the socket) looks like this. No session exists yet.
            connection.close()
            LOG.warning("simulator host at %s does not answer (%s); simulating in this process", path, error)
            return None
        except BaseException:
            connection.close()
            raise
        return device

    def _send_call(self, name: str, arguments: tuple[object, ...]) -> _Reply | None:
        """Queue a call; the queue goes out when a reply is awaited (``_result``)."""
        try:
            self._unsent += _frame((name, arguments))
        except pickle.PickleError as error:
            raise exceptions.ProbeDisconnected(f"simulator host session for {self.unit_id} lost: {error}") from error
        if name in POSTED_CALLS:
            self._posted_unconfirmed = True
            if len(self._unsent) >= _UNSENT_LIMIT:
                self._send_unsent()
            return None
        reply = _Reply()
        self._awaiting.append(reply)
        return reply

    def _send_unsent(self) -> None:
        if not self._unsent:
            return
        try:
            self._connection.sendall(self._unsent)
        except OSError as error:
            raise exceptions.ProbeDisconnected(f"simulator host session for {self.unit_id} lost: {error}") from error
        finally:
            self._unsent.clear()

    def _result(self, reply: _Reply) -> Any:
        """Read replies in order up to this one's, and return its value (or raise its failure)."""
        self._send_unsent()
        while not reply.arrived:
            oldest = self._awaiting.popleft()
            try:
                oldest.status, oldest.value = self._reader.receive()
            except (OSError, EOFError, pickle.PickleError) as error:
                raise exceptions.ProbeDisconnected(
                    f"simulator host session for {self.unit_id} lost: {error}"
                ) from error
            oldest.arrived = True
        if reply.status == "error":
            raise reply.value
        return reply.value

    def _call(self, name: str, *arguments: object) -> Any:
        reply = self._send_call(name, arguments)
        if reply is None:
            return None
        value = self._result(reply)
        self._posted_unconfirmed = False  # answered in order: everything sent before it was done
        return value

    def flush(self) -> None:
        """Wait until the host has carried out every call sent so far (one round trip, only when
        a posted call is outstanding); a posted call's failure is raised here."""
        if self._posted_unconfirmed:
            self._call("check_link")

    def read_memory_later(self, address: int, bits: int) -> Callable[[], int]:
        """A deferred read, as pyOCD asks for a register write's DHCSR status: sent now, its
        reply read only when wanted, so that a burst of them costs one round trip."""
        reply = self._send_call("read_memory", (address, bits))
        assert reply is not None
        return lambda: int(self._result(reply))

    def interrupt(self) -> None:
        """From any thread: end the session now. A call blocked on its reply returns (the host's
        session process sees the end of its connection and exits); later calls fail."""
        with contextlib.suppress(OSError):
            self._connection.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._connection.close()

    def check_link(self) -> None:
        self._call("check_link")

    def read_dp(self, address: int) -> int:
        return int(self._call("read_dp", address))

    def write_dp(self, address: int, value: int) -> None:
        self._call("write_dp", address, value)

    def read_ap(self, address: int) -> int:
        return int(self._call("read_ap", address))

    def write_ap(self, address: int, value: int) -> None:
        self._call("write_ap", address, value)

    def read_ap_many(self, address: int, count: int) -> list[int]:
        return list(self._call("read_ap_many", address, count))

    def write_ap_many(self, address: int, values: list[int]) -> None:
        self._call("write_ap_many", address, values)

    def read_memory(self, address: int, bits: int) -> int:
        return int(self._call("read_memory", address, bits))

    def write_memory(self, address: int, value: int, bits: int) -> None:
        self._call("write_memory", address, value, bits)

    def read_block(self, address: int, length: int) -> bytes:
        return bytes(self._call("read_block", address, length))

    def write_block(self, address: int, data: bytes) -> None:
        self._call("write_block", address, data)

    def set_reset_pin(self, asserted: bool) -> None:
        self._call("set_reset_pin", asserted)

    @property
    def reset_pin_asserted(self) -> bool:
        return bool(self._call("reset_pin_asserted"))


# ---- server: the host's side ------------------------------------------------------------------


def _serve_session(connection: socket.socket, store: SimUnitStore, engine: PreparedEngine | None) -> None:
    """One probe session, in its own child: open the unit, then answer calls until the client goes."""
    device: SimDevice | None = None
    posted_failure: Exception | None = None  # the first failure of a posted call, not yet reported
    reader = _FrameReader(connection)
    try:
        while True:
            try:
                name, arguments = reader.receive()
            except (EOFError, OSError):
                return
            if name in POSTED_CALLS:
                if posted_failure is None:  # after a failure the rest of the queue is dropped, as a probe does
                    try:
                        if device is None:
                            raise exceptions.ProbeError("simulator host: no unit open")
                        getattr(device, name)(*arguments)
                    except Exception as error:
                        posted_failure = error
                continue
            if posted_failure is not None:
                reply: tuple[str, Any] = ("error", posted_failure)
                posted_failure = None
                if not _reply(connection, reply):
                    return
                continue
            try:
                if name == "open" and device is None:
                    try:
                        unit = store.open_unit(str(arguments[0]))
                    except SimulationError as error:
                        raise exceptions.ProbeError(str(error)) from None
                    device = SimDevice(unit, engine=engine)
                    result: Any = None
                elif device is None or name not in DEVICE_CALLS:
                    raise exceptions.ProbeError(f"simulator host: {name!r} is not a call it serves here")
                elif name == "reset_pin_asserted":
                    result = device.reset_pin_asserted
                else:
                    result = getattr(device, name)(*arguments)
                reply = ("ok", result)
            except Exception as error:  # every failure goes back to the pyOCD that asked
                reply = ("error", error)
            if not _reply(connection, reply):
                return
    finally:
        if device is not None:
            device.close()
            device.unit.close()
        connection.close()


def _reply(connection: socket.socket, reply: tuple[str, Any]) -> bool:
    """Send a reply (an unpicklable failure as a ProbeError); False once the client is gone."""
    try:
        try:
            _send(connection, reply)
        except (pickle.PickleError, TypeError, AttributeError):
            _send(connection, ("error", exceptions.ProbeError(f"simulator host: {reply[1]!r}")))
    except OSError:
        return False
    return True


TERMINATION_SIGNALS: Final = frozenset({signal.SIGTERM, signal.SIGINT})


def block_termination_signals() -> None:
    """Take SIGTERM and SIGINT only through :func:`wait_for_termination`, in every thread
    started after this. (A handler that sets an Event can deadlock on the lock of the very
    Event.wait it interrupted; a process stuck that way outlives whoever started it.)"""
    signal.pthread_sigmask(signal.SIG_BLOCK, TERMINATION_SIGNALS)


def wait_for_termination(timeout: float) -> bool:
    """True once SIGTERM or SIGINT has arrived; False after ``timeout`` seconds without."""
    return signal.sigtimedwait(TERMINATION_SIGNALS, timeout) is not None


def _serve_consoles(store: SimUnitStore, ready: int, host_pid: int) -> None:
    """The console child: every unit's pty until SIGTERM, or until the host is gone."""
    from station.sim.console import ConsoleServer
    from station.sim.dms import SimDeviceManagement

    block_termination_signals()  # before the console thread starts, so that it inherits the mask
    with ConsoleServer(store, SimDeviceManagement(store.root)):
        os.write(ready, b"1")
        os.close(ready)
        while not wait_for_termination(1.0) and os.getppid() == host_pid:
            pass


def run_host(sim_dir: Path, *, exit_with_stdin: bool = False, announce: Callable[[], None] | None = None) -> int:
    """``station sim host``: serve probe sessions and consoles until SIGTERM or Ctrl-C.

    With ``exit_with_stdin`` it also ends when its standard input closes: the demo, the GUI
    and the benchmarks start it with a pipe there, so that it never outlives them, however
    they end. ``announce`` says that it is ready (default: :data:`READY_LINE` on stdout).
    """
    store = SimUnitStore(sim_dir)
    store.root.mkdir(parents=True, exist_ok=True)
    path = host_socket_path(store.root)
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    _load_families()

    ready_read, ready_write = os.pipe()
    host_pid = os.getpid()
    console_pid = os.fork()
    if console_pid == 0:
        os.close(ready_read)
        status = 0
        try:
            _serve_consoles(store, ready_write, host_pid)
        except BaseException:
            LOG.exception("simulated consoles stopped")
            status = 1
        finally:
            os._exit(status)
    os.close(ready_write)
    if os.read(ready_read, 1) != b"1":
        os.close(ready_read)
        raise SimulationError("the simulated consoles did not start")
    os.close(ready_read)

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        with _socket_address(path) as address:
            listener.bind(address)
    finally:
        os.umask(old_umask)
    listener.listen(64)
    listener.setblocking(False)  # the spares race for each connection; the losers wait again

    def stop(_signal: int, _frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # session children are reaped by the kernel
    pool = _SparePool(listener, store)
    try:
        pool.fill()
        if announce is None:
            print(READY_LINE, flush=True)
        else:
            announce()
        watched = [pool.taken, sys.stdin] if exit_with_stdin else [pool.taken]
        while True:
            readable, _, _ = select.select(watched, [], [], _SPARE_CHECK_S)
            if sys.stdin in readable and not os.read(sys.stdin.fileno(), 4096):
                break  # whoever started the host has gone
            if pool.taken in readable:
                pool.note_taken()
            pool.forget_dead()
            pool.fill()
    except KeyboardInterrupt:
        pass
    finally:
        # Stopping: the SIGTERM that often follows the end of stdin must not cut this short.
        for signal_number in TERMINATION_SIGNALS:
            signal.signal(signal_number, signal.SIG_IGN)
        pool.close()  # the idle spares see it and end
        listener.close()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        with contextlib.suppress(ProcessLookupError):
            os.kill(console_pid, signal.SIGTERM)
    return 0


def _load_families() -> None:
    """Every chip family's modules, imported once in the host before it forks: its session
    children inherit them. A family's debug-port module is imported when a session first makes
    its port; in a child that was every session, and without cached bytecode a compile, some
    milliseconds of every STM32 or K64F connect. A module that fails here fails again, and is
    reported, in the session that needs it."""
    for module in pkgutil.iter_modules(chips.__path__):
        try:
            importlib.import_module(f"{chips.__name__}.{module.name}")
        except Exception:
            LOG.warning("simulator host: chip module %s not loaded ahead", module.name, exc_info=True)


SPARE_SESSIONS: Final = 8  # one per slot of a full station: eight connects at once wait for no fork
_SPARE_CHECK_S: Final = 1.0  # how often the host looks for spares that died idle, or forks refused before
_PID = struct.Struct("<i")


class _SparePool:
    """Idle session children, forked ahead, each waiting to take the next connection.

    A spare that takes a connection (or fails) sends its pid on the ``taken`` pipe and the
    host forks its replacement while the session runs; a spare killed while idle is noticed
    within a second. Every spare also watches a pipe only the host writes to: when the host
    ends, however it ends (even killed outright), the pipe reads end of file and the idle
    spares end with it. The host stays single-threaded, so forking is safe.
    """

    def __init__(self, listener: socket.socket, store: SimUnitStore) -> None:
        self._listener = listener
        self._store = store
        self._host_alive, self._host_alive_write = os.pipe()  # only the host holds the write end
        self.taken, self._taken_write = os.pipe()
        self._idle: set[int] = set()  # pids of the spares still waiting

    @property
    def full(self) -> bool:
        return len(self._idle) >= SPARE_SESSIONS

    def note_taken(self) -> None:
        """Forget the spares that left the pool since last asked (each sent its pid)."""
        data = os.read(self.taken, 4096)  # whole pids: each was one write of fewer than PIPE_BUF bytes
        for (pid,) in _PID.iter_unpack(data[: len(data) - len(data) % _PID.size]):
            self._idle.discard(pid)

    def forget_dead(self) -> None:
        """Forget the spares that died while waiting (killed: they could not say so)."""
        for pid in list(self._idle):
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                self._idle.discard(pid)
            except PermissionError:
                pass  # alive (or its pid reused by another user's process: replaced when it leaves)

    def fill(self) -> None:
        """Fork spares up to the pool's size; a refused fork is tried again within a second."""
        while not self.full:
            # SIGTERM between the fork and the child's own handlers would run the host's
            # handler in the child, which would then act as the host (and clean up after it).
            host_mask = signal.pthread_sigmask(signal.SIG_BLOCK, TERMINATION_SIGNALS)
            try:
                pid = os.fork()
            except OSError as error:
                signal.pthread_sigmask(signal.SIG_SETMASK, host_mask)
                LOG.warning("simulator host: cannot start a session process now (%s)", error)
                return
            if pid == 0:
                self._run_spare(host_mask)
            signal.pthread_sigmask(signal.SIG_SETMASK, host_mask)
            self._idle.add(pid)

    def close(self) -> None:
        for fd in (self._host_alive_write, self._host_alive, self.taken, self._taken_write):
            with contextlib.suppress(OSError):
                os.close(fd)

    def _run_spare(self, signal_mask: set[int | signal.Signals]) -> NoReturn:
        """The child: wait for a client (or the host's end), then serve its session; never returns."""
        for signal_number in (signal.SIGTERM, signal.SIGINT, signal.SIGCHLD):
            signal.signal(signal_number, signal.SIG_DFL)  # a session ends quietly with its host
        signal.pthread_sigmask(signal.SIG_SETMASK, signal_mask)
        status = 0
        try:
            os.close(self._host_alive_write)
            os.close(self.taken)
            engine = self._prepared_engine()
            connection = self._wait_for_client()
            os.close(self._host_alive)
            self._leave_pool()
            if connection is not None:
                self._listener.close()
                _serve_session(connection, self._store, engine)
        except BaseException:
            LOG.exception("simulator host session failed")
            status = 1
        finally:
            self._leave_pool()  # however this spare ends, the host forks another
            os._exit(status)

    def _leave_pool(self) -> None:
        """Tell the host (once) that this process is no longer waiting as a spare."""
        if self._taken_write < 0:
            return
        with contextlib.suppress(OSError):  # the host may be gone
            os.write(self._taken_write, _PID.pack(os.getpid()))
            os.close(self._taken_write)
        self._taken_write = -1

    @staticmethod
    def _prepared_engine() -> PreparedEngine | None:
        """The emulator, built while nobody waits for it; None if that fails, so that the
        session builds its own and reports the failure to its client."""
        try:
            return PreparedEngine()
        except Exception:
            LOG.exception("simulator host: cannot prepare an emulator ahead")
            return None

    def _wait_for_client(self) -> socket.socket | None:
        """The next connection this spare wins; None once the host has gone."""
        while True:
            readable, _, _ = select.select([self._listener.fileno(), self._host_alive], [], [])
            if self._host_alive in readable:
                return None  # end of file: the host is gone
            try:
                connection, _ = self._listener.accept()
            except BlockingIOError:
                continue  # another spare took it
            connection.setblocking(True)
            return connection


# ---- the host as a child process of the demo, the GUI and the benchmarks ---------------------------


class SimulatorHost:
    """Starts ``station sim host`` for a sim directory and stops it with everything it forked."""

    def __init__(self, sim_dir: Path, *, start_timeout: float = 60.0) -> None:
        self.sim_dir = sim_dir
        self._start_timeout = start_timeout
        self._process: subprocess.Popen[str] | None = None

    def __enter__(self) -> SimulatorHost:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        if self._process is not None:
            raise RuntimeError("simulator host is already running")
        command = [sys.executable, "-m", "station", "sim", "--sim-dir", str(self.sim_dir)]
        command += ["host", "--exit-with-stdin"]
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,  # held open until stop(); closed with this process at the latest
            stdout=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group: stop() ends the forked children too
        )
        assert process.stdout is not None
        readable, _, _ = select.select([process.stdout], [], [], self._start_timeout)
        first_line = process.stdout.readline() if readable else ""
        if first_line.strip() != READY_LINE:
            self._kill(process)
            raise SimulationError(
                f"the simulator host for {self.sim_dir} did not start within {self._start_timeout:.0f} s"
                f" (exit status {process.poll()})"
            )
        self._process = process

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            self._kill(process)

    @staticmethod
    def _kill(process: subprocess.Popen[str]) -> None:
        if process.stdin is not None:
            with contextlib.suppress(OSError):
                process.stdin.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def wait_for_port(self, unit_id: str, timeout: float = 2.0) -> str:
        """The pty of a unit's console once the host serves it (it notices new units by polling)."""
        from station.sim.console import CONSOLE_LINK_NAME

        link = SimUnitStore(self.sim_dir).units_dir / unit_id / CONSOLE_LINK_NAME
        deadline = time.monotonic() + timeout
        while True:
            with contextlib.suppress(OSError):
                target = os.readlink(link)
                if os.path.exists(target):
                    return target
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no console for {unit_id} after {timeout} s")
            time.sleep(0.01)
