"""``station report export|yield|verify|public-key|reconcile``: traceability reports from the command line.

- ``export``: attempts as CSV, NDJSON or PDF, filtered, streamed to a file, and signed: the
  file gets ``FILE.manifest.json`` and ``FILE.sig`` beside it (see ``station.reports.signing``).
- ``yield``: first-pass and final yield, attempts per unit, the failure Pareto and time per
  step, as a table on the terminal (or JSON with ``--json``).
- ``verify``: checks an export against its manifest and signature.
- ``public-key``: prints the station's public key (PEM), to hand to whoever verifies.
- ``reconcile``: per work order, units passed against credentials and token uses spent, and
  every mismatch; exit 1 when anything does not reconcile (``station.cli.reconcile``).

Dates in filters are UTC unless they carry an offset (``2026-03-01T08:00+01:00``); reports
show local time next to UTC.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from station.cli.options import add_store_options, station_options
from station.cli.output import add_json_option, json_wanted, print_document
from station.cli.reconcile import register_reconcile
from station.config import configured_station_name
from station.domain.errors import ConfigurationError, StationError, StationKeyError
from station.domain.languages import ENGLISH, LANGUAGES
from station.domain.records import AttemptFilter, AttemptResult
from station.operations.station import StationFactory
from station.reports.yield_stats import YieldReport

if TYPE_CHECKING:
    from station.config import StationPaths

EXIT_OK = 0
EXIT_NOT_VERIFIED = 1
FORMATS = ("csv", "json", "pdf")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("report", help="traceability reports: signed exports, yield, verification")
    commands = parser.add_subparsers(dest="report_command", metavar="ACTION", required=True)

    export = commands.add_parser(
        "export", help="write the attempts as CSV, NDJSON or PDF, signed by the station key; never contains secrets"
    )
    export.add_argument("--format", choices=FORMATS, required=True,
                        help="csv (one row per attempt), json (NDJSON, one object per attempt with its steps), "
                             "or pdf (a report for people: figures, charts, unit table)")
    export.add_argument("--out", required=True, type=Path, metavar="FILE", help="file to write (replaced)")
    add_filter_options(export)
    export.add_argument("--include-transcripts", action="store_true",
                        help="json only: add each attempt's console transcript")
    export.add_argument("--pdf-rows", type=int, default=None, metavar="N",
                        help="pdf only: list at most N attempts in the unit table (default 5000); the figures "
                             "always cover every attempt, and CSV/JSON list them all")
    export.add_argument("--language", choices=LANGUAGES, default=None,
                        help="pdf only: the report's language, " + ", ".join(LANGUAGES) + " (default en); "
                             "zh_CN needs a font with Chinese characters (Debian: fonts-wqy-microhei)")
    add_store_options(export)
    add_json_option(export)
    export.set_defaults(handler=_export)

    yields = commands.add_parser("yield", help="print yield, failures and time per step for the filtered attempts")
    add_filter_options(yields)
    add_json_option(yields)
    add_store_options(yields)
    yields.set_defaults(handler=_yield)

    verify = commands.add_parser(
        "verify", help="check an export against its manifest and signature, and that the database still "
        "extends the chain head the export was made at"
    )
    verify.add_argument("file", type=Path, metavar="FILE", help="the exported file (FILE.manifest.json and "
                                                                 "FILE.sig must be beside it)")
    verify.add_argument("--public-key", type=Path, metavar="PEM",
                        help="the signing station's public key (trusted); default: this station's own key "
                             "when it has one, else only the key named in the manifest")
    add_store_options(verify)
    add_json_option(verify)
    verify.set_defaults(handler=_verify)

    public_key = commands.add_parser("public-key", help="print this station's public key (PEM) for verifiers")
    public_key.add_argument("--out", type=Path, metavar="FILE", help="write it to FILE instead")
    add_store_options(public_key, uses_database=False)
    add_json_option(public_key)
    public_key.set_defaults(handler=_public_key)

    register_reconcile(commands)


def add_filter_options(parser: argparse.ArgumentParser) -> None:
    """The filters every report takes (all optional; together they narrow the selection)."""
    parser.add_argument("--work-order", metavar="WO")
    parser.add_argument("--product", metavar="CODE")
    parser.add_argument("--recipe", metavar="SHA256", help="the recipe's SHA-256 (as the cover and CSV show it)")
    parser.add_argument("--station", metavar="NAME")
    parser.add_argument("--operator", metavar="NAME")
    parser.add_argument("--serial", action="append", metavar="SERIAL", help="only this unit (repeatable)")
    parser.add_argument("--serials-file", type=Path, metavar="FILE", help="only the units listed, one serial a line")
    parser.add_argument("--since", type=parse_moment, metavar="DATE",
                        help="attempts started at or after (YYYY-MM-DD or ISO time; UTC unless given)")
    parser.add_argument("--until", type=parse_until, metavar="DATE",
                        help="attempts started before this time, or on or before this day (YYYY-MM-DD)")
    parser.add_argument("--result", choices=[result.value for result in AttemptResult], metavar="RESULT",
                        help="one of " + ", ".join(result.value for result in AttemptResult))


def filter_from_arguments(arguments: argparse.Namespace) -> AttemptFilter:
    serials: list[str] = list(arguments.serial or [])
    if arguments.serials_file is not None:
        try:
            text = arguments.serials_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigurationError(f"cannot read the serial list {arguments.serials_file}: {error}") from None
        serials += [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
        if not serials:
            raise ConfigurationError(f"the serial list {arguments.serials_file} names no serial")
    recipe = arguments.recipe.strip().lower() if arguments.recipe else None
    if recipe is not None and (len(recipe) != 64 or any(c not in "0123456789abcdef" for c in recipe)):
        raise ConfigurationError("--recipe takes the recipe's SHA-256: 64 hexadecimal digits")
    return AttemptFilter(
        work_order=arguments.work_order,
        product=arguments.product,
        recipe_hash=recipe,
        station=arguments.station,
        operator=arguments.operator,
        since=arguments.since,
        until=arguments.until,
        result=None if arguments.result is None else AttemptResult(arguments.result),
        serials=tuple(dict.fromkeys(serials)) if serials else None,
    )


def parse_moment(text: str) -> datetime:
    """A date (midnight UTC) or an ISO 8601 time (UTC when it names no offset)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date or ISO 8601 time: {text!r}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def parse_until(text: str) -> datetime:
    """Like parse_moment, but a bare date means the end of that day (so the day is included)."""
    moment = parse_moment(text)
    try:
        date.fromisoformat(text)
    except ValueError:
        return moment
    return datetime.combine(moment.date() + timedelta(days=1), time(), tzinfo=UTC)


def _paths(arguments: argparse.Namespace, root: StationFactory) -> StationPaths:
    return root.paths(station_options(arguments))


# ---------------------------------------------------------------------------------------------


def _export(arguments: argparse.Namespace, root: StationFactory) -> int:
    from station.reports.pdf import DEFAULT_TABLE_LIMIT
    from station.reports.service import ExportFormat, ExportRequest, export_report

    if arguments.include_transcripts and arguments.format != "json":
        raise ConfigurationError("--include-transcripts works with --format json only")
    if arguments.pdf_rows is not None and arguments.format != "pdf":
        raise ConfigurationError("--pdf-rows works with --format pdf only")
    if arguments.pdf_rows is not None and arguments.pdf_rows < 0:
        raise ConfigurationError("--pdf-rows cannot be negative")
    if arguments.language is not None and arguments.format != "pdf":
        raise ConfigurationError("--language works with --format pdf only (CSV and JSON are data, in no language)")
    wanted = filter_from_arguments(arguments)
    out_path: Path = arguments.out
    if out_path.parent and not out_path.parent.is_dir():
        raise ConfigurationError(f"cannot write {out_path}: folder {out_path.parent} does not exist")
    request = ExportRequest(
        wanted=wanted,
        export_format=ExportFormat(arguments.format),
        out_path=out_path,
        include_transcripts=arguments.include_transcripts,
        table_limit=DEFAULT_TABLE_LIMIT if arguments.pdf_rows is None else arguments.pdf_rows,
        language=arguments.language or ENGLISH,
    )
    database = root.open_database(station_options(arguments))
    try:
        signer = root.station_key(station_options(arguments))  # the station's own: an export never makes one
        result = export_report(database, request, signer=signer, station=configured_station_name())
    finally:
        database.dispose()
    if json_wanted(arguments):
        print_document({"out": out_path, "format": arguments.format, "rows": result.row_count,
                        "table_rows": result.table_rows, "manifest": result.manifest_path,
                        "signature": result.signature_path, "station_key_fingerprint": signer.public_key_fingerprint})
        return EXIT_OK
    noun = "attempt" if result.row_count == 1 else "attempts"
    listed = "" if result.table_rows is None or result.table_rows == result.row_count else (
        f" ({result.table_rows} listed in the unit table)")
    print(f"wrote {result.row_count} {noun} to {out_path}{listed}")
    print(f"signed: {result.manifest_path.name}, {result.signature_path.name} "
          f"(station key {signer.public_key_fingerprint[:16]}…)")
    return EXIT_OK


def _yield(arguments: argparse.Namespace, root: StationFactory) -> int:
    from station.reports.summary import compute_yield

    wanted = filter_from_arguments(arguments)
    database = root.open_database(station_options(arguments))
    try:
        figures = compute_yield(database, wanted)
    finally:
        database.dispose()
    if json_wanted(arguments):
        print_document(figures.to_json())
        return EXIT_OK
    print_yield_table(figures, wanted)
    return EXIT_OK


def print_yield_table(figures: YieldReport, wanted: AttemptFilter, out: TextIO | None = None) -> None:
    """The ``station report yield`` table."""
    from station.reports.filters import describe_filter, human_duration, local_time

    out = out or sys.stdout

    def percent(value: float | None, numerator: int, denominator: int) -> str:
        return "-" if value is None else f"{value * 100:6.2f} %  ({numerator} of {denominator})"

    lines = [f"{label}: {value}" for label, value in describe_filter(wanted)]
    print("; ".join(lines), file=out)
    rows = [
        ("attempts", f"{figures.attempts}  ({', '.join(f'{k} {v}' for k, v in figures.result_counts.items())})"
         if figures.attempts else "0"),
        ("units", f"{figures.units}  (golden left out: {figures.golden_units} units, "
                  f"{figures.golden_attempts} attempts; rework attempts: {figures.rework_attempts})"),
        ("first-pass yield", percent(figures.first_pass_yield, figures.first_pass_units, figures.units_started)),
        ("final yield", percent(figures.final_yield, figures.final_pass_units, figures.units)),
        ("attempts per unit", "-" if figures.attempts_per_unit is None else f"{figures.attempts_per_unit:.3f}"),
        ("units per hour", "-" if figures.units_per_hour is None or figures.span_hours is None else
         f"{figures.units_per_hour:.1f}  (over {human_duration(figures.span_hours * 3600)}: "
         f"{local_time(figures.span_start)} to {local_time(figures.span_end)})"),
        ("in progress", str(figures.in_progress_attempts)),
    ]
    width = max(len(label) for label, _ in rows)
    print(file=out)
    for label, value in rows:
        print(f"{label:<{width}}  {value}", file=out)
    for title, entries in (("failures by step", figures.failures_by_step),
                           ("failures by code", figures.failures_by_code)):
        print(f"\n{title} ({figures.failures} failures)", file=out)
        if not entries:
            print("  none", file=out)
        name_width = max(12, *(len(entry.name) for entry in entries)) if entries else 12
        for entry in entries:
            print(f"  {entry.name:<{name_width}} {entry.count:>8}  {entry.share * 100:6.1f} %  "
                  f"cumulative {entry.cumulative_share * 100:6.1f} %", file=out)
    print("\ntime per step (seconds)", file=out)
    timings = [*figures.step_times, *([figures.attempt_time] if figures.attempt_time else [])]
    if not timings:
        print("  none", file=out)
    else:
        step_width = max(12, *(len(timing.step) for timing in timings))
        print(f"  {'step':<{step_width}} {'count':>8} {'median':>9} {'p95':>9} {'max':>9}", file=out)
        for timing in timings:
            print(f"  {timing.step:<{step_width}} {timing.count:>8} {timing.median_s:>9.3f} {timing.p95_s:>9.3f} "
                  f"{timing.max_s:>9.3f}", file=out)


def _verify(arguments: argparse.Namespace, root: StationFactory) -> int:
    from station.reports.filters import local_time
    from station.reports.signing import verify_export
    from station.security.station_key import StationPublicKey

    path: Path = arguments.file
    trusted: StationPublicKey | None = None
    source = ""
    if arguments.public_key is not None:
        try:
            trusted = StationPublicKey.from_pem(arguments.public_key.read_bytes())
        except OSError as error:
            raise StationKeyError(f"cannot read the public key {arguments.public_key}: "
                                  f"{error.strerror or error}") from None
        source = f"the trusted key {arguments.public_key}"
    else:
        try:
            trusted = root.station_public_key(station_options(arguments))
            source = "this station's key"
        except StationKeyError as error:
            print(f"note: this station's key is not usable ({error}); checking with the manifest's key only",
                  file=sys.stderr)
    outcome = verify_export(path, trusted_key=trusted)
    manifest = outcome.manifest
    chain = _chain_head_check(arguments, root, manifest) if outcome.ok else None
    if json_wanted(arguments):
        print_document({
            "ok": outcome.ok and chain is not None and chain["ok"],
            "file": path,
            "format": manifest.get("format"),
            "rows": manifest.get("row_count"),
            "rows_recounted": outcome.rows_recounted,
            "sha256": manifest.get("sha256"),
            "created_at": manifest.get("created_at"),
            "station": manifest.get("station"),
            "key_fingerprint": outcome.key_fingerprint,
            "trusted_key": trusted is not None,
            "key_source": source or None,
            "findings": [{"problem": finding.problem.value, "detail": finding.detail} for finding in outcome.findings],
            "chain": chain,
        })  # fmt: skip
        return EXIT_OK if outcome.ok and chain is not None and chain["ok"] else EXIT_NOT_VERIFIED
    if outcome.ok and chain is not None:
        rows = manifest.get("row_count")
        recounted = " (recounted)" if outcome.rows_recounted is not None else ""
        created = manifest.get("created_at")
        created_text = local_time(datetime.fromisoformat(created)) if isinstance(created, str) else "?"
        print(f"OK: {path} is as signed")
        print(f"  {manifest.get('format')} export, {rows} rows{recounted}, SHA-256 {manifest.get('sha256')}")
        print(f"  created {created_text} by station {manifest.get('station')}")
        if trusted is not None:
            print(f"  signed by {source} ({outcome.key_fingerprint})")
        else:
            print(f"  signed by the key named in the manifest ({outcome.key_fingerprint}); this proves the file is "
                  "unchanged since signing, not who signed it: pass --public-key with the station's public key")
        print(chain["message"], file=sys.stdout if chain["ok"] else sys.stderr)
        return EXIT_OK if chain["ok"] else EXIT_NOT_VERIFIED

    print(f"FAILED: {path} does not verify", file=sys.stderr)
    for finding in outcome.findings:
        print(f"  {finding}", file=sys.stderr)
    if any(finding.problem.value == "signed by another key" for finding in outcome.findings) and \
            arguments.public_key is None:
        print("  (if the export comes from another station, verify with that station's public key: "
              "--public-key FILE)", file=sys.stderr)
    return EXIT_NOT_VERIFIED


def _chain_head_check(arguments: argparse.Namespace, root: StationFactory, manifest: dict[str, Any]) -> dict[str, Any]:
    """Whether the database still extends the chain head the export was made at: a database
    restored from an older backup, or with entries removed since, does not. ``ok``, what was
    compared, and ``message``, the line the text output prints (on stderr when not ``ok``)."""
    from station.domain.chain import ChainHead, compare_head

    check: dict[str, Any] = {"ok": True, "checked": False, "sequence": None, "entries": None, "database": None}
    document = manifest.get("chain_head")
    if document is None:
        return {**check, "message": "  the export names no chain head (made before the chain, or from an empty "
                                    "database)"}
    try:
        head = ChainHead.from_document(document)
    except ValueError as error:
        return {**check, "ok": False,
                "message": f"FAILED: {arguments.file}: the manifest's chain head is not readable ({error})"}
    check["sequence"] = head.sequence
    try:
        database = root.open_database(station_options(arguments))
    except StationError as error:
        return {**check, "message": f"  made at chain entry {head.sequence}; the database was not checked ({error})"}
    try:
        last = database.last_sequence()
        problem = compare_head(head, last, database.entry_hash_at(head.sequence), "this export")
    finally:
        database.dispose()
    check.update(checked=True, entries=last, database=str(database.url))
    if problem is not None:
        return {**check, "ok": False,
                "message": f"FAILED: the database {database.url} does not extend this export: {problem}"}
    return {**check, "message": f"  made at chain entry {head.sequence}; the database {database.url} still extends "
                                f"it ({last} entries now)"}


def _public_key(arguments: argparse.Namespace, root: StationFactory) -> int:
    key = root.station_public_key(station_options(arguments))
    pem = key.public_key_pem()
    if arguments.out is not None:
        arguments.out.write_text(pem, encoding="ascii")
    if json_wanted(arguments):
        print_document({"public_key_pem": pem, "fingerprint": key.public_key_fingerprint, "out": arguments.out})
        return EXIT_OK
    if arguments.out is None:
        print(pem, end="")
    else:
        print(f"wrote the station's public key to {arguments.out}")
    return EXIT_OK
