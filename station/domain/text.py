"""Text from outside, made safe to print, log, show and export.

Scans, console replies, device strings and file names come from outside the station. Before
any of it reaches a terminal, a log, a window or an export, control characters (line breaks,
bell, escape sequences, the Unicode line separators and bidirectional overrides) are written
as visible escapes, so that no field can start a line of its own (a forged ``PASS`` line), ring
a bell, clear a screen or reorder what a reader sees. ``token`` also quotes a value that is not
one plain word, so that a line's fields stay unambiguous.
"""

from __future__ import annotations

import logging
import re
import unicodedata

_PLAIN_TOKEN = re.compile(r"^[\x21-\x7e]+$")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def _escape_character(character: str) -> str:
    named = _NAMED.get(character)
    if named is not None:
        return named
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def _needs_escape(character: str) -> bool:
    # Cc: C0 and C1 controls and DEL; Cf: format characters (bidi overrides, zero-width);
    # Zl, Zp: the Unicode line and paragraph separators.
    return character == "\\" or unicodedata.category(character) in ("Cc", "Cf", "Zl", "Zp")


def escape_text(text: str) -> str:
    """``text`` with every control, format and line-separator character written as an escape
    (and backslashes doubled, so that an escape in the text is not taken for one of ours)."""
    if text.isprintable() and "\\" not in text:
        return text  # the common case, checked in C
    return "".join(_escape_character(character) if _needs_escape(character) else character for character in text)


def token(text: str) -> str:
    """``text`` as one field of a line: as it is when it is one plain word of printable ASCII,
    else quoted with its specials escaped."""
    if _PLAIN_TOKEN.match(text) and '"' not in text and "\\" not in text:
        return text
    return '"' + escape_text(text).replace('"', '\\"') + '"'


class EscapingFormatter(logging.Formatter):
    """A log line per record: the message's control characters and line breaks (text from
    outside: scans, console replies) as escapes; a traceback still follows on its own lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:  # noqa: N802 - logging's name
        record.message = escape_text(record.message)
        return super().formatMessage(record)
