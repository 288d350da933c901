"""The unit's serial console over pyserial: framing, timeouts, and a transcript without secrets.

Two reply formats, chosen by the recipe's console dialect:

``gecko-machine``
    Gecko OS's machine-friendly mode: every reply is ``R<status><length:5>\\r\\n`` followed by
    exactly ``length`` bytes; asynchronous logs (the boot banner) are ``L<digit><length:5>``
    frames. Anything else where a header must be is a garbled reply.
``text``
    Plain lines; a reply ends at the first line matching the dialect's success or failure
    pattern.

Every byte sent and received is kept in a transcript, but secrets registered for a command
(the activation token) are replaced by their label (its fingerprint) before anything is
stored, so the transcript, log lines and exception messages never hold them.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType

import serial

from station.domain.errors import ConsoleError, ConsoleProtocolError, ConsoleTimeoutError
from station.domain.recipe import ConsoleDialect, ReplyFormat

LOG = logging.getLogger(__name__)

_HEADER = re.compile(rb"^([RL])([0-9])([0-9]{5})\r\n$")
HEADER_LENGTH = 9
MAX_TRANSCRIPT_CHARACTERS = 200_000


@dataclass(frozen=True)
class SerialReply:
    """One reply: ``status`` 0 is success (text replies: 0 or 1 from the patterns)."""

    status: int
    body: str

    @property
    def ok(self) -> bool:
        return self.status == 0

    @property
    def text(self) -> str:
        return self.body.strip()


class SerialConsole:
    """One open console port. Open it in the thread that uses it (serial ports are not shared)."""

    def __init__(self, port: str, dialect: ConsoleDialect, *, open_port: bool = True) -> None:
        self.port_name = port
        self.dialect = dialect
        self._transcript: list[str] = []
        self._transcript_size = 0
        self._secrets: dict[str, str] = {}
        self._port: serial.Serial | None = None
        self._interrupted = False
        if open_port:
            self.open()

    # ---- lifecycle ----------------------------------------------------------------------------

    def open(self) -> None:
        try:
            self._port = serial.Serial(self.port_name, self.dialect.baud_rate, timeout=0.05, write_timeout=5)
        except (serial.SerialException, OSError) as error:
            raise ConsoleError(f"cannot open console port {self.port_name}: {_reason(error)}") from error

    def close(self) -> None:
        if self._port is not None:
            self._port.close()
            self._port = None

    def interrupt(self) -> None:
        """From another thread: a blocked read or write returns, and every later call fails."""
        self._interrupted = True
        port = self._port
        if port is not None:
            with contextlib.suppress(Exception):
                port.cancel_read()
            with contextlib.suppress(Exception):
                port.cancel_write()

    def __enter__(self) -> SerialConsole:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    @property
    def _serial(self) -> serial.Serial:
        if self._interrupted:
            raise ConsoleError(f"console port {self.port_name} was interrupted: the step's deadline passed")
        if self._port is None:
            raise ConsoleError(f"console port {self.port_name} is not open")
        return self._port

    # ---- transcript ---------------------------------------------------------------------------

    def register_secret(self, secret: str, label: str) -> None:
        """From now on ``secret`` appears in the transcript only as ``label``."""
        if secret:
            self._secrets[secret] = label

    def redact(self, text: str) -> str:
        for secret, label in self._secrets.items():
            text = text.replace(secret, label)
        return text

    def _record(self, direction: str, text: str) -> None:
        entry = f"{direction} {self.redact(text)}"
        if self._transcript_size + len(entry) > MAX_TRANSCRIPT_CHARACTERS:
            return
        self._transcript.append(entry)
        self._transcript_size += len(entry)

    @property
    def transcript(self) -> str:
        """What went over the wire, secrets replaced by their labels, one entry per line."""
        return "\n".join(self._transcript)

    # ---- I/O ----------------------------------------------------------------------------------

    def discard_input(self) -> None:
        """Forget what the unit printed before now (banners of earlier boots)."""
        try:
            pending = self._serial.read(self._serial.in_waiting or 0)
            self._serial.reset_input_buffer()
        except (serial.SerialException, OSError) as error:
            raise ConsoleError(f"console port {self.port_name} failed: {_reason(error)}") from error
        if pending:
            self._record("<<", _printable(pending))

    def _read_exactly(self, count: int, deadline: float, what: str) -> bytes:
        data = bytearray()
        while len(data) < count:
            if time.monotonic() > deadline:
                if data:
                    self._record("<<", _printable(bytes(data)))
                raise ConsoleTimeoutError(f"no {what} from the unit's console within the time allowed")
            try:
                chunk = self._serial.read(count - len(data))
            except (serial.SerialException, OSError) as error:
                raise ConsoleError(f"console port {self.port_name} failed: {_reason(error)}") from error
            data += chunk
        return bytes(data)

    def _read_line(self, deadline: float, what: str) -> bytes:
        data = bytearray()
        while not data.endswith(b"\n"):
            data += self._read_exactly(1, deadline, what)
            if len(data) > 4096:
                raise ConsoleProtocolError("console line longer than 4096 bytes")
        return bytes(data)

    def _read_frame(self, deadline: float, what: str) -> tuple[str, int, str]:
        """One Gecko machine-mode frame: (kind R|L, status, body)."""
        header = self._read_exactly(HEADER_LENGTH, deadline, what)
        match = _HEADER.match(header)
        if match is None:
            self._record("<<", _printable(header))
            raise ConsoleProtocolError("garbled reply from the unit's console (bad frame header)")
        kind, status, length = match.group(1).decode(), int(match.group(2)), int(match.group(3))
        raw_body = self._read_exactly(length, deadline, what)
        try:
            body = raw_body.decode("utf-8")
        except UnicodeDecodeError as error:
            self._record("<<", _printable(header + raw_body))
            raise ConsoleProtocolError("garbled reply from the unit's console (not UTF-8)") from error
        if not body.endswith("\r\n"):
            self._record("<<", _printable(header + raw_body))
            raise ConsoleProtocolError("garbled reply from the unit's console (frame length does not match)")
        self._record("<<", header.decode().rstrip() + " " + body.rstrip())
        return kind, status, body

    def wait_for_banner(self, timeout: float) -> str:
        """Wait for the boot banner the dialect describes; return the banner text."""
        deadline = time.monotonic() + timeout
        while True:
            if self.dialect.reply_format is ReplyFormat.GECKO_MACHINE:
                kind, _status, body = self._read_frame(deadline, "boot banner")
                if kind != "L":
                    continue
                text = body
            else:
                text = self._read_line(deadline, "boot banner").decode("utf-8", errors="replace")
                self._record("<<", text.rstrip())
            if any(self.dialect.banner.search(line) for line in text.splitlines()):
                return text.strip()

    def command(
        self, line: str, *, timeout: float | None = None, secrets: Mapping[str, str] | None = None
    ) -> SerialReply:
        """Send one command line and return the unit's reply (failure replies are returned too)."""
        for secret, label in (secrets or {}).items():
            self.register_secret(secret, label)
        allowed = timeout if timeout is not None else self.dialect.command_timeout_seconds
        deadline = time.monotonic() + allowed
        self._record(">>", line)
        try:
            self._serial.write((line + self.dialect.line_ending).encode("utf-8"))
            self._serial.flush()
        except (serial.SerialException, OSError) as error:
            raise ConsoleError(f"console port {self.port_name} failed: {_reason(error)}") from error
        if self.dialect.reply_format is ReplyFormat.GECKO_MACHINE:
            while True:
                kind, status, body = self._read_frame(deadline, "reply")
                if kind == "R":
                    return SerialReply(status, body)
        lines: list[str] = []
        while True:
            text = self._read_line(deadline, "reply").decode("utf-8", errors="replace").rstrip("\r\n")
            self._record("<<", text)
            if self.dialect.failure.search(text):
                return SerialReply(1, "\n".join([*lines, text]))
            if self.dialect.success.search(text):
                return SerialReply(0, "\n".join([*lines, text]))
            lines.append(text)


def _printable(data: bytes) -> str:
    return data.decode("ascii", errors="backslashreplace").replace("\r", "\\r").replace("\n", "\\n")


def _reason(error: BaseException) -> str:
    return getattr(error, "strerror", None) or str(error) or type(error).__name__


def list_serial_ports() -> list[tuple[str, str]]:
    """(device, description) of the serial ports on this machine, for slot setup."""
    from serial.tools import list_ports

    return [(port.device, port.description or "") for port in list_ports.comports()]
