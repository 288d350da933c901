"""Getting a passphrase for the CA or the token vault: environment variable, else a prompt.

A passphrase is never a command-line argument (it would show in ``ps`` and shell history),
never echoed, and never part of a message.
"""

from __future__ import annotations

import getpass
import os
import sys

from station.domain.errors import PassphraseError


def obtain_passphrase(environment_variable: str, what: str, *, confirm: bool = False) -> str:
    """The passphrase from ``environment_variable``, or prompted (twice when ``confirm``).

    Without the variable and without a terminal to prompt on, PassphraseError says how to
    provide one.
    """
    value = os.environ.get(environment_variable)
    if value:
        return value
    if not interactive():
        raise PassphraseError(
            f"no {what} passphrase: set {environment_variable} or run the command in a terminal to be asked for it"
        )
    first = getpass.getpass(f"{what} passphrase: ")
    if not first:
        raise PassphraseError(f"the {what} passphrase may not be empty")
    if confirm:
        second = getpass.getpass(f"{what} passphrase again: ")
        if second != first:
            raise PassphraseError(f"the two {what} passphrases differ; nothing was changed")
    return first


def interactive() -> bool:
    """Whether a person at a terminal can be asked (standard input is one)."""
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False
