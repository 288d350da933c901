"""A supervisor's PIN for a command: typed at a terminal prompt, or read from a private file.

Never from the command line (``ps`` and shell history show it) and never from the
environment (``/proc/<pid>/environ`` does). A PIN file is for scripted rework: a regular file
owned by the user running the command, readable by nobody else (mode 0600 or stricter),
holding the PIN on its first line. Without a terminal and without such a file the command is
refused before anything is touched.
"""

from __future__ import annotations

import argparse
import getpass
from pathlib import Path

from station.cli.passphrase import interactive
from station.domain.errors import PinRequiredError
from station.security.keys import read_private_first_line

PIN_FILE_OPTION = "--pin-file"


def add_supervisor_options(parser: argparse.ArgumentParser, what: str = "deciding", *, required: bool = True) -> None:
    """``--supervisor NAME`` (recorded as ``what`` they do) and ``--pin-file FILE`` for their PIN."""
    parser.add_argument("--supervisor", required=required, metavar="NAME", help=f"the supervisor {what} (recorded)")
    parser.add_argument(
        PIN_FILE_OPTION, type=Path, default=None, metavar="FILE", dest="pin_file",
        help="read the supervisor's PIN from this file (readable by its owner only); default: ask on the terminal",
    )  # fmt: skip


def obtain_pin(person: str, pin_file: Path | None) -> str:
    """``person``'s PIN from ``pin_file``, else from a prompt on the terminal."""
    if pin_file is not None:
        return read_pin_file(pin_file)
    if not interactive():
        raise PinRequiredError(
            f"no PIN for {person}: run the command in a terminal to be asked for it, or give "
            f"{PIN_FILE_OPTION} FILE (a file only you can read)"
        )
    pin = getpass.getpass(f"PIN of {person}: ").strip()
    if not pin:
        raise PinRequiredError(f"no PIN given for {person}; nothing was changed")
    return pin


def read_pin_file(path: Path) -> str:
    return read_private_first_line(path, what="PIN file", error=PinRequiredError)
