"""``station line status|forward|conflicts|serials``: this station's link to the line database.

``status`` says whether the line answers and how many of this station's entries it does not hold
yet; ``forward`` sends them now (a running station forwards by itself every few seconds).
"""

from __future__ import annotations

import argparse
from typing import Any

from station.cli.options import add_store_options, station_options
from station.cli.output import add_json_option, json_wanted, print_document
from station.config.paths import configured_station_name
from station.domain.errors import LineDatabaseError
from station.domain.text import token
from station.operations.line_link import (
    describe_conflict,
    forward_once,
    line_conflicts,
    line_holds,
    line_serial_counts,
)
from station.operations.station import StationFactory

EXIT_OK = 0
EXIT_LINE_AWAY = 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("line", help="the line database: is it reached, what waits to be forwarded")
    commands = parser.add_subparsers(dest="line_command", metavar="ACTION", required=True)
    for name, help_text in (
        ("status", "whether the line database answers, and how many of this station's entries it lacks"),
        ("forward", "forward this station's entries to the line database now"),
    ):
        command = commands.add_parser(name, help=help_text)
        add_store_options(command)
        add_json_option(command)
        command.set_defaults(handler=_run)
    conflicts = commands.add_parser("conflicts", help=(
        "what stations did apart that disagrees (a serial passed at two, a device under two serials, a development "
        "unit passed): for a supervisor"))  # fmt: skip
    add_store_options(conflicts, uses_database=False)
    add_json_option(conflicts)
    conflicts.set_defaults(handler=_conflicts)
    serials = commands.add_parser(
        "serials", help="a work order's serials on the whole line: leased, used, returned, scrapped, per station"
    )
    serials.add_argument("work_order", metavar="WORK_ORDER")
    add_store_options(serials, uses_database=False)
    add_json_option(serials)
    serials.set_defaults(handler=_serials)


def _serials(arguments: argparse.Namespace, root: StationFactory) -> int:
    settings = root.settings(station_options(arguments)).line
    on_line = line_serial_counts(settings, arguments.work_order)
    if json_wanted(arguments):
        print_document(on_line.to_document())
        return EXIT_OK
    counts = on_line.totals
    print(f"work order {token(counts.work_order)} on the line: {counts.range_size} serials in its range, "
          f"{counts.leased} leased to stations ({counts.free} free in leases, {on_line.unrecorded} not recorded by "
          f"a station yet), {counts.unleased} not leased")  # fmt: skip
    verdict = "adds up" if on_line.adds_up else "DOES NOT ADD UP: inspect the stations"
    print(f"  allocated {counts.allocated}, bound {counts.bound}, used {counts.used}, returned {counts.returned}, "
          f"scrapped {counts.scrapped}; {verdict}")
    for station, states in sorted(on_line.by_station.items()):
        listed = ", ".join(f"{state} {number}" for state, number in sorted(states.items()))
        print(f"  {token(station)}: {listed}")
    return EXIT_OK


def _conflicts(arguments: argparse.Namespace, root: StationFactory) -> int:
    settings = root.settings(station_options(arguments)).line
    found = line_conflicts(settings)
    if json_wanted(arguments):
        listed = [{"kind": kind, "subject": subject, "stations": stations.split(","), "found_at": found_at}
                  for kind, subject, stations, found_at in found]  # fmt: skip
        print_document({"conflicts": listed})
        return EXIT_OK
    if not found:
        print("no conflicts between stations")
    for kind, subject, stations, found_at in found:
        print(f"{found_at:%Y-%m-%d %H:%M:%S} {token(kind)}: {describe_conflict(kind, subject, stations)}")
    return EXIT_OK


def _run(arguments: argparse.Namespace, root: StationFactory) -> int:
    options = station_options(arguments)
    settings = root.settings(options).line
    station = configured_station_name()
    if settings.database_url is None:
        raise LineDatabaseError("no line database is configured: set [line] database_url in the station settings")
    database = root.open_database(options)
    try:
        send = arguments.line_command == "forward"
        report = (forward_once if send else line_holds)(database, settings, station)
        error = None
    except LineDatabaseError as failed:
        report, error = None, failed
        local = database.last_sequence()
    finally:
        database.dispose()
    forwarded = report is not None and arguments.line_command == "forward"
    document: dict[str, Any] = {"station": station, "line": settings.database_url, "policy": settings.policy,
                                "reached": report is not None}  # fmt: skip
    if report is not None:
        document.update(forwarded=report.forwarded, line_sequence=report.line_sequence,
                        local_sequence=report.local_sequence, pending=report.pending)
    else:
        document.update(local_sequence=local, error=str(error), code=error.code if error else None)
    if json_wanted(arguments):
        print_document(document)
    elif report is not None:
        done = f"forwarded {report.forwarded}; " if forwarded or report.forwarded else ""
        print(f"line database {settings.database_url}: reached; {done}it holds entries 1..{report.line_sequence} "
              f"of station {station} ({report.pending} waiting)")
    else:
        print(f"line database {settings.database_url}: NOT reached: {error}")
    return EXIT_OK if report is not None else EXIT_LINE_AWAY
