"""A work order's serial rule: parsed strictly, rendered by ISO year and week, GS1 check digit."""

from __future__ import annotations

from datetime import date

import pytest

from station.domain.errors import SerialRuleError
from station.domain.scan import SerialRule, SerialRuleKind
from station.domain.serial_numbers import (
    CheckDigit,
    SerialCounts,
    check_serial_for_recipe,
    gs1_check_digit,
    parse_numbering,
)


def test_year_and_week_are_the_iso_ones_and_the_number_keeps_its_width() -> None:
    numbering = parse_numbering("ACME{yy}{ww}{seq:06d}", 1, 999999)
    assert numbering.render(42, date(2026, 3, 4)) == "ACME2610000042"
    assert numbering.render(999999, date(2026, 1, 1)) == "ACME2601999999"  # 2026-01-01 is in ISO week 1
    assert numbering.render(7, date(2024, 12, 30)) == "ACME2501000007"  # week 1 of ISO year 2025, not "2401"
    assert numbering.render(7, date(2021, 1, 3)) == "ACME2053000007"  # still week 53 of ISO year 2020
    assert parse_numbering("SN-{seq}", 5, 12).render(12, date(2026, 3, 4)) == "SN-12"
    assert numbering.size == 999999 and numbering.check_digit is CheckDigit.NONE


@pytest.mark.parametrize(("digits", "check"), [
    ("400638133393", "1"),  # GTIN-13 4006381333931
    ("9638507", "4"),  # GTIN-8 96385074
    ("03600029145", "2"),  # UPC-A 036000291452
    ("0950110153000", "3"),  # GTIN-14 09501101530003 (GS1 General Specifications example)
])  # fmt: skip
def test_the_gs1_check_digit_is_the_gtins(digits: str, check: str) -> None:
    assert gs1_check_digit(digits) == check


def test_a_gs1_check_digit_is_appended_over_the_serials_digits() -> None:
    numbering = parse_numbering("ACME{yy}{ww}{seq:06d}", 1, 999999, "gs1")
    serial = numbering.render(42, date(2026, 3, 4))
    assert serial == "ACME2610000042" + gs1_check_digit("2610000042")
    assert numbering.describe() == "ACME{yy}{ww}{seq:06d} numbers 1..999999, GS1 check digit"


@pytest.mark.parametrize(("template", "first", "last", "check", "words"), [
    ("", 1, 9, "none", "is empty"),
    ("ACME{yy}{ww}", 1, 9, "none", "has no {seq}"),
    ("ACME{mm}{seq}", 1, 9, "none", "unknown placeholder {mm}"),
    ("ACME{seq}{seq}", 1, 9, "none", "appears more than once"),
    ("ACME{seq:6d}", 1, 9, "none", "the format of {seq} is 0Nd"),
    ("ACME{yy:04d}{seq}", 1, 9, "none", "{yy} takes no format"),
    ("ACME {seq}", 1, 9, "none", "may hold only letters"),
    ("AC^ME{seq}", 1, 9, "none", "may hold only letters"),
    ("ACME{seq", 1, 9, "none", "is malformed"),
    ("ACME{seq:03d}", 1, 1000, "none", "has 4 digits; {seq:03d} holds 3"),
    ("ACME{seq}", 9, 1, "none", "is not a range"),
    ("ACME{seq}", -1, 1, "none", "is not a range"),
    ("ACME{seq}", 1, 9, "luhn", "is not one of: none, gs1"),
    ("A" * 60 + "{seq:06d}", 1, 9, "none", "longer than 64 characters"),
])  # fmt: skip
def test_a_malformed_rule_is_refused_saying_why(template: str, first: int, last: int, check: str, words: str) -> None:
    with pytest.raises(SerialRuleError) as refused:
        parse_numbering(template, first, last, check)
    assert words in str(refused.value)
    assert refused.value.code == "SERIAL_RULE"


def test_rendering_outside_the_range_is_refused() -> None:
    with pytest.raises(SerialRuleError, match=r"outside the range 1\.\.9"):
        parse_numbering("SN{seq}", 1, 9).render(10, date(2026, 3, 4))


def test_serials_are_checked_against_the_recipes_scan_rule() -> None:
    regex = SerialRule(SerialRuleKind.REGEX, pattern=r"ACME\d{10}")
    check_serial_for_recipe("ACME2610000042", regex)
    with pytest.raises(SerialRuleError, match="does not satisfy the recipe's serial rule"):
        check_serial_for_recipe("ACME26100000421", regex)
    gs1 = SerialRule(SerialRuleKind.GS1, application_identifier="21", gtin="09501101530003")
    check_serial_for_recipe("ACME2610000042", gs1)
    with pytest.raises(SerialRuleError, match="longer than GS1 allows"):
        check_serial_for_recipe("ACME" + "1" * 17, gs1)
    with pytest.raises(SerialRuleError, match="does not satisfy"):
        check_serial_for_recipe("ACME1", SerialRule(SerialRuleKind.GS1, pattern=r"SN\d+"))


def test_counts_add_up_only_when_every_leased_number_is_somewhere() -> None:
    counts = SerialCounts("WO", range_size=100, leased=20, unleased=80, free=5, allocated=1, bound=2, used=9,
                          returned=2, scrapped=1, returns=6)  # fmt: skip
    assert counts.handed_out == 15 and counts.adds_up
    assert not SerialCounts("WO", 100, 20, 80, 4, 1, 2, 9, 2, 1, 6).adds_up
    assert counts.to_document()["handed_out"] == 15
