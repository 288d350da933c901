"""Walking the ``station`` command line: every command, by its words (``report export``)."""

from __future__ import annotations

import argparse


def every_command(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, argparse.ArgumentParser]:
    """Each command that runs something (has a handler), with its own parser."""
    found: dict[str, argparse.ArgumentParser] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, subparser in action.choices.items():
                found.update(every_command(subparser, f"{prefix} {name}".strip()))
    if parser.get_default("handler") is not None:
        found[prefix] = parser
    return found
