"""Talking to the unit's console within a step's deadline: reboot to a known state, ask a value.

``reboot_console`` and ``ask`` take the dialect and the time left, so that the self-test, which
is no step of an attempt, talks to a unit exactly as the steps do.
"""

from __future__ import annotations

from collections.abc import Callable

from station.domain.errors import ConsoleCommandError
from station.domain.recipe import ConsoleDialect
from station.flow.ports import UnitConsole
from station.flow.run import UnitRun
from station.flow.step import StepContext


def reboot(run: UnitRun, console: UnitConsole, step: StepContext) -> str:
    """Reboot the unit through its console and wait for its banner (fresh, known state)."""
    return reboot_console(run.recipe.console, console, step.remaining)


def query(run: UnitRun, console: UnitConsole, command: str, step: StepContext, *, required: bool = True) -> str:
    """The unit's answer to ``command``; an error reply raises, or gives "" when not ``required``."""
    return ask(run.recipe.console, console, command, step.remaining, required=required)


def reboot_console(dialect: ConsoleDialect, console: UnitConsole, remaining: Callable[[], float]) -> str:
    """:func:`reboot` for a console and the seconds ``remaining()`` before a deadline."""
    console.discard_input()
    reply = console.command(dialect.commands.reboot, timeout=min(dialect.command_timeout_seconds, remaining()))
    if reply.status != 0:
        raise ConsoleCommandError("the unit refused to reboot", status=reply.status, body=reply.body.strip())
    return console.wait_for_banner(min(dialect.boot_timeout_seconds, remaining()))


def ask(
    dialect: ConsoleDialect, console: UnitConsole, command: str, remaining: Callable[[], float], *,
    required: bool = True,
) -> str:  # fmt: skip
    """:func:`query` for a console and the seconds ``remaining()`` before a deadline."""
    reply = console.command(command, timeout=min(dialect.command_timeout_seconds, remaining()))
    if reply.status != 0:
        if not required:
            return ""
        raise ConsoleCommandError(
            f"the unit answered {command.split()[0]!r} with an error: {reply.body.strip()}",
            status=reply.status,
            body=reply.body.strip(),
        )
    return reply.body.strip()
