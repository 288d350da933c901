"""ZPL labels: a recipe's template filled in for one passed unit, with no way for data to inject ZPL.

A template is a ZPL II file (one ``^XA`` ... ``^XZ`` label) whose field data holds placeholders:
``{serial}``, ``{device_id}``, ``{product}``, ``{firmware}``, ``{date}`` (the PASS date, UTC,
ISO) and ``{gs1}`` (the GS1 element string: (01) GTIN when the recipe gives one, (11) the PASS
date, (21) the serial). A placeholder may stand only inside a ``^FD ... ^FS``: anywhere else its
value would become part of a command.

Values are escaped, never trusted: the station puts ``^FH_`` (field hexadecimal, ZPL II) in
front of every ``^FD`` that holds a placeholder and writes each ``^``, ``~``, ``_`` and every
byte outside printable ASCII as ``_XX`` (its UTF-8 bytes in hex), so a serial such as
``A^XZ~JR`` prints as text and the label's commands are the template's, whatever the data.

Barcodes: ``{gs1}`` in a DataMatrix (``^BXo,h,200,,,,_``: ECC 200, ``_`` its escape character)
starts with FNC1 (``_1``) and separates variable-length elements with FNC1, as GS1 DataMatrix
wants; its data is limited to GS1's character set 82 without ``_`` (checked with ``biip``), so it
needs no ``^FH``. In a QR code (``^BQ``, field data ``QA,{gs1}``) the element string is written
with GS (0x1D) separators through ``^FH``: ZPL has no FNC1 for QR, so scanners report ``]Q1``;
use the DataMatrix where a GS1-conformant symbol is required.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Final

import biip
from biip.gs1_messages import GS1Message

from station.domain.errors import LabelError
from station.domain.scan import normalize_gtin

LABEL_FIELDS: Final = ("serial", "device_id", "product", "firmware", "date", "gs1")
HEX_INDICATOR: Final = "_"
_PLACEHOLDER = re.compile(r"\{([A-Za-z0-9_]*)\}")
_PREFIXES: Final = "^~"
# Commands that change the prefix or delimiter characters: a template with them would be read
# by the printer differently from how the station checked and escaped it.
_REFUSED_COMMANDS: Final = frozenset({"^CC", "~CC", "^CT", "~CT", "^CD", "~CD"})
_QR_DATA_PREFIX = re.compile(r"^[HQML]A,")
_GS1_DATAMATRIX_ESCAPE: Final = "_"
_FNC1_DATAMATRIX: Final = "_1"
_GS_HEX: Final = "_1D"


class TemplateError(ValueError):
    """A template the station refuses (the recipe loader names the recipe's place)."""


@dataclass(frozen=True)
class ZplCommand:
    """One command of a ZPL stream: ``name`` with its prefix (``^FD``), then its parameters."""

    name: str
    parameters: str

    @property
    def text(self) -> str:
        return self.name + self.parameters


@dataclass(frozen=True)
class LabelData:
    """What one unit's label says."""

    serial: str
    device_id: str
    product: str
    firmware: str
    passed_on: date
    gtin: str | None = None


def zpl_commands(text: str) -> tuple[str, list[ZplCommand]]:
    """Text before the first command, and the commands of ``text`` in order (default prefixes)."""
    starts = [index for index, character in enumerate(text) if character in _PREFIXES]
    lead = text[: starts[0]] if starts else text
    commands = []
    for number, start in enumerate(starts):
        end = starts[number + 1] if number + 1 < len(starts) else len(text)
        chunk = text[start:end]
        commands.append(ZplCommand(chunk[:3].upper(), chunk[3:]))
    return lead, commands


def field_hex_decoded(data: str, indicator: str = HEX_INDICATOR) -> str:
    """Field data as a printer reads it after ``^FH``: ``_XX`` becomes the byte XX (UTF-8 text)."""
    raw = bytearray()
    position = 0
    while position < len(data):
        if data[position] == indicator and re.fullmatch(r"[0-9A-Fa-f]{2}", data[position + 1 : position + 3]):
            raw.append(int(data[position + 1 : position + 3], 16))
            position += 3
        else:
            raw.extend(data[position].encode("utf-8"))
            position += 1
    return raw.decode("utf-8", errors="replace")


def hex_escaped(value: str) -> str:
    """``value`` for field data under ``^FH_``: printable ASCII as is, except ``^ ~ _``; the rest hex."""
    out = []
    for byte in value.encode("utf-8"):
        character = chr(byte)
        if 0x20 <= byte <= 0x7E and character not in "^~_":
            out.append(character)
        else:
            out.append(f"{HEX_INDICATOR}{byte:02X}")
    return "".join(out)


def gs1_elements(data: LabelData) -> list[tuple[str, str, bool]]:
    """(AI, value, needs a separator after it) of the unit's GS1 element string, checked by biip:
    a GTIN's check digit, the date, and a serial GS1's (21) cannot carry are refused (LabelError)."""
    parts = []
    if data.gtin is not None:
        parts.append(f"(01){normalize_gtin(data.gtin)}")
    parts.append(f"(11){data.passed_on:%y%m%d}")
    parts.append(f"(21){data.serial}")
    try:
        message = GS1Message.parse_hri("".join(parts))
    except biip.ParseError as error:
        raise LabelError(f"the unit's GS1 element string cannot be made for serial {data.serial!r}: {error}") from None
    return [(element.ai.ai, element.value, element.ai.separator_required) for element in message.element_strings]


def check_template(template: str) -> None:
    """Refuse (TemplateError) a template the station cannot fill in safely; see the module."""
    sample = LabelData("S", "0" * 16, "P", "1", date(2000, 1, 1), None)
    _render(template, sample, copies=1, check_only=True)


def render_label(template: str, data: LabelData, *, copies: int = 1) -> bytes:
    """The label for one unit, as the bytes sent to the printer; LabelError if its data cannot be
    encoded (a serial outside GS1's character set in a ``{gs1}`` code)."""
    try:
        return _render(template, data, copies=copies, check_only=False).encode("utf-8")
    except TemplateError as error:  # checked at load: only a template changed since could get here
        raise LabelError(f"the label template is refused: {error}") from None


def _values(data: LabelData) -> Mapping[str, str]:
    return {"serial": data.serial, "device_id": data.device_id, "product": data.product,
            "firmware": data.firmware, "date": data.passed_on.isoformat()}  # fmt: skip


def _render(template: str, data: LabelData, *, copies: int, check_only: bool) -> str:
    lead, commands = zpl_commands(template)
    if _PLACEHOLDER.search(lead):
        raise TemplateError("a placeholder stands before the first command, outside any ^FD ... ^FS")
    names = [command.name for command in commands]
    if names.count("^XA") != 1 or names.count("^XZ") != 1 or names.index("^XA") > names.index("^XZ"):
        raise TemplateError("must hold exactly one label: one ^XA, then one ^XZ")
    if copies > 1 and "^PQ" in names:
        raise TemplateError("sets its own quantity (^PQ): leave copies out of [label], or ^PQ out of the template")
    out = [lead]
    barcode: ZplCommand | None = None  # the field's barcode command, since the last ^FS
    for index, command in enumerate(commands):
        if command.name in _REFUSED_COMMANDS:
            raise TemplateError(f"{command.name} changes ZPL's prefix or delimiter characters; it is not allowed")
        placeholders = _PLACEHOLDER.findall(command.parameters)
        if placeholders and command.name != "^FD":
            raise TemplateError(f"{{{placeholders[0]}}} stands in {command.name}, outside any ^FD ... ^FS")
        for name in placeholders:
            if name not in LABEL_FIELDS:
                shown = ", ".join("{" + field + "}" for field in LABEL_FIELDS)
                raise TemplateError(f"unknown placeholder {{{name}}} (allowed: {shown})")
        if command.name in ("^BX", "^BQ"):
            barcode = command
        elif command.name == "^FS":
            barcode = None
        if command.name == "^XZ" and copies > 1:
            out.append(f"^PQ{copies}")
        if not placeholders:
            out.append(command.text)
            continue
        following = commands[index + 1].name if index + 1 < len(commands) else None
        if following != "^FS":
            raise TemplateError(f"{{{placeholders[0]}}} is in a ^FD that ^FS does not end")
        if index > 0 and commands[index - 1].name == "^FH":
            raise TemplateError("leave ^FH out of fields with placeholders: the station adds ^FH_ to escape them")
        out.append(_filled(command.parameters, placeholders, barcode, data, check_only))
    return "".join(out)


def _filled(parameters: str, placeholders: list[str], barcode: ZplCommand | None, data: LabelData,
            check_only: bool) -> str:  # fmt: skip
    """One ``^FD`` with its placeholders replaced, escaped for the field's kind."""
    if barcode is not None and barcode.name == "^BX":
        settings = barcode.parameters.split(",")
        quality = settings[2].strip() if len(settings) > 2 else ""
        escape = settings[6] if len(settings) > 6 else ""
        if parameters.strip() != "{gs1}" or quality != "200" or escape != _GS1_DATAMATRIX_ESCAPE:
            raise TemplateError(
                "a DataMatrix carries only {gs1}, alone in its ^FD, with ^BXo,h,200,,,,_ (ECC 200, '_' its "
                "escape character for FNC1)"
            )
        return "^FD" + ("" if check_only else _gs1_datamatrix(data))
    if "gs1" in placeholders and (barcode is None or barcode.name != "^BQ"):
        raise TemplateError("{gs1} goes in a DataMatrix (^BX) or QR code (^BQ) field")
    if barcode is not None and barcode.name == "^BQ" and not _QR_DATA_PREFIX.match(parameters):
        raise TemplateError("a QR code's ^FD starts with its error correction and automatic input, e.g. QA,")
    if check_only:
        return "^FH" + HEX_INDICATOR + "^FD" + parameters
    values = _values(data)

    def replace(match: re.Match[str]) -> str:
        if match.group(1) == "gs1":
            return _gs1_qr(data)
        return hex_escaped(values[match.group(1)])

    return "^FH" + HEX_INDICATOR + "^FD" + _PLACEHOLDER.sub(replace, parameters)


def _gs1_datamatrix(data: LabelData) -> str:
    """FNC1, then the elements, FNC1 after each variable-length one that is not last."""
    elements = gs1_elements(data)
    if any(_GS1_DATAMATRIX_ESCAPE in value for _, value, _ in elements):
        raise LabelError(f"serial {data.serial!r} holds '_', the DataMatrix's escape character: not encoded")
    return _FNC1_DATAMATRIX + _joined(elements, _FNC1_DATAMATRIX, lambda value: value)


def _gs1_qr(data: LabelData) -> str:
    return _joined(gs1_elements(data), _GS_HEX, hex_escaped)


def _joined(elements: list[tuple[str, str, bool]], separator: str, escape: Callable[[str], str]) -> str:
    parts = []
    for number, (ai, value, needs_separator) in enumerate(elements):
        parts.append(ai + escape(value))
        if needs_separator and number + 1 < len(elements):
            parts.append(separator)
    return "".join(parts)
