"""``station people key add|new|list|revoke``: the signing keys people sign and approve recipes with.

A supervisor or engineer registers a key as theirs with their PIN (asked on the terminal, or
read from ``--pin-file``). ``new`` makes the key pair first: a key file encrypted with a
passphrase ($STATION_SIGNING_KEY_PASSPHRASE or a prompt, typed twice) and its public half
``FILE.pub``, or a key generated inside a PKCS#11 token (``--pkcs11 URI``; never extractable).
``add`` registers a public key made elsewhere. Only public keys reach the station.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from station.cli.options import add_store_options, station_options
from station.cli.output import add_json_option, json_wanted, print_document
from station.cli.passphrase import obtain_passphrase
from station.cli.pins import PIN_FILE_OPTION, obtain_pin
from station.config.paths import SIGNING_KEY_PASSPHRASE_ENVIRONMENT_VARIABLE
from station.domain.errors import SigningKeyError
from station.domain.records import PersonKeyRecord
from station.domain.text import escape_text
from station.operations.signing_keys import SigningKeys
from station.operations.station import Station, StationFactory
from station.security.keys import SigningAlgorithm

EXIT_OK = 0
KEY_ALGORITHMS = (SigningAlgorithm.ED25519.value, SigningAlgorithm.ECDSA_P256_SHA256.value)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("people", help="the station's people: their recipe-signing keys")
    areas = parser.add_subparsers(dest="people_command", metavar="AREA", required=True)
    keys = areas.add_parser("key", help="signing keys engineers sign recipes with, supervisors approve them with")
    commands = keys.add_subparsers(dest="key_command", metavar="ACTION", required=True)

    new = commands.add_parser("new", help="make a key pair for NAME (a key file, or a key inside a token) and "
                              "register it; asks for NAME's PIN")  # fmt: skip
    new.add_argument("name", metavar="NAME")
    where = new.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", type=Path, metavar="FILE", help="the new key file (mode 0600, never overwritten; "
                       "its public half goes to FILE.pub)")  # fmt: skip
    where.add_argument("--pkcs11", metavar="URI", help="make the key inside this token: pkcs11:token=...;object=LABEL")
    new.add_argument("--algorithm", choices=KEY_ALGORITHMS, default=SigningAlgorithm.ED25519.value,
                     help="the key file's algorithm (default ed25519)")  # fmt: skip
    add = commands.add_parser("add", help="register a public key (PEM) as NAME's; asks for NAME's PIN")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--public-key", type=Path, required=True, metavar="FILE", help="the PEM public key")
    add.add_argument("--location", default=None, metavar="TEXT",
                     help="where the private key lives, for the record (default: the public key file's name)")
    revoke = commands.add_parser("revoke", help="revoke NAME's key: recipes signed with it are refused from now on")
    revoke.add_argument("name", metavar="NAME")
    revoke.add_argument("fingerprint", metavar="FINGERPRINT", help="the key's SHA-256 fingerprint (people key list)")
    revoke.add_argument("--by", required=True, metavar="PERSON", help="NAME themself, or an engineer (their PIN)")
    for command in (new, add, revoke):
        command.add_argument(PIN_FILE_OPTION, type=Path, default=None, metavar="FILE", dest="pin_file",
                             help="read the PIN from this file (readable by its owner only); default: ask")  # fmt: skip
    listing = commands.add_parser("list", help="every registered key: person, fingerprint, algorithm, where, state")
    listing.add_argument("name", metavar="NAME", nargs="?", default=None)
    for command, handler in ((new, _new), (add, _add), (revoke, _revoke), (listing, _list)):
        add_store_options(command)
        add_json_option(command)
        command.set_defaults(handler=handler)


def _keys(station: Station) -> SigningKeys:
    return SigningKeys(station.database, station.people, station.audit)


def _new(arguments: argparse.Namespace, root: StationFactory) -> int:
    pin = obtain_pin(arguments.name, arguments.pin_file)  # refused before anything is made
    passphrase = ""
    if arguments.out is not None:
        if arguments.out.exists():  # said before a passphrase is asked for that could not be used
            raise SigningKeyError(f"{arguments.out} exists already: a key file is never overwritten")
        passphrase = obtain_passphrase(SIGNING_KEY_PASSPHRASE_ENVIRONMENT_VARIABLE, "signing key", confirm=True)
    station = root.open_station(station_options(arguments))
    try:
        if arguments.out is not None:
            record = _keys(station).create_file_key(arguments.name, pin, arguments.out, passphrase,
                                                    SigningAlgorithm(arguments.algorithm))  # fmt: skip
        else:
            if station.custody is None:
                raise SigningKeyError("this station opens no token: a key in a token needs the station's custody")
            record = _keys(station).create_token_key(arguments.name, pin, station.custody, arguments.pkcs11)
    finally:
        station.close()
    return _print_key(arguments, record, "registered")


def _add(arguments: argparse.Namespace, root: StationFactory) -> int:
    pin = obtain_pin(arguments.name, arguments.pin_file)
    path: Path = arguments.public_key
    try:
        pem = path.read_bytes()
    except OSError as error:
        raise SigningKeyError(f"cannot read {path}: {error.strerror or error}") from None
    station = root.open_station(station_options(arguments))
    try:
        record = _keys(station).register(arguments.name, pin, pem, location=arguments.location or f"file {path.name}",
                                         where=str(path))  # fmt: skip
    finally:
        station.close()
    return _print_key(arguments, record, "registered")


def _revoke(arguments: argparse.Namespace, root: StationFactory) -> int:
    pin = obtain_pin(arguments.by, arguments.pin_file)
    station = root.open_station(station_options(arguments))
    try:
        record = _keys(station).revoke(arguments.name, arguments.fingerprint, arguments.by, pin)
    finally:
        station.close()
    return _print_key(arguments, record, "revoked")


def _list(arguments: argparse.Namespace, root: StationFactory) -> int:
    database = root.open_database(station_options(arguments))
    try:
        records = database.recipe_trust.person_keys(arguments.name)
    finally:
        database.dispose()
    if json_wanted(arguments):
        print_document({"keys": [_key_document(record) for record in records], "count": len(records)})
        return EXIT_OK
    if not records:
        print("no signing keys registered" + (f" for {escape_text(arguments.name)}" if arguments.name else ""))
        return EXIT_OK
    for record in records:
        print(_key_line(record))
    return EXIT_OK


def _print_key(arguments: argparse.Namespace, record: PersonKeyRecord, did: str) -> int:
    if json_wanted(arguments):
        print_document({did: True, **_key_document(record)})
    else:
        print(f"{did}: {_key_line(record)}")
    return EXIT_OK


def _key_document(record: PersonKeyRecord) -> dict[str, Any]:
    return {"person": record.person, "fingerprint": record.fingerprint, "algorithm": record.algorithm,
            "location": record.location, "registered_at": record.registered_at, "revoked_at": record.revoked_at,
            "public_key_pem": record.public_key_pem}  # fmt: skip


def _key_line(record: PersonKeyRecord) -> str:
    state = f"revoked {record.revoked_at:%Y-%m-%d %H:%M} UTC" if record.revoked_at else "active"
    return (f"{escape_text(record.person):<16} {record.fingerprint}  {record.algorithm:<18} {state:<26} "
            f"{escape_text(record.location)}")  # fmt: skip
