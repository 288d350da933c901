"""``station ca init|show``: the factory CA that signs every unit's device certificate."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from station.cli.options import add_store_options, station_options
from station.cli.output import add_json_option, json_wanted, print_document
from station.cli.passphrase import obtain_passphrase
from station.config import CA_PASSPHRASE_ENVIRONMENT_VARIABLE
from station.domain.errors import CaError
from station.domain.recipe import KeyType
from station.operations.station import StationFactory
from station.security.ca import (
    DEFAULT_COMMON_NAME,
    DEFAULT_VALIDITY_DAYS,
    ca_certificate,
    ca_paths,
    describe_certificate,
    init_ca,
)
from station.security.keys import SigningAlgorithm
from station.security.pkcs11.ca import DEFAULT_CA_KEY_LABEL, init_token_ca
from station.security.pkcs11.uri import parse_pkcs11_uri

EXIT_OK = 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("ca", help="the factory CA: create it once, show its certificate")
    commands = parser.add_subparsers(dest="ca_command", metavar="ACTION", required=True)

    init = commands.add_parser(
        "init",
        help=f"create the factory CA (key encrypted with ${CA_PASSPHRASE_ENVIRONMENT_VARIABLE} or a prompted "
        "passphrase); never overwrites an existing one",
    )
    init.add_argument("--common-name", default=DEFAULT_COMMON_NAME, metavar="CN", help="CA subject common name")
    init.add_argument(
        "--validity-days", type=int, default=DEFAULT_VALIDITY_DAYS, metavar="N", help="CA certificate validity"
    )
    init.add_argument(
        "--key-type", choices=[key_type.value for key_type in KeyType], default=KeyType.EC_P256.value,
        help="CA key type (default ec-p256)",
    )
    init.add_argument(
        "--pkcs11", metavar="URI", default=None,
        help="make the CA key inside this PKCS#11 token (RFC 7512 URI: pkcs11:token=LABEL;object=KEY-LABEL, "
        "module from ?module-path= or [custody] pkcs11_module); its PIN from [custody] pin_file or "
        "pin_credential, else asked",
    )
    add_store_options(init, uses_database=False)
    add_json_option(init)
    init.set_defaults(handler=_init)

    show = commands.add_parser("show", help="print the CA certificate (PEM), subject, validity and fingerprint")
    add_store_options(show, uses_database=False)
    add_json_option(show)
    show.set_defaults(handler=_show)


def _init(arguments: argparse.Namespace, root: StationFactory) -> int:
    paths = root.paths(station_options(arguments))
    certificate_path, key_path = ca_paths(paths.ca_dir)
    if key_path.exists() or certificate_path.exists():
        # Say so before asking for a passphrase that could not be used anyway.
        raise CaError(f"a factory CA already exists in {paths.ca_dir}; it is never overwritten")
    if arguments.pkcs11 is not None:
        return _init_in_token(arguments, root)
    passphrase = obtain_passphrase(CA_PASSPHRASE_ENVIRONMENT_VARIABLE, "CA", confirm=True)
    ca = init_ca(paths.ca_dir, passphrase, arguments.common_name, arguments.key_type, arguments.validity_days)
    return _created(arguments, paths.ca_dir, ca.certificate, str(key_path),
                    "encrypted; keep the passphrase safe: it cannot be recovered")  # fmt: skip


def _init_in_token(arguments: argparse.Namespace, root: StationFactory) -> int:
    """The CA key made inside the token: sensitive, never extractable; only its URI is kept."""
    paths = root.paths(station_options(arguments))
    if arguments.key_type not in (KeyType.EC_P256.value, KeyType.EC_P384.value):
        raise CaError("a CA key in a token is EC P-256 or P-384")
    uri = parse_pkcs11_uri(arguments.pkcs11)
    custody = root.custody(station_options(arguments))
    try:
        session = custody.session(uri, writable=True)
        algorithm = (SigningAlgorithm.ECDSA_P384_SHA384 if arguments.key_type == KeyType.EC_P384.value
                     else SigningAlgorithm.ECDSA_P256_SHA256)  # fmt: skip
        ca = init_token_ca(paths.ca_dir, session, label=uri.object or DEFAULT_CA_KEY_LABEL,
                           common_name=arguments.common_name, algorithm=algorithm,
                           validity_days=arguments.validity_days)  # fmt: skip
        location = custody.ca_location()
    finally:
        custody.close()
    return _created(arguments, paths.ca_dir, ca.certificate, location, "made in the token; it never leaves it")


def _created(arguments: argparse.Namespace, ca_dir: Path, certificate: x509.Certificate, key: str, note: str) -> int:
    """What ``ca init`` says of the CA it made, wherever its key lives."""
    details = describe_certificate(certificate)
    if json_wanted(arguments):
        print_document({"created": True, "ca_dir": ca_dir, **details, "private_key": key})
        return EXIT_OK
    print(f"created factory CA in {ca_dir}")
    print(f"  subject     {details['subject']}")
    print(f"  valid       {details['not_before']} to {details['not_after']}")
    print(f"  sha256      {details['sha256_fingerprint']}")
    print(f"  private key {key} ({note})")
    return EXIT_OK


def _show(arguments: argparse.Namespace, root: StationFactory) -> int:
    paths = root.paths(station_options(arguments))
    certificate = ca_certificate(paths.ca_dir)
    details = describe_certificate(certificate)
    details["private_key"] = root.custody(station_options(arguments)).ca_location()
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
    if json_wanted(arguments):
        print_document({"certificate_pem": pem, **details})
        return EXIT_OK
    print(pem, end="")
    print(f"subject     {details['subject']}")
    print(f"issuer      {details['issuer']}")
    print(f"serial      {details['serial']}")
    print(f"not before  {details['not_before']}")
    print(f"not after   {details['not_after']}")
    print(f"sha256      {details['sha256_fingerprint']}")
    print(f"private key {details['private_key']}")
    return EXIT_OK
