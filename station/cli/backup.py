"""``station backup`` and ``station restore``: the station in one encrypted archive, and back.

The passphrase comes from ``--passphrase-file`` (a file only its owner can read), else
``$STATION_BACKUP_PASSPHRASE``, else a prompt (twice when making a backup): never from the
command line, never printed. ``--pkcs11 URI`` protects the archive's key with an AES key in a
token instead; the token's PIN comes from ``--pin-file``, the settings' PIN file or systemd
credential, or a prompt. ``restore`` ends with the same check as ``station db verify``.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from station.cli.db import chain_report_document, print_chain_report
from station.cli.options import add_store_options, station_options
from station.cli.output import add_json_option, json_wanted, print_document
from station.cli.passphrase import interactive, obtain_passphrase
from station.config.paths import BACKUP_PASSPHRASE_ENVIRONMENT_VARIABLE, configured_station_name
from station.config.settings import default_settings_path
from station.domain.errors import PassphraseError, StationError
from station.domain.records import ChainReport
from station.domain.text import escape_text
from station.operations.backup import make_backup, open_backup_token
from station.operations.backup_archive import Manifest, open_backup_token_key
from station.operations.restore import (
    RestoreResult,
    archive_header,
    check_target,
    recorded_heads,
    restore_station,
    unlock_archive,
)
from station.operations.station import StationFactory
from station.security.backup_crypto import PKCS11
from station.security.keys import read_private_first_line

EXIT_OK = 0
EXIT_NEEDS_ATTENTION = 1


def register(subparsers: Any) -> None:
    backup = subparsers.add_parser(
        "backup", help="write one encrypted archive of the station, taken while it runs: database, chain head, "
        "settings, key files (never a token's key), recipes and their images",
    )  # fmt: skip
    backup.add_argument("--out", type=Path, required=True, metavar="FILE", help="the archive to write (never replaced)")
    _add_secret_options(backup, "protect the archive's key with this AES key of a token (made there if absent)",
                        "the settings' PIN file or systemd credential, else a prompt")  # fmt: skip
    add_store_options(backup)
    add_json_option(backup)
    backup.set_defaults(handler=_backup)

    restore = subparsers.add_parser(
        "restore", help="restore an archive into an empty data directory and database, then verify the chain",
    )  # fmt: skip
    restore.add_argument("file", type=Path, metavar="FILE", help="the archive `station backup` wrote")
    restore.add_argument(
        "--head", type=Path, action="append", default=[], metavar="FILE",
        help="a chain head the station recorded (a copy of its head file, or an export's manifest): a backup "
        "older than it is refused unless --accept-older; may be given several times",
    )  # fmt: skip
    restore.add_argument("--accept-older", action="store_true",
                         help="restore a backup even when it is older than a recorded chain head (it says so)")
    _add_secret_options(restore, "the token key that protects the archive, when the module or token is not where "
                                 "the archive's header says", "a prompt")  # fmt: skip
    add_store_options(restore)
    add_json_option(restore)
    restore.set_defaults(handler=_restore)


def _add_secret_options(parser: argparse.ArgumentParser, pkcs11_help: str, pin_source: str) -> None:
    parser.add_argument("--pkcs11", metavar="URI", default=None, help=pkcs11_help)
    parser.add_argument(
        "--passphrase-file", type=Path, default=None, metavar="FILE",
        help=f"the backup passphrase on the first line of a file only you can read (else "
        f"${BACKUP_PASSPHRASE_ENVIRONMENT_VARIABLE}, else a prompt)",
    )  # fmt: skip
    parser.add_argument("--pin-file", type=Path, default=None, metavar="FILE",
                        help=f"the token's PIN in a file only you can read (else {pin_source})")


def _passphrase(arguments: argparse.Namespace, *, confirm: bool) -> str:
    path: Path | None = arguments.passphrase_file
    if path is not None:
        return read_private_first_line(path, what="backup passphrase file", error=PassphraseError)
    return obtain_passphrase(BACKUP_PASSPHRASE_ENVIRONMENT_VARIABLE, "backup", confirm=confirm)


def _pin_prompt() -> Callable[[str], str] | None:
    return getpass.getpass if interactive() else None


def _backup(arguments: argparse.Namespace, root: StationFactory) -> int:
    options = station_options(arguments)
    paths = root.paths(options)
    settings_path = options.settings_path or default_settings_path(paths.data_dir)
    station = configured_station_name()
    if arguments.pkcs11 is not None:
        token = open_backup_token(arguments.pkcs11, settings_path, pin_file=arguments.pin_file,
                                  prompt=_pin_prompt(), create=True)  # fmt: skip
        try:
            summary = make_backup(paths, settings_path, arguments.out, station=station, token=token)
        finally:
            token.close()
        protection = f"the token key {token.uri}"
    else:
        passphrase = _passphrase(arguments, confirm=True)
        summary = make_backup(paths, settings_path, arguments.out, station=station, passphrase=passphrase)
        protection = "a passphrase"
    manifest = summary.manifest
    if json_wanted(arguments):
        print_document({"file": summary.path, "size": summary.size, "protection": protection,
                        **_manifest_document(manifest)})  # fmt: skip
        return EXIT_OK
    print(f"backup written: {summary.path} ({summary.size} bytes, its key protected by {protection})")
    _print_manifest(manifest)
    return EXIT_OK


def _restore(arguments: argparse.Namespace, root: StationFactory) -> int:
    options = station_options(arguments)
    paths = root.paths(options)
    check_target(paths)  # before asking for anything
    recorded = recorded_heads(paths, arguments.head)
    header = archive_header(arguments.file)
    if header.protection == PKCS11:
        uri = arguments.pkcs11 or header.token_uri or ""
        token = open_backup_token_key(uri, pin_file=arguments.pin_file, prompt=_pin_prompt())
        try:
            key = unlock_archive(header, token=token)
        finally:
            token.close()
    else:
        key = unlock_archive(header, passphrase=_passphrase(arguments, confirm=False))
    result = restore_station(arguments.file, header, key, paths, recorded=recorded,
                             accept_older=arguments.accept_older)  # fmt: skip
    report, not_verified = _verify(root, arguments)
    problems = [item.problem for item in result.comparisons if item.problem is not None]
    attention = bool(problems) or report is None or not report.ok
    if json_wanted(arguments):
        print_document({
            "restored": True, "data_dir": paths.data_dir, "database": result.database,
            "written": [str(path) for path in result.written],
            "recipes": [{"was": was, "now": now} for was, now in result.recipes],
            "older": result.older,
            "head_comparisons": [{"origin": item.origin, "recorded": item.recorded, "archived": item.archived,
                                  "older": item.older, "problem": item.problem} for item in result.comparisons],
            "verify": None if report is None else chain_report_document(report),
            "verify_error": not_verified, **_manifest_document(result.manifest),
        })  # fmt: skip
        return EXIT_NEEDS_ATTENTION if attention else EXIT_OK
    _print_restore(result, paths.data_dir)
    for problem in problems:
        print(f"WARNING: {escape_text(problem)}", file=sys.stderr)
    print("db verify: ", end="")
    if report is None:
        print(f"not run: {escape_text(not_verified or '')}")
    else:
        print_chain_report(report)
    return EXIT_NEEDS_ATTENTION if attention else EXIT_OK


def _verify(root: StationFactory, arguments: argparse.Namespace) -> tuple[ChainReport | None, str | None]:
    """``station db verify`` on the restored station: its report, or why it could not run."""
    options = station_options(arguments)
    try:
        verifier = root.station_public_key(options)
        database = root.open_database(options)
    except StationError as error:
        return None, str(error)
    try:
        return database.verify_chain(verifier), None
    finally:
        database.dispose()


def _manifest_document(manifest: Manifest) -> dict[str, Any]:
    head = manifest.chain_head
    return {
        "station": manifest.station, "created_at": manifest.created_at, "backend": manifest.backend,
        "schema_revision": manifest.schema_revision,
        "chain_head": None if head is None else {"sequence": head.sequence, "entry_hash": head.entry_hash},
        "vault_initialised": manifest.vault_initialised, "keys": manifest.keys,
        "recipes": [{"original": entry.original, "member": entry.member, "used_by": list(entry.used_by),
                     "problem": entry.problem} for entry in manifest.recipes],
        "members": [member.to_json() for member in manifest.members], "notes": list(manifest.notes),
    }  # fmt: skip


def _print_manifest(manifest: Manifest) -> None:
    head = manifest.chain_head
    at = f"chain entry {head.sequence} ({head.entry_hash[:16]}...)" if head is not None else "an empty chain"
    print(f"  station {escape_text(manifest.station)}, {manifest.created_at:%Y-%m-%d %H:%M:%S} UTC; "
          f"{manifest.backend} database at schema revision {manifest.schema_revision}, {at}")
    print(f"  {len(manifest.members)} files: " + ", ".join(member.name for member in manifest.members))
    for name, where in manifest.keys.items():
        print(f"  {name.replace('_', ' ')}: {escape_text(where)}")
    for note in manifest.notes:
        print(f"  note: {escape_text(note)}")


def _print_restore(result: RestoreResult, data_dir: Path) -> None:
    print(f"restored {len(result.written)} files into {data_dir}; database {result.database}")
    _print_manifest(result.manifest)
    for was, now in result.recipes:
        print(f"  recipe {escape_text(was)} is now {now}")
    tokens = [where for where in result.manifest.keys.values() if where.startswith("token ")]
    if tokens:
        print("  keys in a token are not in a backup: this station needs " + "; ".join(tokens))
