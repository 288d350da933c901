"""``station recipe check|sign|approve FILE``: validate a recipe and its signature; sign and approve it.

``check`` prints what the recipe does, its hash and where its signature stands; a station in
production (``[custody] mode = "production"`` in its settings) refuses, as at start, a recipe
that is not signed by one of its engineers, or not approved when it asks for two people.
``sign`` and ``approve`` write the detached signature ``FILE.sig`` with a person's key: a key
file (``--key``, its passphrase from $STATION_SIGNING_KEY_PASSPHRASE or a prompt) or a key in a
PKCS#11 token (``--pkcs11 URI``, its PIN from the URI's pin-source, the settings or a prompt).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from station.cli.options import add_store_options, station_options
from station.cli.output import add_json_option, json_wanted, print_document
from station.cli.passphrase import obtain_passphrase
from station.config.paths import SIGNING_KEY_PASSPHRASE_ENVIRONMENT_VARIABLE
from station.domain.errors import StoreError
from station.domain.text import escape_text
from station.operations.recipe_signing import RecipeSigner, RecipeTrust, SignatureState, with_signature
from station.operations.recipes import check_recipe
from station.operations.signing_keys import open_token_signer
from station.operations.station import StationFactory, StationOptions
from station.security.signing_keys import load_file_key
from station.store import Database

EXIT_OK = 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("recipe", help="product recipes: check, sign and approve one before it is used")
    commands = parser.add_subparsers(dest="recipe_command", metavar="ACTION", required=True)
    check = commands.add_parser(
        "check", help="validate a recipe (keys, regions, images and their pinned hashes, its signature); print its "
        "hash; a station in production refuses an unsigned or unapproved recipe"
    )  # fmt: skip
    check.add_argument("file", type=Path, metavar="FILE")
    _add_station_options(check)
    check.set_defaults(handler=_check)
    for action, who, what in (
        ("sign", "ENGINEER", "an engineer of this station signs the recipe: writes FILE.sig beside it"),
        ("approve", "PERSON", "a second person (supervisor or engineer, not the signer) approves the signed recipe"),
    ):
        command = commands.add_parser(action, help=what)
        command.add_argument("file", type=Path, metavar="FILE")
        command.add_argument("--as", dest="person", required=True, metavar=who, help="who signs (their name here)")
        key = command.add_mutually_exclusive_group(required=True)
        key.add_argument("--key", type=Path, metavar="KEYFILE", help="their key file (passphrase: "
                         f"${SIGNING_KEY_PASSPHRASE_ENVIRONMENT_VARIABLE} or a prompt)")  # fmt: skip
        key.add_argument("--pkcs11", metavar="URI", help="their key in a PKCS#11 token: pkcs11:token=...;object=LABEL")
        _add_station_options(command)
        command.set_defaults(handler=_sign if action == "sign" else _approve)


def _add_station_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--settings", type=Path, default=None, metavar="FILE",
                        help="station settings (default: station.toml in the data directory): says whether the "
                        "station is in production")  # fmt: skip
    add_store_options(parser)
    add_json_option(parser)


def _check(arguments: argparse.Namespace, root: StationFactory) -> int:
    checked = check_recipe(arguments.file)
    options = station_options(arguments)
    production = root.custody(options).settings.production
    try:
        database: Database | None = root.open_database(options)
        unchecked = ""
    except StoreError as error:  # no station here: signatures and content are checked, people are not
        database, unchecked = None, str(error)
    try:
        state = RecipeTrust(database, unchecked=unchecked).admit(checked.recipe, production=production)
    finally:
        if database is not None:
            database.dispose()
    if json_wanted(arguments):
        print_document({**checked.to_json(), "signature": state.to_json(), "production": production})
    else:
        print(with_signature(checked, state))
    return EXIT_OK


def _sign(arguments: argparse.Namespace, root: StationFactory) -> int:
    options = station_options(arguments)
    database = root.open_database(options)  # who may sign is this station's: refused before the key is opened
    try:
        with _signer(arguments, root, options) as signer:
            state = RecipeTrust(database).sign(arguments.file, arguments.person, signer)
    finally:
        database.dispose()
    return _print_signed(arguments, state, "signed")


def _approve(arguments: argparse.Namespace, root: StationFactory) -> int:
    options = station_options(arguments)
    database = root.open_database(options)
    try:
        with _signer(arguments, root, options) as signer:
            state = RecipeTrust(database).approve(arguments.file, arguments.person, signer)
    finally:
        database.dispose()
    return _print_signed(arguments, state, "approved")


@contextmanager
def _signer(arguments: argparse.Namespace, root: StationFactory, options: StationOptions) -> Iterator[RecipeSigner]:
    """The person's key: from the token the URI names, or their key file decrypted."""
    if arguments.pkcs11 is not None:
        custody = root.custody(options)
        try:
            yield open_token_signer(custody, arguments.pkcs11)
        finally:
            custody.close()
        return
    passphrase = obtain_passphrase(SIGNING_KEY_PASSPHRASE_ENVIRONMENT_VARIABLE, "signing key")
    yield load_file_key(arguments.key, passphrase)


def _print_signed(arguments: argparse.Namespace, state: SignatureState, did: str) -> int:
    if json_wanted(arguments):
        print_document({"recipe": state.recipe.path, "sha256": state.recipe.content_hash, did: True,
                        "signature_file": state.recipe.path.with_name(state.file_name), **state.to_json()})  # fmt: skip
        return EXIT_OK
    print(f"{did} {escape_text(str(state.recipe.path))} (sha256 {state.recipe.content_hash}): "
          f"{state.file_name} written")  # fmt: skip
    for line in state.lines():
        print(line)
    return EXIT_OK
