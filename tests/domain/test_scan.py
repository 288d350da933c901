"""Scans become serials by the recipe's rule: regular expressions and GS1 element strings."""

from __future__ import annotations

import pytest

from station.domain.errors import ScanError, StationError
from station.domain.identity import DeviceId, Serial
from station.domain.scan import SerialRule, SerialRuleKind, normalize_gtin, parse_scan

GS = "\x1d"
GTIN = "07032069804988"  # valid check digit 8
BAD_GTIN = "07032069804987"

REGEX = SerialRule(SerialRuleKind.REGEX, pattern=r"^TST-[0-9]{6}$")
GS1 = SerialRule(SerialRuleKind.GS1, application_identifier="21")


def test_regex_rule_accepts_a_matching_scan() -> None:
    assert parse_scan("TST-000123\r\n", REGEX) == Serial("TST-000123")


def test_regex_rule_refuses_a_scan_that_does_not_match() -> None:
    with pytest.raises(ScanError, match=r"scan 'TST-12' does not match the serial pattern"):
        parse_scan("TST-12", REGEX)


def test_regex_rule_strips_an_aim_symbology_identifier() -> None:
    assert parse_scan("]C0TST-000123", REGEX).value == "TST-000123"


def test_regex_rule_with_a_serial_group() -> None:
    rule = SerialRule(SerialRuleKind.REGEX, pattern=r"ACME/(?P<serial>TST-[0-9]{6})/REV[A-Z]")
    assert parse_scan("ACME/TST-000777/REVB", rule).value == "TST-000777"


def test_empty_scan() -> None:
    with pytest.raises(ScanError, match="the scan is empty"):
        parse_scan("\r\n", REGEX)


@pytest.mark.parametrize(
    "scan",
    [
        f"]C101{GTIN}21SN0001",  # GS1-128
        f"]C121SN0001{GS}01{GTIN}",  # variable-length first, GS separator
        f"]d201{GTIN}21SN0001",  # GS1 DataMatrix
        f"]Q301{GTIN}21SN0001",  # GS1 QR Code
        f"01{GTIN}21SN0001",  # no symbology identifier
        f"(01){GTIN}(21)SN0001",  # human-readable form
    ],
)
def test_gs1_scans_give_the_serial_and_gtin(scan: str) -> None:
    serial = parse_scan(scan, GS1)
    assert serial.value == "SN0001"
    assert serial.gtin == GTIN


def test_gs1_with_lot_and_expiry_before_the_serial() -> None:
    serial = parse_scan(f"]d201{GTIN}17261231" f"10LOT42{GS}21SN0002", GS1)
    assert serial.value == "SN0002"


def test_gs1_bad_check_digit_is_refused() -> None:
    with pytest.raises(ScanError, match=r"GS1 \(01\) GTIN: Invalid GTIN check digit for '07032069804987'"):
        parse_scan(f"]d201{BAD_GTIN}21SN0001", GS1)


def test_gs1_bad_check_digit_is_refused_even_without_symbology_identifier() -> None:
    with pytest.raises(ScanError, match="Invalid GTIN check digit"):
        parse_scan(f"01{BAD_GTIN}21SN0001", GS1)


def test_gs1_scan_without_the_serial_element() -> None:
    with pytest.raises(ScanError, match=r"the scan has no GS1 \(21\) element to take the serial from \(found \(01\)\)"):
        parse_scan(f"]C101{GTIN}", GS1)


def test_gs1_rule_requiring_a_gtin() -> None:
    rule = SerialRule(SerialRuleKind.GS1, application_identifier="21", gtin="7032069804988")  # GTIN-13 form
    assert parse_scan(f"]d201{GTIN}21SN0001", rule).value == "SN0001"
    other = "09506000134352"
    with pytest.raises(ScanError, match=f"the scan's GTIN {other} is not this product's GTIN"):
        parse_scan(f"]d201{other}21SN0001", rule)
    with pytest.raises(ScanError, match="the scan has no GTIN"):
        parse_scan("]d221SN0001", rule)


def test_gs1_rule_with_a_pattern_for_the_serial() -> None:
    rule = SerialRule(SerialRuleKind.GS1, application_identifier="21", pattern=r"SN[0-9]{4}")
    assert parse_scan(f"]d201{GTIN}21SN0001", rule).value == "SN0001"
    with pytest.raises(ScanError, match=r"serial 'XX0001' from GS1 \(21\) does not match the pattern"):
        parse_scan(f"]d201{GTIN}21XX0001", rule)


def test_gs1_rule_refuses_a_symbology_without_gs1_data() -> None:
    with pytest.raises(ScanError, match=r"barcode symbology \]d1 does not carry GS1 element strings"):
        parse_scan("]d1TST-000123", GS1)


def test_gs1_rule_refuses_text_that_is_not_gs1() -> None:
    with pytest.raises(ScanError, match="is not a GS1 element string"):
        parse_scan("hello world", GS1)


def test_gs1_rule_refuses_an_unknown_symbology_identifier() -> None:
    with pytest.raises(ScanError, match="is not a GS1 element string"):
        parse_scan("]!101234", GS1)


def test_gs1_separator_is_shown_visibly_in_messages() -> None:
    with pytest.raises(ScanError) as caught:
        parse_scan(f"]C1XX{GS}99", GS1)
    assert "\x1d" not in str(caught.value)


def test_serial_value_type_refuses_whitespace_and_overlong_values() -> None:
    with pytest.raises(ScanError, match="printable characters without spaces"):
        Serial("TST 1")
    with pytest.raises(ScanError, match="longer than 64"):
        Serial("X" * 65)
    assert str(Serial("TST-1")) == "TST-1"


def test_device_id_value_type() -> None:
    assert DeviceId.parse("0x00112233aabbccdd").value == "00112233AABBCCDD"
    assert str(DeviceId.from_int(0xABC)) == "0000000000000ABC"
    # STM32 UID (96 bits) and Kinetis SIM_UID (128 bits) are device ids too.
    assert DeviceId.parse("0x0041003a3133510e37363830").value == "0041003A3133510E37363830"
    assert str(DeviceId.from_int(0xABC, 32)) == "00000000000000000000000000000ABC"
    for wrong in ("1234", "00112233AABBCCDD00", "0" * 40, "00112233AABBCCDG"):
        with pytest.raises(StationError, match="not 16, 24 or 32 hex digits"):
            DeviceId.parse(wrong)
    with pytest.raises(StationError, match="not 16, 24 or 32 hex digits in upper case"):
        DeviceId("00112233aabbccdd")
    with pytest.raises(StationError, match="does not fit in 16 hex digits"):
        DeviceId.from_int(1 << 64)


def test_normalize_gtin() -> None:
    assert normalize_gtin("7032069804988") == GTIN
    with pytest.raises(StationError, match="Invalid GTIN check digit"):
        normalize_gtin(BAD_GTIN)
