"""Exports of attempts: CSV (one row per attempt) and NDJSON (one object per attempt).

Both write as they go, so a million attempts never sit in memory. CSV takes either attempt
records (:func:`export_csv`, normally from the store's streaming ``iter_attempts``) or ready
attempt rows (:func:`export_csv_rows`, from the store's faster ``iter_attempt_rows``); the
cells of both come from :mod:`station.domain.export_row`, so the two give the same bytes.
Exports hold no secrets: attempts carry only fingerprints of tokens and certificates, and
console transcripts (which hold what the unit printed) are left out unless asked for.

CSV columns are :data:`CSV_COLUMNS`, in that order, forever; a new column is only ever added
at the end. Times are ISO 8601 UTC; ``duration_s`` and step durations are seconds with
millisecond precision; lists (image hashes, steps) are joined with ``;``. A text cell that
a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or
carriage return) is prefixed with ``'``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, TextIO

from station.domain.export_row import CSV_COLUMNS, attempt_row, time_text
from station.domain.records import AttemptRecord, StepRecord
from station.domain.text import escape_text

__all__ = ["CSV_COLUMNS", "JSON_FORMAT_VERSION", "attempt_document", "export_csv", "export_csv_rows", "export_json"]

JSON_FORMAT_VERSION = 1

_FORMULA_STARTS = frozenset(("=", "+", "-", "@", "\t", "\r"))
_LINES_PER_WRITE = 1000


def export_csv(rows: Iterable[AttemptRecord], out: TextIO) -> int:
    """Write a header and one line per attempt record; return how many attempts were written."""
    return export_csv_rows(map(attempt_row, rows), out)


def export_csv_rows(rows: Iterable[Sequence[object]], out: TextIO) -> int:
    """Write a header and one line per attempt row (cells in CSV_COLUMNS order); return the count.

    The lines are exactly what :func:`csv.writer` (``lineterminator="\\n"``) writes. Python's
    csv module spends about 30 ns on every character (it checks each one for a delimiter, a
    quote or a line end): some 20 us of a 700-character attempt row, as long as everything
    else the fast path does for it. So a row is joined with commas directly, and only a row
    that could need quoting -- a cell holding a comma, a double quote, CR or LF -- goes
    through ``csv.writer``.
    """
    spare = io.StringIO()
    quoting_writer = csv.writer(spare, lineterminator="\n")
    commas = len(CSV_COLUMNS) - 1
    formula_starts = _FORMULA_STARTS
    lines = [",".join(CSV_COLUMNS)]
    count = 0
    for row in rows:
        cells = [
            (("'" + value) if value[:1] in formula_starts else value) if value.__class__ is str else _cell(value)
            for value in row
        ]
        line = ",".join(cells)
        if not line.isprintable() or "\\" in line:  # control characters and line breaks: escaped
            cells = [escape_text(cell) for cell in cells]
            line = ",".join(cells)
        if line.count(",") != commas or '"' in line:
            quoting_writer.writerow(cells)
            line = spare.getvalue()[:-1]
            spare.seek(0)
            spare.truncate()
        lines.append(line)
        count += 1
        if len(lines) >= _LINES_PER_WRITE:
            lines.append("")
            out.write("\n".join(lines))
            lines.clear()
    if lines:
        lines.append("")
        out.write("\n".join(lines))
    return count


# JSON leaves the Unicode line separators as they are; a line-oriented reader would break there.
_LINE_SEPARATORS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029"})


def _cell(value: object) -> str:
    """The text of a cell that is not exactly a ``str`` (the common case is inlined above)."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = str.__str__(value)  # a str subclass (StrEnum) is written as its characters
        return ("'" + text) if text[:1] in _FORMULA_STARTS else text
    return str(value)


def export_json(rows: Iterable[AttemptRecord], out: TextIO, *, include_transcripts: bool = False) -> int:
    """Write one JSON object per line (NDJSON) per attempt, with its steps; return the count."""
    count = 0
    for attempt in rows:
        out.write(json.dumps(attempt_document(attempt, include_transcript=include_transcripts),
                             ensure_ascii=False, separators=(",", ":")).translate(_LINE_SEPARATORS))
        out.write("\n")
        count += 1
    return count


def attempt_document(attempt: AttemptRecord, *, include_transcript: bool = False) -> dict[str, Any]:
    """The JSON object of one attempt (also what the PDF and signed exports build on)."""
    document: dict[str, Any] = {
        "format_version": JSON_FORMAT_VERSION,
        "attempt_id": attempt.id,
        "serial": attempt.serial,
        "device_id": attempt.device_id,
        "product": attempt.product,
        "work_order": attempt.work_order,
        "station": attempt.station,
        "operator": attempt.operator,
        "recipe_hash": attempt.recipe_hash,
        "probe_id": attempt.probe_id,
        "state": attempt.state.value,
        "result": attempt.result.value,
        "is_rework": attempt.is_rework,
        "previous_attempt_id": attempt.previous_attempt_id,
        "started_at": time_text(attempt.started_at),
        "ended_at": time_text(attempt.ended_at),
        "duration_s": _seconds(attempt.started_at, attempt.ended_at),
        "failure_step": attempt.failure_step,
        "failure_code": attempt.failure_code,
        "failure_message": attempt.failure_message,
        "image_hashes": list(attempt.image_hashes),
        "certificate_fingerprint": attempt.certificate_fingerprint,
        "token_fingerprint": attempt.token_fingerprint,
        "steps": [_step_document(step) for step in attempt.steps],
    }
    if include_transcript:
        document["console_transcript"] = attempt.console_transcript
    return document


def _step_document(step: StepRecord) -> dict[str, Any]:
    return {
        "name": step.name,
        "outcome": step.outcome.value,
        "started_at": time_text(step.started_at),
        "ended_at": time_text(step.ended_at),
        "duration_s": _seconds(step.started_at, step.ended_at),
        "detail": step.detail,
        "failure_code": step.failure_code,
    }


def _seconds(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else round((end - start).total_seconds(), 3)
