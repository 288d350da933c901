"""Talking to the unit's console within a step's deadline: reboot to a known state, ask a value."""

from __future__ import annotations

from station.domain.errors import ConsoleCommandError
from station.flow.ports import UnitConsole
from station.flow.run import UnitRun
from station.flow.step import StepContext


def reboot(run: UnitRun, console: UnitConsole, step: StepContext) -> str:
    """Reboot the unit through its console and wait for its banner (fresh, known state)."""
    dialect = run.recipe.console
    console.discard_input()
    reply = console.command(dialect.commands.reboot, timeout=min(dialect.command_timeout_seconds, step.remaining()))
    if reply.status != 0:
        raise ConsoleCommandError("the unit refused to reboot", status=reply.status, body=reply.body.strip())
    return console.wait_for_banner(min(dialect.boot_timeout_seconds, step.remaining()))


def query(run: UnitRun, console: UnitConsole, command: str, step: StepContext, *, required: bool = True) -> str:
    """The unit's answer to ``command``; an error reply raises, or gives "" when not ``required``."""
    dialect = run.recipe.console
    reply = console.command(command, timeout=min(dialect.command_timeout_seconds, step.remaining()))
    if reply.status != 0:
        if not required:
            return ""
        raise ConsoleCommandError(
            f"the unit answered {command.split()[0]!r} with an error: {reply.body.strip()}",
            status=reply.status,
            body=reply.body.strip(),
        )
    return reply.body.strip()
