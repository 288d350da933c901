"""``station report export``: attempts as CSV or NDJSON, filtered, streamed to a file."""

from __future__ import annotations

import argparse
import os
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from station.cli.db import add_database_option, open_checked_database
from station.domain.errors import ConfigurationError, StationError
from station.domain.records import AttemptFilter, AttemptResult
from station.reports.export import export_csv, export_json

EXIT_OK = 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("report", help="export production records")
    commands = parser.add_subparsers(dest="report_command", metavar="ACTION", required=True)
    export = commands.add_parser(
        "export", help="write one line per attempt (CSV or NDJSON); never contains secrets"
    )
    export.add_argument("--format", choices=("csv", "json"), required=True, help="csv, or json (NDJSON)")
    export.add_argument("--out", required=True, type=Path, metavar="FILE", help="file to write (replaced)")
    export.add_argument("--work-order", metavar="WO")
    export.add_argument("--product", metavar="CODE")
    export.add_argument("--station", metavar="NAME")
    export.add_argument("--operator", metavar="NAME")
    export.add_argument("--serial", action="append", metavar="SERIAL", help="only this unit (repeatable)")
    export.add_argument("--since", type=parse_moment, metavar="DATE",
                        help="attempts started at or after (YYYY-MM-DD or ISO time; UTC unless given)")
    export.add_argument("--until", type=parse_until, metavar="DATE",
                        help="attempts started before this time, or on or before this day (YYYY-MM-DD)")
    export.add_argument("--result", choices=[result.value for result in AttemptResult], metavar="RESULT",
                        help="one of " + ", ".join(result.value for result in AttemptResult))
    export.add_argument("--include-transcripts", action="store_true",
                        help="json only: add each attempt's console transcript")
    add_database_option(export)
    export.set_defaults(handler=_export)


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


def _export(arguments: argparse.Namespace) -> int:
    if arguments.include_transcripts and arguments.format != "json":
        raise ConfigurationError("--include-transcripts works with --format json only")
    wanted = AttemptFilter(
        work_order=arguments.work_order,
        product=arguments.product,
        station=arguments.station,
        operator=arguments.operator,
        since=arguments.since,
        until=arguments.until,
        result=None if arguments.result is None else AttemptResult(arguments.result),
        serials=None if not arguments.serial else tuple(arguments.serial),
    )
    out_path: Path = arguments.out
    if out_path.parent and not out_path.parent.is_dir():
        raise ConfigurationError(f"cannot write {out_path}: folder {out_path.parent} does not exist")
    partial = out_path.with_name(f".{out_path.name}.partial")
    database = open_checked_database(arguments)
    try:
        with partial.open("w", encoding="utf-8", newline="") as out:
            rows = database.attempts.iter_attempts(wanted)
            if arguments.format == "csv":
                count = export_csv(rows, out)
            else:
                count = export_json(rows, out, include_transcripts=arguments.include_transcripts)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, out_path)
    except StationError:
        partial.unlink(missing_ok=True)
        raise
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise StationError(f"cannot write {out_path}: {error.strerror or error}") from error
    finally:
        database.dispose()
    print(f"wrote {count} attempt{'s' if count != 1 else ''} to {out_path}")
    return EXIT_OK
