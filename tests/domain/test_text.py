"""Text from outside, escaped before it is printed, logged, shown or exported."""

from __future__ import annotations

import logging

from station.domain.text import EscapingFormatter, escape_text, token


def test_control_and_format_characters_become_visible_escapes() -> None:
    assert escape_text("plain text, café 测试 🚀") == "plain text, café 测试 🚀"
    assert escape_text("a\nPASS TST-1") == "a\\nPASS TST-1"
    assert escape_text("bell\x07 clear\x1b[2J tab\t cr\r") == "bell\\x07 clear\\x1b[2J tab\\t cr\\r"
    assert escape_text("line\u2028sep\u2029 rtl\u202eevil zero\u200bwidth") == (
        "line\\u2028sep\\u2029 rtl\\u202eevil zero\\u200bwidth"
    )
    assert escape_text("a\\nb") == "a\\\\nb"  # an escape typed into a scan is not taken for ours
    assert escape_text("del\x7f c1\x85") == "del\\x7f c1\\x85"


def test_a_token_is_quoted_unless_it_is_one_plain_word() -> None:
    assert token("TST-000123") == "TST-000123"
    assert token("X\nPASS TST-000123") == '"X\\nPASS TST-000123"'
    assert token("two words") == '"two words"'
    assert token('say "hi"') == '"say \\"hi\\""'
    assert token("") == '""'


def test_a_log_record_stays_on_its_line() -> None:
    formatter = EscapingFormatter("%(levelname)s %(message)s")
    record = logging.LogRecord("station", logging.INFO, __file__, 1, "scan %s", ("X\nPASS TST-1\x07",), None)
    assert formatter.format(record) == "INFO scan X\\nPASS TST-1\\x07"
