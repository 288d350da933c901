"""Signed exports end to end: query, write, sign -- the one path the CLI and the GUI both take.

:func:`export_report` streams the selected attempts from the store into a hidden partial file
beside the target, fsyncs it, moves it into place, then writes the manifest and the detached
signature (see :mod:`station.reports.signing`). A failure or a cancellation removes the partial
file and leaves any earlier export of the same name untouched.

``progress(done, total)`` is called every few hundred attempts; ``cancelled()`` is polled as
often and stops the export with :class:`ExportCancelledError`. A PDF reads the selection twice (the
figures, then the unit table), so its total is the attempts plus the table's rows.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any, TypeVar

from station.domain.errors import StationError
from station.domain.languages import ENGLISH
from station.domain.records import AttemptFilter
from station.reports.errors import ExportCancelledError, ReportError
from station.reports.export import export_csv_rows, export_json
from station.reports.fonts import report_fonts
from station.reports.pdf import DEFAULT_TABLE_LIMIT, PdfContext, write_pdf
from station.reports.signing import ExportSigner, build_manifest, write_signature_files
from station.reports.summary import PROGRESS_EVERY, close_stream, summarize
from station.reports.texts import check_report_language
from station.store import Database

_Item = TypeVar("_Item")

ProgressCallback = Callable[[int, int], None]
"""``progress(done, total)``: attempts handled so far, and how many there will be."""


class ExportFormat(enum.StrEnum):
    CSV = "csv"
    JSON = "json"  # NDJSON: one JSON object per line
    PDF = "pdf"

    @property
    def suffix(self) -> str:
        return {"csv": ".csv", "json": ".ndjson", "pdf": ".pdf"}[self.value]


@dataclass(frozen=True)
class ExportRequest:
    wanted: AttemptFilter
    export_format: ExportFormat
    out_path: Path
    include_transcripts: bool = False  # JSON only
    table_limit: int = DEFAULT_TABLE_LIMIT  # PDF only
    language: str = ENGLISH  # PDF only: en, es or zh_CN (CSV and JSON are data, the same in every language)


@dataclass(frozen=True)
class ExportResult:
    path: Path
    manifest_path: Path
    signature_path: Path
    export_format: ExportFormat
    row_count: int  # attempts the export covers (CSV/NDJSON: its rows)
    sha256: str
    table_rows: int | None = None  # PDF: attempts listed in its unit table


def export_report(
    database: Database,
    request: ExportRequest,
    *,
    signer: ExportSigner,
    station: str,
    progress: ProgressCallback | None = None,
    cancelled: Callable[[], bool] | None = None,
    zone: tzinfo | None = None,
    now: datetime | None = None,
) -> ExportResult:
    """Write the export, its manifest and its signature; return where and what was written."""
    export_format = ExportFormat(request.export_format)
    if request.include_transcripts and export_format is not ExportFormat.JSON:
        raise ReportError("console transcripts go into JSON exports only")
    if request.table_limit < 0:
        raise ReportError("the PDF table limit cannot be negative")
    check_report_language(request.language)
    if export_format is ExportFormat.PDF:
        report_fonts(request.language)  # a language without a font is refused before anything is written
    out_path = request.out_path
    if not out_path.parent.is_dir():
        raise ReportError(f"cannot write {out_path}: folder {out_path.parent} does not exist")
    if out_path.is_dir():
        raise ReportError(f"cannot write {out_path}: it is a folder")
    created_at = (now or datetime.now(UTC)).astimezone(UTC)
    partial = out_path.with_name(f".{out_path.name}.partial")
    total = database.attempts.count_attempts(request.wanted)
    # The chain's head when the export began: the export holds at least what the chain held
    # then, and `report verify` can later tell whether the database still extends it.
    head = database.chain_head()
    chain_head: dict[str, Any] = {"chain_head": None if head is None else head.to_document()}
    extra: dict[str, Any] = {}
    table_rows: int | None = None
    try:
        if export_format is ExportFormat.PDF:
            table_rows, summary_rows = _write_pdf(
                database, request, partial, station, signer, created_at, zone, total, progress, cancelled
            )
            row_count = summary_rows
            extra = {"table_rows": table_rows, "table_limit": request.table_limit, "language": request.language}
        elif export_format is ExportFormat.CSV:
            # CSV needs no records: the store's rows (several times faster) give the same bytes.
            rows = database.attempts.iter_attempt_rows(request.wanted)
            try:
                with partial.open("w", encoding="utf-8", newline="") as out:
                    row_count = export_csv_rows(_watched(rows, total, 0, progress, cancelled), out)
                    out.flush()
                    os.fsync(out.fileno())
            finally:
                close_stream(rows)
        else:
            stream = database.attempts.iter_attempts(
                request.wanted, with_transcripts=request.include_transcripts
            )
            try:
                with partial.open("w", encoding="utf-8", newline="") as out:
                    row_count = export_json(_watched(stream, total, 0, progress, cancelled), out,
                                            include_transcripts=request.include_transcripts)
                    extra = {"include_transcripts": request.include_transcripts}
                    out.flush()
                    os.fsync(out.fileno())
            finally:
                close_stream(stream)
        if cancelled is not None and cancelled():
            raise ExportCancelledError("stopped on request")
        manifest = build_manifest(
            partial, export_format=export_format.value, wanted=request.wanted, row_count=row_count,
            station=station, signer=signer, created_at=created_at, extra={**extra, **chain_head}, name=out_path.name,
        )
        os.replace(partial, out_path)
        manifest_path, signature_path = write_signature_files(out_path, manifest, signer)
    except StationError:
        partial.unlink(missing_ok=True)
        raise
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise ReportError(f"cannot write {out_path}: {error.strerror or error}") from error
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    if progress is not None:
        progress(total + (table_rows or 0), total + (table_rows or 0))
    return ExportResult(
        path=out_path,
        manifest_path=manifest_path,
        signature_path=signature_path,
        export_format=export_format,
        row_count=row_count,
        sha256=manifest.sha256,
        table_rows=table_rows,
    )


def default_export_name(export_format: ExportFormat, wanted: AttemptFilter, at: datetime | None = None) -> str:
    """``report-WO-1234-20260301-140509.csv``: the work order (if any) and the local time."""
    moment = (at or datetime.now(UTC)).astimezone()
    label = "".join(c if c.isalnum() or c in "-_" else "_" for c in (wanted.work_order or ""))[:40]
    stem = f"report-{label}-" if label else "report-"
    return f"{stem}{moment.strftime('%Y%m%d-%H%M%S')}{export_format.suffix}"


def _write_pdf(
    database: Database,
    request: ExportRequest,
    partial: Path,
    station: str,
    signer: ExportSigner,
    created_at: datetime,
    zone: tzinfo | None,
    total: int,
    progress: ProgressCallback | None,
    cancelled: Callable[[], bool] | None,
) -> tuple[int, int]:
    planned = total + min(total, request.table_limit)
    summary = summarize(
        database,
        request.wanted,
        progress=None if progress is None else (lambda done: progress(min(done, total), planned)),
        cancelled=cancelled,
    )
    attempts = summary.figures.attempts
    planned = attempts + min(attempts, request.table_limit)
    stream = database.attempts.iter_attempts(request.wanted, with_transcripts=False,
                                             batch_size=min(1000, max(1, request.table_limit)))
    signatures = database.recipe_trust.recipe_signatures(summary.inventory.recipe_hashes)
    context = PdfContext(wanted=request.wanted, station=station, key_fingerprint=signer.public_key_fingerprint,
                         created_at=created_at, zone=zone, language=request.language, recipe_signatures=signatures)

    def on_row(listed: int) -> None:
        if listed % PROGRESS_EVERY == 0:
            if cancelled is not None and cancelled():
                raise ExportCancelledError("stopped on request")
            if progress is not None:
                progress(attempts + listed, planned)

    try:
        listed = write_pdf(partial, summary, stream, context, table_limit=request.table_limit, on_row=on_row)
    finally:
        close_stream(stream)
    return listed, attempts


def _watched(
    stream: Iterable[_Item],
    total: int,
    offset: int,
    progress: ProgressCallback | None,
    cancelled: Callable[[], bool] | None,
) -> Iterator[_Item]:
    for done, item in enumerate(stream, 1):
        yield item
        if done % PROGRESS_EVERY == 0:
            if cancelled is not None and cancelled():
                raise ExportCancelledError("stopped on request")
            if progress is not None:
                progress(offset + min(done, total), offset + total)
