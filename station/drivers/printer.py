"""The label printer: raw ZPL over TCP (port 9100: Zebra and compatible printers, CUPS raw
queues shared by a server) or a local CUPS queue (``lp -d QUEUE -o raw``).

Sending is all this does: a printer that does not answer, refuses the connection, takes too
long, or a queue ``lp`` does not know is a ``PrinterError`` saying which, and the caller keeps
the label pending. ``lp`` runs with a minimal environment: nothing of the station's (no
passphrase or token variable) reaches it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from typing import Final, Protocol

from station.domain.errors import PrinterError
from station.domain.label import PrinterAddress, PrinterKind

_LP_ENVIRONMENT_KEYS: Final = ("PATH", "LANG", "LC_ALL", "CUPS_SERVER", "HOME")


class LabelPrinter(Protocol):
    """Sends one label's bytes to a printer; PrinterError when the printer did not take them."""

    def send(self, printer: PrinterAddress, data: bytes, *, timeout_seconds: float) -> None: ...


class NetworkPrinter:
    """The station's printer client (both kinds of address)."""

    def send(self, printer: PrinterAddress, data: bytes, *, timeout_seconds: float) -> None:
        if printer.kind is PrinterKind.TCP:
            send_raw_tcp(printer.host, printer.port, data, timeout_seconds=timeout_seconds)
        else:
            send_to_cups(printer.queue, data, timeout_seconds=timeout_seconds)


def send_raw_tcp(host: str, port: int, data: bytes, *, timeout_seconds: float) -> None:
    """Connect, send every byte, close: what a raw port (JetDirect, 9100) takes."""
    where = f"tcp://{host}:{port}"
    try:
        with socket.create_connection((host, port), timeout=timeout_seconds) as connection:
            connection.sendall(data)
            connection.shutdown(socket.SHUT_WR)
    except ConnectionRefusedError:
        raise PrinterError(f"printer {where} refused the connection (offline, or nothing listens there)") from None
    except TimeoutError:
        raise PrinterError(f"printer {where} did not answer within {timeout_seconds:g} s") from None
    except socket.gaierror as error:
        raise PrinterError(f"printer {where}: the host name is not known ({error.strerror or error})") from None
    except OSError as error:
        raise PrinterError(f"printer {where} did not take the label: {error.strerror or error}") from None


def send_to_cups(queue: str, data: bytes, *, timeout_seconds: float) -> None:
    """``lp -d QUEUE -o raw``, the label on its standard input."""
    lp = shutil.which("lp")
    if lp is None:
        raise PrinterError("CUPS's lp command is not installed: the label cannot go to queue " + queue)
    environment = {key: os.environ[key] for key in _LP_ENVIRONMENT_KEYS if key in os.environ}
    try:
        completed = subprocess.run(
            [lp, "-d", queue, "-o", "raw"], input=data, capture_output=True, timeout=timeout_seconds,
            env=environment, check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise PrinterError(f"CUPS queue {queue} did not take the label within {timeout_seconds:g} s") from None
    except OSError as error:
        raise PrinterError(f"lp could not run: {error.strerror or error}") from None
    if completed.returncode != 0:
        said = completed.stderr.decode("utf-8", errors="replace").strip().splitlines()
        reason = said[-1] if said else f"exit status {completed.returncode}"
        raise PrinterError(f"CUPS queue {queue} refused the label: {reason[:200]}")
