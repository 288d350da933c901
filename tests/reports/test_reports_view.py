"""The Reports view: the filter drives the figures and charts; exports run on a worker thread,
the signed file appears, and no thread is left running."""

from __future__ import annotations

import gc
import threading
from pathlib import Path

import pytest

pytest.importorskip("PySide6.QtCharts")

from PySide6.QtCharts import QBarSeries, QLineSeries, QValueAxis
from PySide6.QtCore import QThread, QUrl
from pytestqt.qtbot import QtBot

from station.domain.records import AttemptFilter
from station.gui.reports_view import ReportsView
from station.reports.service import ExportFormat
from station.reports.signing import verify_export
from station.security.station_key import StationKey
from station.store import Database

from .scenario import EXPECTED

TIMEOUT_MS = 30_000


class RecordingSigner:
    """The station key, noting which thread signs (it must not be the GUI's)."""

    def __init__(self, key: StationKey) -> None:
        self._key = key
        self.threads: list[int] = []

    @property
    def public_key_fingerprint(self) -> str:
        return self._key.public_key_fingerprint

    def public_key_pem(self) -> str:
        return self._key.public_key_pem()

    def sign(self, data: bytes) -> bytes:
        self.threads.append(threading.get_ident())
        return self._key.sign(data)


def running_qthreads() -> list[QThread]:
    gc.collect()
    found = []
    for thing in gc.get_objects():
        try:
            if isinstance(thing, QThread) and thing.isRunning() and thing is not QThread.currentThread():
                found.append(thing)
        except RuntimeError:
            continue
    return found


@pytest.fixture
def view(qtbot: QtBot, scenario: Database, station_key: StationKey, tmp_path: Path) -> ReportsView:
    signer = RecordingSigner(station_key)
    created = ReportsView(scenario, station_key=signer, station_name="line1-gui", exports_dir=tmp_path / "exports")
    created.signer = signer  # type: ignore[attr-defined]
    qtbot.addWidget(created)
    return created


def test_filter_updates_the_figures_and_charts(qtbot: QtBot, view: ReportsView) -> None:
    with qtbot.waitSignal(view.figures_updated, timeout=TIMEOUT_MS) as shown:
        view.show()
    figures = shown.args[0]
    assert figures.attempts == EXPECTED["attempts"] and figures.units == EXPECTED["units"]
    assert view.figure_values["first_pass_yield"].text() == "63.6 % (7/11)"  # SN-C3 still runs: not counted yet
    assert view.figure_values["final_yield"].text() == "66.7 % (8/12)"
    assert view.figure_values["failures"].text() == "5"
    assert view.station_combo.findText("st2") > 0 and view.operator_combo.findText("bob") > 0
    bars = view.pareto_chart.series()[0]
    assert isinstance(bars, QBarSeries), "the Pareto chart draws the failure counts as bars first"
    pareto_bars = bars.barSets()[0]
    assert [pareto_bars.at(i) for i in range(pareto_bars.count())] == [2.0, 1.0, 1.0, 1.0]
    cumulative = view.pareto_chart.series()[1]
    assert isinstance(cumulative, QLineSeries), "then the cumulative share as a line"
    assert cumulative.at(cumulative.count() - 1).y() == pytest.approx(100.0)
    categories = next(axis for axis in view.cycle_chart.axes() if hasattr(axis, "categories"))
    assert categories.categories()[:2] == ["Connect", "Program"]  # the steps as the operator's tiles name them

    with qtbot.waitSignal(view.figures_updated, timeout=TIMEOUT_MS) as narrowed:
        view.work_order_edit.setText("WO-2")  # typing: the figures follow after a short pause
    assert narrowed.args[0].attempts == EXPECTED["wo2_attempts"]
    assert view.figure_values["attempts"].text() == "3"
    assert view.current_filter() == AttemptFilter(work_order="WO-2")

    with qtbot.waitSignal(view.figures_updated, timeout=TIMEOUT_MS) as by_serial:
        view.set_filter(AttemptFilter(serials=("SN-B1", "SN-B2")))
    assert (by_serial.args[0].units, by_serial.args[0].final_pass_units) == (2, 1)
    qtbot.waitUntil(lambda: view.running_threads() == 0, timeout=TIMEOUT_MS)


def test_export_runs_on_a_worker_thread_and_the_file_appears(
    qtbot: QtBot, view: ReportsView, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with qtbot.waitSignal(view.figures_updated, timeout=TIMEOUT_MS):
        view.show()
    view.set_filter(AttemptFilter(work_order="WO-1"))
    target = tmp_path / "exports" / "wo1.pdf"
    target.parent.mkdir()
    with qtbot.waitSignal(view.export_finished, timeout=TIMEOUT_MS) as finished:
        view.start_export(ExportFormat.PDF, target)
        assert not view.export_buttons[ExportFormat.CSV].isEnabled() and view.cancel_button.isEnabled()
    result = finished.args[0]
    assert result.path == target and target.is_file() and result.row_count == 14
    assert verify_export(target).ok
    signer = view.signer  # type: ignore[attr-defined]
    assert signer.threads and threading.get_ident() not in signer.threads
    assert view.progress_bar.value() == view.progress_bar.maximum() == 1
    assert view.open_button.isEnabled() and "wo1.pdf" in view.export_label.text()

    opened: list[str] = []

    def open_url(url: QUrl) -> bool:
        opened.append(url.toLocalFile())
        return True

    monkeypatch.setattr("station.gui.reports_view.QDesktopServices.openUrl", open_url)
    assert view.open_last_export() and opened == [str(target)]

    # The save dialog path: the buttons ask where, then export there.
    chosen = tmp_path / "exports" / "chosen.csv"
    monkeypatch.setattr("station.gui.reports_view.QFileDialog.getSaveFileName",
                        lambda *args, **kwargs: (str(chosen), ""))
    qtbot.waitUntil(lambda: view.export_buttons[ExportFormat.CSV].isEnabled(), timeout=TIMEOUT_MS)
    with qtbot.waitSignal(view.export_finished, timeout=TIMEOUT_MS):
        view.export_buttons[ExportFormat.CSV].click()
    assert verify_export(chosen).ok and verify_export(chosen).rows_recounted == 14

    qtbot.waitUntil(lambda: view.running_threads() == 0, timeout=TIMEOUT_MS)
    view.close()
    assert running_qthreads() == []


def test_a_failed_export_is_reported_and_nothing_lingers(qtbot: QtBot, view: ReportsView, tmp_path: Path) -> None:
    with qtbot.waitSignal(view.export_failed, timeout=TIMEOUT_MS) as failed:
        view.start_export(ExportFormat.CSV, tmp_path / "missing-folder" / "x.csv")
    assert "does not exist" in failed.args[0] and "failed" in view.export_label.text()
    qtbot.waitUntil(lambda: view.export_buttons[ExportFormat.CSV].isEnabled(), timeout=TIMEOUT_MS)
    view.shutdown()
    assert running_qthreads() == []


def pareto_count_ticks(view: ReportsView) -> list[str]:
    """The labels of the Pareto chart's count axis, as Qt prints them with the axis's format."""
    counts = next(axis for axis in view.pareto_chart.axes()
                  if isinstance(axis, QValueAxis) and axis.labelFormat() == "%d")
    assert counts.tickType() == QValueAxis.TickType.TicksFixed
    low, high, count = counts.min(), counts.max(), counts.tickCount()
    values = [low + index * (high - low) / (count - 1) for index in range(count)]
    assert all(value == int(value) for value in values), f"ticks between whole counts: {values}"
    return [str(int(value)) for value in values]


@pytest.mark.parametrize(("serials", "largest"), [(("SN-B1",), 1), (("SN-B2",), 2), (None, 2)])
def test_the_pareto_count_axis_reads_distinct_whole_numbers(
    qtbot: QtBot, view: ReportsView, serials: tuple[str, ...] | None, largest: int
) -> None:
    with qtbot.waitSignal(view.figures_updated, timeout=TIMEOUT_MS):
        view.show()
    with qtbot.waitSignal(view.figures_updated, timeout=TIMEOUT_MS) as shown:
        view.set_filter(AttemptFilter(serials=serials))
    assert max(entry.count for entry in shown.args[0].failures_by_code) == largest
    labels = pareto_count_ticks(view)
    assert len(set(labels)) == len(labels), f"the count axis reads {labels}"
    assert labels[0] == "0" and int(labels[-1]) >= largest
    qtbot.waitUntil(lambda: view.running_threads() == 0, timeout=TIMEOUT_MS)
