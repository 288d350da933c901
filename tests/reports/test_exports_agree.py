"""CSV, NDJSON and PDF exports of one database agree with each other, with the store and with the
figures worked out by hand (scenario.py): counts, yields, failure codes, not just files."""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path

import pytest

from station.app import main
from station.domain.records import AttemptFilter
from station.reports.export import CSV_COLUMNS
from station.reports.service import ExportFormat, ExportRequest, export_report
from station.reports.signing import verify_export
from station.security.station_key import StationKey
from station.store import Database

from .pdf_support import needs_poppler, pdf_page_count, pdf_text, render_pages
from .scenario import EXPECTED, GOLDEN_SERIAL, PLAN, TOKEN_PLAINTEXT


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as source:
        return list(csv.DictReader(source))


def _independent_yields(rows: list[dict[str, str]], golden: set[str]) -> dict[str, object]:
    """The definitions of station.reports.yield_stats, recomputed here from export rows only."""
    units: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        if row["serial"] not in golden:
            units.setdefault(row["serial"], []).append(row)
    production = {serial: [r for r in attempts if r["is_rework"] == "no"] for serial, attempts in units.items()}
    production = {serial: attempts for serial, attempts in production.items() if attempts}
    started = [a for attempts in production.values() for a in attempts
               if a["previous_attempt_id"] == "" and a["result"] != "IN_PROGRESS"]
    last = {serial: max(units[serial], key=lambda r: int(r["attempt_id"])) for serial in production}
    failures = [a for attempts in production.values() for a in attempts if a["result"] in ("FAILED",
                                                                                           "NEEDS_INSPECTION")]
    return {
        "units": len(production),
        "units_started": len(started),
        "first_pass_units": sum(1 for a in started if a["result"] == "PASSED"),
        "final_pass_units": sum(1 for r in last.values() if r["result"] == "PASSED"),
        "failures_by_code": sorted(Counter(a["failure_code"] for a in failures).items(), key=lambda i: (-i[1], i[0])),
    }


@needs_poppler
def test_csv_json_pdf_agree_with_the_store_and_each_other(
    scenario: Database, db_url: str, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "exports"
    out.mkdir()
    for export_format, name in (("csv", "all.csv"), ("json", "all.ndjson"), ("pdf", "all.pdf")):
        assert main(["report", "export", "--format", export_format, "--out", str(out / name), "--db", db_url]) == 0
    printed = capsys.readouterr().out
    assert printed.count("wrote 17 attempts") == 3 and "signed: all.pdf.manifest.json, all.pdf.sig" in printed

    store = list(scenario.attempts.iter_attempts())
    rows = _csv_rows(out / "all.csv")
    documents = [json.loads(line) for line in (out / "all.ndjson").read_text(encoding="utf-8").splitlines()]
    assert list(rows[0]) == list(CSV_COLUMNS)

    # Row for row the same attempts, in the same order, as the store holds.
    assert [int(r["attempt_id"]) for r in rows] == [d["attempt_id"] for d in documents] == [a.id for a in store]
    for row, document, attempt in zip(rows, documents, store, strict=True):
        assert row["serial"] == document["serial"] == attempt.serial
        assert row["result"] == document["result"] == attempt.result.value
        assert (row["failure_code"] or None) == document["failure_code"] == attempt.failure_code
        assert (row["certificate_fingerprint"] or None) == document["certificate_fingerprint"]
        assert int(row["step_count"]) == len(document["steps"]) == len(attempt.steps)
    assert Counter(r["result"] for r in rows) == EXPECTED["result_counts"]
    assert [r["serial"] for r in rows] == [planned.serial for planned in PLAN]

    # Yields recomputed from the CSV (and the JSON) equal the hand-worked figures...
    independent = _independent_yields(rows, {GOLDEN_SERIAL})
    as_rows = [{k: ("" if v is None else ("yes" if v is True else "no" if v is False else str(v)))
                for k, v in d.items()} for d in documents]
    assert _independent_yields(as_rows, {GOLDEN_SERIAL}) == independent
    for figure in ("units", "units_started", "first_pass_units", "final_pass_units"):
        assert independent[figure] == EXPECTED[figure], figure
    assert independent["failures_by_code"] == EXPECTED["failures_by_code"]

    # ...and the PDF says the same: totals, yields, failure codes, every serial.
    manifests = {name: json.loads((out / f"{name}.manifest.json").read_text()) for name in
                 ("all.csv", "all.ndjson", "all.pdf")}
    assert {m["row_count"] for m in manifests.values()} == {17}
    assert manifests["all.pdf"]["table_rows"] == 17
    pages = render_pages(out / "all.pdf", tmp_path / "pages")
    assert len(pages) == pdf_page_count(out / "all.pdf") >= 4
    text = pdf_text(out / "all.pdf")
    flat = re.sub(r"\s+", " ", text)
    assert "attempts 17 (FAILED 6, IN_PROGRESS 1, NEEDS_INSPECTION 1, PASSED 9)" in flat
    assert "first-pass yield 63.6 % (7 of 11)" in flat
    assert "final yield 66.7 % (8 of 12)" in flat
    assert "12 production units; 1 golden (reference) units with 2 attempts" in flat
    assert "attempts per unit 1.17 (14 production attempts)" in flat
    for code, count in EXPECTED["failures_by_code"]:
        assert re.search(rf"{code}\s+{count}\s", text), code
    for step, count in EXPECTED["failures_by_step"]:
        assert re.search(rf"\b{step}\s+{count}\s", text), step
    for planned in PLAN:
        assert planned.serial in text
    assert "End of the unit table: 17 attempts" in flat
    table_lines = [line for line in text.splitlines() if re.match(r"\s*\d+\s+(SN-|GLD-)", line)]
    assert len(table_lines) == 17
    assert sum(" FAILED" in line for line in table_lines) == 6
    assert sum("UNIT_LOCKED" in line for line in table_lines) == 1
    assert sum("PASSED *" in line for line in table_lines) == 1  # the golden unit's pass, marked
    for attempt in store:
        if attempt.certificate_fingerprint:
            assert attempt.certificate_fingerprint in text  # printed in full
    recipe = store[0].recipe_hash
    assert recipe in text and all(image in text for image in store[0].image_hashes)

    for name in manifests:
        outcome = verify_export(out / name)
        assert outcome.ok, outcome.findings
    # No export holds a token or a private key.
    for path in out.iterdir():
        content = path.read_bytes()
        assert TOKEN_PLAINTEXT.encode() not in content and b"PRIVATE KEY" not in content, path
    assert TOKEN_PLAINTEXT not in text


@needs_poppler
def test_filtered_pdf_and_local_times(scenario: Database, station_key: StationKey, tmp_path: Path) -> None:
    from datetime import timedelta, timezone

    berlin_winter = timezone(timedelta(hours=1), "CET")
    result = export_report(
        scenario, ExportRequest(AttemptFilter(work_order="WO-2"), ExportFormat.PDF, tmp_path / "wo2.pdf"),
        signer=station_key, station="line1-st2", zone=berlin_winter,
    )
    assert result.row_count == EXPECTED["wo2_attempts"] and result.table_rows == 3
    text = re.sub(r"\s+", " ", pdf_text(result.path))
    assert "work order WO-2" in text
    assert "2026-03-02 09:10:00 +01:00" in text  # SN-C1 started 08:10 UTC: shown in local time
    assert "SN-A1" not in text and "SN-C1" in text and "SN-C3" in text
    assert "first-pass yield 50.0 % (1 of 2)" in text  # SN-C3 still runs: in neither count yet
    assert "MAY_BE_LOCKED" in text and "line1-st2" in text


@needs_poppler
def test_large_pdf_caps_its_table_with_a_clear_note(scenario: Database, station_key: StationKey,
                                                   tmp_path: Path) -> None:
    result = export_report(scenario, ExportRequest(AttemptFilter(), ExportFormat.PDF, tmp_path / "capped.pdf",
                                                   table_limit=5),
                           signer=station_key, station="st")
    assert (result.row_count, result.table_rows) == (17, 5)
    text = re.sub(r"\s+", " ", pdf_text(result.path))
    assert "12 more rows in the CSV/JSON export: this report lists the first 5 of 17 attempts" in text
    assert "first-pass yield 63.6 % (7 of 11)" in text  # the figures still cover everything
    assert verify_export(result.path).ok


def test_yield_command_prints_the_figures(scenario: Database, db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "yield", "--db", db_url]) == 0
    out = capsys.readouterr().out
    assert re.search(r"first-pass yield\s+63\.64 %\s+\(7 of 11\)", out)
    assert re.search(r"final yield\s+66\.67 %\s+\(8 of 12\)", out)
    assert re.search(r"CONSOLE_TIMEOUT\s+2\s+40\.0 %", out)
    assert re.search(r"activate\s+11\s+2\.000\s+10\.000", out)
    assert main(["report", "yield", "--db", db_url, "--work-order", "WO-2", "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["attempts"], document["units"], document["final_pass_units"]) == (3, 3, 1)
    serials = Path(db_url.removeprefix("sqlite:///")).parent / "serials.txt"
    serials.write_text("# units to report\nSN-B1\nSN-B2\n", encoding="utf-8")
    assert main(["report", "yield", "--db", db_url, "--serials-file", str(serials), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert (document["units"], document["final_pass_units"], document["production_attempts"]) == (2, 1, 4)
    assert main(["report", "yield", "--db", db_url, "--recipe", "xyz"]) == 2
    assert "64 hexadecimal digits" in capsys.readouterr().err


def test_export_refuses_bad_options(scenario: Database, db_url: str, data_dir: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.csv"
    assert main(["report", "export", "--format", "csv", "--out", str(out), "--db", db_url,
                 "--pdf-rows", "3"]) == 2
    assert main(["report", "export", "--format", "pdf", "--out", str(out), "--db", db_url,
                 "--include-transcripts"]) == 2
    assert not out.exists() and not list(tmp_path.glob(".*partial"))
    assert "works with --format" in capsys.readouterr().err
