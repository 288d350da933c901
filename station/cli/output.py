"""``--json``: every command prints one JSON document, or NDJSON when it streams, as nRF Util does.

One mechanism for every command: :func:`add_json_option` gives a command the option,
:func:`json_wanted` says whether it was given, :func:`print_document` prints the command's one
document and :func:`print_event` one line of a stream (``{"event": ..., ...}``). An error in
JSON mode is a document too, ``{"error": {"code": ..., "message": ...}}``, printed on standard
output (where a program reading the command's JSON looks) with the same exit code as in text
mode; standard error keeps only log lines and prompts. Values are the raw data the text shows,
JSON-encoded: times ISO 8601, numbers as numbers, every control character escaped by the
encoder (``ensure_ascii``), so no field can break a line of a stream.
"""

from __future__ import annotations

import argparse
import enum
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final, TextIO

from station.domain.errors import RecipeProblemsError, StationError

JSON_OPTION: Final = "--json"
# The code of a command line argparse refuses (exit 2, as in text mode).
USAGE_ERROR_CODE: Final = "USAGE"


def add_json_option(parser: argparse.ArgumentParser, *, stream: bool = False) -> None:
    """``--json``: one JSON document on standard output, or (``stream``) one JSON object per line."""
    described = ("print NDJSON: one JSON object per line, per event as it happens" if stream
                 else "print one JSON document with the same fields as the text")
    parser.add_argument(JSON_OPTION, action="store_true", help=described + "; errors too, as {\"error\": ...}")


def json_wanted(arguments: argparse.Namespace) -> bool:
    return bool(getattr(arguments, "json", False))


def json_requested(argv: Sequence[str]) -> bool:
    """Whether a command line asks for JSON before it has been parsed (for its usage errors)."""
    return JSON_OPTION in argv


def _plain(value: object) -> object:
    """What ``json`` cannot encode by itself, as the data it stands for."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON data")


def json_text(value: object, *, indent: int | None = None) -> str:
    """``value`` as JSON: ASCII only, so that control, line-separator and bidi characters are escapes."""
    separators = None if indent is not None else (",", ":")
    return json.dumps(value, default=_plain, ensure_ascii=True, indent=indent, separators=separators)


def print_document(document: Mapping[str, Any], out: TextIO | None = None) -> None:
    """A command's one JSON document."""
    print(json_text(document, indent=2), file=out or sys.stdout, flush=True)


def print_event(event: str, out: TextIO | None = None, **fields: object) -> None:
    """One line of a stream (NDJSON), printed as it happens."""
    print(json_text({"event": event, **fields}), file=out or sys.stdout, flush=True)


def error_document(error: StationError) -> dict[str, Any]:
    """``{"error": {"code", "message"}}``; a recipe's problems also each as one, under ``problems``."""
    document: dict[str, Any] = {"code": error.code, "message": str(error)}
    if isinstance(error, RecipeProblemsError):
        document["problems"] = [{"code": problem.code, "message": str(problem)} for problem in error.problems]
    return {"error": document}


def print_error(code: str, message: str, out: TextIO | None = None) -> None:
    """An error a command reports itself (not as a StationError), in JSON mode."""
    print_document({"error": {"code": code, "message": message}}, out)
