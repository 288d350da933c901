"""The ``station`` command: thin argparse front ends over the station's operations.

Each area of the station has one module here with a ``register(subparsers)`` function; its
handlers take the parsed arguments and the composition root (``station.app``), which builds
whatever they need: the CLI decides nothing about databases, keys or drivers itself. Exit
codes: 0 success, 1 a unit failed, 2 a usage or configuration error (with a clear message on
stderr and nothing changed).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from station.domain.errors import StationError
from station.domain.text import EscapingFormatter, escape_text
from station.operations.station import StationFactory

EXIT_OK = 0
EXIT_UNIT_FAILED = 1
EXIT_USAGE = 2

# Modules under station.cli that add subcommands, in the order `station --help` lists them.
COMMAND_MODULES = ("provision", "gui", "sim", "db", "units", "work_orders", "report", "recipe", "ca", "tokens")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="station",
        description="Production provisioning station: flash, credential, lock and activate units.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details to stderr")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        module = importlib.import_module(f"station.cli.{name}")
        module.register(subparsers)
    return parser


def run(argv: Sequence[str] | None, root: StationFactory) -> int:
    """Parse ``argv`` and run its command with what ``root`` builds."""
    parser = build_parser()
    arguments = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if arguments.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for handler in logging.getLogger().handlers:  # text from outside never breaks a log line
        if type(handler.formatter) is logging.Formatter:
            handler.setFormatter(EscapingFormatter(handler.formatter._fmt))
    try:
        result: int = arguments.handler(arguments, root)
        return result
    except StationError as error:
        print(f"station: error [{error.code}]: {escape_text(str(error))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130
