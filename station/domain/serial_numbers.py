"""A work order's serial numbers: the rule that makes them, for units that come without a label.

A serial rule is a template, a range of running numbers and an optional check digit::

    template = "ACME{yy}{ww}{seq:06d}"   first = 1   last = 999999   check_digit = "gs1"

- ``{yy}``: the last two digits of the ISO year of the day the serial is allocated, ``{ww}``
  its ISO week (01..53). The ISO year, not the calendar year, so that 2024-12-30 (week 1 of
  2025) gives ``2501``, never ``2401``, which would name a week a year early.
- ``{seq}`` (or ``{seq:0Nd}``, zero-padded to N digits): the running number, exactly once.
  Every number of the range must fit the width: a serial never grows a digit mid-order.
- the rest is literal: letters, digits and ``- . _ /`` (a serial goes into GS1 element
  strings, certificate subjects, file names and labels).
- ``check_digit = "gs1"``: the GS1 mod-10 check digit (the GTIN's) of the serial's digits, in
  order, is appended; letters take no part in it.

The store hands out each running number once (``station.store.serial_allocation``); this
module only says what text a number becomes, and whether that text is a serial the recipe's
scan rule would accept (a unit labelled with it must scan as itself).
"""

from __future__ import annotations

import enum
import re
import string
from dataclasses import dataclass
from datetime import date, datetime

from biip.checksums import gs1_standard_check_digit

from station.domain.errors import ScanError, SerialRuleError
from station.domain.identity import SERIAL_MAX_LENGTH
from station.domain.scan import SerialRule, SerialRuleKind, parse_scan

_LITERAL = re.compile(r"^[A-Za-z0-9._/-]*$")
_WIDTH = re.compile(r"^0([1-9][0-9]?)d$")
# GS1 AI (21) and friends hold at most 20 characters.
GS1_SERIAL_MAX_LENGTH = 20


class CheckDigit(enum.StrEnum):
    NONE = "none"
    GS1 = "gs1"


@dataclass(frozen=True)
class _Part:
    """One piece of a template: literal text, or a field (``yy``, ``ww``, ``seq``) and its width."""

    literal: str = ""
    field: str | None = None
    width: int = 0


@dataclass(frozen=True)
class SerialNumbering:
    """A work order's serial rule, checked when it is made (``parse_numbering``)."""

    template: str
    first: int
    last: int
    check_digit: CheckDigit
    parts: tuple[_Part, ...]

    @property
    def size(self) -> int:
        return self.last - self.first + 1

    def render(self, seq: int, day: date) -> str:
        """The serial of running number ``seq`` allocated on ``day``."""
        if not self.first <= seq <= self.last:
            raise SerialRuleError(f"running number {seq} is outside the range {self.first}..{self.last}")
        iso = day.isocalendar()
        values = {"yy": iso.year % 100, "ww": iso.week, "seq": seq}
        text = "".join(
            part.literal if part.field is None else f"{values[part.field]:0{part.width}d}" for part in self.parts
        )
        if self.check_digit is CheckDigit.GS1:
            text += gs1_check_digit("".join(character for character in text if character.isdigit()))
        return text

    def describe(self) -> str:
        check = ", GS1 check digit" if self.check_digit is CheckDigit.GS1 else ""
        return f"{self.template} numbers {self.first}..{self.last}{check}"


def gs1_check_digit(digits: str) -> str:
    """The GS1 mod-10 check digit of ``digits`` (as a GTIN's last digit is of the ones before)."""
    if not digits or not digits.isdigit() or not digits.isascii():
        raise SerialRuleError("a GS1 check digit is computed over digits, and the serial has none")
    return str(gs1_standard_check_digit(digits))


def parse_numbering(template: str, first: int, last: int, check_digit: str = "none") -> SerialNumbering:
    """A serial rule from its parts, or SerialRuleError saying exactly what is wrong."""
    try:
        check = CheckDigit(check_digit)
    except ValueError:
        raise SerialRuleError(f"check digit {check_digit!r} is not one of: none, gs1") from None
    parts = _parse_template(template)
    if first < 0 or last < first:
        raise SerialRuleError(f"the range {first}..{last} is not a range of running numbers (0 <= first <= last)")
    seq_width = next(part.width for part in parts if part.field == "seq")
    if seq_width and len(str(last)) > seq_width:
        raise SerialRuleError(f"the range's last number {last} has {len(str(last))} digits; {{seq:0{seq_width}d}} "
                              f"holds {seq_width}")  # fmt: skip
    numbering = SerialNumbering(template, first, last, check, parts)
    longest = numbering.render(last, date(2000, 1, 1))
    if len(longest) > SERIAL_MAX_LENGTH:
        raise SerialRuleError(f"serial {longest} is longer than {SERIAL_MAX_LENGTH} characters")
    return numbering


def _parse_template(template: str) -> tuple[_Part, ...]:
    if not template:
        raise SerialRuleError("the serial template is empty")
    try:
        pieces = list(string.Formatter().parse(template))
    except ValueError as error:
        raise SerialRuleError(f"serial template {template!r} is malformed: {error}") from None
    parts: list[_Part] = []
    seen: set[str] = set()
    for literal, name, format_spec, conversion in pieces:
        if not _LITERAL.match(literal):
            raise SerialRuleError(f"serial template {template!r}: literal text {literal!r} may hold only letters, "
                                  "digits and - . _ /")  # fmt: skip
        if literal:
            parts.append(_Part(literal=literal))
        if name is None:
            continue
        if name not in ("yy", "ww", "seq"):
            raise SerialRuleError(f"serial template {template!r}: unknown placeholder {{{name}}} "
                                  "(allowed: {yy}, {ww}, {seq}, {seq:0Nd})")  # fmt: skip
        if name in seen:
            raise SerialRuleError(f"serial template {template!r}: {{{name}}} appears more than once")
        seen.add(name)
        if conversion is not None or (format_spec and name != "seq"):
            raise SerialRuleError(f"serial template {template!r}: {{{name}}} takes no format")
        width = 2 if name in ("yy", "ww") else 0
        if format_spec:
            matched = _WIDTH.match(format_spec)
            if matched is None:
                raise SerialRuleError(f"serial template {template!r}: the format of {{seq}} is 0Nd "
                                      f"(e.g. {{seq:06d}}), not {format_spec!r}")  # fmt: skip
            width = int(matched.group(1))
        parts.append(_Part(field=name, width=width))
    if "seq" not in seen:
        raise SerialRuleError(f"serial template {template!r} has no {{seq}}: every serial needs its running number")
    return tuple(parts)


def check_serial_for_recipe(serial: str, rule: SerialRule) -> None:
    """Refuse (SerialRuleError) a serial that the recipe's scan rule would not read back as
    itself: a unit labelled with it could not be scanned again (rework, inspection)."""
    if rule.kind is SerialRuleKind.REGEX:
        scan = serial
    else:
        if len(serial) > GS1_SERIAL_MAX_LENGTH:
            raise SerialRuleError(f"serial {serial} is longer than GS1 allows ({GS1_SERIAL_MAX_LENGTH} characters)")
        gtin = f"(01){rule.gtin}" if rule.gtin is not None else ""
        scan = f"{gtin}({rule.application_identifier or '21'}){serial}"
    try:
        scanned = parse_scan(scan, rule)
    except ScanError as error:
        raise SerialRuleError(f"serial {serial} does not satisfy the recipe's serial rule: {error}") from None
    if scanned.value != serial:
        raise SerialRuleError(f"the recipe's serial rule reads serial {serial} as {scanned.value}")


class SerialState(enum.StrEnum):
    """Where an allocated serial is. Every running number a station leased is free in its lease
    or exactly one of these: none is lost except by a scrap, which a supervisor signs."""

    ALLOCATED = "allocated"  # handed to a unit at a station, no device bound yet
    BOUND = "bound"  # the unit's device id is read and bound to it
    USED = "used"  # its unit passed: it ships with it
    RETURNED = "returned"  # its unit failed before passing: the station's next unit takes it
    SCRAPPED = "scrapped"  # a supervisor took it out for good (a label printed and lost...)


# A serial its station holds for a unit whose attempt runs (or that a crash left unsettled).
HELD_STATES = frozenset({SerialState.ALLOCATED, SerialState.BOUND})


@dataclass(frozen=True)
class AllocatedSerialRecord:
    serial: str
    work_order: str
    seq: int
    state: SerialState
    station: str
    attempt_id: int | None
    device_id: str | None
    times_returned: int
    allocated_at: datetime
    changed_at: datetime
    scrapped_by: str | None = None
    scrap_reason: str | None = None


@dataclass(frozen=True)
class SerialCounts:
    """A work order's serials in one database: ``leased`` running numbers are each ``free`` (in a
    station's lease, never handed out) or in one state; ``unleased`` are left in the range
    beyond every block this database holds. ``returns`` counts every time a serial came back (it
    may have been handed out again since). On a line, each station's database holds only its own
    blocks (the numbers between them are other stations'): the line's leases are counted there."""

    work_order: str
    range_size: int
    leased: int
    unleased: int
    free: int
    allocated: int
    bound: int
    used: int
    returned: int
    scrapped: int
    returns: int

    @property
    def handed_out(self) -> int:
        return self.allocated + self.bound + self.used + self.returned + self.scrapped

    @property
    def adds_up(self) -> bool:
        """Every leased number is free or in exactly one state; none is leased beyond the range."""
        return self.leased == self.free + self.handed_out and self.leased + self.unleased <= self.range_size

    def to_document(self) -> dict[str, object]:
        return {"work_order": self.work_order, "range": self.range_size, "leased": self.leased,
                "unleased": self.unleased, "free": self.free, "handed_out": self.handed_out,
                "allocated": self.allocated, "bound": self.bound, "used": self.used, "returned": self.returned,
                "scrapped": self.scrapped, "returns": self.returns, "adds_up": self.adds_up}  # fmt: skip
