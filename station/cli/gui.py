"""``station gui``: the operator application for a real line, from the station settings.

The settings file (``station.toml`` in the data directory unless ``--settings`` names one)
gives the recipe, work order, slots (probe and console port each) and scanner; an engineer
edits them in the application. ``--kiosk`` fills the screen and lets only an engineer close
the window. The CA and vault passphrases may come from ``STATION_CA_PASSPHRASE`` and
``STATION_VAULT_PASSPHRASE``; otherwise an engineer opens the CA and a supervisor unlocks
the vault in the application. The window itself is built by the composition root.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from station.cli.display import WINDOW_ADVICE, window_problem
from station.cli.options import add_store_options
from station.cli.output import add_json_option, json_wanted, print_error
from station.domain.languages import LANGUAGES
from station.operations.station import StationFactory

EXIT_USAGE = 2
NO_DISPLAY_CODE = "NO_DISPLAY"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("gui", help="the operator application (scanner, slots, roles, history)")
    parser.add_argument("--kiosk", action="store_true", help="full screen; only an engineer may close it")
    parser.add_argument(
        "--settings", type=Path, default=None, help="station settings (default: station.toml in the data directory)"
    )
    parser.add_argument("--language", choices=LANGUAGES, default=None,
                        help="the window's language: " + ", ".join(LANGUAGES) + " (default: the system's)")
    add_store_options(parser)
    add_json_option(parser)  # the window prints nothing: only its refusals, as JSON
    parser.set_defaults(handler=_gui)


def _gui(arguments: argparse.Namespace, root: StationFactory) -> int:
    problem = window_problem()
    if problem is not None and json_wanted(arguments):
        print_error(NO_DISPLAY_CODE, f"{problem}. {WINDOW_ADVICE}")
        return EXIT_USAGE
    if problem is not None:
        print(f"station gui: {problem}. {WINDOW_ADVICE}", file=sys.stderr, flush=True)
        return EXIT_USAGE
    return root.run_gui(arguments)
