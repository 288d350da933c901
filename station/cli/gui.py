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
import os
import sys
from pathlib import Path
from typing import Any

from station.cli.options import add_store_options
from station.operations.station import StationFactory

EXIT_USAGE = 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("gui", help="the operator application (scanner, slots, roles, history)")
    parser.add_argument("--kiosk", action="store_true", help="full screen; only an engineer may close it")
    parser.add_argument(
        "--settings", type=Path, default=None, help="station settings (default: station.toml in the data directory)"
    )
    parser.add_argument("--language", default=None, help="operator language: en, zh_CN or es (default: the system's)")
    add_store_options(parser)
    parser.set_defaults(handler=_gui)


def _display_available() -> bool:
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY") or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return sys.platform in ("win32", "darwin")


def _gui(arguments: argparse.Namespace, root: StationFactory) -> int:
    if not _display_available():
        print("station gui: no display (DISPLAY or WAYLAND_DISPLAY); run it in a desktop session", flush=True)
        return EXIT_USAGE
    return root.run_gui(arguments)
