"""The ``station`` command: thin argparse front ends over the station's operations.

Each area of the station has one module here with a ``register(subparsers)`` function; its
handlers take the parsed arguments and the composition root (``station.app``), which builds
whatever they need: the CLI decides nothing about databases, keys or drivers itself. Exit
codes: 0 success, 1 a unit failed, 2 a usage or configuration error (with a clear message on
stderr and nothing changed). Every command takes ``--json`` (``station.cli.output``): then its
output, and its errors, are JSON on stdout, with the same exit codes.
"""

from __future__ import annotations

import argparse
import contextvars
import importlib
import logging
import sys
import typing
from collections.abc import Sequence

from station.cli.output import USAGE_ERROR_CODE, error_document, json_requested, json_wanted, print_document
from station.cli.output import print_error as print_json_error
from station.domain.errors import RecipeProblemsError, StationError
from station.domain.text import EscapingFormatter, escape_text
from station.operations.station import StationFactory

EXIT_OK = 0
EXIT_UNIT_FAILED = 1
EXIT_USAGE = 2

# Modules under station.cli that add subcommands, in the order `station --help` lists them.
COMMAND_MODULES = (
    "provision", "selftest", "gui", "sim", "db", "units", "work_orders", "report", "recipe", "ca", "tokens", "status",
    "people", "backup", "line", "labels",
)  # fmt: skip


class _UsageError(Exception):
    """A command line argparse refused, raised so that JSON mode can report it as JSON."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser
        self.message = message


# Set by ``run`` while it parses a command line that asked for --json.
_USAGE_AS_JSON: contextvars.ContextVar[bool] = contextvars.ContextVar("station_usage_as_json", default=False)


class _Parser(argparse.ArgumentParser):
    """argparse's parser: usage errors as argparse reports them (usage, exit 2), or, while
    ``run`` parses a --json command line, raised for ``run`` to report as JSON."""

    def error(self, message: str) -> typing.NoReturn:
        if _USAGE_AS_JSON.get():
            raise _UsageError(self, message)
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
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
    words = list(sys.argv[1:] if argv is None else argv)
    as_json = _USAGE_AS_JSON.set(json_requested(words))
    try:
        arguments = parser.parse_args(words)
    except _UsageError as refused:
        print_json_error(USAGE_ERROR_CODE, f"{refused.parser.prog}: {refused.message}")
        return EXIT_USAGE
    finally:
        _USAGE_AS_JSON.reset(as_json)
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
        if json_wanted(arguments):
            print_document(error_document(error))
            return EXIT_USAGE
        # A recipe's problems all at once, a line each, so that one pass fixes them.
        for problem in error.problems if isinstance(error, RecipeProblemsError) else (error,):
            print(f"station: error [{problem.code}]: {escape_text(str(problem))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        if json_wanted(arguments):
            print_json_error("INTERRUPTED", "stopped by the user (Ctrl-C)")
        return 130
    finally:
        root.release()
