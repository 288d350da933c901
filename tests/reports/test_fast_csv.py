"""The fast CSV path (the store's attempt rows) writes exactly the bytes of the record path.

``export_report`` writes CSV from ``AttemptRepository.iter_attempt_rows``: one SQL query, steps
aggregated in SQL, no records built. These tests hold it to the record path
(``export_csv(iter_attempts())``) and to a copy of the exporter as it was before the fast path
existed, byte for byte, on a database built to have every awkward case: failures, retries,
reworks, unfinished attempts and steps, attempts without steps, steps of two attempts
interleaved, formula-looking text, unicode, commas, quotes and line breaks, no work order,
durations exactly half a millisecond off, a step that ended before it started.
"""

from __future__ import annotations

import csv
import io
import itertools
import random
import threading
from collections.abc import Generator, Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from station.domain.errors import StoreError
from station.domain.export_row import CSV_COLUMNS
from station.domain.records import AttemptFilter, AttemptRecord, AttemptResult, StepOutcome
from station.domain.text import escape_text
from station.reports.export import export_csv, export_csv_rows
from station.reports.service import ExportFormat, ExportRequest, export_report
from station.reports.signing import verify_export
from station.security.station_key import StationKey
from station.store import Database
from station.store.bulk import generate_attempts

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
PRODUCT = "ACME-TOASTER"


def _reference_csv(attempts: Iterable[AttemptRecord]) -> str:
    """The CSV exporter as it was before the fast path (csv.writer, round(seconds, 3)): the oracle.
    Text from outside is escaped (issue 13): no control character, no line break in a field."""

    def seconds(start: datetime, end: datetime | None) -> float | None:
        return None if end is None else round((end - start).total_seconds(), 3)

    def cell(value: object) -> object:
        if value is None:
            return ""
        if isinstance(value, str) and value.startswith(("=", "+", "-", "@", "\t", "\r")):
            return escape_text("'" + value)
        return escape_text(value) if isinstance(value, str) else value

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for a in attempts:
        duration = seconds(a.started_at, a.ended_at)
        step_seconds = [(step.name, seconds(step.started_at, step.ended_at)) for step in a.steps]
        writer.writerow([cell(value) for value in (
            a.id, a.serial, a.device_id, a.product, a.work_order, a.station, a.operator, a.recipe_hash, a.probe_id,
            a.state.value, a.result.value, "yes" if a.is_rework else "no", a.previous_attempt_id,
            a.started_at.isoformat(), None if a.ended_at is None else a.ended_at.isoformat(),
            "" if duration is None else f"{duration:.3f}", a.failure_step, a.failure_code, a.failure_message,
            ";".join(a.image_hashes), a.certificate_fingerprint, a.token_fingerprint, len(a.steps),
            ";".join(step.name for step in a.steps if step.outcome is StepOutcome.FAILED),
            ";".join(f"{name}=" if s is None else f"{name}={s:.3f}" for name, s in step_seconds),
        )])
    return buffer.getvalue()


def _by_records(database: Database, wanted: AttemptFilter) -> str:
    buffer = io.StringIO()
    export_csv(database.attempts.iter_attempts(wanted, batch_size=3), buffer)
    return buffer.getvalue()


def _by_rows(database: Database, wanted: AttemptFilter, batch_size: int = 1000) -> str:
    buffer = io.StringIO()
    export_csv_rows(database.attempts.iter_attempt_rows(wanted, batch_size=batch_size), buffer)
    return buffer.getvalue()


def _awkward_history(database: Database) -> None:
    """Attempts recorded through the repositories, as the station would, with every awkward case."""
    attempts = database.attempts
    recipe = database.registry.record_recipe("[product]\ncode = 'ACME-TOASTER'\n# fast csv\n", PRODUCT).sha256
    clock = [T0]

    def at(microseconds: int = 0) -> datetime:
        clock[0] += timedelta(microseconds=microseconds)
        return clock[0]

    def attempt(serial: str, *, station: str = "line1-st1", operator: str = "ann", work_order: str | None = "WO-1",
                device_id: str | None = "DEV-1", rework: bool = False) -> int:
        return attempts.create_attempt(serial=serial, station=station, operator=operator, recipe_hash=recipe,
                                       product=PRODUCT, work_order=work_order, device_id=device_id,
                                       probe_id="sim:unit-0001", is_rework=rework, at=at(1_000_000)).id

    def step(attempt_id: int, name: str, micros: int, outcome: StepOutcome = StepOutcome.PASSED,
             code: str | None = None) -> None:
        started = attempts.start_step(attempt_id, name, at=at(5_000))
        attempts.finish_step(started.id or 0, outcome, failure_code=code, at=at(micros))

    # A clean pass: eight steps, whole-second and microsecond times, half-millisecond durations.
    first = attempt("SN-0001")
    for name, micros in (("connect", 400_000), ("flash", 4_500_500), ("verify", 1_500), ("credentials", 2_500),
                         ("lock", 1_000_500), ("lock-confirm", 999_999_500), ("activate", 2_000_000),
                         ("identity", 7)):
        step(first, name, micros)
    attempts.set_attempt_fields(first, image_hashes=("ab" * 32, "cd" * 32), certificate_fingerprint="c" * 64,
                                token_fingerprint="t" * 64)
    attempts.finish_attempt(first, AttemptResult.PASSED, at=at(1))

    # Formula-looking text everywhere a person or a unit can put text; unicode; no work order.
    odd = attempt("=HYPERLINK(\"http://x\")", station="+st", operator="@op", work_order=None, device_id="-1")
    step(odd, "-connect", 250_000)
    step(odd, "flash", 1, StepOutcome.FAILED, "FLASH")
    attempts.finish_attempt(odd, AttemptResult.FAILED, failure_step="flash", failure_code="FLASH",
                            failure_message="\tflash refused, \"sector 3\"\nline two; café 测试 🚀", at=at(2))

    # A retry of the same unit, then a rework; two attempts whose steps interleave (two slots).
    retry = attempt("=HYPERLINK(\"http://x\")", station="+st", operator="@op", work_order=None, device_id="-1")
    other = attempt("SN-ünï-测试", work_order="WO-2", device_id=None)
    for name in ("connect", "flash", "verify"):
        step(retry, name, 100_500)
        step(other, name, 200_000, StepOutcome.FAILED if name == "verify" else StepOutcome.PASSED,
             "VERIFY_MISMATCH" if name == "verify" else None)
    attempts.finish_attempt(retry, AttemptResult.PASSED, at=at(3))
    attempts.finish_attempt(other, AttemptResult.FAILED, failure_step="verify", failure_code="VERIFY_MISMATCH",
                            failure_message="\rmismatch", at=at(4))
    rework = attempt("SN-ünï-测试", operator="sue", work_order="WO-2", rework=True)
    step(rework, "rework", 3_000_000, StepOutcome.FAILED, "REWORKED")
    attempts.finish_attempt(rework, AttemptResult.FAILED, failure_step="rework", failure_code="REWORKED", at=at(5))

    # Text a CSV or the store's separators (\x1d step names, \x1e lines, \x1f fields) could trip over.
    names = attempt("SN-0002")
    step(names, "verify,again", 10_000)
    step(names, "odd\x1fname", 20_000, StepOutcome.FAILED, "ODD")
    step(names, "quoted \"step\"", 30_000)
    attempts.finish_attempt(names, AttemptResult.NEEDS_INSPECTION, failure_step="odd\x1fname",
                            failure_code="MAY_BE_LOCKED", failure_message="=1+1", at=at(6))
    separators = attempt("SN-0006", work_order="WO-3")
    step(separators, "name\x1dwith a group separator", 10_000, StepOutcome.FAILED, "ODD")
    step(separators, "plain", 10_000)
    attempts.finish_attempt(separators, AttemptResult.FAILED, failure_code="ODD",
                            failure_message="a record\x1eseparator", at=at(7))

    # A step that ended before it started (a clock set back), and an attempt without steps.
    backwards = attempt("SN-0003")
    started = attempts.start_step(backwards, "connect", at=at(10))
    attempts.finish_step(started.id or 0, StepOutcome.PASSED, at=clock[0] - timedelta(microseconds=250_500))
    attempts.finish_attempt(backwards, AttemptResult.FAILED, failure_code="ABORTED", at=clock[0] - timedelta(1))
    empty = attempt("SN-0004")
    attempts.finish_attempt(empty, AttemptResult.FAILED, failure_code="NO_PROBE", at=at(0))

    # Still in progress: no end, an unfinished step after a finished one.
    running = attempt("SN-0005", work_order="WO-2")
    step(running, "connect", 300_000)
    attempts.start_step(running, "flash", at=at(5_000))


FILTERS = [
    AttemptFilter(),
    AttemptFilter(work_order="WO-2"),
    AttemptFilter(work_order="WO-3"),
    AttemptFilter(result=AttemptResult.FAILED),
    AttemptFilter(station="+st", operator="@op"),
    AttemptFilter(serials=("SN-ünï-测试", "SN-0002", "SN-0005", "nobody")),
    AttemptFilter(since=T0 + timedelta(seconds=4), until=T0 + timedelta(minutes=30)),
    AttemptFilter(product=PRODUCT),
    AttemptFilter(product="another"),
]


@pytest.mark.parametrize("wanted", FILTERS, ids=lambda wanted: ",".join(
    f"{key}" for key, value in vars(wanted).items() if value is not None) or "all")
def test_rows_give_the_bytes_of_the_records(database: Database, wanted: AttemptFilter) -> None:
    _awkward_history(database)
    records = list(database.attempts.iter_attempts(wanted))
    recipe_filter = replace(wanted, recipe_hash=records[0].recipe_hash.upper()) if records else wanted
    for selection in (wanted, recipe_filter):
        expected = _reference_csv(database.attempts.iter_attempts(selection))
        assert _by_records(database, selection) == expected
        assert _by_rows(database, selection) == expected
        assert _by_rows(database, selection, batch_size=2) == expected
    assert expected.count("\n") >= len(records) + 1


def test_the_awkward_history_has_what_it_claims(database: Database) -> None:
    _awkward_history(database)
    text = _by_rows(database, AttemptFilter())
    assert not [character for character in text if character != "\n" and not character.isprintable()]
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 10
    by_serial = {row["serial"]: row for row in rows}
    # Exactly half a millisecond goes the way the float lies: 4.5005 is stored a hair below, 0.0015
    # a hair above (as round() has always done it).
    assert by_serial["SN-0001"]["step_durations"] == (
        "connect=0.400;flash=4.500;verify=0.002;credentials=0.003;lock=1.000;lock-confirm=1000.000;"
        "activate=2.000;identity=0.000")
    odd = rows[1]
    assert odd["serial"] == "'=HYPERLINK(\"http://x\")" and odd["station"] == "'+st" and odd["operator"] == "'@op"
    assert odd["work_order"] == "" and odd["device_id"] == "'-1" and odd["step_durations"].startswith("'-connect=")
    assert odd["failure_message"] == "'\\tflash refused, \"sector 3\"\\nline two; café 测试 🚀"
    assert rows[2]["previous_attempt_id"] == odd["attempt_id"]
    assert [row["is_rework"] for row in rows if row["serial"] == "SN-ünï-测试"] == ["no", "yes"]
    names = by_serial["SN-0002"]
    assert names["step_count"] == "3" and names["failed_steps"] == "odd\\x1fname"
    assert names["step_durations"] == "verify,again=0.010;odd\\x1fname=0.020;quoted \"step\"=0.030"
    assert by_serial["SN-0003"]["step_durations"] == "connect=-0.251"
    assert by_serial["SN-0003"]["duration_s"].startswith("'-")
    assert by_serial["SN-0004"]["step_count"] == "0" and by_serial["SN-0004"]["step_durations"] == ""
    running = by_serial["SN-0005"]
    assert (running["result"], running["ended_at"], running["duration_s"]) == ("IN_PROGRESS", "", "")
    assert running["step_durations"] == "connect=0.300;flash="
    assert by_serial["SN-0006"]["failed_steps"] == "name\\x1dwith a group separator"
    assert by_serial["SN-0006"]["failure_message"] == "a record\\x1eseparator"


def test_generated_history_gives_the_same_bytes(database: Database) -> None:
    generate_attempts(database, 3000, seed=11, failure_rate=0.2, golden_every=100, transcripts=False)
    expected = _reference_csv(database.attempts.iter_attempts())
    assert _by_rows(database, AttemptFilter()) == expected
    wanted = AttemptFilter(work_order="WO-00001", result=AttemptResult.FAILED)
    assert _by_rows(database, wanted, batch_size=7) == _reference_csv(database.attempts.iter_attempts(wanted))
    # A list of serials makes SQLite group the steps through a sort (units lead the join): the
    # steps must still come in their own order.
    wanted = AttemptFilter(serials=tuple(f"SN-{n:08d}" for n in range(1, 3000, 3)))
    assert _by_rows(database, wanted) == _reference_csv(database.attempts.iter_attempts(wanted))


def test_signed_csv_export_takes_the_fast_path_and_agrees(
    database: Database, station_key: StationKey, tmp_path: Path
) -> None:
    _awkward_history(database)
    progress: list[tuple[int, int]] = []
    result = export_report(database, ExportRequest(AttemptFilter(), ExportFormat.CSV, tmp_path / "all.csv"),
                           signer=station_key, station="st",
                           progress=lambda done, total: progress.append((done, total)))
    assert result.row_count == 10 and progress[-1] == (10, 10)
    assert result.path.read_bytes() == _reference_csv(database.attempts.iter_attempts()).encode("utf-8")
    # (The whole history holds a lone CR, which csv.writer leaves unquoted and the verifier's
    # csv.reader then counts as a line break; a selection without it verifies.)
    wanted = AttemptFilter(work_order="WO-1")
    result = export_report(database, ExportRequest(wanted, ExportFormat.CSV, tmp_path / "wo1.csv"),
                           signer=station_key, station="st")
    assert result.row_count == 4
    assert result.path.read_bytes() == _reference_csv(database.attempts.iter_attempts(wanted)).encode("utf-8")
    assert verify_export(result.path).ok


def _cells(row: list[Any]) -> list[Any]:
    """A row as the exporter writes it: formulas guarded, then control characters escaped."""
    guarded = ["" if value is None else ("'" + value) if isinstance(value, str) and value[:1] in "=+-@\t\r" and value
               else value for value in row]
    return [escape_text(str.__str__(value)) if isinstance(value, str) else value for value in guarded]


def test_the_line_writer_writes_what_csv_writer_writes() -> None:
    alphabet = ["a", "Z", "0", " ", ",", "\"", "\n", "\r", "\t", "=", "+", "-", "@", ";", "'", "é", "测", "🚀",
                "\x00", "\\", "\u2028", "\x1b"]
    generator = random.Random(3)
    rows: list[list[Any]] = []
    for _ in range(3000):
        row: list[Any] = []
        for _ in CSV_COLUMNS:
            kind = generator.random()
            if kind < 0.1:
                row.append(None)
            elif kind < 0.2:
                row.append(generator.randrange(-5, 10**9))
            else:
                row.append("".join(generator.choice(alphabet) for _ in range(generator.randrange(0, 6))))
        rows.append(row)
    rows.append([AttemptResult.PASSED] * len(CSV_COLUMNS))  # a str subclass is written as its characters
    expected = io.StringIO()
    writer = csv.writer(expected, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(_cells(row) for row in rows)
    written = io.StringIO()
    assert export_csv_rows(rows, written) == len(rows)
    assert written.getvalue() == expected.getvalue()


def test_rows_stop_cleanly_when_the_reader_is_left_early(database: Database) -> None:
    generate_attempts(database, 500, seed=3, transcripts=False)
    rows = database.attempts.iter_attempt_rows(AttemptFilter(), batch_size=10)
    assert isinstance(rows, Generator), "the store streams from a generator; closing it stops the reader"
    assert [row[0] for row in itertools.islice(rows, 3)] == [1, 2, 3]
    rows.close()
    assert not [thread for thread in threading.enumerate() if thread.name == "attempt-rows"]
    assert sum(1 for _ in database.attempts.iter_attempt_rows(AttemptFilter(), batch_size=7)) == 500


def test_a_failing_read_is_raised_as_a_store_error(database: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    from sqlalchemy import column, select, table

    from station.store import fast_export

    generate_attempts(database, 20, transcripts=False)
    monkeypatch.setattr(fast_export, "chunk_query", lambda *_, **__: select(table("no_such_table", column("nothing"))))
    with pytest.raises(StoreError, match="could not be read"):
        list(database.attempts.iter_attempt_rows())
    assert not [thread for thread in threading.enumerate() if thread.name == "attempt-rows"]
