"""The fast path of CSV exports: SQLite reads attempt rows beside the Python that formats them.

Why it exists: exporting through ``AttemptRepository.iter_attempts`` builds, for every
attempt, a record with its step records and a dozen timezone-aware datetimes, then formats
them again. For a million attempts that ran at about 5,600 rows/s, an eighth of what the
``sqlite3`` shell's own CSV dump manages (issue 7, item 4). Two things make this path fast:

1. **No records.** A query returns, per attempt, its columns joined to its unit, station,
   operator and work order, with its steps aggregated in SQL (names, failed names, start and
   end times as stored, by ``group_concat``). Each row's cells are built from that text with
   the helpers of :mod:`station.domain.export_row` -- the same helpers the record path
   uses, so both write the same bytes (``tests/reports/test_fast_csv.py`` holds them to it).
2. **SQLite works while Python formats.** Profiling showed SQLite's own share (the joins and a
   b-tree lookup per step) costs about what the shell's entire dump does, so formatting after
   it, in turn, stays near half the shell's speed. The ``sqlite3`` module lets go of the GIL
   only inside ``sqlite3_step``, once per result row -- so each chunk of attempts comes back
   as *one* row, its lines already concatenated (fields joined by ``\\x1f``, lines by
   ``\\x1e``), which a reader thread fetches while this thread formats the chunk before. At
   most :data:`_QUEUED_CHUNKS` chunks of :data:`ROWS_CHUNK_SIZE` attempts wait, so memory
   does not grow with the export.

Separators inside the data are caught, never guessed at: a field holding ``\\x1e`` or
``\\x1f`` changes the chunk's separator counts, and that chunk is read again column by column;
a step name holding ``\\x1d`` (which separates step names) gives more names than start times,
and that attempt's steps are read one by one. Chunks follow each other by attempt id (keyset,
inside one read transaction, so one snapshot), and a chunk whose lines came back out of order
is sorted.

Times: SQLite keeps a ``UTCDateTime`` as naive UTC text, ``YYYY-MM-DD HH:MM:SS.ffffff``
(SQLAlchemy's storage format; ``station.store.bulk`` writes the same). Durations come from
``datetime.fromisoformat`` of that text -- what SQLAlchemy itself does when it reads it -- and
SQL does no date arithmetic (SQLite's date functions cost more than the rest of a row and are
precise to milliseconds only).

SQLite only (``group_concat``, the storage format, the GIL release); on any other database
``AttemptRepository.iter_attempt_rows`` builds the rows from records.
"""

from __future__ import annotations

import functools
import itertools
import json
import queue
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Integer, Select, Text, bindparam, case, func, literal, select, type_coerce

from station.domain.export_row import AttemptRow, list_text, seconds_text, step_durations_text, time_text, yes_no
from station.domain.records import StepOutcome
from station.store.models import Attempt, Operator, Station, Step, Unit, WorkOrder
from station.store.session import Sessions

_FIELD = "\x1f"  # between the fields of a line
_LINE = "\x1e"  # between the lines of a chunk
_NAME = "\x1d"  # between the step names of an attempt
_TIME = ","  # between its steps' stored times, which never hold a comma
_FIELD_COUNT = 25
_QUEUED_CHUNKS = 2

ROWS_CHUNK_SIZE = 150
"""Attempts per chunk: about 100 KB of text, under glibc's mmap threshold (128 KB). Chunks of
1,000 attempts ran no faster, and their large blocks raised the allocator's dynamic threshold
so that the heap's high-water mark crept with the export (RSS growth 12.9 MB after 50,000
attempts, 16.1 MB after 1,000,000; at 150 a chunk 2.3 and 2.9 MB)."""
_FAILED = StepOutcome.FAILED.value
_END = object()


def _or_empty(value: Any) -> Any:
    return func.ifnull(value, "")


def _as_stored(column: Any) -> Any:
    """The column as SQLite keeps it -- text for times, an integer for ids and flags: no CAST
    (it costs per step), and SQLAlchemy converts nothing on the way out."""
    return type_coerce(column, Text)


def _fields() -> list[Any]:
    """Per attempt (NULL as ''): its columns, then its steps' names, failed names, start times
    and end times (an unfinished step's end is ''), each in step id order. In a chunk's lines
    all are text; read column by column, the id, the rework flag and the previous id are ints.

    The steps join is driven by the attempts (``ix_steps_attempt_id``), so each attempt's
    steps arrive -- and are concatenated -- in step id order, as the record path orders them.
    """
    return [
        _as_stored(Attempt.id),
        Unit.serial,
        _or_empty(Attempt.device_id),
        Attempt.product,
        _or_empty(WorkOrder.code),
        Station.name,
        Operator.name,
        Attempt.recipe_hash,
        _or_empty(Attempt.probe_id),
        Attempt.state,
        Attempt.result,
        _as_stored(Attempt.is_rework),
        _or_empty(_as_stored(Attempt.previous_attempt_id)),
        _as_stored(Attempt.started_at),
        _or_empty(_as_stored(Attempt.ended_at)),
        _or_empty(Attempt.failure_step),
        _or_empty(Attempt.failure_code),
        _or_empty(Attempt.failure_message),
        _or_empty(Attempt.image_hashes),
        _or_empty(Attempt.certificate_fingerprint),
        _or_empty(Attempt.token_fingerprint),
        _or_empty(func.group_concat(Step.name, _NAME)),
        _or_empty(func.group_concat(case((Step.outcome == _FAILED, Step.name)), _NAME)),
        _or_empty(func.group_concat(_as_stored(Step.started_at), _TIME)),
        _or_empty(func.group_concat(_or_empty(_as_stored(Step.ended_at)), _TIME)),
    ]


def attempts_query(conditions: Sequence[Any], *, after: bool, as_lines: bool = False) -> Select[*tuple[Any, ...]]:
    """The next ``:limit`` selected attempts (after id ``:after``, if ``after``): their id, then
    their fields -- or, ``as_lines``, their fields joined into one text.

    Built once per export and run with parameters: building and keying a statement this size
    costs milliseconds of the GIL, which the formatting thread needs.
    """
    fields = _fields()
    if as_lines:
        line = fields[0]
        for field in fields[1:]:
            line = line.concat(literal(_FIELD)).concat(field)
        fields = [line]
    query = (
        select(Attempt.id.label("id"), *(field.label(f"f{index}") for index, field in enumerate(fields)))
        .select_from(Attempt)
        .join(Unit, Attempt.unit_id == Unit.id)
        .join(Station, Attempt.station_id == Station.id)
        .join(Operator, Attempt.operator_id == Operator.id)
        .outerjoin(WorkOrder, Attempt.work_order_id == WorkOrder.id)
        .outerjoin(Step, Step.attempt_id == Attempt.id)
        .where(*conditions)
        .group_by(Attempt.id)
        .order_by(Attempt.id)
        .limit(bindparam("limit", type_=Integer))
    )
    return query.where(Attempt.id > bindparam("after", type_=Integer)) if after else query


def chunk_query(conditions: Sequence[Any], *, after: bool) -> Select[*tuple[Any, ...]]:
    """The same attempts as one row: (their lines joined, how many, the last id)."""
    attempts = attempts_query(conditions, after=after, as_lines=True).subquery()
    return select(func.group_concat(attempts.c.f0, _LINE), func.count(), func.max(attempts.c.id))


@dataclass(frozen=True)
class _Chunk:
    after: int | None  # the attempts after this id...
    count: int  # ...this many of them
    text: str


def iter_rows(sessions: Sessions, conditions: Sequence[Any], chunk_size: int) -> Iterator[AttemptRow]:
    """Stream the rows of the attempts ``conditions`` select (SQLite), in one read transaction."""
    with sessions.streaming(chunk_size) as connection:
        lock = threading.Lock()  # the connection serves one statement at a time
        chunks: queue.Queue[Any] = queue.Queue(maxsize=_QUEUED_CHUNKS)
        stop = threading.Event()
        reader = threading.Thread(target=_read_chunks, name="attempt-rows", daemon=True,
                                  args=(connection, lock, conditions, chunk_size, chunks, stop))
        reader.start()
        try:
            while (chunk := _next_chunk(chunks, reader)) is not _END:
                if isinstance(chunk, BaseException):
                    raise chunk
                yield from _chunk_rows(chunk, connection, lock, conditions)
        finally:
            stop.set()
            if reader.is_alive():  # stopped early: end the reader's query now, not at its end
                connection.connection.driver_connection.interrupt()  # type: ignore[union-attr]
            reader.join()


def _read_chunks(connection: Connection, lock: threading.Lock, conditions: Sequence[Any], chunk_size: int,
                 chunks: queue.Queue[Any], stop: threading.Event) -> None:
    """The reader thread: chunk after chunk into ``chunks``, then _END (or the error met)."""
    after: int | None = None
    try:
        first, following = chunk_query(conditions, after=False), chunk_query(conditions, after=True)
        while not stop.is_set():
            with lock:
                text, count, last = connection.execute(
                    first if after is None else following, {"limit": chunk_size, "after": after}
                ).one()
            if count:
                _put(chunks, _Chunk(after, count, text), stop)
            if count < chunk_size:
                break
            after = last
        _put(chunks, _END, stop)
    except BaseException as error:  # handed to the consumer, which raises it
        _put(chunks, error, stop)


def _next_chunk(chunks: queue.Queue[Any], reader: threading.Thread) -> Any:
    while True:
        try:
            return chunks.get(timeout=1.0)
        except queue.Empty:
            if not reader.is_alive() and chunks.empty():  # it always hands over _END or an error
                raise RuntimeError("the attempt-rows reader ended without a word") from None


def _put(chunks: queue.Queue[Any], item: object, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            chunks.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


def _chunk_rows(chunk: _Chunk, connection: Connection, lock: threading.Lock,
                conditions: Sequence[Any]) -> Iterator[AttemptRow]:
    text, count = chunk.text, chunk.count
    if text.count(_LINE) == count - 1 and text.count(_FIELD) == count * (_FIELD_COUNT - 1):
        lines: Sequence[Sequence[Any]] = [line.split(_FIELD) for line in text.split(_LINE)]
    else:  # a field holds a separator: read these attempts again, a column per field
        with lock:
            found = connection.execute(attempts_query(conditions, after=chunk.after is not None),
                                       {"limit": count, "after": chunk.after}).all()
        lines = [fields[1:] for fields in found]
    ids = [int(fields[0]) for fields in lines]
    if any(earlier >= later for earlier, later in itertools.pairwise(ids)):  # group_concat kept no order
        lines = [fields for _, fields in sorted(zip(ids, lines, strict=True), key=lambda pair: pair[0])]
    return (_row(fields, connection, lock) for fields in lines)


def _row(fields: Sequence[Any], connection: Connection, lock: threading.Lock) -> AttemptRow:
    parse = datetime.fromisoformat
    (attempt_id, serial, device_id, product, work_order, station, operator, recipe_hash, probe_id, state, result,
     is_rework, previous_attempt_id, started, ended, failure_step, failure_code, failure_message, image_hashes,
     certificate_fingerprint, token_fingerprint, names, failed_names, step_starts, step_ends) = fields
    if not step_starts:  # no steps
        step_count = 0
        failed_steps = step_durations = ""
    else:
        starts = step_starts.split(_TIME)
        step_count = len(starts)
        step_names = names.split(_NAME)
        if len(step_names) == step_count:
            failed_steps = list_text(failed_names.split(_NAME)) if failed_names else ""
            step_durations = step_durations_text(step_names, starts, step_ends.split(_TIME), parse)
        else:
            failed_steps, step_durations = _steps_one_by_one(connection, lock, int(attempt_id))
    return (
        int(attempt_id),
        serial,
        device_id,
        product,
        work_order,
        station,
        operator,
        recipe_hash,
        probe_id,
        state,
        result,
        yes_no(is_rework not in ("0", 0)),
        int(previous_attempt_id) if previous_attempt_id else None,
        _time_text(started),
        _time_text(ended) if ended else None,
        seconds_text(parse(ended) - parse(started) if ended else None),
        failure_step,
        failure_code,
        failure_message,
        _image_hashes_text(image_hashes or "[]"),
        certificate_fingerprint,
        token_fingerprint,
        step_count,
        failed_steps,
        step_durations,
    )


def _steps_one_by_one(connection: Connection, lock: threading.Lock, attempt_id: int) -> tuple[str, str]:
    """failed_steps and step_durations of an attempt whose step names hold the name separator."""
    with lock:
        steps = connection.execute(
            select(Step.name, Step.outcome, _as_stored(Step.started_at), _as_stored(Step.ended_at))
            .where(Step.attempt_id == attempt_id)
            .order_by(Step.id)
        ).all()
    return (
        list_text(name for name, outcome, _, _ in steps if outcome == _FAILED),
        step_durations_text([name for name, _, _, _ in steps], [start for _, _, start, _ in steps],
                            [end for _, _, _, end in steps], datetime.fromisoformat),
    )


def _time_text(stored: str) -> str:
    """``time_text`` of the moment stored as this text, without building a datetime when the
    text has the store's own shape (``datetime.isoformat`` is slow: microseconds a call)."""
    if len(stored) == 26 and stored[10] == " " and stored[19] == ".":
        clock = stored[11:19] if stored.endswith(".000000") else stored[11:]
        return f"{stored[:10]}T{clock}+00:00"
    moment = datetime.fromisoformat(stored)  # as SQLAlchemy reads it, then as UTCDateTime does
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return time_text(moment) or ""


@functools.lru_cache(maxsize=1024)
def _image_hashes_text(stored: str) -> str:
    """The JSON list of image hashes as the CSV cell; cached, since a line runs few firmware sets."""
    return list_text(json.loads(stored))
