"""``station db upgrade|status|verify``: the traceability database's schema and audit chain.

The store (SQLAlchemy, Alembic) is imported only when a command runs, so building the
``station`` parser stays cheap. Which database and station key these mean is the composition
root's decision, the same as for every other command.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from station.cli.options import add_store_options, station_options
from station.cli.output import add_json_option, json_wanted, print_document
from station.config.paths import configured_station_name
from station.domain.errors import StationKeyError
from station.domain.records import ChainReport
from station.domain.text import escape_text
from station.domain.vault_and_signing import AuditVerifier
from station.operations.line_link import compare_against_line
from station.operations.station import StationFactory
from station.security.station_key import StationPublicKey

EXIT_OK = 0
EXIT_AUDIT_BAD = 1


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("db", help="the traceability database: schema and audit log")
    commands = parser.add_subparsers(dest="db_command", metavar="ACTION", required=True)

    upgrade = commands.add_parser("upgrade", help="create the schema, or bring it to this station's version")
    add_store_options(upgrade)
    add_json_option(upgrade)
    upgrade.set_defaults(handler=_upgrade)

    status = commands.add_parser("status", help="print the schema revision and whether it is current")
    add_store_options(status)
    add_json_option(status)
    status.set_defaults(handler=_status)

    verify = commands.add_parser(
        "verify", help="walk the chain's hashes and signatures, check every record against it and the head "
        "file; name every entry that differs"
    )
    verify.add_argument(
        "--public-key", type=Path, metavar="FILE",
        help="the station's Ed25519 public key (PEM); default: the public half of the station key",
    )
    verify.add_argument(
        "--against-line", action="store_true",
        help="also check this station's chain against the line database's copy ([line] database_url): a "
        "database that lost entries the line holds is found",
    )
    add_store_options(verify)
    add_json_option(verify)
    verify.set_defaults(handler=_verify)


def _upgrade(arguments: argparse.Namespace, root: StationFactory) -> int:
    from station.store import open_database

    paths = root.paths(station_options(arguments))
    database = open_database(paths.db_url)
    try:
        before = database.current_revision()
        reached = database.upgrade()
        head_file = database.keep_head_in(paths.data_dir)
        head = database.chain_head()
        if head is not None and head_file.read() is None:  # the chain's first head, as the upgrade left it
            head_file.advance(head)
    finally:
        database.dispose()
    if json_wanted(arguments):
        print_document({"database": str(database.url), "previous_revision": before, "revision": reached,
                        "upgraded": before != reached, "current": True})
        return EXIT_OK
    if before == reached:
        print(f"database {database.url} is already at schema revision {reached} (current)")
    else:
        print(f"database {database.url} upgraded from {before or 'empty'} to schema revision {reached} (current)")
    return EXIT_OK


def _status(arguments: argparse.Namespace, root: StationFactory) -> int:
    from station.store import head_revision

    database = root.open_database(station_options(arguments), check_schema=False)
    try:
        current = database.current_revision()
    finally:
        database.dispose()
    head = head_revision()
    if json_wanted(arguments):
        print_document({"database": str(database.url), "revision": current, "head_revision": head,
                        "current": current == head})
        return EXIT_OK
    state = "current" if current == head else f"this station needs {head}; run `station db upgrade`"
    print(f"database {database.url}: schema revision {current or 'none'} ({state})")
    return EXIT_OK


def _verify(arguments: argparse.Namespace, root: StationFactory) -> int:
    verifier = _audit_verifier(arguments, root)
    database = root.open_database(station_options(arguments))
    try:
        report = database.verify_chain(verifier)
        line = None
        if arguments.against_line:
            settings = root.settings(station_options(arguments))
            line = compare_against_line(database, settings.line, configured_station_name())
    finally:
        database.dispose()
    if json_wanted(arguments):
        document = chain_report_document(report)
        if line is not None:
            document["line"] = {"ok": line.ok, "station": line.station, "line_sequence": line.line_sequence,
                                "local_sequence": line.local_sequence, "problems": list(line.problems)}  # fmt: skip
        print_document(document)
    else:
        print_chain_report(report)
        if line is not None:
            if line.ok:
                print(f"line OK: the line holds entries 1..{line.line_sequence} of station {line.station}, "
                      f"all the same here (this database: {line.local_sequence})")
            else:
                print(f"line BAD: {len(line.problems)} problem(s) against the line's copy of station {line.station}")
                for problem in line.problems:
                    print(f"  {problem}")
    return EXIT_OK if report.ok and (line is None or line.ok) else EXIT_AUDIT_BAD


def chain_report_document(report: ChainReport) -> dict[str, Any]:
    """What ``db verify --json`` prints (``station restore`` ends with the same check)."""
    chain = report.chain
    return {
        "ok": report.ok,
        "entries_checked": chain.entries_checked,
        "head": chain.last_hash,
        "records_checked": report.records_checked,
        "head_note": report.head_note,
        "chain_problem": None if chain.ok else {"sequence": chain.bad_sequence, "problem": chain.problem,
                                                "explanation": chain.explanation},
        "finding_count": report.finding_count,
        "findings": [{"sequence": finding.sequence, "problem": finding.problem,
                      "explanation": finding.explanation} for finding in report.findings],
    }  # fmt: skip


def print_chain_report(report: ChainReport) -> None:
    """What ``db verify`` prints: one line when the chain is OK, else each problem."""
    chain = report.chain
    if report.ok:
        head = f", head {chain.last_hash}" if chain.last_hash else ""
        print(f"chain OK: {chain.entries_checked} entries verified{head}; "
              f"{report.records_checked} records match their entries; {report.head_note}")
        return
    problems = report.finding_count + (0 if chain.ok else 1)
    print(f"chain BAD: {problems} {'problem' if problems == 1 else 'problems'}; {report.head_note}")
    if not chain.ok:
        print(f"  entry {chain.bad_sequence}: {chain.problem} -- {chain.explanation} "
              f"({chain.entries_checked} entries before it verified)")
    for finding in report.findings:
        print(f"  {finding.problem}: {escape_text(finding.explanation)}")
    if report.finding_count > len(report.findings):
        print(f"  ... and {report.finding_count - len(report.findings)} more")


def _audit_verifier(arguments: argparse.Namespace, root: StationFactory) -> AuditVerifier:
    """The public key given with --public-key, else the public half of the station's own key."""
    path: Path | None = arguments.public_key
    if path is None:
        return root.station_public_key(station_options(arguments))
    try:
        return StationPublicKey.from_pem(path.read_bytes())
    except OSError as error:
        raise StationKeyError(f"cannot read the public key {path}: {error.strerror or error}") from None
    except StationKeyError as error:
        raise StationKeyError(f"{path}: {error}") from None
