"""The simulated units' serial consoles: one pty per unit, opened by clients like /dev/ttyACM0.

The firmware behind each console is Gecko-OS-like with machine-friendly framing, so the
station's console driver is written against the same protocol it will meet on a real line
(full description in ``docs/console-protocol.md``):

Framing
    Commands are ASCII lines ending in ``\\r\\n`` (``\\n`` alone is accepted too; empty lines
    are ignored). Every command gets exactly one response::

        R<status: 1 digit><length: 5 decimal digits>\\r\\n<body: exactly length bytes>

    The body always ends with ``\\r\\n``. Asynchronous log lines (the boot banner) are framed
    the same way with ``L0`` instead of ``R<status>``. Status digits are Gecko OS's:
    0 success, 1 command failed, 2 parse error, 3 unknown command, 4 too few arguments,
    5 too many arguments, 6 unknown variable, 7 invalid argument.

Boot banner
    After every reset (the unit's ``boot_count`` changed, e.g. a debug probe in another
    process reset it, or ``reboot``) the unit prints
    ``L0…\\r\\nGecko OS-sim 4.2.1, device <uuid>, firmware <version|none>\\r\\nReady\\r\\n``.
    No banner is printed for a reset that happened before the console server first saw the
    unit.

Commands
    ``ver``                      firmware version from the application header, only if the
                                 application matches the header's SHA-256 (else status 1
                                 ``no valid application``).
    ``get system.uuid``          the unique device id: nRF52840 FICR DEVICEID, 16 uppercase hex
                                 digits; STM32 UID, 24 (the 96 bits, word 2 first).
    ``get dms.endpoint``         endpoint name from the credential region (status 1 if the
                                 region is empty or corrupt).
    ``get dms.cert_fingerprint`` SHA-256 hex (lowercase) of the device certificate DER.
    ``get dms.product``          product the unit is activated to (status 1 if none).
    ``csr_generate <cn>``        makes a new EC P-256 key (replacing any key already in the
                                 key store), keeps it in the key store, and replies with a PEM
                                 CSR for ``CN=<cn>, serialNumber=<uuid>`` signed by that key.
    ``dms_activate <token>``     activates the unit to the token's production product; success
                                 body ``Activated to <product>``; failure status 1 with the
                                 service's code, e.g. ``403 Forbidden: device is a development
                                 unit``. Needs a valid application (``400 Bad Request: no valid
                                 application``) and readable credentials.
    ``reboot``                   replies ``Rebooting``, resets the unit (APPROTECT latches, the
                                 boot counter moves) and prints the banner.

Replies never echo what was typed, so a token can never come back in a transcript.

Faults (``unit.info.faults.console``): ``silent`` reads and ignores everything and prints
nothing, not even banners; ``garbage`` executes nothing and answers every line (and every
banner) with deterministic bytes from a hash of the input whose first byte is not a valid
frame start, so a strict parser must reject them. APPROTECT only closes the debug port: the
firmware answers the same way on a locked unit.
"""

from __future__ import annotations

import contextlib
import enum
import functools
import hashlib
import json
import logging
import os
import select
import string
import termios
import threading
import time
import tty
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from station.domain.errors import FormatError, StationError
from station.domain.formats import (
    APP_HEADER_SIZE,
    ApplicationHeader,
    CredentialBundle,
    decode_key_store,
    encode_key_store,
)
from station.sim.dms import SimDeviceManagement
from station.sim.peripherals import UART_LOG_NAME
from station.sim.units import SimUnit, SimUnitStore, UnitInfo

LOG = logging.getLogger(__name__)

OS_NAME: Final = "Gecko OS-sim"
OS_VERSION: Final = "4.2.1"
CONSOLE_LINK_NAME: Final = "console"
MAX_LINE_LENGTH: Final = 1024
MAX_BODY_LENGTH: Final = 99_999
MAX_COMMON_NAME_LENGTH: Final = 64  # X.509 ub-common-name
MAX_TOKEN_LENGTH: Final = 256
_PRINTABLE: Final = frozenset(string.printable) - frozenset("\r\n\x0b\x0c")


class Status(enum.IntEnum):
    """Gecko OS response status digits."""

    SUCCESS = 0
    COMMAND_FAILED = 1
    PARSE_ERROR = 2
    UNKNOWN_COMMAND = 3
    TOO_FEW_ARGUMENTS = 4
    TOO_MANY_ARGUMENTS = 5
    UNKNOWN_VARIABLE = 6
    INVALID_ARGUMENT = 7


def frame_response(status: Status, body: str) -> bytes:
    """``R<status><length>\\r\\n<body>``; the body is given a trailing CRLF if it lacks one."""
    return _frame(f"R{int(status)}", body)


def frame_log(body: str) -> bytes:
    """An asynchronous log frame (``L0``), as the boot banner uses."""
    return _frame("L0", body)


def _frame(prefix: str, body: str) -> bytes:
    if not body.endswith("\r\n"):
        body += "\r\n"
    data = body.encode("utf-8")
    if len(data) > MAX_BODY_LENGTH:
        raise ValueError("console body is too long for its 5-digit length field")
    return f"{prefix}{len(data):05d}\r\n".encode("ascii") + data


class _CommandFailedError(Exception):
    """A command could not be carried out; the message is the failure body (never a secret)."""


class UnitFirmware:
    """The command interpreter of one unit's firmware, separate from the pty plumbing.

    ``feed`` takes raw bytes as they arrive on the UART and returns what the unit sends back;
    ``poll`` is called periodically and returns the boot banner when the unit was reset from
    elsewhere. Neither blocks except on the unit's file lock when a command changes state.
    """

    def __init__(self, unit: SimUnit, dms: SimDeviceManagement) -> None:
        self._unit = unit
        self._dms = dms
        self._buffer = bytearray()
        self._discarding = False
        self._info_stamp: tuple[int, int, int] | None = None
        self._info_path = os.fspath(unit.directory / "unit.json")
        self._info = unit.info
        self._seen_boot_count = self._peek_info().boot_count
        # What the emulated firmware itself sent through UARTE0 (peripherals.Uarte appends it):
        # forwarded line by line as log frames, from where the log stood when first seen.
        self._uart_log = os.fspath(unit.directory / UART_LOG_NAME)
        self._uart_offset = self._uart_log_size()
        self._uart_pending = bytearray()

    # ---- byte stream ------------------------------------------------------------------------

    def feed(self, data: bytes) -> bytes:
        """Consume UART input; return the complete responses it caused."""
        output = bytearray()
        self._buffer += data
        while True:
            end = self._buffer.find(b"\n")
            if end < 0:
                break
            line = bytes(self._buffer[:end]).removesuffix(b"\r")
            del self._buffer[: end + 1]
            if self._discarding:
                self._discarding = False
                continue
            output += self.handle_line(line)
        if len(self._buffer) > MAX_LINE_LENGTH:
            self._buffer.clear()
            if not self._discarding:
                self._discarding = True
                output += self._faulted(b"overlong line", lambda: frame_response(Status.PARSE_ERROR, "Line too long"))
        return bytes(output)

    def poll(self) -> bytes:
        """The banner if the unit was reset since last seen (cheap: a stat of ``unit.json``),
        and the lines the emulated firmware wrote to its UART since the last poll."""
        output = self._firmware_lines()
        boot_count = self._peek_info().boot_count
        if boot_count == self._seen_boot_count:
            return output
        self._seen_boot_count = boot_count
        return self.banner() + output

    def _uart_log_size(self) -> int:
        try:
            return os.stat(self._uart_log).st_size
        except FileNotFoundError:
            return 0

    def _firmware_lines(self) -> bytes:
        """Complete lines from the firmware's UART output, each framed as a log line (``L0``),
        so that a strict reader of the console protocol takes them as asynchronous logs."""
        size = self._uart_log_size()
        if size < self._uart_offset:  # the log started over
            self._uart_offset = 0
        if size == self._uart_offset:
            return b""
        with open(self._uart_log, "rb") as log:
            log.seek(self._uart_offset)
            self._uart_pending += log.read(size - self._uart_offset)
        self._uart_offset = size
        output = bytearray()
        while b"\n" in self._uart_pending:
            line, _, rest = bytes(self._uart_pending).partition(b"\n")
            self._uart_pending = bytearray(rest)
            framed = frame_log(line.rstrip(b"\r").decode("utf-8", errors="replace") + "\r\n")
            output += self._faulted(b"uart " + line, functools.partial(bytes, framed))
        if len(self._uart_pending) > MAX_LINE_LENGTH:
            self._uart_pending.clear()
        return bytes(output)

    def banner(self) -> bytes:
        info = self._peek_info()

        def announce() -> bytes:
            header = self._valid_application()
            version = header.firmware_version if header is not None else "none"
            uuid = info.device_id_text
            return frame_log(f"{OS_NAME} {OS_VERSION}, device {uuid}, firmware {version}\r\nReady\r\n")

        return self._faulted(f"banner {info.boot_count}".encode(), announce)

    def handle_line(self, line: bytes) -> bytes:
        """One command line (without its line end) to its framed response."""
        if not line.strip():
            return b""
        return self._faulted(line, lambda: self._execute(line))

    # ---- commands ---------------------------------------------------------------------------

    def _execute(self, line: bytes) -> bytes:
        try:
            text = line.decode("ascii")
        except UnicodeDecodeError:
            return frame_response(Status.PARSE_ERROR, "Parse error")
        if any(character not in _PRINTABLE for character in text):
            return frame_response(Status.PARSE_ERROR, "Parse error")
        command, *arguments = text.split()
        handlers: dict[str, tuple[int, Callable[..., bytes]]] = {
            "ver": (0, self._ver),
            "get": (1, self._get),
            "csr_generate": (1, self._csr_generate),
            "dms_activate": (1, self._dms_activate),
            "reboot": (0, self._reboot),
        }
        if command not in handlers:
            return frame_response(Status.UNKNOWN_COMMAND, "Unknown command")
        count, handler = handlers[command]
        if len(arguments) < count:
            return frame_response(Status.TOO_FEW_ARGUMENTS, "Too few args")
        if len(arguments) > count:
            return frame_response(Status.TOO_MANY_ARGUMENTS, "Too many args")
        try:
            return handler(*arguments)
        except _CommandFailedError as failure:
            return frame_response(Status.COMMAND_FAILED, str(failure))
        except StationError as error:
            LOG.warning("console command %s failed on %s: %s", command, self._unit.unit_id, error)
            return frame_response(Status.COMMAND_FAILED, f"Command failed: {error.message}")
        except Exception as error:  # firmware must keep answering whatever happens
            LOG.error("console command %s crashed on %s: %s", command, self._unit.unit_id, type(error).__name__)
            return frame_response(Status.COMMAND_FAILED, "Command failed: internal error")

    def _ver(self) -> bytes:
        header = self._valid_application()
        if header is None:
            raise _CommandFailedError("no valid application")
        return frame_response(Status.SUCCESS, header.firmware_version)

    def _get(self, variable: str) -> bytes:
        if variable == "system.uuid":
            return frame_response(Status.SUCCESS, self._peek_info().device_id_text)
        if variable == "dms.endpoint":
            return frame_response(Status.SUCCESS, self._required_credentials().endpoint_name)
        if variable == "dms.cert_fingerprint":
            certificate = self._required_credentials().device_certificate
            return frame_response(Status.SUCCESS, hashlib.sha256(certificate).hexdigest())
        if variable == "dms.product":
            product = self._peek_info().activated_product
            if product is None:
                raise _CommandFailedError("not activated")
            return frame_response(Status.SUCCESS, product)
        return frame_response(Status.UNKNOWN_VARIABLE, "Unknown variable")

    def _csr_generate(self, common_name: str) -> bytes:
        if len(common_name) > MAX_COMMON_NAME_LENGTH:
            return frame_response(Status.INVALID_ARGUMENT, "Invalid argument: common name is too long")
        key = ec.generate_private_key(ec.SECP256R1())
        key_der = key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        key_store = self._unit.chip.product.key_store
        with self._unit.locked() as unit:
            unit.erase_range(key_store.base, key_store.size)
            unit.program_nvm(key_store.base, encode_key_store(key_der))
            device_id_text = unit.info.device_id_text
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                x509.NameAttribute(NameOID.SERIAL_NUMBER, device_id_text),
            ]
        )
        request = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
        pem = request.public_bytes(serialization.Encoding.PEM).decode("ascii")
        return frame_response(Status.SUCCESS, pem.replace("\n", "\r\n"))

    def _dms_activate(self, token: str) -> bytes:
        if len(token) > MAX_TOKEN_LENGTH:
            return frame_response(Status.INVALID_ARGUMENT, "Invalid argument: token is too long")
        info = self._unit.reload()
        if self._valid_application() is None:
            raise _CommandFailedError("400 Bad Request: no valid application")
        try:
            bundle = self._credentials()
        except FormatError:
            raise _CommandFailedError("400 Bad Request: device credentials are corrupt") from None
        key_der = None
        if bundle is not None and bundle.device_private_key is None:
            with contextlib.suppress(FormatError):
                key_store = self._unit.chip.product.key_store
                key_der = decode_key_store(self._unit.read_nvm(key_store.base, key_store.size))
        result = self._dms.activate(
            info.device_id, token, bundle, key_der, info.ever_erased, device_id_digits=info.chip.device_id_digits
        )
        if not result.ok or result.product is None:
            raise _CommandFailedError(result.describe())
        with self._unit.locked() as unit:
            unit.info.activated_product = result.product
        return frame_response(Status.SUCCESS, f"Activated to {result.product}")

    def _reboot(self) -> bytes:
        with self._unit.locked() as unit:
            unit.reset()
            self._seen_boot_count = unit.info.boot_count
        return frame_response(Status.SUCCESS, "Rebooting") + self.banner()

    # ---- the unit's own view of its flash ---------------------------------------------------

    def _valid_application(self) -> ApplicationHeader | None:
        """The application header, if the application it describes is intact."""
        try:
            product = self._unit.chip.product
            header = ApplicationHeader.decode(self._unit.read_nvm(product.app_header.base, APP_HEADER_SIZE))
        except FormatError:
            return None
        application = product.application
        if not application.base <= header.app_address <= application.end - header.app_size:
            return None
        image = self._unit.read_nvm(header.app_address, header.app_size)
        return header if header.matches(image) else None

    def _credentials(self) -> CredentialBundle | None:
        """The credential bundle; None if the region is erased, FormatError if it is corrupt."""
        credentials = self._unit.chip.product.credentials
        region = self._unit.read_nvm(credentials.base, credentials.size)
        if region[:4] == b"\xff\xff\xff\xff":
            return None
        return CredentialBundle.decode(region)

    def _required_credentials(self) -> CredentialBundle:
        try:
            bundle = self._credentials()
        except FormatError as error:
            raise _CommandFailedError(f"credentials are corrupt: {error.message}") from None
        if bundle is None:
            raise _CommandFailedError("no credentials")
        return bundle

    # ---- faults and state -------------------------------------------------------------------

    def _faulted(self, seed: bytes, produce: Callable[[], bytes]) -> bytes:
        """Apply the console fault: a silent or garbled unit understands nothing, so
        ``produce`` (the command or banner) runs only on a healthy console."""
        info = self._peek_info()
        if info.faults.console == "silent":
            return b""
        if info.faults.console == "garbage":
            return garbage_for(info.device_id, seed)
        return produce()

    def _peek_info(self) -> UnitInfo:
        """Unit metadata without the file lock: ``unit.json`` is replaced atomically, so a
        plain read is consistent, and a probe holding the lock for a long flash operation
        cannot stall every console."""
        stat = os.stat(self._info_path)  # twenty times a second for every unit served: no Path objects
        stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if stamp != self._info_stamp:
            with open(self._info_path, encoding="utf-8") as file:
                self._info = UnitInfo.from_json(json.load(file))
            self._info_stamp = stamp
        return self._info


def garbage_for(device_id: int, seed: bytes) -> bytes:
    """Deterministic noise for the garbage fault; never starts like a frame (high bit set)."""
    digest = hashlib.shake_256(b"garbage\0" + device_id.to_bytes(8, "big") + seed).digest(64)
    length = 12 + digest[0] % 40
    return bytes([digest[1] | 0x80]) + digest[2:length] + b"\r\n"


# ---- pty plumbing ----------------------------------------------------------------------------

_READ_SIZE: Final = 4096
_MAX_PENDING: Final = 16 * 1024  # output kept for a reader that is not reading; oldest dropped


@dataclass
class _Port:
    unit_id: str
    unit: SimUnit
    firmware: UnitFirmware
    master: int
    slave: int
    slave_path: str
    link: Path
    pending: bytearray = field(default_factory=bytearray)
    closed: bool = False
    watching_output: bool = False  # registered for POLLOUT: output is waiting for the reader


class ConsoleServer:
    """Serves every unit of a store on its own pty from one background thread.

    The server keeps each slave open itself, so the pty outlives clients that open and close
    it (as a USB-CDC port outlives a terminal). ``<unit dir>/console`` links to the slave.
    """

    def __init__(self, store: SimUnitStore, dms: SimDeviceManagement, *, poll_interval: float = 0.05) -> None:
        self._store = store
        self._dms = dms
        self._poll_interval = poll_interval
        self._ports: dict[str, _Port] = {}
        self._ports_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._wake_read = -1
        self._wake_write = -1
        # One poll set kept across turns of the loop, changed only when a port comes, goes or
        # has output waiting: rebuilt, it cost every turn (every burst of console input) a
        # step per unit served, and a long demo or benchmark serves hundreds.
        self._poller = select.poll()
        self._by_fd: dict[int, _Port] = {}

    def __enter__(self) -> ConsoleServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Open ptys for the units that exist now, then serve from a background thread."""
        if self._thread is not None:
            raise RuntimeError("console server is already running")
        self._stop.clear()
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._poller = select.poll()
        self._poller.register(self._wake_read, select.POLLIN)
        self._discover()
        self._thread = threading.Thread(target=self._serve, name="sim-console", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, then close every pty and remove the console links."""
        thread = self._thread
        if thread is None:
            return
        self._stop.set()
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_write, b"x")
        thread.join()
        self._thread = None
        with self._ports_lock:
            ports = list(self._ports.values())
            self._ports.clear()
        self._by_fd.clear()
        for port in ports:
            self._close_port(port)
        os.close(self._wake_read)
        os.close(self._wake_write)

    def ports(self) -> dict[str, str]:
        """Unit id to the pty path a client opens (what ``<unit dir>/console`` links to)."""
        with self._ports_lock:
            return {unit_id: port.slave_path for unit_id, port in self._ports.items()}

    def wait_for_port(self, unit_id: str, timeout: float = 2.0) -> str:
        """The pty of a unit, waiting for the server to notice a newly created unit."""
        deadline = time.monotonic() + timeout
        while True:
            path = self.ports().get(unit_id)
            if path is not None:
                return path
            if time.monotonic() >= deadline:
                raise TimeoutError(f"no console for {unit_id} after {timeout} s")
            time.sleep(self._poll_interval / 2)

    # ---- background thread ------------------------------------------------------------------

    def _serve(self) -> None:
        last_poll = 0.0
        while not self._stop.is_set():
            try:
                now = time.monotonic()
                if now - last_poll >= self._poll_interval:
                    last_poll = now
                    self._discover()
                    for port in self._snapshot():
                        self._guarded(port, port.firmware.poll)
                self._exchange(max(0.0, last_poll + self._poll_interval - time.monotonic()))
            except Exception:  # the console thread must outlive any one bad moment
                LOG.exception("simulated console loop error")
                time.sleep(self._poll_interval)

    def _exchange(self, timeout: float) -> None:
        # poll(), not select(): select() refuses descriptors above 1023, which a simulation
        # reaches after a couple of hundred units (each holds five open files here).
        for fd, event in self._poller.poll(timeout * 1000):
            if fd == self._wake_read:
                with contextlib.suppress(BlockingIOError):
                    os.read(self._wake_read, 64)
                continue
            port = self._by_fd.get(fd)
            if port is None:
                continue
            if event & (select.POLLIN | select.POLLHUP | select.POLLERR):
                try:
                    data = os.read(fd, _READ_SIZE)
                except BlockingIOError:
                    data = b""
                except OSError as error:
                    LOG.warning("console of %s failed: %s", port.unit_id, error)
                    self._drop(port)
                    continue
                if data:
                    self._guarded(port, functools.partial(port.firmware.feed, data))
            if event & select.POLLOUT and port.pending:
                self._flush(port)

    def _guarded(self, port: _Port, produce: Callable[[], bytes]) -> None:
        """Run one firmware step for a port and queue its output; a failing unit is dropped."""
        try:
            output = produce()
        except (OSError, ValueError, StationError) as error:
            LOG.warning("console of %s stopped: %s", port.unit_id, type(error).__name__)
            self._drop(port)
            return
        if output:
            port.pending += output
            if len(port.pending) > _MAX_PENDING:
                del port.pending[: len(port.pending) - _MAX_PENDING]
            self._flush(port)

    def _flush(self, port: _Port) -> None:
        """Write what the pty takes now; the rest waits for poll to report it writable."""
        if port.closed:
            return
        try:
            written = os.write(port.master, port.pending)
        except BlockingIOError:
            written = 0
        except OSError as error:
            LOG.warning("console of %s cannot be written: %s", port.unit_id, error)
            written = len(port.pending)
        del port.pending[:written]
        if bool(port.pending) != port.watching_output:
            port.watching_output = bool(port.pending)
            self._poller.modify(port.master, select.POLLIN | (select.POLLOUT if port.watching_output else 0))

    def _snapshot(self) -> list[_Port]:
        with self._ports_lock:
            return list(self._ports.values())

    # ---- ports ------------------------------------------------------------------------------

    def _discover(self) -> None:
        """Open a pty for every unit that has none yet (units may be created at any time)."""
        with self._ports_lock:
            known = set(self._ports)
        for unit_id in self._store.unit_ids(besides=known):
            try:
                port = self._open_port(unit_id)
            except (OSError, ValueError, StationError) as error:
                LOG.debug("console for %s not ready yet: %s", unit_id, error)
                continue
            with self._ports_lock:
                self._ports[unit_id] = port
            self._by_fd[port.master] = port
            self._poller.register(port.master, select.POLLIN)

    def _open_port(self, unit_id: str) -> _Port:
        unit = self._store.open_unit(unit_id)
        try:
            firmware = UnitFirmware(unit, self._dms)
        except BaseException:
            unit.close()
            raise
        master, slave = os.openpty()
        tty.setraw(slave)  # a CDC-ACM port: no echo, no line editing, no CR/LF translation
        attributes = termios.tcgetattr(slave)
        attributes[3] &= ~(termios.ECHO | termios.ECHONL)
        termios.tcsetattr(slave, termios.TCSANOW, attributes)
        os.set_blocking(master, False)
        slave_path = os.ttyname(slave)
        link = unit.directory / CONSOLE_LINK_NAME
        temporary = unit.directory / f".{CONSOLE_LINK_NAME}.{os.getpid()}.tmp"
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        os.symlink(slave_path, temporary)
        os.replace(temporary, link)
        return _Port(unit_id, unit, firmware, master, slave, slave_path, link)

    def _drop(self, port: _Port) -> None:
        with self._ports_lock:
            self._ports.pop(port.unit_id, None)
        if self._by_fd.pop(port.master, None) is not None:
            self._poller.unregister(port.master)
        self._close_port(port)

    @staticmethod
    def _close_port(port: _Port) -> None:
        port.closed = True
        with contextlib.suppress(OSError):
            if os.readlink(port.link) == port.slave_path:
                port.link.unlink()
        for fd in (port.master, port.slave):
            with contextlib.suppress(OSError):
                os.close(fd)
        port.unit.close()
