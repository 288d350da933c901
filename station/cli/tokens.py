"""``station tokens import|list``: the activation-token vault.

Tokens are read from a file (one per line), sealed, and stored; from then on they are shown
only as keyed fingerprints. The passphrase comes from ``STATION_VAULT_PASSPHRASE`` or a prompt.
"""

from __future__ import annotations

import argparse
import getpass
from functools import partial
from pathlib import Path
from typing import Any

from station.cli.options import add_store_options, station_options
from station.cli.output import add_json_option, json_wanted, print_document
from station.cli.passphrase import obtain_passphrase
from station.config import VAULT_PASSPHRASE_ENVIRONMENT_VARIABLE
from station.operations.production import read_token_file
from station.operations.station import StationFactory
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
    add_store_options(importer)
    add_json_option(importer)
    importer.set_defaults(handler=_import)

    lister = commands.add_parser("list", help="list token fingerprints, products, uses and limits (never tokens)")
    lister.add_argument("--product", metavar="CODE", default=None)
    add_store_options(lister)
    add_json_option(lister)
    lister.set_defaults(handler=_list)


def _import(arguments: argparse.Namespace, root: StationFactory) -> int:
    lines = read_token_file(arguments.file)
    station = root.open_station(station_options(arguments))
    try:
        production = station.production
        confirm = not production.vault_initialized()
        passphrase = partial(obtain_passphrase, VAULT_PASSPHRASE_ENVIRONMENT_VARIABLE, "vault", confirm=confirm)
        summary = production.import_tokens(
            lines, arguments.product, arguments.use_limit, passphrase, f"cli:{getpass.getuser()}"
        )
    finally:
        station.close()
    if json_wanted(arguments):
        print_document({"product": summary.product, "added": summary.added, "read": summary.read,
                        "duplicates": summary.duplicates})
        return EXIT_OK
    print(
        f"imported {summary.added} new activation token(s) for {summary.product} "
        f"({summary.read} read, {summary.duplicates} already known or repeated)"
    )
    return EXIT_OK


def _list(arguments: argparse.Namespace, root: StationFactory) -> int:
    database = root.open_database(station_options(arguments))
    try:
        statuses = TokenVault(database.tokens).statuses(arguments.product)
    finally:
        database.dispose()
    if json_wanted(arguments):
        print_document({
            "tokens": [{"fingerprint": status.fingerprint, "product": status.product, "uses": status.uses,
                        "use_limit": status.use_limit, "imported_at": status.imported_at,
                        "exhausted": status.exhausted} for status in statuses],
            "count": len(statuses),
            "available": sum(1 for status in statuses if not status.exhausted),
        })  # fmt: skip
        return EXIT_OK
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
