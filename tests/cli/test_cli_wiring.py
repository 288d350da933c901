"""The command line is wired through the composition root: every command's handler takes the
parsed arguments and the root, and nothing else; ``station`` and ``python -m station`` run it."""

from __future__ import annotations

import argparse
import inspect
import subprocess
import sys
from collections.abc import Callable

from station.cli import build_parser


def _handlers(parser: argparse.ArgumentParser) -> list[Callable[..., int]]:
    found: list[Callable[..., int]] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for subparser in action.choices.values():
                found.extend(_handlers(subparser))
    handler = parser.get_default("handler")
    if handler is not None:
        found.append(handler)
    return found


def test_every_command_handler_takes_the_arguments_and_the_root() -> None:
    handlers = _handlers(build_parser())
    assert len(handlers) >= 25
    for handler in handlers:
        assert callable(handler)
        parameters = list(inspect.signature(handler).parameters)
        assert parameters == ["arguments", "root"], f"{handler.__module__}.{handler.__name__}: {parameters}"


def test_python_dash_m_station_runs_the_command() -> None:
    result = subprocess.run([sys.executable, "-m", "station", "--help"], capture_output=True, text=True,
                            timeout=60, check=False)  # fmt: skip
    assert result.returncode == 0 and "provision" in result.stdout and "rework" in result.stdout
