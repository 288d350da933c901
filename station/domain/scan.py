"""Turning what the barcode scanner typed into a unit's serial number, by the recipe's rule.

Two kinds of rule:

- ``regex``: the scanned text (without an AIM symbology identifier such as ``]C0`` that a
  scanner may send in front) must match the pattern as a whole; if the pattern has a group
  named ``serial`` that group is the serial, otherwise the whole text is.
- ``gs1``: the scan is a GS1 element string (GS1-128, GS1 DataMatrix, GS1 QR, DataBar,
  DotCode), raw with GS (0x1D) separators, optionally behind its AIM symbology identifier
  (``]C1``, ``]d2``, ``]Q3``, ``]e0``, ``]J1``), or in human-readable form with the AIs in
  parentheses. The element with the rule's application identifier (``21`` for a serial
  number) holds the serial. Parsing and check digits are the ``biip`` library's; a GTIN,
  SSCC or GLN with a bad check digit is refused even if the rule does not ask for it, since
  it means the scan was misread or the label misprinted.

Nothing here touches a unit: a bad scan is a ``ScanError`` before anything happens.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

import biip
from biip.gs1_messages import GS1Message
from biip.gtin import Gtin
from biip.symbology import GS1Symbology

from station.domain.errors import GtinError, ScanError
from station.domain.identity import Serial

__all__ = ["Serial", "SerialRule", "SerialRuleKind", "normalize_gtin", "parse_scan"]

_AIM_PREFIX = re.compile(r"^\][A-Za-z][0-9A-Za-z]")
_GS = "\x1d"
_GS1_MESSAGE_SYMBOLOGIES = frozenset(GS1Symbology.with_gs1_messages())


class SerialRuleKind(enum.StrEnum):
    REGEX = "regex"
    GS1 = "gs1"


@dataclass(frozen=True)
class SerialRule:
    """How a scan becomes a serial. ``pattern`` is required for ``regex``, optional for ``gs1``
    (where it checks the extracted serial); ``application_identifier`` and ``gtin`` are GS1 only."""

    kind: SerialRuleKind
    pattern: str | None = None
    application_identifier: str | None = None
    gtin: str | None = None

    def compiled_pattern(self) -> re.Pattern[str] | None:
        return re.compile(self.pattern) if self.pattern is not None else None


def normalize_gtin(text: str) -> str:
    """A GTIN as 14 digits, its check digit verified (biip); GtinError when it is not one."""
    try:
        return str(Gtin.parse(text).as_gtin_14())
    except biip.ParseError as error:
        raise GtinError(str(error)) from error


def parse_scan(text: str, rule: SerialRule) -> Serial:
    """Return the serial in ``text`` by ``rule``, or raise ``ScanError`` saying what is wrong."""
    cleaned = text.strip("\r\n\t ")
    if not cleaned:
        raise ScanError("the scan is empty")
    if rule.kind is SerialRuleKind.REGEX:
        return _parse_regex(cleaned, rule)
    return _parse_gs1(cleaned, rule)


def _parse_regex(text: str, rule: SerialRule) -> Serial:
    pattern = rule.compiled_pattern()
    if pattern is None:
        raise ScanError("the serial rule has no pattern")
    data = _AIM_PREFIX.sub("", text, count=1)
    match = pattern.fullmatch(data)
    if match is None:
        raise ScanError(f"scan {_shown(data)} does not match the serial pattern {rule.pattern!r}")
    value = match.group("serial") if "serial" in pattern.groupindex else match.group(0)
    if value is None:
        raise ScanError(f"scan {_shown(data)} matched, but its 'serial' group is empty")
    return Serial(value)


def _parse_gs1(text: str, rule: SerialRule) -> Serial:
    ai = rule.application_identifier or "21"
    try:
        if text.startswith("("):
            message = GS1Message.parse_hri(text)
        else:
            result = biip.parse(text)
            identifier = result.symbology_identifier
            if identifier is not None and identifier.gs1_symbology not in _GS1_MESSAGE_SYMBOLOGIES:
                raise ScanError(
                    f"barcode symbology {identifier.value} does not carry GS1 element strings "
                    "(expected ]C1, ]d2, ]Q3, ]e0 or ]J1)"
                )
            if result.gs1_message is None:
                raise ScanError(
                    f"scan {_shown(text)} is not a GS1 element string: {result.gs1_message_error}"
                )
            message = result.gs1_message
    except biip.ParseError as error:
        raise ScanError(f"scan {_shown(text)} is not a GS1 element string: {error}") from error

    found: dict[str, str] = {}
    for element in message.element_strings:
        check_error = element.gtin_error or element.sscc_error or element.gln_error
        if check_error:
            raise ScanError(f"GS1 ({element.ai.ai}) {element.ai.data_title}: {check_error}")
        if element.ai.ai in found:
            raise ScanError(f"the scan holds GS1 ({element.ai.ai}) more than once")
        found[element.ai.ai] = element.value

    if ai not in found:
        present = ", ".join(f"({key})" for key in found) or "none"
        raise ScanError(f"the scan has no GS1 ({ai}) element to take the serial from (found {present})")
    if rule.gtin is not None:
        scanned_gtin = found.get("01") or found.get("02")
        if scanned_gtin is None:
            raise ScanError(f"the scan has no GTIN (01); the recipe requires GTIN {rule.gtin}")
        if normalize_gtin(scanned_gtin) != normalize_gtin(rule.gtin):
            raise ScanError(f"the scan's GTIN {scanned_gtin} is not this product's GTIN {rule.gtin}")
    value = found[ai]
    pattern = rule.compiled_pattern()
    if pattern is not None and pattern.fullmatch(value) is None:
        raise ScanError(f"serial {value!r} from GS1 ({ai}) does not match the pattern {rule.pattern!r}")
    gtin = found.get("01")
    return Serial(value, gtin=normalize_gtin(gtin) if gtin is not None else None)


def _shown(text: str) -> str:
    """The scan as shown in messages: GS separators made visible, long scans shortened."""
    visible = text.replace(_GS, "<GS>")
    if len(visible) > 80:
        visible = visible[:77] + "..."
    return repr(visible)
