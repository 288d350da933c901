"""From the line to the auditor: simulated units provisioned with injected faults (real pyOCD, real
consoles, real store), then exported as CSV, JSON and PDF, each signed, each agreeing with the
store and with what the station told the operator."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from station.app import CompositionRoot, main
from station.app.demo import open_demo_line_station
from station.domain.identity import Serial
from station.domain.outcome import AttemptOutcome
from station.drivers.slots import hardware_slot
from station.flow.run import StationContext
from station.reports.signing import verify_export
from station.reports.summary import compute_yield
from station.sim.demo import prepare_demo
from station.store import open_database

from .pdf_support import needs_poppler, pdf_text, render_pages


@needs_poppler
def test_provisioned_units_with_faults_export_consistently(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = tmp_path / "demo"
    monkeypatch.setenv("STATION_SIM_DIR", str(root / "sim"))  # prepare_demo sets it; monkeypatch restores it
    monkeypatch.setenv("STATION_DATA_DIR", str(root / "data"))
    monkeypatch.setenv("STATION_NAME", "line-e2e")
    environment = prepare_demo(root)
    station = open_demo_line_station(CompositionRoot(), environment, environment.recipe_path, work_order="WO-E2E")
    try:
        recipe, vault = station.production.recipe, station.production.vault
        assert recipe is not None and vault is not None
        provisioner = station.production.provisioner()
        context = StationContext("line-e2e", "ann", "WO-E2E")
        units = environment.create_units(5)
        serials = [f"TST-{n:06d}" for n in range(1, 6)]
        # Faults injected the way a test engineer does it, through `station sim fault`.
        assert main(["sim", "fault", units[1].unit_id, "drop-writes", "0x11000", "0x12000"]) == 0
        assert main(["sim", "fault", units[2].unit_id, "locked"]) == 0
        assert main(["sim", "fault", units[3].unit_id, "transfer-fault", "0x20000"]) == 0
        outcomes: list[AttemptOutcome] = []
        with environment.console_server():
            for unit, serial in zip(units, serials, strict=True):
                slot = hardware_slot("e2e", unit.probe_id, environment.console_path(unit), recipe)
                outcomes.append(provisioner.provision(Serial(serial), slot, context))
            assert main(["sim", "fault", units[1].unit_id, "clear"]) == 0  # reseated: the retry passes
            slot = hardware_slot("e2e", units[1].probe_id, environment.console_path(units[1]), recipe)
            outcomes.append(provisioner.provision(Serial(serials[1]), slot, context))
        for unit in units:
            unit.close()
        station.database.units.set_golden(serials[4])  # the reference unit of the line
        tokens = [vault.open(sealed).secret() for sealed in
                  station.database.tokens.sealed_tokens(recipe.activation.token_pool)]
    finally:
        station.close()
    capsys.readouterr()

    # What the operator was told: unit 1 passed; 2 failed verification, then passed; 3 arrived
    # locked; 4's flash faulted; 5 (golden) passed.
    assert [outcome.passed for outcome in outcomes] == [True, False, False, False, True, True]
    assert outcomes[1].failure_code == "VERIFY_MISMATCH" and outcomes[2].failure_code == "UNIT_LOCKED"
    failure_codes = Counter(o.failure_code for o in outcomes[:4] if not o.passed)

    db_url = environment.paths.db_url
    out = tmp_path / "exports"
    out.mkdir()
    for export_format, name in (("csv", "e2e.csv"), ("json", "e2e.ndjson"), ("pdf", "e2e.pdf")):
        extra = ["--include-transcripts"] if export_format == "json" else []
        assert main(["report", "export", "--format", export_format, "--out", str(out / name), "--db", db_url,
                     "--work-order", "WO-E2E", *extra]) == 0
    capsys.readouterr()

    rows = (out / "e2e.csv").read_text(encoding="utf-8").splitlines()
    documents = [json.loads(line) for line in (out / "e2e.ndjson").read_text(encoding="utf-8").splitlines()]
    assert len(rows) - 1 == len(documents) == len(outcomes) == 6
    assert [d["attempt_id"] for d in documents] == [o.attempt_id for o in outcomes]
    assert Counter(d["failure_code"] for d in documents if d["result"] == "FAILED") == failure_codes
    assert all(d["console_transcript"] for d in documents if d["result"] == "PASSED")
    assert all(len(d["steps"]) >= 7 for d in documents if d["result"] == "PASSED")

    # The yield code over the store: 4 production units (the golden one left out).
    database = open_database(db_url)
    try:
        figures = compute_yield(database)
    finally:
        database.dispose()
    assert (figures.units, figures.first_pass_units, figures.final_pass_units) == (4, 1, 2)
    assert (figures.golden_units, figures.golden_attempts, figures.attempts) == (1, 1, 6)
    assert {entry.name: entry.count for entry in figures.failures_by_code} == dict(failure_codes)

    # The PDF shows the same, for a person.
    pages = render_pages(out / "e2e.pdf", tmp_path / "pages")
    assert len(pages) >= 4
    text = pdf_text(out / "e2e.pdf")
    flat = re.sub(r"\s+", " ", text)
    assert "first-pass yield 25.0 % (1 of 4)" in flat and "final yield 50.0 % (2 of 4)" in flat
    assert "4 production units; 1 golden (reference) units with 1 attempts" in flat
    assert all(serial in text for serial in serials)
    for code in failure_codes:
        assert code is not None, "a failed outcome names its failure code"
        assert code in text
    assert recipe.content_hash in text
    assert all(image.sha256 in text for image in recipe.images)
    assert "line-e2e" in text and "WO-E2E" in text

    # Signed, verifiable, and free of secrets.
    assert main(["report", "verify", str(out / "e2e.pdf")]) == 0
    for name in ("e2e.csv", "e2e.ndjson", "e2e.pdf"):
        assert verify_export(out / name).ok
    haystacks = {path.name: path.read_bytes() for path in out.iterdir()}
    haystacks["pdf text"] = text.encode()
    assert tokens
    for name, content in haystacks.items():
        assert b"PRIVATE KEY" not in content, name
        for token in tokens:
            assert token.encode() not in content, f"an activation token is in {name}"
