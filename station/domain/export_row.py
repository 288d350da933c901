"""An attempt as one flat row: the cells of a CSV export, in :data:`CSV_COLUMNS` order.

Two producers build these rows, and they must agree byte for byte:

- :func:`attempt_row`, from an :class:`AttemptRecord` with its steps (any store, any caller
  that already holds records);
- the store's fast path, ``AttemptRepository.iter_attempt_rows``, which reads the cells of
  a whole selection with one streaming SQL query and never builds a record. It exists
  because building records (ORM rows, datetimes, step records) cost an export of a million
  attempts most of its time (issue 7, item 4).

Both build every cell with the helpers below, so each formatting rule lives here once. A
row holds plain values -- ``int``, ``str`` or ``None`` (an empty cell); the CSV writer
(``station.reports.export``) turns them into text and guards against spreadsheet formulas.

Times are ISO 8601 UTC; ``duration_s`` and step durations are seconds with millisecond
precision; lists (image hashes, failed steps, step durations) are joined with ``;``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from station.domain.records import AttemptRecord, StepOutcome

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
"""Column order of an attempt row, forever; a new column is only ever added at the end.
``step_durations`` is ``name=seconds`` per step, in order (``name=`` for a step that never
finished); ``failed_steps`` names the steps whose outcome was FAILED."""

AttemptRow = tuple[int | str | None, ...]
"""One attempt's cells, in :data:`CSV_COLUMNS` order."""

LIST_SEPARATOR = ";"

_Time = TypeVar("_Time", datetime, str)


def _as_is(moment: datetime) -> datetime:
    return moment


def time_text(moment: datetime | None) -> str | None:
    """A timezone-aware UTC moment as ISO 8601 (``2026-03-01T08:10:00.250000+00:00``)."""
    return None if moment is None else moment.isoformat()


def seconds_text(elapsed: timedelta | None) -> str:
    """Elapsed time as seconds with three decimals (``4.500``); empty when it never ended.

    ``.3f`` rounds the float correctly, which gives the same text as ``round(seconds, 3)``
    first (what the exports wrote before): a float is never exactly halfway between two
    milliseconds, so both roundings take the same side.
    """
    return "" if elapsed is None else f"{elapsed.total_seconds():.3f}"


def list_text(items: Iterable[str]) -> str:
    """Items joined with ``;`` (empty for none)."""
    return LIST_SEPARATOR.join(items)


def step_durations_text(
    names: Sequence[str],
    starts: Sequence[_Time],
    ends: Sequence[_Time | None],
    moment: Callable[[_Time], datetime],
) -> str:
    """``connect=0.412;flash=4.518;lock=`` from the steps' names, starts and ends.

    An empty or None end is a step that never finished. ``moment`` turns a start or end into
    a datetime: records hold datetimes already; the store's fast path hands the stored text
    and ``datetime.fromisoformat``, so that no step needs an object of its own. Each number is
    :func:`seconds_text`'s, written out rather than called: this runs for every step exported.
    """
    return LIST_SEPARATOR.join([
        f"{name}={(moment(end) - moment(start)).total_seconds():.3f}" if end else f"{name}="
        for name, start, end in zip(names, starts, ends, strict=True)
    ])


def yes_no(flag: bool) -> str:
    return "yes" if flag else "no"


def attempt_row(attempt: AttemptRecord) -> AttemptRow:
    """The cells of one attempt record, in :data:`CSV_COLUMNS` order."""
    steps = attempt.steps
    return (
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
        yes_no(attempt.is_rework),
        attempt.previous_attempt_id,
        time_text(attempt.started_at),
        time_text(attempt.ended_at),
        seconds_text(None if attempt.ended_at is None else attempt.ended_at - attempt.started_at),
        attempt.failure_step,
        attempt.failure_code,
        attempt.failure_message,
        list_text(attempt.image_hashes),
        attempt.certificate_fingerprint,
        attempt.token_fingerprint,
        len(steps),
        list_text(step.name for step in steps if step.outcome is StepOutcome.FAILED),
        step_durations_text(
            [step.name for step in steps], [step.started_at for step in steps], [step.ended_at for step in steps],
            _as_is,
        ),
    )
