"""``station units show SERIAL`` and ``station units golden SERIAL``.

``show`` prints everything the station ever did to one unit. ``golden`` marks a reference
unit (reports leave it out of yield; ``station selftest`` checks the station with it), a
supervisor's decision that needs their PIN. Its reference is read from the unit when
``--recipe``, ``--probe`` and ``--console`` say where it is, else taken from its PASS attempt.
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path
from typing import Any

from station.cli.labels import label_job_document
from station.cli.options import add_store_options, station_options
from station.cli.output import add_json_option, json_wanted, print_document
from station.cli.pins import add_supervisor_options, obtain_pin
from station.cli.provision import CLI_SLOT
from station.config.settings import SlotSettings
from station.domain.errors import ConfigurationError, StoreError
from station.domain.records import AttemptRecord, CredentialRecord, UnitRecord
from station.domain.text import escape_text
from station.operations.station import StationFactory

EXIT_OK = 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("units", help="look up units in the traceability store")
    commands = parser.add_subparsers(dest="units_command", metavar="ACTION", required=True)
    show = commands.add_parser("show", help="print a unit's full history: attempts, steps, credentials")
    show.add_argument("serial", metavar="SERIAL")
    show.add_argument("--no-transcript", action="store_true", help="leave out console transcripts")
    add_store_options(show)
    add_json_option(show)
    show.set_defaults(handler=_show)

    golden = commands.add_parser(
        "golden", help="supervisor: mark a unit as a golden reference unit (left out of yield), or --unmark it"
    )
    golden.add_argument("serial", metavar="SERIAL")
    golden.add_argument("--unmark", action="store_true", help="the unit is no longer a golden unit")
    add_supervisor_options(golden, "deciding")
    golden.add_argument("--recipe", type=Path, default=None,
                        help="with --probe and --console: read the reference from the unit, against this recipe")
    golden.add_argument("--probe", default=None, help="the probe the unit is on (its reference is read from it)")
    golden.add_argument("--console", default=None, help="the unit's serial console port")
    add_store_options(golden)
    add_json_option(golden)
    golden.set_defaults(handler=_golden)


def _golden(arguments: argparse.Namespace, root: StationFactory) -> int:
    where = (arguments.recipe, arguments.probe, arguments.console)
    if any(part is not None for part in where) and (None in where or arguments.unmark):
        raise ConfigurationError("the reference is read from the unit with --recipe, --probe and --console "
                                 "together, when marking (not with --unmark)")  # fmt: skip
    pin = obtain_pin(arguments.supervisor, arguments.pin_file)
    slot = None if arguments.probe is None else SlotSettings(CLI_SLOT, arguments.probe, arguments.console)
    station = root.open_station(station_options(arguments), recipe=arguments.recipe,
                                slots=None if slot is None else (slot,))  # fmt: skip
    try:
        unit = station.supervision.mark_golden(arguments.serial, arguments.supervisor, pin,
                                               golden=not arguments.unmark, slot=slot)  # fmt: skip
        reference = station.selftests.reference(unit.serial) if unit.is_golden else None
    finally:
        station.close()
    if json_wanted(arguments):
        print_document({"serial": unit.serial, "golden": unit.is_golden,
                        "reference": None if reference is None else reference.to_json()})  # fmt: skip
        return EXIT_OK
    print(f"unit {unit.serial} is {'now' if unit.is_golden else 'no longer'} a golden reference unit")
    if reference is not None:
        images = ", ".join(f"{image.name} {image.sha256[:12]}…" for image in reference.images)
        print(escape_text(f"reference {reference.id} from {reference.source}: device {reference.device_id}, "
                          f"{'locked' if reference.locked else 'unlocked'}, images {images}, firmware "
                          f"{reference.console.firmware_version}, endpoint {reference.console.endpoint or '-'}"))
    return EXIT_OK


def _show(arguments: argparse.Namespace, root: StationFactory) -> int:
    database = root.open_database(station_options(arguments))
    try:
        unit = database.units.get_unit(arguments.serial)
        if unit is None:
            raise StoreError(f"no unit with serial {arguments.serial!r} in {database.url}")
        attempts = database.attempts.history(unit.serial)
        credentials = database.credentials.credentials_for_serial(unit.serial)
        labels = database.labels.for_serial(unit.serial)
    finally:
        database.dispose()
    if json_wanted(arguments):
        document = unit_history_document(unit, attempts, credentials, transcripts=not arguments.no_transcript)
        document["labels"] = [label_job_document(job) for job in labels]
        print_document(document)
        return EXIT_OK
    print(format_unit_history(unit, attempts, credentials, transcripts=not arguments.no_transcript))
    for job in labels:  # "label printed", "label pending (2 tries: printer ... refused the connection)"
        print(escape_text(f"  attempt {job.attempt_id} label job {job.id}: {job.describe}"))
    return EXIT_OK


def format_unit_history(
    unit: UnitRecord,
    attempts: list[AttemptRecord],
    credentials: list[CredentialRecord],
    *,
    transcripts: bool = True,
) -> str:
    lines = [f"Unit {unit.serial}"]
    lines.append(f"  device id      {unit.device_id or '-'}")
    lines.append(f"  first seen     {_time(unit.first_seen_at)}")
    flags = [name for name, on in (("DEVELOPMENT (erased; never ship)", unit.is_development),
                                   ("GOLDEN (reference unit)", unit.is_golden)) if on]
    if flags:
        lines.append(f"  marked         {', '.join(flags)}")
    lines.append(f"  attempts       {len(attempts)}")
    by_attempt: dict[int, list[CredentialRecord]] = {}
    for credential in credentials:
        by_attempt.setdefault(credential.attempt_id, []).append(credential)
    for attempt in attempts:
        lines.append("")
        lines.extend(_attempt_lines(attempt, by_attempt.get(attempt.id, []), transcripts))
    return "\n".join(escape_text(line) for line in lines)  # no field can start a line of its own


def unit_history_document(
    unit: UnitRecord,
    attempts: list[AttemptRecord],
    credentials: list[CredentialRecord],
    *,
    transcripts: bool = True,
) -> dict[str, Any]:
    """What :func:`format_unit_history` prints, as data: each attempt as the JSON export has it
    (``station.reports.export``), with its credentials (fingerprints and state, no keys)."""
    from station.reports.export import attempt_document

    documents = []
    for attempt in attempts:
        document = attempt_document(attempt, include_transcript=transcripts)
        document["credentials"] = [
            {"certificate_serial": credential.certificate_serial, "state": credential.state.value,
             "certificate_fingerprint": credential.certificate_fingerprint}
            for credential in credentials if credential.attempt_id == attempt.id
        ]  # fmt: skip
        documents.append(document)
    return {
        "serial": unit.serial,
        "device_id": unit.device_id,
        "first_seen_at": unit.first_seen_at,
        "development": unit.is_development,
        "golden": unit.is_golden,
        "attempt_count": len(attempts),
        "attempts": documents,
    }


def _attempt_lines(attempt: AttemptRecord, credentials: list[CredentialRecord], transcripts: bool) -> list[str]:
    duration = "" if attempt.ended_at is None else f" ({(attempt.ended_at - attempt.started_at).total_seconds():.1f} s)"
    lines = [
        f"Attempt {attempt.id}: {attempt.result.value} (journal state {attempt.state.value})",
        f"  started        {_time(attempt.started_at)}",
        f"  ended          {_time(attempt.ended_at)}{duration}",
        f"  station        {attempt.station}",
        f"  operator       {attempt.operator}",
        f"  work order     {attempt.work_order or '-'}",
        f"  product        {attempt.product}",
        f"  recipe         {attempt.recipe_hash}",
        f"  device id      {attempt.device_id or '-'}",
        f"  probe          {attempt.probe_id or '-'}",
        f"  previous       {attempt.previous_attempt_id or '-'}",
        f"  rework         {'yes' if attempt.is_rework else 'no'}",
    ]
    for image_hash in attempt.image_hashes:
        lines.append(f"  image sha256   {image_hash}")
    lines.append(f"  certificate    {attempt.certificate_fingerprint or '-'} (SHA-256 fingerprint)")
    lines.append(f"  token          {attempt.token_fingerprint or '-'} (keyed fingerprint)")
    if attempt.failure_code or attempt.failure_step or attempt.failure_message:
        lines.append(f"  failure        step {attempt.failure_step or '-'}, code {attempt.failure_code or '-'}: "
                     f"{attempt.failure_message or ''}")
    if attempt.steps:
        lines.append("  steps")
        width = max(len(step.name) for step in attempt.steps)
        for step in attempt.steps:
            seconds = "" if step.ended_at is None else f"{(step.ended_at - step.started_at).total_seconds():8.3f} s"
            code = f" [{step.failure_code}]" if step.failure_code else ""
            detail = f"  {step.detail}" if step.detail else ""
            lines.append(f"    {step.name:<{width}}  {step.outcome.value:<8} {seconds:>10}{code}{detail}")
    for credential in credentials:
        lines.append(f"  credential     serial {credential.certificate_serial} {credential.state.value}, "
                     f"fingerprint {credential.certificate_fingerprint}")
    if transcripts and attempt.console_transcript:
        lines.append("  console transcript")
        lines.extend(f"    | {line}" for line in attempt.console_transcript.splitlines())
    return lines


def _time(moment: datetime | None) -> str:
    return "-" if moment is None else moment.isoformat(timespec="seconds")
