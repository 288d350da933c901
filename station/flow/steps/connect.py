"""Connect: open the debug session and learn who the unit is; a locked unit is erased only as a fresh part.

A locked unit is either the one this station credentialed and locked before a failure (its
console proves it: the attempt resumes at activation), a factory-fresh part that shipped
locked (erased first, see :mod:`station.flow.fresh_parts`), or a stranger (UNIT_LOCKED: left
as it came, for a supervisor). An unlocked unit holds no credential of an earlier attempt
any more, so those are voided.
"""

from __future__ import annotations

from typing import ClassVar

from station.domain.errors import DevelopmentUnitError, DeviceAlreadyPassedError, UnitLockedError
from station.domain.recipe import StepName
from station.domain.records import CredentialRecord, JournalState
from station.flow.credential_rules import resumable_credential, void_all
from station.flow.fresh_parts import erase_fresh_part, refuse_if_relabelled, why_not_fresh
from station.flow.run import UnitRun
from station.flow.step import Step, StepContext
from station.flow.steps.console_talk import query, reboot


class ConnectStep(Step):
    name: ClassVar[StepName] = StepName.CONNECT
    reaches: ClassVar[JournalState | None] = JournalState.CONNECTED

    def run(self, run: UnitRun, step: StepContext) -> None:
        run.resume_credential = None
        try:
            unit = run.open_session()
        except UnitLockedError as locked:
            credential = resumable_credential(run.journal.credentials, run.serial)
            if credential is not None:
                _confirm_locked_unit(run, credential, step)
                run.resume_credential = credential
                run.device_id = credential.device_id
                step.detail = f"locked unit holds credential {credential.certificate_serial}: resuming"
            else:
                refusal = why_not_fresh(run)
                if refusal is not None:
                    raise UnitLockedError(
                        f"the unit arrived locked ({refusal}): it was not touched; "
                        "set it aside for a supervisor (rework)"
                    ) from locked
                erase_fresh_part(run)
                unit = run.open_session()
        if run.resume_credential is None:
            run.device_id = unit.read_device_id()
            step.detail = "; ".join(filter(None, (run.fresh_part_erase, f"device id {run.device_id}")))
        if run.fresh_part_erase is not None:
            # Recorded before the refusal: the attempt shows which device the label was on.
            run.journal.attempts.set_attempt_fields(run.attempt_id, device_id=run.device_id)
            refuse_if_relabelled(run, run.device_id or "")
        _check_device_may_be_used(run, run.device_id or "")
        if run.allocated_from is not None:  # the unit came without a label: its serial is bound now
            run.allocated_from.bind(run.serial, run.attempt_id, run.device_id or "")
            step.detail += f"; serial {run.serial} allocated"
        if run.resume_credential is None:
            # The unit is unlocked: no credential of an earlier attempt is on a locked unit.
            void_all(run.journal.credentials, run.journal.credentials.credentials_for_serial(run.serial))
            run.journal.attempts.set_attempt_fields(run.attempt_id, device_id=run.device_id)
        else:
            run.journal.attempts.set_attempt_fields(
                run.attempt_id,
                device_id=run.device_id,
                certificate_fingerprint=run.resume_credential.certificate_fingerprint,
            )
        run.observer.identified(run.serial, run.device_id or "")


def _confirm_locked_unit(run: UnitRun, credential: CredentialRecord, step: StepContext) -> None:
    """A locked unit's debug port says nothing: ask its console who it is."""
    console = run.console()
    reboot(run, console, step)
    commands = run.recipe.console.commands
    uuid = query(run, console, commands.uuid, step)
    fingerprint = query(run, console, commands.certificate_fingerprint, step, required=False)
    if uuid.upper() != credential.device_id.upper() or fingerprint.lower() != credential.certificate_fingerprint:
        raise UnitLockedError("the unit is locked and is not the unit this serial was credentialed on; set it aside")


def _check_device_may_be_used(run: UnitRun, device_id: str) -> None:
    shipped_as = run.journal.attempts.passed_serial_of_device(device_id)
    if shipped_as is not None and shipped_as != run.serial:
        raise DeviceAlreadyPassedError(
            f"device {device_id} already passed as serial {shipped_as}: one device never ships under two labels"
        )
    registry = run.development_registry
    if run.journal.units.is_development_device(device_id) or (
        registry is not None and registry.is_development_unit(device_id)
    ):
        raise DevelopmentUnitError(
            f"device {device_id} was erased through its debug port once: a development unit, never to ship"
        )
    if run.recipe.binding is not None:
        run.recipe.binding.check(run.serial, device_id)
