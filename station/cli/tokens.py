"""``station tokens import|list``: the activation-token vault.

Tokens are read from a file (one per line), sealed, and stored; from then on they are shown
only as keyed fingerprints. The passphrase comes from ``STATION_VAULT_PASSPHRASE`` or a prompt.
"""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from station.cli.passphrase import obtain_passphrase
from station.config import VAULT_PASSPHRASE_ENVIRONMENT_VARIABLE, StationPaths
from station.domain.errors import VaultError
from station.domain.ports import TokenRepository
from station.security.station_key import load_or_create_station_key
from station.security.vault import TokenVault

EXIT_OK = 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("tokens", help="the activation-token vault: import tokens, list fingerprints")
    commands = parser.add_subparsers(dest="tokens_command", metavar="ACTION", required=True)

    importer = commands.add_parser(
        "import",
        help="seal the tokens of a file (one per line) into the vault "
        f"(passphrase: ${VAULT_PASSPHRASE_ENVIRONMENT_VARIABLE} or prompted)",
    )
    importer.add_argument("--product", required=True, metavar="CODE", help="the production product, e.g. ACME-TOASTER")
    importer.add_argument("--file", required=True, type=Path, metavar="FILE", help="token file, one token per line")
    importer.add_argument("--use-limit", type=int, default=None, metavar="N", help="activations allowed per token")
    add_database_option(importer)
    importer.set_defaults(handler=_import)

    lister = commands.add_parser("list", help="list token fingerprints, products, uses and limits (never tokens)")
    lister.add_argument("--product", metavar="CODE", default=None)
    add_database_option(lister)
    lister.set_defaults(handler=_list)


def add_database_option(parser: argparse.ArgumentParser) -> None:
    """``--db URL``, as ``station.cli.db`` defines it for every command that uses the store.

    Repeated here so that this module (and with it the ``station`` parser) loads even where the
    store package cannot be imported; the store is imported when a tokens command runs.
    """
    parser.add_argument(
        "--db", metavar="URL", default=None,
        help="database URL (any SQLAlchemy URL; default: $STATION_DB_URL, else station.db in the data directory)",
    )


def station_paths(arguments: argparse.Namespace) -> StationPaths:
    return StationPaths.from_environment(db_url=getattr(arguments, "db", None))


@contextmanager
def _open_token_repository(arguments: argparse.Namespace) -> Iterator[tuple[TokenRepository, Any]]:
    """The store's token repository (and the database, for the audit log), closed afterwards."""
    from station.cli.db import open_checked_database  # the store: SQLAlchemy, loaded only when needed

    database = open_checked_database(arguments)
    try:
        yield database.tokens, database
    finally:
        database.dispose()


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise VaultError(f"token file {path} does not exist") from None
    except UnicodeDecodeError:
        raise VaultError(f"token file {path} is not UTF-8 text; nothing was imported") from None
    except OSError as error:
        raise VaultError(f"cannot read token file {path}: {error.strerror or error}") from None


def _import(arguments: argparse.Namespace) -> int:
    lines = _read_lines(arguments.file)
    with _open_token_repository(arguments) as (repository, database):
        vault = TokenVault(repository)
        passphrase = obtain_passphrase(
            VAULT_PASSPHRASE_ENVIRONMENT_VARIABLE, "vault", confirm=not vault.is_initialized
        )
        summary = vault.import_tokens(passphrase, arguments.product, lines, arguments.use_limit)
        signer = load_or_create_station_key(station_paths(arguments).station_key_path)
        limit = f", use limit {arguments.use_limit}" if arguments.use_limit else ""
        database.audit_log(signer).append_audit(
            f"cli:{getpass.getuser()}",
            "tokens.import",
            f"{summary.product}: {summary.added} new token(s), {summary.duplicates} duplicate(s){limit}",
        )
    print(
        f"imported {summary.added} new activation token(s) for {summary.product} "
        f"({summary.read} read, {summary.duplicates} already known or repeated)"
    )
    return EXIT_OK


def _list(arguments: argparse.Namespace) -> int:
    with _open_token_repository(arguments) as (repository, _):
        statuses = TokenVault(repository).statuses(arguments.product)
    if not statuses:
        print("no activation tokens" + (f" for {arguments.product}" if arguments.product else ""))
        return EXIT_OK
    print(f"{'fingerprint':<36}  {'product':<24} {'uses':>5} {'limit':>6}  imported (UTC)")
    for status in statuses:
        limit = str(status.use_limit) if status.use_limit is not None else "-"
        state = "  exhausted" if status.exhausted else ""
        print(
            f"{status.fingerprint:<36}  {status.product:<24} {status.uses:>5} {limit:>6}  "
            f"{status.imported_at:%Y-%m-%d %H:%M:%S}{state}"
        )
    available = sum(1 for status in statuses if not status.exhausted)
    print(f"{len(statuses)} token(s), {available} available")
    return EXIT_OK
