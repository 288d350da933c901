"""``station labels pending | retry [SERIAL] | reprint SERIAL --supervisor NAME``.

``pending`` lists labels the printer has not taken yet; ``retry`` sends them (one unit's, or
every pending one this station's recipes print); ``reprint`` prints another label for a
passed unit, a supervisor's decision that needs their PIN and is audited
(``station.operations.labels``).
"""

from __future__ import annotations

import argparse
from typing import Any

from station.cli.options import add_store_options, station_options
from station.cli.output import add_json_option, json_wanted, print_document
from station.cli.pins import add_supervisor_options, obtain_pin
from station.domain.label import LabelJobRecord, LabelState
from station.domain.text import escape_text
from station.operations.labels import Labels
from station.operations.station import Station, StationFactory

EXIT_OK = 0
EXIT_NOT_PRINTED = 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("labels", help="labels printed on PASS: pending ones, retries, reprints")
    commands = parser.add_subparsers(dest="labels_command", metavar="ACTION", required=True)
    pending = commands.add_parser("pending", help="list the labels the printer has not taken yet")
    add_store_options(pending)
    add_json_option(pending)
    pending.set_defaults(handler=_pending)

    retry = commands.add_parser("retry", help="send pending labels now (one unit's, or all)")
    retry.add_argument("serial", metavar="SERIAL", nargs="?", default=None)
    add_store_options(retry)
    add_json_option(retry)
    retry.set_defaults(handler=_retry)

    reprint = commands.add_parser("reprint", help="supervisor: print another label for a passed unit (audited)")
    reprint.add_argument("serial", metavar="SERIAL")
    add_supervisor_options(reprint, "approving")
    add_store_options(reprint)
    add_json_option(reprint)
    reprint.set_defaults(handler=_reprint)


def _pending(arguments: argparse.Namespace, root: StationFactory) -> int:
    database = root.open_database(station_options(arguments))
    try:
        jobs = database.labels.pending()
    finally:
        database.dispose()
    return _report(arguments, jobs, empty="no label is pending")


def _retry(arguments: argparse.Namespace, root: StationFactory) -> int:
    station = root.open_station(station_options(arguments))
    try:
        labels = _labels(station)
        jobs = labels.retry_pending() if arguments.serial is None else labels.retry(arguments.serial)
    finally:
        station.close()
    code = _report(arguments, jobs, empty="no label is pending")
    return EXIT_NOT_PRINTED if any(job.state is not LabelState.PRINTED for job in jobs) else code


def _reprint(arguments: argparse.Namespace, root: StationFactory) -> int:
    pin = obtain_pin(arguments.supervisor, arguments.pin_file)
    station = root.open_station(station_options(arguments))
    try:
        job = _labels(station).reprint(arguments.serial, arguments.supervisor, pin)
    finally:
        station.close()
    code = _report(arguments, [job], empty="")
    return EXIT_OK if job.state is LabelState.PRINTED else max(code, EXIT_NOT_PRINTED)


def _labels(station: Station) -> Labels:
    labels = station.units.labels
    assert labels is not None  # every station the root builds prints labels where its recipe says
    return labels


def _report(arguments: argparse.Namespace, jobs: list[LabelJobRecord], *, empty: str) -> int:
    if json_wanted(arguments):
        print_document({"labels": [label_job_document(job) for job in jobs]})
        return EXIT_OK
    if not jobs and empty:
        print(empty)
    for job in jobs:
        print(escape_text(f"{job.serial}  attempt {job.attempt_id}  job {job.id}  {job.describe}"))
    return EXIT_OK


def label_job_document(job: LabelJobRecord) -> dict[str, Any]:
    """One label job as data (no secret: a printer's address, an error, the ZPL's hash)."""
    return {
        "id": job.id, "attempt_id": job.attempt_id, "serial": job.serial, "printer": job.printer,
        "state": job.state.value, "tries": job.tries, "last_error": job.last_error, "zpl_sha256": job.zpl_sha256,
        "created_at": job.created_at, "printed_at": job.printed_at, "reprint_of": job.reprint_of,
        "supervisor": job.supervisor,
    }  # fmt: skip
