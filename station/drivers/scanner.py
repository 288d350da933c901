"""A barcode scanner in USB-CDC (virtual COM port) mode, read through pyserial.

A scanner set to USB-CDC appears as ``/dev/ttyACM*`` and sends each scan as one line, ended
by CR, LF, CR LF or Tab depending on its configuration. Unlike keyboard emulation, its scans
never land in whatever text field has the focus. The station reads it on a worker thread:
open the port in that thread, call :meth:`SerialScanner.read_scan` in a loop with a short
timeout so that the thread can be stopped between calls.
"""

from __future__ import annotations

import time
from types import TracebackType

import serial

from station.domain.errors import StationError

DEFAULT_BAUD_RATE = 9600
SCAN_TERMINATORS = b"\r\n\t"
MAX_SCAN_LENGTH = 512  # a longer "scan" is line noise, not a label


class ScannerError(StationError):
    """The scanner's port cannot be opened or read (unplugged, busy, wrong name)."""

    code = "SCANNER"


class SerialScanner:
    """One scanner port. Open it in the thread that reads it."""

    def __init__(self, port: str, *, baud_rate: int = DEFAULT_BAUD_RATE, open_port: bool = True) -> None:
        self.port_name = port
        self.baud_rate = baud_rate
        self._port: serial.Serial | None = None
        self._pending = bytearray()
        if open_port:
            self.open()

    def open(self) -> None:
        try:
            self._port = serial.Serial(self.port_name, self.baud_rate, timeout=0.05)
        except (serial.SerialException, OSError) as error:
            raise ScannerError(f"cannot open scanner port {self.port_name}: {_reason(error)}") from error

    def close(self) -> None:
        if self._port is not None:
            self._port.close()
            self._port = None
        self._pending.clear()

    def __enter__(self) -> SerialScanner:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def read_scan(self, timeout: float) -> str | None:
        """The next complete scan (without its terminator), or None when none came in ``timeout``.

        Bytes that are not printable ASCII are dropped, except GS (0x1D), which separates GS1
        element strings.
        """
        deadline = time.monotonic() + timeout
        while True:
            scan = self._take_scan()
            if scan is not None:
                return scan
            if time.monotonic() >= deadline:
                return None
            port = self._serial()
            try:
                data = port.read(max(1, port.in_waiting or 1))
            except (serial.SerialException, OSError) as error:
                raise ScannerError(f"scanner port {self.port_name} failed: {_reason(error)}") from error
            self._pending += data
            if len(self._pending) > MAX_SCAN_LENGTH and not any(t in self._pending for t in SCAN_TERMINATORS):
                self._pending.clear()  # noise without an end: drop it rather than grow forever

    def _take_scan(self) -> str | None:
        while True:
            positions = [index for index in (self._pending.find(t) for t in SCAN_TERMINATORS) if index >= 0]
            if not positions:
                return None
            end = min(positions)
            raw = bytes(self._pending[:end])
            del self._pending[: end + 1]
            text = "".join(chr(byte) for byte in raw if 0x20 <= byte < 0x7F or byte == 0x1D)
            if text.strip():
                return text.strip()

    def _serial(self) -> serial.Serial:
        if self._port is None:
            raise ScannerError(f"scanner port {self.port_name} is not open")
        return self._port


def _reason(error: BaseException) -> str:
    return getattr(error, "strerror", None) or str(error) or type(error).__name__
