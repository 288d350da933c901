"""Activate and identity: the unit joins the customer's production product, then proves who it is.

Activation first asks the unit whether it is activated already (a try before, or an attempt
the station stopped in, may have done it): then nothing is sent and no token is taken. Else
one token use is reserved per attempt, however many tries the step takes, and the secret token
goes over the console -- registered with the console as a secret first, so that the transcript
and every message hold its fingerprint instead. The use counts as used only when the unit
accepts; a refusal gives it back. After a reset the
unit must report the device id, endpoint and certificate it was given.
"""

from __future__ import annotations

from typing import ClassVar

from station.domain.errors import (
    ActivationForbiddenError,
    ConsoleCommandError,
    FirmwareVersionError,
    IdentityError,
    TokenLimitError,
    VaultError,
    activation_refusal,
)
from station.domain.recipe import StepName
from station.domain.records import JournalState
from station.flow.ports import SecretToken, TokenSource, UnitConsole
from station.flow.run import UnitRun
from station.flow.step import Step, StepContext
from station.flow.steps.console_talk import query, reboot

# How often to take the next token when other slots took the last use of the one offered.
TOKEN_RACE_TRIES = 20


class ActivateStep(Step):
    name: ClassVar[StepName] = StepName.ACTIVATE
    reaches: ClassVar[JournalState | None] = JournalState.ACTIVATED
    irreversible: ClassVar[bool] = True  # a token use is spent; a production device activates once

    def run(self, run: UnitRun, step: StepContext) -> None:
        console = run.console()
        reboot(run, console, step)
        version = query(run, console, run.recipe.console.commands.version, step)
        if version != run.recipe.firmware_version:
            raise FirmwareVersionError(
                f"the unit runs firmware {version!r}, the recipe expects {run.recipe.firmware_version!r}"
            )
        if run.tokens is None:
            raise VaultError("the token vault is locked: a supervisor must unlock it for the shift")
        activated_to = _activated_product(run, console, step)
        if activated_to is not None:
            # Activated already: by this attempt's earlier try, or by an attempt the station
            # stopped in while the unit answered. Its token use is settled, none is taken.
            expected = run.recipe.activation.product
            if activated_to != expected:
                raise ActivationForbiddenError(
                    f"the unit is activated to {activated_to!r}, not to the recipe's {expected!r}",
                    status=1, body=activated_to,
                )
            if run.token is not None:
                run.tokens.confirm_use(run.token, run.attempt_id)
            settled = run.tokens.settle_earlier_uses(run.serial, activated=True, attempt_id=run.attempt_id)
            step.detail = f"already activated to {activated_to}: no token taken" + (
                f" ({settled} earlier reserved use(s) confirmed)" if settled else "")
            return
        if run.recipe.console.commands.activation_status is not None:
            # Not activated: what earlier attempts reserved and never saw answered is given back.
            run.tokens.settle_earlier_uses(run.serial, activated=False, attempt_id=run.attempt_id)
        token = run.token
        if token is None:  # one reserved use per attempt, however many tries the step takes
            token = _take_token(run.tokens, run.recipe.activation.token_pool, run.attempt_id)
            run.token = token
        dialect = run.recipe.console
        reply = console.command(
            dialect.commands.activate_command(token.secret()),
            timeout=min(dialect.activate_timeout_seconds, step.remaining()),
            secrets={token.secret(): token.fingerprint},
        )
        body = reply.body.strip()
        if reply.status != 0:
            # The unit answered no: the token was not spent, the use is given back.
            run.tokens.release_use(token, run.attempt_id)
            run.token = None
            raise activation_refusal(body, status=reply.status)
        run.tokens.confirm_use(token, run.attempt_id)
        step.detail = f"{body} with token {token.fingerprint}"


def _activated_product(run: UnitRun, console: UnitConsole, step: StepContext) -> str | None:
    """The product the unit says it is activated to; None when it says it is not (or the
    recipe has no way to ask). Any other answer is an error: the station never guesses."""
    dialect = run.recipe.console
    command = dialect.commands.activation_status
    if command is None:
        return None
    reply = console.command(command, timeout=min(dialect.command_timeout_seconds, step.remaining()))
    body = reply.body.strip()
    if reply.status == 0 and body:
        return body
    if reply.status != 0 and dialect.not_activated.search(body):
        return None
    raise ConsoleCommandError(
        f"the unit's answer to {command.split()[0]!r} says neither a product nor 'not activated': {body!r}",
        status=reply.status, body=body,
    )


def _take_token(tokens: TokenSource, pool: str, attempt_id: int) -> SecretToken:
    """The next token with a use left, one use reserved; another slot may take a last use first."""
    for _ in range(TOKEN_RACE_TRIES):
        token = tokens.next_token(pool)
        try:
            tokens.reserve_use(token, attempt_id)
        except TokenLimitError:
            continue
        return token
    raise VaultError("could not take an activation token: other slots took every use left")


class IdentityStep(Step):
    name: ClassVar[StepName] = StepName.IDENTITY

    def run(self, run: UnitRun, step: StepContext) -> None:
        commands = run.recipe.console.commands
        if run.issued is not None:
            expected_endpoint, expected_fingerprint = run.issued.endpoint_name, run.issued.fingerprint
        else:
            expected_endpoint = run.issuer.endpoint_name(run.serial, run.device_id or "")
            resumed = run.resume_credential
            expected_fingerprint = resumed.certificate_fingerprint if resumed is not None else ""
        console = run.console()
        reboot(run, console, step)  # the identity must survive a reset
        found = {
            "device id": (query(run, console, commands.uuid, step).upper(), (run.device_id or "").upper()),
            "endpoint": (query(run, console, commands.endpoint, step), expected_endpoint),
            "certificate": (
                query(run, console, commands.certificate_fingerprint, step).lower(),
                expected_fingerprint.lower(),
            ),
        }
        wrong = [name for name, (seen, wanted) in found.items() if seen != wanted]
        if wrong:
            raise IdentityError(f"after a reset the unit reports another {', '.join(wrong)} than injected")
        step.detail = f"device {run.device_id}, endpoint {expected_endpoint}, certificate {expected_fingerprint[:16]}…"
