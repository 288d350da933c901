"""Reports stream: generated history (station.store.bulk) gives the figures it was generated with,
and exporting or summarising more attempts does not take more memory."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest

from station.domain.records import AttemptFilter
from station.reports.service import ExportFormat, ExportRequest, export_report
from station.reports.signing import verify_export
from station.reports.summary import compute_yield, summarize
from station.security.station_key import StationKey
from station.store import Database
from station.store.bulk import generate_attempts


def test_generated_history_gives_the_generated_figures(database: Database) -> None:
    generated = generate_attempts(database, 3000, seed=5, failure_rate=0.1, golden_every=400)
    figures = compute_yield(database)
    assert figures.attempts == generated.attempts == database.attempts.count_attempts() == 3000
    assert figures.units == generated.units - generated.golden_units
    assert figures.golden_units == generated.golden_units > 0
    assert figures.golden_attempts == generated.golden_attempts
    assert figures.first_pass_units == generated.first_pass_units
    assert figures.final_pass_units == generated.final_pass_units
    assert {entry.name: entry.count for entry in figures.failures_by_code} == dict(generated.failures_by_code)
    assert {entry.name: entry.count for entry in figures.failures_by_step} == dict(generated.failures_by_step)
    assert [timing.step for timing in figures.step_times][:2] == ["connect", "flash"]
    flash = next(timing for timing in figures.step_times if timing.step == "flash")
    assert 4.0 < flash.median_s < 5.0 < flash.p95_s < 7.0
    history = database.attempts.history(generated.serials[0])
    assert history and history[0].previous_attempt_id is None


def _peak_bytes(action: object) -> int:
    tracemalloc.start()
    try:
        action()  # type: ignore[operator]
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_exports_and_figures_take_bounded_memory(database: Database, station_key: StationKey, tmp_path: Path) -> None:
    generate_attempts(database, 5000, seed=2)
    half = AttemptFilter(serials=tuple(f"SN-{n:08d}" for n in range(1, 2360)))
    assert 2000 < database.attempts.count_attempts(half) < 3000

    def export(wanted: AttemptFilter, name: str) -> None:
        export_report(database, ExportRequest(wanted, ExportFormat.CSV, tmp_path / name), signer=station_key,
                      station="scale")

    peak_half = _peak_bytes(lambda: export(half, "half.csv"))
    peak_all = _peak_bytes(lambda: export(AttemptFilter(), "all.csv"))
    peak_summary = _peak_bytes(lambda: summarize(database, AttemptFilter()))
    assert verify_export(tmp_path / "all.csv").ok and verify_export(tmp_path / "half.csv").ok
    # Twice the rows, the same memory: a few MB (the store reads 1000 attempts a batch).
    print(f"peaks: half {peak_half / 1e6:.1f} MB, all {peak_all / 1e6:.1f} MB, summary {peak_summary / 1e6:.1f} MB")
    assert peak_all < 12 * 1024 * 1024, f"CSV export peak {peak_all / 1e6:.1f} MB"
    assert peak_all < 1.25 * peak_half + 1024 * 1024
    assert peak_summary < 16 * 1024 * 1024, f"summary peak {peak_summary / 1e6:.1f} MB"


def test_bulk_generation_wants_an_empty_sqlite_journal(database: Database) -> None:
    from station.domain.errors import StoreError

    generate_attempts(database, 10)
    with pytest.raises(StoreError, match="without attempts"):
        generate_attempts(database, 10)
