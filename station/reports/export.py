"""Exports of attempt records: CSV (one row per attempt) and NDJSON (one object per attempt).

Both consume any iterable of ``AttemptRecord`` -- normally the store's streaming
``iter_attempts`` -- and write as they go, so a million attempts never sit in memory.
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
import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any, TextIO

from station.domain.records import AttemptRecord, StepOutcome, StepRecord

CSV_COLUMNS: tuple[str, ...] = (
    "attempt_id",
    "serial",
    "device_id",
    "product",
    "work_order",
    "station",
    "operator",
    "recipe_hash",
    "probe_id",
    "state",
    "result",
    "is_rework",
    "previous_attempt_id",
    "started_at",
    "ended_at",
    "duration_s",
    "failure_step",
    "failure_code",
    "failure_message",
    "image_hashes",
    "certificate_fingerprint",
    "token_fingerprint",
    "step_count",
    "failed_steps",
    "step_durations",
)
"""Column order of :func:`export_csv`. ``step_durations`` is ``name=seconds`` per finished
step, in order (``name=`` for a step that never finished); ``failed_steps`` names the
steps whose outcome was FAILED."""

JSON_FORMAT_VERSION = 1

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def export_csv(rows: Iterable[AttemptRecord], out: TextIO) -> int:
    """Write a header and one line per attempt; return how many attempts were written."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for attempt in rows:
        writer.writerow([_cell(value) for value in _csv_values(attempt)])
        count += 1
    return count


def export_json(rows: Iterable[AttemptRecord], out: TextIO, *, include_transcripts: bool = False) -> int:
    """Write one JSON object per line (NDJSON) per attempt, with its steps; return the count."""
    count = 0
    for attempt in rows:
        out.write(json.dumps(attempt_document(attempt, include_transcript=include_transcripts),
                             ensure_ascii=False, separators=(",", ":")))
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
        "started_at": _time(attempt.started_at),
        "ended_at": _time(attempt.ended_at),
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
        "started_at": _time(step.started_at),
        "ended_at": _time(step.ended_at),
        "duration_s": _seconds(step.started_at, step.ended_at),
        "detail": step.detail,
        "failure_code": step.failure_code,
    }


def _csv_values(attempt: AttemptRecord) -> list[object]:
    duration = _seconds(attempt.started_at, attempt.ended_at)
    return [
        attempt.id,
        attempt.serial,
        attempt.device_id,
        attempt.product,
        attempt.work_order,
        attempt.station,
        attempt.operator,
        attempt.recipe_hash,
        attempt.probe_id,
        attempt.state.value,
        attempt.result.value,
        "yes" if attempt.is_rework else "no",
        attempt.previous_attempt_id,
        _time(attempt.started_at),
        _time(attempt.ended_at),
        "" if duration is None else f"{duration:.3f}",
        attempt.failure_step,
        attempt.failure_code,
        attempt.failure_message,
        ";".join(attempt.image_hashes),
        attempt.certificate_fingerprint,
        attempt.token_fingerprint,
        len(attempt.steps),
        ";".join(step.name for step in attempt.steps if step.outcome is StepOutcome.FAILED),
        ";".join(_step_duration(step) for step in attempt.steps),
    ]


def _step_duration(step: StepRecord) -> str:
    seconds = _seconds(step.started_at, step.ended_at)
    return f"{step.name}=" if seconds is None else f"{step.name}={seconds:.3f}"


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _seconds(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else round((end - start).total_seconds(), 3)
