"""The operator's header and the Reports view show one figure for the same attempts: units per
hour once the attempts span five minutes, "—" on both before (the Reports view once said 908.5
where the header said "—")."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

pytest.importorskip("PySide6.QtCharts")

from station.domain.records import AttemptResult
from station.gui.main import StationWindow
from station.gui.reports_view import ReportsView

from .conftest import DEFAULT_TIMEOUT_MS

StationFactory = Callable[..., StationWindow]


def _passed_unit(station: StationWindow, serial: str, started: datetime) -> None:
    """A unit this station passed at ``started`` (half a minute on the fixture), as the store records it."""
    database = station.operations.database
    recipe_hash = database.registry.record_recipe("[product]\ncode = \"ACME-TOASTER\"\n", "ACME-TOASTER").sha256
    attempt = database.attempts.create_attempt(serial=serial, station=station.operations.name, operator="ann",
                                               recipe_hash=recipe_hash, product="ACME-TOASTER", at=started)
    database.attempts.finish_attempt(attempt.id, AttemptResult.PASSED, at=started + timedelta(seconds=30))


def _shown_rates(qtbot: Any, station: StationWindow, reports: ReportsView) -> tuple[str, str]:
    """(the operator header's units per hour, the Reports view's) for the shift's attempts."""
    line = station.line
    header = station.window.operator_view.rate_box.value
    expected = line.counters.figures()  # what the store holds now; the header shows it once computed
    line.refresh_counters()
    qtbot.waitUntil(lambda: line.figures() == expected, timeout=DEFAULT_TIMEOUT_MS)
    with qtbot.waitSignal(reports.figures_updated, timeout=DEFAULT_TIMEOUT_MS):
        reports.set_filter(line.counters.shift_filter())  # the attempts the header counts
    return header.text(), reports.figure_values["units_per_hour"].text()


def test_units_per_hour_reads_the_same_on_the_header_and_in_the_reports(
    station_factory: StationFactory, qtbot: Any
) -> None:
    station = station_factory()
    now = datetime.now(UTC)
    station.line.counters.started_at = now - timedelta(hours=2)  # a shift that began two hours ago
    reports = ReportsView.for_station(station.operations)
    qtbot.addWidget(reports)
    try:
        _passed_unit(station, "TST-900001", now - timedelta(minutes=61))
        _passed_unit(station, "TST-900002", now - timedelta(minutes=60))
        assert _shown_rates(qtbot, station, reports) == ("—", "—")  # a minute and a half: no rate yet

        _passed_unit(station, "TST-900003", now - timedelta(minutes=21))
        # 3 units from the first start to the last end, 40.5 minutes: 4.4 an hour.
        assert _shown_rates(qtbot, station, reports) == ("4", "4")
    finally:
        reports.shutdown()
