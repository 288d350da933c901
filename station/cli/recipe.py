"""``station recipe check FILE``: validate a recipe and its images, print what it does and its hash."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from station.cli.output import add_json_option, json_wanted, print_document
from station.operations.recipes import check_recipe
from station.operations.station import StationFactory

EXIT_OK = 0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("recipe", help="product recipes: check one before it is used")
    commands = parser.add_subparsers(dest="recipe_command", metavar="ACTION", required=True)
    check = commands.add_parser(
        "check", help="validate a recipe (keys, regions, images and their pinned hashes); print its hash"
    )
    check.add_argument("file", type=Path, metavar="FILE")
    add_json_option(check)
    check.set_defaults(handler=_check)


def _check(arguments: argparse.Namespace, root: StationFactory) -> int:
    checked = check_recipe(arguments.file)
    if json_wanted(arguments):
        print_document(checked.to_json())
    else:
        print(checked.description)
    return EXIT_OK
