"""Exports stream from the store: many attempts, correct rows, bounded memory, CLI filters."""

from __future__ import annotations

import csv
import io
import itertools
import json
import tracemalloc
from collections.abc import Generator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from station.app import main
from station.domain.records import AttemptFilter, AttemptRecord, AttemptResult, JournalState, StepOutcome, StepRecord
from station.reports.export import CSV_COLUMNS, export_csv, export_json
from station.security.station_key import load_or_create_station_key
from station.store import Database
from station.store.models import Attempt, Operator, Station, Step, Unit, WorkOrder

T0 = datetime(2026, 3, 1, 0, 0, tzinfo=UTC)
STEP_NAMES = ("connect", "flash", "verify")


def bulk_attempts(database: Database, recipe_hash: str, count: int) -> None:
    """Insert ``count`` finished attempts with three steps each, fast (one transaction)."""
    with database.engine.begin() as connection:
        connection.execute(insert(Station).values(id=1, name="st1", description="", created_at=T0))
        connection.execute(insert(Operator).values(id=1, name="ann", role="operator", created_at=T0))
        connection.execute(insert(WorkOrder), [{"id": n + 1, "code": f"WO-{n}", "created_at": T0} for n in range(2)])
        station_id, operator_id, orders = 1, 1, [1, 2]
        connection.execute(insert(Unit), [
            {"id": n + 1, "serial": f"SN-{n:06d}", "device_id": f"DEV-{n:06d}", "first_seen_at": T0,
             "is_golden": False, "is_development": False} for n in range(count)
        ])
        attempts = []
        steps = []
        for n in range(count):
            started = T0 + timedelta(minutes=n)
            failed = n % 10 == 0
            attempts.append({
                "id": n + 1, "unit_id": n + 1, "station_id": station_id, "operator_id": operator_id,
                "work_order_id": orders[n % 2], "recipe_hash": recipe_hash, "product": "ACME-TOASTER",
                "device_id": f"DEV-{n:06d}", "probe_id": "sim:unit-0001",
                "state": JournalState.FAILED.value if failed else JournalState.PASSED.value,
                "result": AttemptResult.FAILED.value if failed else AttemptResult.PASSED.value,
                "failure_step": "verify" if failed else None, "failure_code": "VERIFY" if failed else None,
                "failure_message": "=HYPERLINK(\"x\")" if failed else None,
                "started_at": started, "ended_at": started + timedelta(seconds=30), "previous_attempt_id": None,
                "is_rework": False, "image_hashes": json.dumps(["ab" * 32]),
                "certificate_fingerprint": f"{n:064x}", "token_fingerprint": f"{n + 1:064x}",
                "console_transcript": "> activate ***\n< ok\n",
            })
            for index, name in enumerate(STEP_NAMES):
                outcome = StepOutcome.FAILED if failed and name == "verify" else StepOutcome.PASSED
                steps.append({"attempt_id": n + 1, "name": name, "started_at": started + timedelta(seconds=10 * index),
                              "ended_at": started + timedelta(seconds=10 * index + 1.5), "outcome": outcome.value,
                              "detail": "", "failure_code": "VERIFY" if outcome is StepOutcome.FAILED else None})
        connection.execute(insert(Attempt), attempts)
        connection.execute(insert(Step), steps)


@pytest.mark.parametrize("count", [20_000])
def test_streaming_exports_of_many_attempts(
    database: Database, recipe_hash: str, count: int, tmp_path: Path
) -> None:
    bulk_attempts(database, recipe_hash, count)

    # Streaming: reading the first 2000 attempts must not fetch all 20k (with steps, ~50 MB).
    tracemalloc.start()
    stream = database.attempts.iter_attempts(batch_size=500)
    assert isinstance(stream, Generator), "the store streams from a generator; closing it ends the read"
    assert sum(1 for _ in itertools.islice(stream, 2000)) == 2000
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    stream.close()
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB: the query is not streamed"

    csv_path = tmp_path / "all.csv"
    with csv_path.open("w", encoding="utf-8", newline="") as out:
        written = export_csv(database.attempts.iter_attempts(batch_size=500), out)
    assert written == count

    with csv_path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == count
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [int(row["attempt_id"]) for row in rows] == list(range(1, count + 1))
    first, second = rows[0], rows[1]
    assert first["serial"] == "SN-000000" and first["result"] == "FAILED" and first["failure_code"] == "VERIFY"
    assert first["failure_message"] == "'=HYPERLINK(\"x\")"  # no formula reaches a spreadsheet
    assert first["failed_steps"] == "verify" and first["step_count"] == "3"
    assert second["step_durations"] == "connect=1.500;flash=1.500;verify=1.500"
    assert second["duration_s"] == "30.000" and second["started_at"] == "2026-03-01T00:01:00+00:00"
    assert second["work_order"] == "WO-1" and second["token_fingerprint"] == f"{2:064x}"
    assert second["image_hashes"] == "ab" * 32
    assert sum(row["result"] == "PASSED" for row in rows) == count - count // 10

    json_path = tmp_path / "all.ndjson"
    with json_path.open("w", encoding="utf-8") as out:
        assert export_json(database.attempts.iter_attempts(), out) == count
    lines = json_path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == count
    documents = [json.loads(line) for line in lines]
    assert [d["attempt_id"] for d in documents] == list(range(1, count + 1))
    assert all([s["name"] for s in d["steps"]] == list(STEP_NAMES) for d in documents)
    assert documents[0]["steps"][2] == {
        "name": "verify", "outcome": "FAILED", "started_at": "2026-03-01T00:00:20+00:00",
        "ended_at": "2026-03-01T00:00:21.500000+00:00", "duration_s": 1.5, "detail": "", "failure_code": "VERIFY"}
    assert "console_transcript" not in documents[0]

    # Filters reach the query: the second work order, failures only.
    failures = list(database.attempts.iter_attempts(AttemptFilter(work_order="WO-0", result=AttemptResult.FAILED)))
    assert len(failures) == count // 10 and all(a.work_order == "WO-0" for a in failures)


def test_cli_export_with_filters(
    database: Database, db_url: str, recipe_hash: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bulk_attempts(database, recipe_hash, 3000)  # one attempt a minute from T0: about two days
    monkeypatch.setenv("STATION_DATA_DIR", str(tmp_path / "data"))  # the station's, with its key (exports make none)
    load_or_create_station_key(tmp_path / "data" / "station-key.pem")
    out = tmp_path / "exports" / "wo1.csv"
    out.parent.mkdir()
    assert main(["report", "export", "--format", "csv", "--out", str(out), "--db", db_url,
                 "--work-order", "WO-1", "--since", "2026-03-01", "--until", "2026-03-01", "--result", "PASSED"]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    # 1440 attempts on March 1st, half of them in WO-1, none of which fail (failures are n % 10 == 0, even n).
    assert len(rows) == 720 and {r["work_order"] for r in rows} == {"WO-1"}
    assert f"wrote 720 attempts to {out}" in capsys.readouterr().out
    assert not list(out.parent.glob(".*partial"))

    ndjson = tmp_path / "exports" / "day2.ndjson"
    assert main(["report", "export", "--format", "json", "--out", str(ndjson), "--db", db_url,
                 "--since", "2026-03-02T00:00:00+00:00", "--until", "2026-03-02T01:00", "--include-transcripts"]) == 0
    documents = [json.loads(line) for line in ndjson.read_text(encoding="utf-8").splitlines()]
    assert len(documents) == 60 and documents[0]["console_transcript"] == "> activate ***\n< ok\n"

    assert main(["report", "export", "--format", "csv", "--out", str(tmp_path / "nowhere" / "x.csv"),
                 "--db", db_url]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["report", "export", "--format", "csv", "--out", str(out), "--since", "yesterday"])


def test_export_of_an_unfinished_attempt() -> None:
    started = T0
    attempt = AttemptRecord(
        id=7, serial="+SN", station="st", operator="@op", work_order=None, recipe_hash="r" * 64, product="P",
        state=JournalState.LOCK_PENDING, result=AttemptResult.IN_PROGRESS, started_at=started,
        steps=(StepRecord(attempt_id=7, name="lock", started_at=started, outcome=StepOutcome.RUNNING),),
    )
    buffer = io.StringIO()
    assert export_csv([attempt], buffer) == 1
    row = next(csv.DictReader(io.StringIO(buffer.getvalue())))
    assert row["ended_at"] == "" and row["duration_s"] == "" and row["step_durations"] == "lock="
    assert row["serial"] == "'+SN" and row["operator"] == "'@op" and row["work_order"] == ""
    buffer = io.StringIO()
    export_json([attempt], buffer)
    document = json.loads(buffer.getvalue())
    assert document["serial"] == "+SN" and document["ended_at"] is None and document["steps"][0]["duration_s"] is None
