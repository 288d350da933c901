"""Charts for the PDF report, drawn with reportlab's graphics (vector, no Qt, headless).

- :func:`pareto_chart`: failures per code (or step) as bars, most frequent first, with the
  cumulative share as a line on a right-hand 0-100 % axis -- the classic Pareto chart.
- :func:`cycle_time_chart`: per step, the median and the 95th percentile duration as paired
  bars, so a step whose tail is long (retries, timeouts) stands out next to its median.
"""

from __future__ import annotations

from collections.abc import Sequence

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.lineplots import LinePlot
from reportlab.graphics.shapes import Drawing, String
from reportlab.graphics.widgets.markers import makeMarker
from reportlab.lib import colors

from station.reports.axes import HEADROOM, nice_axis
from station.reports.texts import ENGLISH_TEXTS, ReportTexts
from station.reports.yield_stats import ParetoEntry, StepTiming

BAR_COLOUR = colors.HexColor("#3d6fb6")
P95_COLOUR = colors.HexColor("#e0913a")
LINE_COLOUR = colors.HexColor("#c0392b")
MAX_PARETO_BARS = 12


def pareto_chart(
    entries: Sequence[ParetoEntry],
    *,
    title: str,
    width: float = 480,
    height: float = 230,
    font: str = "Helvetica",
    texts: ReportTexts = ENGLISH_TEXTS,
) -> Drawing:
    """Bars of failure counts with the cumulative share as a line (right axis, percent)."""
    entries = _top(entries, texts)
    drawing = Drawing(width, height)
    drawing.add(String(0, height - 12, title, fontName=font, fontSize=10))
    if not entries:
        drawing.add(String(width / 2, height / 2, texts("chart.no_failures"), fontName=font, fontSize=9,
                           textAnchor="middle"))
        return drawing
    left, bottom, right_margin, top_margin = 40, 58, 38, 22
    plot_width, plot_height = width - left - right_margin, height - bottom - top_margin

    bars = VerticalBarChart()
    bars.x, bars.y, bars.width, bars.height = left, bottom, plot_width, plot_height
    bars.data = [[entry.count for entry in entries]]
    bars.categoryAxis.categoryNames = [_short(entry.name, 18) for entry in entries]
    bars.categoryAxis.labels.angle = 35
    bars.categoryAxis.labels.boxAnchor = "ne"
    bars.categoryAxis.labels.fontName = font
    bars.categoryAxis.labels.fontSize = 7
    bars.categoryAxis.labels.dy = -2
    bars.valueAxis.valueMin = 0
    bars.valueAxis.valueMax, bars.valueAxis.valueStep = nice_axis(
        max(entry.count for entry in entries) * HEADROOM, integer=True)
    bars.valueAxis.labels.fontName = font
    bars.valueAxis.labels.fontSize = 7
    bars.valueAxis.visibleGrid = True
    bars.valueAxis.gridStrokeColor = colors.HexColor("#dddddd")
    bars.bars[0].fillColor = BAR_COLOUR
    bars.bars[0].strokeColor = None
    bars.barLabels.fontName = font
    bars.barLabels.fontSize = 6.5
    bars.barLabels.nudge = 6
    bars.barLabelFormat = "%d"
    bars.barSpacing = 2
    drawing.add(bars)

    line = LinePlot()
    line.x, line.y, line.width, line.height = left, bottom, plot_width, plot_height
    count = len(entries)
    line.data = [[(index + 0.5, entry.cumulative_share * 100) for index, entry in enumerate(entries)]]
    line.xValueAxis.valueMin, line.xValueAxis.valueMax = 0, count
    line.xValueAxis.visible = False
    line.yValueAxis.valueMin, line.yValueAxis.valueMax, line.yValueAxis.valueStep = 0, 100, 20
    line.yValueAxis.joinAxisMode = "right"
    line.yValueAxis.labelTextFormat = "%d %%"
    line.yValueAxis.labels.fontName = font
    line.yValueAxis.labels.fontSize = 7
    line.yValueAxis.labels.dx = 4
    line.yValueAxis.labels.textAnchor = "start"
    line.yValueAxis.labels.boxAnchor = "w"
    line.lines[0].strokeColor = LINE_COLOUR
    line.lines[0].strokeWidth = 1.4
    line.lines[0].symbol = makeMarker("FilledCircle", size=3.5, fillColor=LINE_COLOUR, strokeColor=LINE_COLOUR)
    drawing.add(line)

    drawing.add(_legend(width - right_margin, height - 6,
                        [(BAR_COLOUR, texts("chart.failures")), (LINE_COLOUR, texts("chart.cumulative"))], font))
    return drawing


def cycle_time_chart(
    timings: Sequence[StepTiming],
    *,
    title: str,
    width: float = 480,
    height: float = 220,
    font: str = "Helvetica",
    texts: ReportTexts = ENGLISH_TEXTS,
) -> Drawing:
    """Median and 95th percentile duration of each step, paired bars, in seconds."""
    drawing = Drawing(width, height)
    drawing.add(String(0, height - 12, title, fontName=font, fontSize=10))
    if not timings:
        drawing.add(String(width / 2, height / 2, texts("chart.no_steps"), fontName=font, fontSize=9,
                           textAnchor="middle"))
        return drawing
    left, bottom, right_margin, top_margin = 40, 46, 10, 22
    bars = VerticalBarChart()
    bars.x, bars.y = left, bottom
    bars.width, bars.height = width - left - right_margin, height - bottom - top_margin
    bars.data = [[timing.median_s for timing in timings], [timing.p95_s for timing in timings]]
    bars.categoryAxis.categoryNames = [_short(texts.step(timing.step), 14) for timing in timings]
    bars.categoryAxis.labels.angle = 30
    bars.categoryAxis.labels.boxAnchor = "ne"
    bars.categoryAxis.labels.fontName = font
    bars.categoryAxis.labels.fontSize = 7
    bars.categoryAxis.labels.dy = -2
    bars.valueAxis.valueMin = 0
    bars.valueAxis.valueMax, bars.valueAxis.valueStep = nice_axis(max(timing.p95_s for timing in timings) * HEADROOM)
    bars.valueAxis.labelTextFormat = _seconds_format(bars.valueAxis.valueStep)
    bars.valueAxis.labels.fontName = font
    bars.valueAxis.labels.fontSize = 7
    bars.valueAxis.visibleGrid = True
    bars.valueAxis.gridStrokeColor = colors.HexColor("#dddddd")
    bars.bars[0].fillColor = BAR_COLOUR
    bars.bars[1].fillColor = P95_COLOUR
    bars.bars[0].strokeColor = bars.bars[1].strokeColor = None
    bars.barSpacing = 1
    bars.groupSpacing = 8
    drawing.add(bars)
    drawing.add(_legend(width - right_margin, height - 6,
                        [(BAR_COLOUR, texts("chart.median")), (P95_COLOUR, texts("chart.p95"))], font))
    return drawing


def _top(entries: Sequence[ParetoEntry], texts: ReportTexts) -> list[ParetoEntry]:
    """At most MAX_PARETO_BARS bars: the rest folded into one "other" bar at the end."""
    if len(entries) <= MAX_PARETO_BARS:
        return list(entries)
    kept = list(entries[: MAX_PARETO_BARS - 1])
    rest = entries[MAX_PARETO_BARS - 1:]
    kept.append(ParetoEntry(texts("chart.other", count=len(rest)), sum(entry.count for entry in rest),
                            sum(entry.share for entry in rest), rest[-1].cumulative_share))
    return kept


def _legend(right: float, top: float, items: list[tuple[colors.Color, str]], font: str) -> Legend:
    legend = Legend()
    legend.alignment = "right"
    legend.x, legend.y = right - 150, top
    legend.columnMaximum = 1
    legend.deltax = 80
    legend.dx = legend.dy = 6
    legend.fontName = font
    legend.fontSize = 7
    legend.boxAnchor = "nw"
    legend.colorNamePairs = items
    legend.strokeColor = None
    return legend


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _seconds_format(step: float) -> str:
    if step >= 1 and step == int(step):
        return "%.0f"
    return "%.1f" if step * 10 == int(step * 10) else "%.2f"
