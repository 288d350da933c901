"""A supervisor's PIN for a command: typed at a terminal prompt, or read from a private file.

Never from the command line (``ps`` and shell history show it) and never from the
environment (``/proc/<pid>/environ`` does). A PIN file is for scripted rework: a regular file
owned by the user running the command, readable by nobody else (mode 0600 or stricter),
holding the PIN on its first line. Without a terminal and without such a file the command is
refused before anything is touched.
"""

from __future__ import annotations

import getpass
import os
import stat
from pathlib import Path

from station.cli.passphrase import interactive
from station.domain.errors import PinRequiredError

PIN_FILE_OPTION = "--pin-file"


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
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as error:
        raise PinRequiredError(f"cannot open the PIN file {path}: {error.strerror or error}") from None
    try:
        status = os.fstat(descriptor)
        if not stat.S_ISREG(status.st_mode):
            raise PinRequiredError(f"the PIN file {path} is not a regular file")
        if status.st_uid != os.getuid():
            raise PinRequiredError(f"the PIN file {path} belongs to another user")
        if status.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise PinRequiredError(
                f"the PIN file {path} may be read by others (mode {stat.S_IMODE(status.st_mode):04o}): "
                "make it readable by its owner only (chmod 600)"
            )
        with os.fdopen(descriptor, "r", encoding="utf-8", errors="strict") as handle:
            descriptor = -1
            first_line = handle.readline(256)
    except UnicodeDecodeError:
        raise PinRequiredError(f"the PIN file {path} is not text") from None
    finally:
        if descriptor >= 0:
            os.close(descriptor)
    pin = first_line.strip()
    if not pin:
        raise PinRequiredError(f"the PIN file {path} is empty")
    return pin
