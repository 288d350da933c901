"""The recipe's ``[label]`` table and the record of a print job.

    [label]
    template = "label.zpl"            # ZPL II, beside the recipe (see station.domain.zpl)
    template_sha256 = "..."           # pinned like an image: sha256sum label.zpl
    printer = "tcp://10.0.0.5:9100"   # raw TCP (Zebra, compatible printers, CUPS raw queues)
                                      # or "cups:QUEUE" (lp -d QUEUE -o raw)
    copies = 1                        # optional, 1 to 10
    gtin = "09506000134352"           # optional: (01) of the GS1 code; default the serial rule's
    timeout_seconds = 5.0             # optional: how long the printer may take to accept

The template's bytes are read, checked against the pinned hash and against the template rules
here, once: the station prints what was checked, never the file again.
"""

from __future__ import annotations

import enum
import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Final

from station.domain.errors import StationError
from station.domain.scan import normalize_gtin
from station.domain.strict_toml import StrictTable
from station.domain.zpl import TemplateError, check_template

LABEL_KEYS: Final = ("template", "template_sha256", "printer", "copies", "gtin", "timeout_seconds")
TEMPLATE_MAX_BYTES: Final = 256 * 1024
DEFAULT_PRINTER_TIMEOUT_SECONDS: Final = 5.0
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")
_TCP_PRINTER = re.compile(r"^tcp://(?P<host>[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(?P<port>[0-9]{1,5})$")
_CUPS_PRINTER = re.compile(r"^cups:(?P<queue>[A-Za-z0-9_.-]{1,127})$")


class PrinterKind(enum.StrEnum):
    TCP = "tcp"
    CUPS = "cups"


@dataclass(frozen=True)
class PrinterAddress:
    """Where labels go: a raw TCP port (``host``, ``port``) or a CUPS queue (``queue``)."""

    kind: PrinterKind
    host: str = ""
    port: int = 0
    queue: str = ""

    def __str__(self) -> str:
        if self.kind is PrinterKind.TCP:
            return f"tcp://{self.host}:{self.port}"
        return f"cups:{self.queue}"


def parse_printer(text: str) -> PrinterAddress:
    """``tcp://HOST:PORT`` or ``cups:QUEUE``; ValueError saying what is wrong."""
    tcp = _TCP_PRINTER.match(text)
    if tcp is not None:
        port = int(tcp.group("port"))
        if not 1 <= port <= 65535:
            raise ValueError(f"port {port} is not 1 to 65535")
        return PrinterAddress(PrinterKind.TCP, host=tcp.group("host").strip("[]"), port=port)
    cups = _CUPS_PRINTER.match(text)
    if cups is not None:
        return PrinterAddress(PrinterKind.CUPS, queue=cups.group("queue"))
    raise ValueError(f"{text!r} is not tcp://HOST:PORT (raw port, usually 9100) or cups:QUEUE")


@dataclass(frozen=True)
class LabelSettings:
    template_path: Path
    template_sha256: str
    printer: PrinterAddress
    template: str = field(default="", repr=False, compare=False)
    copies: int = 1
    gtin: str | None = None
    timeout_seconds: float = DEFAULT_PRINTER_TIMEOUT_SECONDS


def read_label(top: StrictTable, base: Path) -> LabelSettings | None:
    """The optional ``[label]`` table, its template read, pinned and checked; None without one."""
    table = top.table("label", LABEL_KEYS, required=False)
    if table is None:
        return None
    name = table.string("template")
    if not name.strip():
        raise table.error("template", "must name a ZPL file")
    pinned = table.string("template_sha256").lower()
    if not _SHA256_HEX.match(pinned):
        raise table.error("template_sha256", "must be 64 hex digits (the SHA-256 of the template file)")
    try:
        printer = parse_printer(table.string("printer"))
    except ValueError as error:
        raise table.error("printer", str(error)) from None
    copies = table.integer("copies", required=False, default=1, minimum=1, maximum=10)
    gtin = table.optional_string("gtin")
    if gtin is not None:
        try:
            normalize_gtin(gtin)
        except StationError as error:
            raise table.error("gtin", f"not a valid GTIN: {error}") from None
    timeout = table.seconds("timeout_seconds", default=DEFAULT_PRINTER_TIMEOUT_SECONDS)
    path = base / name
    if not path.is_file():
        raise table.error("template", f"template file {path} does not exist")
    try:
        if path.stat().st_size > TEMPLATE_MAX_BYTES:
            raise table.error("template", f"{path.name} is larger than {TEMPLATE_MAX_BYTES} bytes")
        data = path.read_bytes()
    except OSError as error:
        raise table.error("template", f"cannot read {path}: {error.strerror or error}") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != pinned:
        raise table.error(
            "template_sha256", f"template hash differs from the pinned one (file {actual}, pinned {pinned})"
        )
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise table.error("template", f"{path.name} is not ASCII text (non-ASCII goes in through ^FH)") from None
    try:
        check_template(text)
        if copies > 1 and "^PQ" in text.upper():
            raise TemplateError("sets its own quantity (^PQ): leave copies out of [label], or ^PQ out")
    except TemplateError as error:
        raise table.error("template", f"{path.name} {error}") from None
    return LabelSettings(path, actual, printer, text, copies, gtin, timeout)


# --------------------------------------------------------------------------- print jobs


class LabelState(enum.StrEnum):
    PENDING = "pending"  # recorded, not (yet) taken by the printer
    PRINTING = "printing"  # a process took it to send it: no other sends it (unless the claim is stale)
    PRINTED = "printed"  # the printer took the label
    FAILED = "failed"  # given up: a label that can never be made (see last_error)


@dataclass(frozen=True)
class LabelJobRecord:
    """One label for one passed attempt; a reprint names the job it repeats and who approved it."""

    id: int
    attempt_id: int
    serial: str
    printer: str
    state: LabelState
    tries: int
    created_at: datetime
    last_error: str | None = None
    zpl_sha256: str | None = None
    printed_at: datetime | None = None
    reprint_of: int | None = None
    supervisor: str | None = None

    @property
    def describe(self) -> str:
        """``label printed`` / ``label pending (2 tries: ...)``, for a unit's history."""
        reprint = f" (reprint of job {self.reprint_of}, approved by {self.supervisor})" if self.reprint_of else ""
        if self.state is LabelState.PRINTED:
            return f"label printed on {self.printer}{reprint}"
        tried = f", {self.tries} tr{'y' if self.tries == 1 else 'ies'}: {self.last_error}" if self.tries else ""
        return f"label {self.state.value} on {self.printer}{tried}{reprint}"
