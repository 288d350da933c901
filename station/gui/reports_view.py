"""The Reports view: filter, live yield figures, failure Pareto and cycle-time charts, signed exports.

For engineers and supervisors. A self-contained widget; the main window embeds it::

    view = ReportsView.for_station(station, parent)          # station.operations.Station
    view = ReportsView(database, parent, station_key=key)    # or the pieces directly

Nothing slow runs on the GUI thread: each computation of the figures and each export runs on
its own QThread (a worker QObject moved to it, typed signals back), and the thread ends with
its task. A new filter cancels the figures still being computed for the old one; an export can
be cancelled too. :meth:`shutdown` (called on close and when the application quits) stops and
joins whatever still runs. The figures, charts and exports all come from ``station.reports``:
the same code and the same definitions as ``station report``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from PySide6.QtCharts import QBarCategoryAxis, QBarSeries, QBarSet, QChart, QChartView, QLineSeries, QValueAxis
from PySide6.QtCore import QDateTime, QMargins, QObject, Qt, QThread, QTimer, QUrl, Signal, Slot
from PySide6.QtGui import QCloseEvent, QColor, QDesktopServices, QPainter, QPen, QShowEvent
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QDateTimeEdit,
    QFileDialog,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from station.domain.errors import StationError
from station.domain.records import AttemptFilter, AttemptResult
from station.gui.i18n import current_language
from station.gui.wording import step_title, units_per_hour_text
from station.operations.station import Station
from station.reports.axes import HEADROOM, nice_axis
from station.reports.errors import ExportCancelledError
from station.reports.service import (
    ExportFormat,
    ExportRequest,
    ExportResult,
    default_export_name,
    export_report,
)
from station.reports.signing import ExportSigner
from station.reports.summary import summarize
from station.reports.yield_stats import ParetoEntry, StepTiming, YieldReport
from station.store import Database

LOG = logging.getLogger(__name__)
REFRESH_DELAY_MS = 400  # typing in a filter field waits this long before recomputing
THREAD_STOP_TIMEOUT_MS = 30_000
MAX_CHART_CATEGORIES = 12
BAR_COLOUR = QColor("#3d6fb6")
P95_COLOUR = QColor("#e0913a")
LINE_COLOUR = QColor("#c0392b")

SignerSource = ExportSigner | Callable[[], ExportSigner]
Task = Callable[[Callable[[int, int], None], Callable[[], bool]], object]


# ---------------------------------------------------------------------------------------------
# Workers


class _TaskWorker(QObject):
    """Runs one task on its thread; reports progress, the outcome, then ``done``."""

    progressed = Signal(int, int)  # done, total
    failed = Signal(str)  # what may be shown
    cancelled = Signal()
    done = Signal()

    def __init__(self, task: Task) -> None:
        super().__init__()
        self._task = task
        self._stop = threading.Event()

    def stop(self) -> None:
        """Ask the task to stop at its next check (safe from any thread)."""
        self._stop.set()

    @Slot()
    def run(self) -> None:
        try:
            result = self._task(self.progressed.emit, self._stop.is_set)
        except ExportCancelledError:
            self.cancelled.emit()
        except StationError as error:
            self.failed.emit(f"[{error.code}] {error}")
        except Exception as error:  # shown by type only: its text may hold anything
            LOG.exception("reports: task failed")
            self.failed.emit(type(error).__name__)
        else:
            if self._stop.is_set():
                self.cancelled.emit()
            else:
                self._succeed(result)
        finally:
            self.done.emit()

    def _succeed(self, result: object) -> None:
        raise NotImplementedError


class _FiguresWorker(_TaskWorker):
    computed = Signal(int, YieldReport)  # request number, figures

    def __init__(self, request: int, task: Task) -> None:
        super().__init__(task)
        self.request = request

    def _succeed(self, result: object) -> None:
        assert isinstance(result, YieldReport)
        self.computed.emit(self.request, result)


class _ExportWorker(_TaskWorker):
    exported = Signal(ExportResult)

    def _succeed(self, result: object) -> None:
        assert isinstance(result, ExportResult)
        self.exported.emit(result)


class _Running:
    """A worker and its thread, from start until the thread has finished."""

    def __init__(self, worker: _TaskWorker, worker_thread: QThread) -> None:
        self.worker = worker
        self.worker_thread = worker_thread


# ---------------------------------------------------------------------------------------------
# The view


class ReportsView(QWidget):
    """Filter form, live figures, charts and export buttons over one station database."""

    figures_updated = Signal(YieldReport)
    export_finished = Signal(ExportResult)
    export_failed = Signal(str)

    def __init__(
        self,
        database: Database,
        parent: QWidget | None = None,
        *,
        station_key: SignerSource,
        station_name: str,
        exports_dir: Path,
    ) -> None:
        """``station_key``: the signer (or a function returning it, called when an export starts);
        ``exports_dir``: where the save dialog starts. All three are the station's, as the
        composition root decided them (``for_station``)."""
        super().__init__(parent)
        self.setObjectName("reportsView")
        self._database = database
        self._station_key = station_key
        self._station_name = station_name
        self._exports_dir = exports_dir
        self._running: list[_Running] = []
        self._figures_request = 0
        self._figures_worker: _FiguresWorker | None = None
        self._export_worker: _ExportWorker | None = None
        self.last_figures: YieldReport | None = None
        self.last_export: ExportResult | None = None
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(REFRESH_DELAY_MS)
        self._refresh_timer.timeout.connect(self.refresh)
        self._build()
        self._retranslate()
        application = QApplication.instance()
        if application is not None:
            application.aboutToQuit.connect(self.shutdown)
        self._shown_once = False

    @classmethod
    def for_station(cls, station: Station, parent: QWidget | None = None) -> ReportsView:
        """For a built station: its database, station key, name and exports folder."""
        return cls(station.database, parent, station_key=station.station_key, station_name=station.name,
                   exports_dir=station.paths.exports_dir)

    # -- layout -----------------------------------------------------------------------------

    def _build(self) -> None:
        self.filter_box = QGroupBox(self)
        form = QFormLayout(self.filter_box)
        self.work_order_edit = QLineEdit(self.filter_box)
        self.product_edit = QLineEdit(self.filter_box)
        self.recipe_edit = QLineEdit(self.filter_box)
        self.station_combo = QComboBox(self.filter_box)
        self.station_combo.setEditable(True)
        self.operator_combo = QComboBox(self.filter_box)
        self.operator_combo.setEditable(True)
        self.since_check = QCheckBox(self.filter_box)
        self.since_edit = QDateTimeEdit(self.filter_box)
        self.until_check = QCheckBox(self.filter_box)
        self.until_edit = QDateTimeEdit(self.filter_box)
        now = QDateTime.currentDateTime()
        for check, edit, start in ((self.since_check, self.since_edit, now.addDays(-1)),
                                   (self.until_check, self.until_edit, now)):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd HH:mm")
            edit.setDateTime(start)
            edit.setEnabled(False)
            check.toggled.connect(edit.setEnabled)
        self.result_combo = QComboBox(self.filter_box)
        self.result_combo.addItem("", None)
        for result in AttemptResult:
            self.result_combo.addItem(result.value, result.value)
        self.serials_edit = QPlainTextEdit(self.filter_box)
        self.serials_edit.setMaximumHeight(80)
        self.refresh_button = QPushButton(self.filter_box)
        self.refresh_button.clicked.connect(self.refresh)
        self.clear_button = QPushButton(self.filter_box)
        self.clear_button.clicked.connect(self.clear_filter)

        self._labels: dict[str, QLabel] = {}

        def label(key: str) -> QLabel:
            created = QLabel(self.filter_box)
            self._labels[key] = created
            return created

        since_row = QHBoxLayout()
        since_row.addWidget(self.since_check)
        since_row.addWidget(self.since_edit, 1)
        until_row = QHBoxLayout()
        until_row.addWidget(self.until_check)
        until_row.addWidget(self.until_edit, 1)
        form.addRow(label("work_order"), self.work_order_edit)
        form.addRow(label("product"), self.product_edit)
        form.addRow(label("recipe"), self.recipe_edit)
        form.addRow(label("station"), self.station_combo)
        form.addRow(label("operator"), self.operator_combo)
        form.addRow(label("since"), since_row)
        form.addRow(label("until"), until_row)
        form.addRow(label("result"), self.result_combo)
        form.addRow(label("serials"), self.serials_edit)
        buttons = QHBoxLayout()
        buttons.addWidget(self.refresh_button)
        buttons.addWidget(self.clear_button)
        form.addRow(buttons)

        for line_edit in (self.work_order_edit, self.product_edit, self.recipe_edit):
            line_edit.textChanged.connect(self._filter_changed)
        for combo in (self.station_combo, self.operator_combo):
            combo.editTextChanged.connect(self._filter_changed)
        self.result_combo.currentIndexChanged.connect(self._filter_changed)
        for check in (self.since_check, self.until_check):
            check.toggled.connect(self._filter_changed)
        for date_edit in (self.since_edit, self.until_edit):
            date_edit.dateTimeChanged.connect(self._filter_changed)
        self.serials_edit.textChanged.connect(self._filter_changed)

        # Figures
        self.figures_box = QGroupBox(self)
        grid = QGridLayout(self.figures_box)
        self.figure_values: dict[str, QLabel] = {}
        self._figure_names: dict[str, QLabel] = {}
        for row, key in enumerate(("attempts", "units", "first_pass_yield", "final_yield", "attempts_per_unit",
                                   "units_per_hour", "failures", "golden")):
            name = QLabel(self.figures_box)
            value = QLabel("—", self.figures_box)
            value.setObjectName(f"figure_{key}")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            font = value.font()
            font.setBold(True)
            value.setFont(font)
            grid.addWidget(name, row, 0)
            grid.addWidget(value, row, 1)
            self._figure_names[key] = name
            self.figure_values[key] = value
        self.status_label = QLabel(self.figures_box)
        self.status_label.setWordWrap(True)
        grid.addWidget(self.status_label, 8, 0, 1, 2)
        grid.setRowStretch(9, 1)

        # Charts
        self.pareto_chart = QChart()
        self.pareto_chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        self.pareto_chart.setMargins(QMargins(4, 4, 4, 4))
        self.pareto_view = QChartView(self.pareto_chart, self)
        self.pareto_view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.cycle_chart = QChart()
        self.cycle_chart.legend().setAlignment(Qt.AlignmentFlag.AlignBottom)
        self.cycle_chart.setMargins(QMargins(4, 4, 4, 4))
        self.cycle_view = QChartView(self.cycle_chart, self)
        self.cycle_view.setRenderHint(QPainter.RenderHint.Antialiasing)
        self.charts = QTabWidget(self)
        self.charts.addTab(self.pareto_view, "")
        self.charts.addTab(self.cycle_view, "")
        self.charts.setMinimumHeight(280)

        # Exports
        self.export_box = QGroupBox(self)
        export_layout = QHBoxLayout(self.export_box)
        self.export_buttons: dict[ExportFormat, QPushButton] = {}
        for export_format in ExportFormat:
            button = QPushButton(self.export_box)
            button.setObjectName(f"export_{export_format.value}")
            button.clicked.connect(lambda _checked=False, chosen=export_format: self._choose_and_export(chosen))
            export_layout.addWidget(button)
            self.export_buttons[export_format] = button
        self.progress_bar = QProgressBar(self.export_box)
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_bar.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        export_layout.addWidget(self.progress_bar, 1)
        self.cancel_button = QPushButton(self.export_box)
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel_export)
        export_layout.addWidget(self.cancel_button)
        self.open_button = QPushButton(self.export_box)
        self.open_button.setEnabled(False)
        self.open_button.clicked.connect(self.open_last_export)
        export_layout.addWidget(self.open_button)
        self.export_label = QLabel(self)
        self.export_label.setWordWrap(True)
        self.export_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        right = QWidget(self)
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.figures_box)
        right_layout.addWidget(self.charts, 1)
        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        splitter.addWidget(self.filter_box)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.export_box)
        layout.addWidget(self.export_label)

    def _retranslate(self) -> None:
        self.filter_box.setTitle(self.tr("Filter"))
        names = {
            "work_order": self.tr("Work order"),
            "product": self.tr("Product"),
            "recipe": self.tr("Recipe (SHA-256)"),
            "station": self.tr("Station"),
            "operator": self.tr("Operator"),
            "since": self.tr("Started from"),
            "until": self.tr("Started before"),
            "result": self.tr("Result"),
            "serials": self.tr("Serials (one a line)"),
        }
        for key, text in names.items():
            self._labels[key].setText(text)
        self.since_check.setToolTip(self.tr("Local time"))
        self.until_check.setToolTip(self.tr("Local time"))
        self.result_combo.setItemText(0, self.tr("any"))
        result_names = {
            AttemptResult.IN_PROGRESS: self.tr("In progress"),
            AttemptResult.PASSED: self.tr("Passed"),
            AttemptResult.FAILED: self.tr("Failed"),
            AttemptResult.NEEDS_INSPECTION: self.tr("Needs inspection"),
        }
        for index in range(1, self.result_combo.count()):
            result = AttemptResult(self.result_combo.itemData(index))
            self.result_combo.setItemText(index, result_names.get(result, result.value))
        self.refresh_button.setText(self.tr("Refresh"))
        self.clear_button.setText(self.tr("Clear filter"))
        self.figures_box.setTitle(self.tr("Yield"))
        figure_names = {
            "attempts": self.tr("Attempts"),
            "units": self.tr("Units"),
            "first_pass_yield": self.tr("First-pass yield"),
            "final_yield": self.tr("Final yield"),
            "attempts_per_unit": self.tr("Attempts per unit"),
            "units_per_hour": self.tr("Units per hour"),
            "failures": self.tr("Failures"),
            "golden": self.tr("Golden units (left out)"),
        }
        for key, text in figure_names.items():
            self._figure_names[key].setText(text)
        self.charts.setTabText(0, self.tr("Failure Pareto"))
        self.charts.setTabText(1, self.tr("Cycle time per step"))
        self.pareto_chart.setTitle(self.tr("Failures by code"))
        self.cycle_chart.setTitle(self.tr("Time per step (seconds)"))
        self.export_box.setTitle(self.tr("Signed export"))
        self.export_buttons[ExportFormat.CSV].setText(self.tr("Export CSV…"))
        self.export_buttons[ExportFormat.JSON].setText(self.tr("Export JSON…"))
        self.export_buttons[ExportFormat.PDF].setText(self.tr("Export PDF report…"))
        self.cancel_button.setText(self.tr("Cancel"))
        self.open_button.setText(self.tr("Open"))

    # -- filter ---------------------------------------------------------------------------

    def current_filter(self) -> AttemptFilter:
        """The filter the form shows; dates are entered in local time and kept in UTC."""

        def text(value: str) -> str | None:
            return value.strip() or None

        serials = tuple(dict.fromkeys(
            line.strip() for line in self.serials_edit.toPlainText().splitlines() if line.strip()
        ))
        result = self.result_combo.currentData()
        return AttemptFilter(
            work_order=text(self.work_order_edit.text()),
            product=text(self.product_edit.text()),
            recipe_hash=(text(self.recipe_edit.text()) or "").lower() or None,
            station=text(self.station_combo.currentText()),
            operator=text(self.operator_combo.currentText()),
            since=_utc(self.since_edit.dateTime()) if self.since_check.isChecked() else None,
            until=_utc(self.until_edit.dateTime()) if self.until_check.isChecked() else None,
            result=None if result is None else AttemptResult(result),
            serials=serials or None,
        )

    def set_filter(self, wanted: AttemptFilter) -> None:
        """Show ``wanted`` in the form (the figures follow shortly)."""
        self.work_order_edit.setText(wanted.work_order or "")
        self.product_edit.setText(wanted.product or "")
        self.recipe_edit.setText(wanted.recipe_hash or "")
        self.station_combo.setEditText(wanted.station or "")
        self.operator_combo.setEditText(wanted.operator or "")
        for check, edit, moment in ((self.since_check, self.since_edit, wanted.since),
                                    (self.until_check, self.until_edit, wanted.until)):
            check.setChecked(moment is not None)
            if moment is not None:
                edit.setDateTime(QDateTime.fromMSecsSinceEpoch(int(moment.timestamp() * 1000)))
        index = self.result_combo.findData(None if wanted.result is None else wanted.result.value)
        self.result_combo.setCurrentIndex(max(0, index))
        self.serials_edit.setPlainText("\n".join(wanted.serials or ()))
        self._filter_changed()

    def clear_filter(self) -> None:
        self.set_filter(AttemptFilter())

    def _filter_changed(self, *_: object) -> None:
        self._refresh_timer.start()

    # -- figures --------------------------------------------------------------------------

    def refresh(self) -> None:
        """Recompute the figures for the current filter on a worker thread (the previous stops)."""
        self._refresh_timer.stop()
        if self._figures_worker is not None:
            self._figures_worker.stop()
        self._figures_request += 1
        wanted = self.current_filter()
        database = self._database

        def task(progress: Callable[[int, int], None], cancelled: Callable[[], bool]) -> object:
            return summarize(database, wanted, cancelled=cancelled).figures

        worker = _FiguresWorker(self._figures_request, task)
        worker.computed.connect(self._show_figures)
        worker.failed.connect(self._figures_failed)
        self._figures_worker = worker
        self.status_label.setText(self.tr("Computing…"))
        self._start(worker, "reports-figures")

    @Slot(int, YieldReport)
    def _show_figures(self, request: int, figures: YieldReport) -> None:
        if request != self._figures_request:
            return  # an answer to a filter that has changed since
        self._figures_worker = None
        self.last_figures = figures
        values = self.figure_values
        values["attempts"].setText(f"{figures.attempts}")
        values["units"].setText(f"{figures.units}")
        values["first_pass_yield"].setText(_percent(figures.first_pass_yield, figures.first_pass_units,
                                                    figures.units_started))
        values["final_yield"].setText(_percent(figures.final_yield, figures.final_pass_units, figures.units))
        values["attempts_per_unit"].setText(
            "—" if figures.attempts_per_unit is None else f"{figures.attempts_per_unit:.2f}")
        values["units_per_hour"].setText(units_per_hour_text(figures.units_per_hour))
        values["failures"].setText(f"{figures.failures}")
        values["golden"].setText(self.tr("{units} units, {attempts} attempts").format(
            units=figures.golden_units, attempts=figures.golden_attempts))
        self.status_label.setText(self.tr("Updated {time}").format(
            time=datetime.now().astimezone().strftime("%H:%M:%S")))
        self._draw_pareto(figures.failures_by_code)
        self._draw_cycle_times(figures.step_times)
        self.figures_updated.emit(figures)

    @Slot(str)
    def _figures_failed(self, message: str) -> None:
        self._figures_worker = None
        self.status_label.setText(self.tr("The figures could not be computed: {message}").format(message=message))

    def _draw_pareto(self, entries: tuple[ParetoEntry, ...]) -> None:
        chart = self.pareto_chart
        _clear_chart(chart)
        shown = list(entries[:MAX_CHART_CATEGORIES])
        bars = QBarSet(self.tr("failures"))
        bars.setColor(BAR_COLOUR)
        bars.append([float(entry.count) for entry in shown])
        series = QBarSeries()
        series.append(bars)
        series.setLabelsVisible(True)
        series.setLabelsPosition(QBarSeries.LabelsPosition.LabelsOutsideEnd)
        series.setLabelsFormat("@value")
        chart.addSeries(series)
        cumulative = QLineSeries()
        cumulative.setName(self.tr("cumulative %"))
        cumulative.setPen(QPen(LINE_COLOUR, 2))
        cumulative.setPointsVisible(True)
        for index, entry in enumerate(shown):
            cumulative.append(float(index), entry.cumulative_share * 100.0)
        chart.addSeries(cumulative)
        categories = QBarCategoryAxis()
        categories.append([entry.name for entry in shown] or [self.tr("no failures")])
        categories.setLabelsAngle(-35)
        categories.setTruncateLabels(False)
        chart.addAxis(categories, Qt.AlignmentFlag.AlignBottom)
        series.attachAxis(categories)
        cumulative.attachAxis(categories)
        counts = QValueAxis()
        counts.setLabelFormat("%d")
        # Whole-number steps (0, 1, 2 or 0, 5, 10, …): Qt's own nice numbers step a small count
        # by fractions, which "%d" labels 0, 0, 0, 0, 1.
        top, step = nice_axis(max([entry.count for entry in shown] or [1]) * HEADROOM, integer=True)
        counts.setRange(0, top)
        counts.setTickCount(round(top / step) + 1)
        counts.setMinorTickCount(0)
        # No axis title: the legend and the chart's title say what is counted (and QtCharts elides a
        # CJK title beside narrow "%d" labels to a lone "…").
        chart.addAxis(counts, Qt.AlignmentFlag.AlignLeft)
        series.attachAxis(counts)
        share = QValueAxis()
        share.setRange(0, 100)
        share.setLabelFormat("%d %%")
        chart.addAxis(share, Qt.AlignmentFlag.AlignRight)
        cumulative.attachAxis(share)

    def _draw_cycle_times(self, timings: tuple[StepTiming, ...]) -> None:
        chart = self.cycle_chart
        _clear_chart(chart)
        median = QBarSet(self.tr("median"))
        median.setColor(BAR_COLOUR)
        p95 = QBarSet(self.tr("95th percentile"))
        p95.setColor(P95_COLOUR)
        median.append([timing.median_s for timing in timings])
        p95.append([timing.p95_s for timing in timings])
        series = QBarSeries()
        series.append(median)
        series.append(p95)
        chart.addSeries(series)
        categories = QBarCategoryAxis()
        categories.append([step_title(timing.step) for timing in timings] or [self.tr("no finished steps")])
        categories.setLabelsAngle(-35)
        categories.setTruncateLabels(False)
        chart.addAxis(categories, Qt.AlignmentFlag.AlignBottom)
        series.attachAxis(categories)
        seconds = QValueAxis()
        seconds.setRange(0, max([timing.p95_s for timing in timings] or [1.0]))
        seconds.applyNiceNumbers()
        seconds.setLabelFormat("%.2f")
        chart.addAxis(seconds, Qt.AlignmentFlag.AlignLeft)
        series.attachAxis(seconds)

    # -- exports ----------------------------------------------------------------------------

    def _choose_and_export(self, export_format: ExportFormat) -> None:
        folder = self._default_folder()
        suggested = folder / default_export_name(export_format, self.current_filter())
        filters = {
            ExportFormat.CSV: self.tr("CSV (*.csv)"),
            ExportFormat.JSON: self.tr("NDJSON (*.ndjson *.json)"),
            ExportFormat.PDF: self.tr("PDF (*.pdf)"),
        }
        chosen, _ = QFileDialog.getSaveFileName(self, self.tr("Export to"), str(suggested), filters[export_format])
        if chosen:
            self.start_export(export_format, Path(chosen))

    def start_export(self, export_format: ExportFormat, path: Path) -> None:
        """Export the current filter to ``path`` on a worker thread, then sign it."""
        if self._export_worker is not None:
            self.export_label.setText(self.tr("An export is already running."))
            return
        request = ExportRequest(wanted=self.current_filter(), export_format=ExportFormat(export_format),
                                out_path=Path(path), language=current_language())  # a PDF in the window's language
        database = self._database
        signer_source = self._station_key
        station = self._station_name

        def task(progress: Callable[[int, int], None], cancelled: Callable[[], bool]) -> object:
            return export_report(database, request, signer=_resolve_signer(signer_source),
                                 station=station, progress=progress,
                                 cancelled=cancelled)

        worker = _ExportWorker(task)
        worker.progressed.connect(self._export_progress)
        worker.exported.connect(self._export_done)
        worker.failed.connect(self._export_failed)
        worker.cancelled.connect(self._export_cancelled)
        worker.done.connect(self._export_ended)
        self._export_worker = worker
        for button in self.export_buttons.values():
            button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.open_button.setEnabled(False)
        self.progress_bar.setRange(0, 0)  # busy until the first count arrives
        self.export_label.setText(self.tr("Exporting to {path}…").format(path=str(path)))
        self._start(worker, "reports-export")

    def cancel_export(self) -> None:
        if self._export_worker is not None:
            self._export_worker.stop()
            self.export_label.setText(self.tr("Cancelling…"))

    @Slot(int, int)
    def _export_progress(self, done: int, total: int) -> None:
        if total <= 0:
            return
        self.progress_bar.setRange(0, total)
        self.progress_bar.setValue(min(done, total))

    @Slot(ExportResult)
    def _export_done(self, result: ExportResult) -> None:
        self.last_export = result
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(1)
        self.open_button.setEnabled(True)
        self.export_label.setText(self.tr(
            "Wrote {count} attempts to {path}, signed ({manifest}, {signature})."
        ).format(count=result.row_count, path=str(result.path), manifest=result.manifest_path.name,
                 signature=result.signature_path.name))
        self.export_finished.emit(result)

    @Slot(str)
    def _export_failed(self, message: str) -> None:
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.export_label.setText(self.tr("The export failed: {message}").format(message=message))
        self.export_failed.emit(message)

    @Slot()
    def _export_cancelled(self) -> None:
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.export_label.setText(self.tr("Export cancelled; nothing was written."))

    @Slot()
    def _export_ended(self) -> None:
        self._export_worker = None
        for button in self.export_buttons.values():
            button.setEnabled(True)
        self.cancel_button.setEnabled(False)

    def open_last_export(self) -> bool:
        """Open the file last written with the desktop's application for it."""
        if self.last_export is None:
            return False
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.last_export.path)))

    def _default_folder(self) -> Path:
        folder = self._exports_dir
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError:
            return Path.home()
        return folder

    # -- threads ----------------------------------------------------------------------------

    def _start(self, worker: _TaskWorker, name: str) -> None:
        worker_thread = QThread(self)
        worker_thread.setObjectName(name)
        worker.moveToThread(worker_thread)
        running = _Running(worker, worker_thread)
        self._running.append(running)
        worker_thread.started.connect(worker.run)
        worker.done.connect(worker_thread.quit)
        worker_thread.finished.connect(lambda: self._forget(running))
        worker_thread.start()

    def _forget(self, running: _Running) -> None:
        if running in self._running:
            self._running.remove(running)
        running.worker.deleteLater()
        running.worker_thread.deleteLater()

    def running_threads(self) -> int:
        """How many worker threads are still alive (tests; nothing should linger)."""
        return sum(1 for running in self._running if running.worker_thread.isRunning())

    def shutdown(self) -> None:
        """Stop every task and wait for its thread: call before the view goes away."""
        self._refresh_timer.stop()
        for running in list(self._running):
            running.worker.stop()
        for running in list(self._running):
            running.worker_thread.quit()
            if not running.worker_thread.wait(THREAD_STOP_TIMEOUT_MS):
                LOG.error("reports: thread %s did not stop", running.worker_thread.objectName())
        self._running.clear()
        self._figures_worker = None
        self._export_worker = None

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            self._load_choices()
            self.refresh()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        self.shutdown()
        super().closeEvent(event)

    def _load_choices(self) -> None:
        """Known stations and operators for the combo boxes (a quick read)."""
        try:
            stations = [record.name for record in self._database.registry.stations()]
            operators = [record.name for record in self._database.registry.operators()]
        except StationError as error:
            self.status_label.setText(str(error))
            return
        for combo, names in ((self.station_combo, stations), (self.operator_combo, operators)):
            current = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItem("")
            combo.addItems(names)
            combo.setEditText(current)
            combo.blockSignals(False)


# ---------------------------------------------------------------------------------------------
# Helpers


def _utc(moment: QDateTime) -> datetime:
    return datetime.fromtimestamp(moment.toMSecsSinceEpoch() / 1000.0, UTC)


def _percent(value: float | None, numerator: int, denominator: int) -> str:
    return "—" if value is None else f"{value * 100:.1f} % ({numerator}/{denominator})"


def _clear_chart(chart: QChart) -> None:
    chart.removeAllSeries()
    for axis in chart.axes():
        chart.removeAxis(axis)
        axis.deleteLater()


def _resolve_signer(source: SignerSource) -> ExportSigner:
    if callable(source) and not hasattr(source, "sign"):
        return source()
    return source  # type: ignore[return-value]

