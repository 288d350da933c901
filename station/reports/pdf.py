"""The traceability report as a PDF for people, with reportlab (headless, no Qt).

Pages: a cover (filter, stations, products, work orders, recipe and firmware image hashes,
totals, the signing key), the yield figures with the failure tables, a failure Pareto chart and
a cycle-time chart, then the unit table -- one line per attempt: attempt, serial, device id,
result, failure, operator, local start time, certificate fingerprint -- on landscape pages.
In English, Spanish or Simplified Chinese (``PdfContext.language``): the words come from
:mod:`station.reports.texts`, the fonts from :mod:`station.reports.fonts`.

Memory: reportlab's platypus lays out a document from a story held in memory, and keeps the
finished pages until it writes the file. The unit table is therefore capped at
``table_limit`` attempts (default :data:`DEFAULT_TABLE_LIMIT`, about 170 pages); beyond that the
report says plainly how many more attempts there are and that the CSV and JSON exports (which
stream without limit) hold every one. The figures and charts always cover the whole selection:
they come from one streaming pass (:func:`station.reports.summary.summarize`). Rows are read
from the store's stream into one long table (its header repeated on every page), which
platypus splits across pages cheaply because every row has the same fixed height.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.platypus import (
    BaseDocTemplate,
    CondPageBreak,
    Flowable,
    Frame,
    KeepTogether,
    LongTable,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from station.domain.languages import ENGLISH
from station.domain.records import AttemptFilter, AttemptRecord, AttemptResult, RecipeSignatureRecord
from station.domain.text import escape_text
from station.reports.charts import cycle_time_chart, pareto_chart
from station.reports.filters import describe_filter, human_duration, local_time, utc_time
from station.reports.fonts import Fonts, report_fonts
from station.reports.summary import ReportSummary
from station.reports.texts import ReportTexts
from station.reports.yield_stats import MINIMUM_RATE_SPAN, ParetoEntry, YieldReport

DEFAULT_TABLE_LIMIT = 5000


@dataclass(frozen=True)
class PdfContext:
    """What the report says about itself: who made it, when, for which filter."""

    wanted: AttemptFilter
    station: str
    key_fingerprint: str
    created_at: datetime
    zone: tzinfo | None = None  # local time zone for display; None: this computer's
    language: str = ENGLISH  # en, es or zh_CN (station.domain.languages)
    # Who signed and approved each recipe of the report (by recipe hash): the cover lists them.
    recipe_signatures: Mapping[str, tuple[RecipeSignatureRecord, ...]] = field(default_factory=dict)


def write_pdf(
    out_path: Path,
    summary: ReportSummary,
    rows: Iterable[AttemptRecord],
    context: PdfContext,
    *,
    table_limit: int = DEFAULT_TABLE_LIMIT,
    on_row: Callable[[int], None] | None = None,
) -> int:
    """Write the report to ``out_path``; return the number of attempts in the unit table."""
    texts = ReportTexts(context.language)
    fonts = report_fonts(context.language)
    styles = _Styles(fonts, texts)
    figures = summary.figures
    document = _Document(str(out_path), context, styles)
    story: list[Flowable] = []
    story += _cover(summary, context, styles, table_limit)
    story += [NextPageTemplate("portrait"), PageBreak()]
    story += _figures_pages(figures, styles, fonts)
    story += [NextPageTemplate("landscape"), PageBreak()]
    listed = _unit_table(story, rows, summary, context, styles, fonts, table_limit, on_row)
    document.build(story)
    return listed


# ---------------------------------------------------------------------------------------------
# Document and styles


class _Document(BaseDocTemplate):  # type: ignore[misc]
    def __init__(self, filename: str, context: PdfContext, styles: _Styles) -> None:
        title = styles.texts("title")
        super().__init__(
            filename,
            pagesize=A4,
            leftMargin=18 * mm,
            rightMargin=18 * mm,
            topMargin=16 * mm,
            bottomMargin=16 * mm,
            title=title,
            author=styles.texts("author", station=context.station),
            subject=title,
            creator="provisioning-station",
            lang=context.language.replace("_", "-"),
        )
        self._context = context
        self._fonts = styles.fonts
        self._texts = styles.texts
        portrait_frame = Frame(self.leftMargin, self.bottomMargin, self.width, self.height, id="portrait")
        wide = landscape(A4)
        margin = 8 * mm
        landscape_frame = Frame(margin, 14 * mm, wide[0] - 2 * margin, wide[1] - 26 * mm, id="landscape",
                                leftPadding=0, rightPadding=0)
        self.addPageTemplates([
            PageTemplate("portrait", [portrait_frame], onPage=self._footer, pagesize=A4),
            PageTemplate("landscape", [landscape_frame], onPage=self._footer, pagesize=wide),
        ])

    def _footer(self, canvas: Any, document: Any) -> None:
        canvas.saveState()
        width = canvas._pagesize[0]
        canvas.setFont(self._fonts.regular, 7)
        canvas.setFillColor(colors.HexColor("#555555"))
        created = local_time(self._context.created_at, self._context.zone)
        text = self._texts("footer", title=self._texts("title"), station=escape_text(self._context.station),
                           created=created, key=self._context.key_fingerprint[:16])
        canvas.drawString(12 * mm, 8 * mm, text)
        canvas.drawRightString(width - 12 * mm, 8 * mm, self._texts("page", page=document.page))
        canvas.restoreState()


class _Styles:
    """The paragraph styles, with the fonts and words of the report's language."""

    def __init__(self, fonts: Fonts, texts: ReportTexts) -> None:
        self.fonts = fonts
        self.texts = texts
        self.title = ParagraphStyle("title", fontName=fonts.bold, fontSize=20, leading=24, spaceAfter=4)
        self.subtitle = ParagraphStyle("subtitle", fontName=fonts.regular, fontSize=10, leading=13,
                                       textColor=colors.HexColor("#444444"), spaceAfter=10)
        self.heading = ParagraphStyle("heading", fontName=fonts.bold, fontSize=12, leading=15, spaceBefore=10,
                                      spaceAfter=5)
        self.body = ParagraphStyle("body", fontName=fonts.regular, fontSize=9, leading=11.5)
        self.small = ParagraphStyle("small", fontName=fonts.regular, fontSize=7.5, leading=9.5,
                                    textColor=colors.HexColor("#444444"))
        self.mono = ParagraphStyle("mono", fontName=fonts.mono, fontSize=7.5, leading=9.5)
        self.cell = ParagraphStyle("cell", fontName=fonts.regular, fontSize=8.5, leading=10.5)
        self.cell_bold = ParagraphStyle("cell_bold", parent=self.cell, fontName=fonts.bold)
        self.note = ParagraphStyle("note", fontName=fonts.bold, fontSize=9, leading=12, spaceBefore=8,
                                   textColor=colors.HexColor("#8a3b12"))


_GRID = colors.HexColor("#bbbbbb")
_KEY_VALUE_WIDTHS = (38 * mm, 136 * mm)  # a longer label wraps; a value keeps room for "name:SHA-256"
_HEADER_FILL = colors.HexColor("#e8eef7")


def _key_value_table(rows: list[tuple[str, Any]], styles: _Styles, widths: tuple[float, float]) -> Table:
    data = [[Paragraph(_escape(label), styles.cell_bold), value if isinstance(value, Flowable)
             else Paragraph(_escape(str(value)), styles.cell)] for label, value in rows]
    table = Table(data, colWidths=list(widths), hAlign="LEFT")
    table.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, _GRID),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
    ]))
    return table


# ---------------------------------------------------------------------------------------------
# Cover


def _cover(summary: ReportSummary, context: PdfContext, styles: _Styles, table_limit: int) -> list[Flowable]:
    figures, inventory, texts = summary.figures, summary.inventory, styles.texts
    zone = context.zone
    story: list[Flowable] = [
        Paragraph(_escape(texts("title")), styles.title),
        Paragraph(_escape(texts("cover.created", local=local_time(context.created_at, zone),
                                utc=utc_time(context.created_at), station=context.station,
                                zone=_zone_name(context.created_at, zone))), styles.subtitle),
        Paragraph(_escape(texts("heading.filter")), styles.heading),
        _key_value_table(describe_filter(context.wanted, zone, texts), styles, _KEY_VALUE_WIDTHS),
        Paragraph(_escape(texts("heading.totals")), styles.heading),
    ]
    results = ", ".join(f"{texts.result(name)} {count}" for name, count in figures.result_counts.items())
    span = "—"
    if figures.span_start is not None and figures.span_end is not None:
        span = texts("totals.span", start=local_time(figures.span_start, zone), end=local_time(figures.span_end, zone))
    totals: list[tuple[str, Any]] = [
        (texts("label.attempts"),
         texts("totals.attempts", attempts=figures.attempts, results=results or texts("none"))),
        (texts("label.units"), texts("totals.units", units=figures.units, golden_units=figures.golden_units,
                                     golden_attempts=figures.golden_attempts)),
        (texts("label.rework"), str(figures.rework_attempts)),
        (texts("label.first_pass_yield"),
         _yield_text(texts, figures.first_pass_yield, figures.first_pass_units, figures.units_started)),
        (texts("label.final_yield"), _yield_text(texts, figures.final_yield, figures.final_pass_units, figures.units)),
        (texts("label.span"), span),
        (texts("label.unit_table"), texts("totals.unit_table", listed=min(figures.attempts, table_limit),
                                          total=figures.attempts)),
    ]
    story.append(_key_value_table(totals, styles, _KEY_VALUE_WIDTHS))
    story.append(Paragraph(_escape(texts("heading.inventory")), styles.heading))
    story.append(_key_value_table([
        (texts("label.stations"), ", ".join(inventory.stations) or "—"),
        (texts("label.products"), ", ".join(inventory.products) or "—"),
        (texts("label.work_orders"), texts.more(", ".join(inventory.work_orders) or "—", inventory.work_orders_more)),
        (texts("label.operators"), ", ".join(inventory.operators) or "—"),
    ], styles, _KEY_VALUE_WIDTHS))
    story.append(Paragraph(_escape(texts("heading.hashes")), styles.heading))
    story.append(_key_value_table([
        (texts("label.recipes"), _recipe_list(inventory.recipe_hashes, inventory.recipe_hashes_more,
                                              context.recipe_signatures, styles)),
        (texts("label.images"), _hash_list(inventory.image_hashes, inventory.image_hashes_more, styles)),
    ], styles, _KEY_VALUE_WIDTHS))
    story.append(Paragraph(_escape(texts("heading.signature")), styles.heading))
    story.append(Paragraph(_escape(texts("signature.text")), styles.body))
    story.append(Paragraph(_escape(context.key_fingerprint), styles.mono))
    story.append(Paragraph(_escape(texts("signature.check")), styles.small))
    return story


def _recipe_list(
    hashes: tuple[str, ...], more: int, signatures: Mapping[str, tuple[RecipeSignatureRecord, ...]], styles: _Styles
) -> Paragraph:
    """Each recipe's hash, and under it who signed and approved it with which key (or "not signed")."""
    texts, lines = styles.texts, []
    for sha256 in hashes:
        lines.append(_escape(sha256))
        for signature in signatures.get(sha256, ()) or (None,):
            if signature is None:
                lines.append("&nbsp;&nbsp;" + _escape(texts("recipe.unsigned")))
                continue
            lines.append("&nbsp;&nbsp;" + _escape(texts("recipe.signed", person=signature.signer,
                                                        role=signature.signer_role)))  # fmt: skip
            lines.append("&nbsp;&nbsp;" + _escape(signature.signer_key))
            if signature.approver is not None:
                lines.append("&nbsp;&nbsp;" + _escape(texts("recipe.approved", person=signature.approver,
                                                            role=signature.approver_role or "")))  # fmt: skip
                lines.append("&nbsp;&nbsp;" + _escape(signature.approver_key or ""))
    text = "<br/>".join(lines) or "—"
    if more:
        text += "<br/>" + _escape(texts("hashes.more", more=more))
    return Paragraph(text, styles.mono)


def _hash_list(hashes: tuple[str, ...], more: int, styles: _Styles) -> Paragraph:
    text = "<br/>".join(_escape(value) for value in hashes) or "—"
    if more:
        text += "<br/>" + _escape(styles.texts("hashes.more", more=more))
    return Paragraph(text, styles.mono)


# ---------------------------------------------------------------------------------------------
# Figures and charts


def _figures_pages(figures: YieldReport, styles: _Styles, fonts: Fonts) -> list[Flowable]:
    texts = styles.texts
    story: list[Flowable] = [Paragraph(_escape(texts("heading.yield")), styles.heading)]
    attempt_time = figures.attempt_time
    story.append(_key_value_table([
        (texts("label.first_pass_yield"), texts("yield.first_pass", value=_yield_text(
            texts, figures.first_pass_yield, figures.first_pass_units, figures.units_started))),
        (texts("label.final_yield"), texts("yield.final", value=_yield_text(
            texts, figures.final_yield, figures.final_pass_units, figures.units))),
        (texts("label.attempts_per_unit"), "—" if figures.attempts_per_unit is None else texts(
            "yield.attempts_per_unit", value=f"{figures.attempts_per_unit:.2f}",
            production=figures.production_attempts)),
        (texts("label.units_per_hour"), _rate_text(figures, texts)),
        (texts("label.attempt_time"), "—" if attempt_time is None else texts(
            "yield.attempt_time", median=f"{attempt_time.median_s:.2f}", p95=f"{attempt_time.p95_s:.2f}")),
        (texts("label.failures"), texts("yield.failures", failures=figures.failures, failed=figures.failed_attempts,
                                        inspection=figures.needs_inspection_attempts,
                                        in_progress=figures.in_progress_attempts)),
    ], styles, _KEY_VALUE_WIDTHS))
    story.append(Paragraph(_escape(texts("yield.note")), styles.small))

    story.append(CondPageBreak(90 * mm))
    story.append(Paragraph(_escape(texts("heading.failures_by_code")), styles.heading))
    story.append(pareto_chart(figures.failures_by_code, title=texts("chart.pareto_title"), font=fonts.regular,
                              texts=texts))
    story.append(Spacer(1, 4))
    story.append(_pareto_table(figures.failures_by_code, texts("column.failure_code"), styles))
    by_step = tuple(replace(entry, name=texts.step(entry.name)) for entry in figures.failures_by_step)
    story.append(KeepTogether([Paragraph(_escape(texts("heading.failures_by_step")), styles.heading),
                               _pareto_table(by_step, texts("column.step"), styles)]))

    story.append(CondPageBreak(100 * mm))
    story.append(Paragraph(_escape(texts("heading.time_per_step")), styles.heading))
    story.append(cycle_time_chart(figures.step_times, title=texts("chart.cycle_title"), font=fonts.regular,
                                  texts=texts))
    rows = [[texts("column.step"), texts("column.count"), texts("column.median"), texts("column.p95"),
             texts("column.max")]]
    named = [(texts.step(timing.step), timing) for timing in figures.step_times]
    if figures.attempt_time is not None:
        named.append((texts("timing.attempt"), figures.attempt_time))
    for name, timing in named:
        rows.append([name, str(timing.count), f"{timing.median_s:.3f}", f"{timing.p95_s:.3f}", f"{timing.max_s:.3f}"])
    story.append(_grid_table(rows, styles, (40 * mm, 22 * mm, 28 * mm, 38 * mm, 24 * mm),
                             bold_last=figures.attempt_time is not None))
    return story


def _rate_text(figures: YieldReport, texts: ReportTexts) -> str:
    """Units per hour with the span it is over; why not, when the span is too short for a rate."""
    rate, hours = figures.units_per_hour, figures.span_hours
    if rate is not None and hours is not None:
        return texts("yield.units_per_hour", rate=f"{rate:.1f}", duration=human_duration(hours * 3600, texts))
    if figures.production_attempts:
        return texts("yield.units_per_hour_short", minutes=round(MINIMUM_RATE_SPAN.total_seconds() / 60))
    return "—"


def _pareto_table(entries: tuple[ParetoEntry, ...], what: str, styles: _Styles) -> Flowable:
    texts = styles.texts
    if not entries:
        return Paragraph(_escape(texts("failures.none")), styles.body)
    rows = [[what, texts("column.count"), texts("column.share"), texts("column.cumulative")]]
    rows += [[entry.name, str(entry.count), f"{entry.share * 100:.1f} %", f"{entry.cumulative_share * 100:.1f} %"]
             for entry in entries]
    return _grid_table(rows, styles, (60 * mm, 22 * mm, 24 * mm, 26 * mm))


def _grid_table(rows: list[list[str]], styles: _Styles, widths: tuple[float, ...], *, bold_last: bool = False) -> Table:
    table = Table(rows, colWidths=list(widths), hAlign="LEFT", repeatRows=1)
    commands: list[tuple[Any, ...]] = [
        ("FONT", (0, 0), (-1, -1), styles.cell.fontName, 8.5),
        ("FONT", (0, 0), (-1, 0), styles.cell_bold.fontName, 8.5),
        ("BACKGROUND", (0, 0), (-1, 0), _HEADER_FILL),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, _GRID),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]
    if bold_last:
        commands.append(("FONT", (0, -1), (-1, -1), styles.cell_bold.fontName, 8.5))
    table.setStyle(TableStyle(commands))
    return table


# ---------------------------------------------------------------------------------------------
# Unit table

_UNIT_COLUMNS = ("column.attempt", "column.serial", "column.device", "column.result", "column.failure",
                 "column.operator", "column.started", "column.fingerprint")
_UNIT_WIDTHS = (12 * mm, 26 * mm, 26 * mm, 28 * mm, 41 * mm, 24 * mm, 38 * mm, 85 * mm)
_UNIT_FONT_SIZE = 7.0
_FINGERPRINT_FONT_SIZE = 6.1
_UNIT_ROW_HEIGHT = 9.6


def _unit_table(
    story: list[Flowable],
    rows: Iterable[AttemptRecord],
    summary: ReportSummary,
    context: PdfContext,
    styles: _Styles,
    fonts: Fonts,
    table_limit: int,
    on_row: Callable[[int], None] | None,
) -> int:
    total, texts = summary.figures.attempts, styles.texts
    story.append(Paragraph(_escape(texts("heading.units")), styles.heading))
    story.append(Paragraph(_escape(texts("units.note", zone=_zone_name(context.created_at, context.zone))),
                           styles.small))
    story.append(Spacer(1, 3))
    listed = 0
    table_rows: list[list[str]] = []
    golden = summary.golden_serials
    for attempt in rows:
        if listed >= table_limit:
            break
        table_rows.append(_unit_row(attempt, golden, context.zone, fonts, texts))
        listed += 1
        if on_row is not None:
            on_row(listed)
    if table_rows:
        story.append(_unit_long_table(table_rows, fonts, texts))
    if listed == 0:
        story.append(Paragraph(_escape(texts("units.empty")), styles.body))
    remaining = total - listed
    if remaining > 0:
        story.append(Paragraph(_escape(texts("units.more", remaining=remaining, listed=listed, total=total)),
                               styles.note))
    else:
        story.append(Paragraph(_escape(texts("units.end", listed=listed)), styles.small))
    return listed


def _unit_row(
    attempt: AttemptRecord, golden: frozenset[str], zone: tzinfo | None, fonts: Fonts, texts: ReportTexts
) -> list[str]:
    failure = ""
    if attempt.result is not AttemptResult.PASSED and (attempt.failure_step or attempt.failure_code):
        step = texts.step(attempt.failure_step) if attempt.failure_step else "?"
        failure = f"{step}: {attempt.failure_code or '?'}"
    result = (texts.result(attempt.result.value) + (" *" if attempt.serial in golden else "")
              + (" R" if attempt.is_rework else ""))
    widths = [width - 4 for width in _UNIT_WIDTHS]
    regular = functools.partial(_fit, font=fonts.regular, size=_UNIT_FONT_SIZE)
    return [
        str(attempt.id),
        regular(attempt.serial, width=widths[1]),
        _fit(attempt.device_id or "", width=widths[2], font=fonts.mono, size=_FINGERPRINT_FONT_SIZE),
        regular(result, width=widths[3]),
        regular(failure, width=widths[4]),
        regular(attempt.operator, width=widths[5]),
        local_time(attempt.started_at, zone),
        _fit(attempt.certificate_fingerprint or "", width=widths[7], font=fonts.mono, size=_FINGERPRINT_FONT_SIZE),
    ]


def _unit_long_table(rows: list[list[str]], fonts: Fonts, texts: ReportTexts) -> Table:
    """One table, header repeated on every page; fixed row heights keep page splitting cheap."""
    table = LongTable([[texts(key) for key in _UNIT_COLUMNS], *rows], colWidths=list(_UNIT_WIDTHS),
                      rowHeights=[_UNIT_ROW_HEIGHT] * (len(rows) + 1), repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle([
        ("FONT", (0, 0), (-1, -1), fonts.regular, _UNIT_FONT_SIZE),
        ("FONT", (0, 0), (-1, 0), fonts.bold, _UNIT_FONT_SIZE),
        ("FONT", (7, 1), (7, -1), fonts.mono, _FINGERPRINT_FONT_SIZE),
        ("FONT", (2, 1), (2, -1), fonts.mono, _FINGERPRINT_FONT_SIZE),
        ("BACKGROUND", (0, 0), (-1, 0), _HEADER_FILL),
        ("ALIGN", (0, 0), (0, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.2, _GRID),
        ("TOPPADDING", (0, 0), (-1, -1), 0),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
        ("LEFTPADDING", (0, 0), (-1, -1), 2),
        ("RIGHTPADDING", (0, 0), (-1, -1), 2),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f6f6f6")]),
    ]))
    return table


# ---------------------------------------------------------------------------------------------
# Text helpers


def _fit(text: str, *, width: float, font: str, size: float) -> str:
    """The text, shortened with an ellipsis to fit ``width`` points (a table cell does not wrap)."""
    if pdfmetrics.stringWidth(text, font, size) <= width:
        return text
    while text and pdfmetrics.stringWidth(text + "…", font, size) > width:
        text = text[:-1]
    return text + "…"


def _escape(text: str) -> str:
    """Text for a paragraph: control characters as visible escapes, markup characters as entities."""
    return html.escape(escape_text(text), quote=False)


def _yield_text(texts: ReportTexts, value: float | None, numerator: int, denominator: int) -> str:
    if value is None:
        return "—"
    return texts("yield.value", percent=f"{value * 100:.1f}", numerator=numerator, denominator=denominator)


def _zone_name(moment: datetime, zone: tzinfo | None) -> str:
    shown = moment.astimezone(zone) if zone is not None else moment.astimezone()
    name = shown.tzname() or ""
    offset = local_time(shown, zone).rsplit(" ", 1)[-1]
    return f"{name}, UTC{offset}" if name and name != "UTC" else f"UTC{offset}" if offset != "+00:00" else "UTC"


__all__ = ["DEFAULT_TABLE_LIMIT", "PdfContext", "write_pdf"]
