"""Credentials: issue the unit's production credential, reserve it, write it, read it back.

The reservation is committed before the credential leaves the station, so that it is never
offered to another unit whatever happens next. With the device-generated plan the unit makes
its own key (the new firmware boots and answers a CSR); otherwise the station issues the key
and the certificate together.
"""

from __future__ import annotations

from typing import ClassVar

from station.domain.errors import CredentialError
from station.domain.recipe import StepName
from station.domain.records import JournalState
from station.flow.ports import IssuedCredentialView
from station.flow.run import UnitRun
from station.flow.step import Step, StepContext
from station.flow.steps.console_talk import query, reboot


class CredentialsStep(Step):
    name: ClassVar[StepName] = StepName.CREDENTIALS
    reaches: ClassVar[JournalState | None] = JournalState.INJECTED
    irreversible: ClassVar[bool] = True  # the credential has left the station

    def skip_reason(self, run: UnitRun) -> str | None:
        return run.resumed_note

    def run(self, run: UnitRun, step: StepContext) -> None:
        region = run.recipe.flash.credentials_region
        unit = run.attached()
        issued = self._issue(run, step)
        # Committed before the credential leaves the station: never offered to another unit.
        run.journal.credentials.reserve_credential(
            certificate_serial=issued.certificate_serial,
            certificate_fingerprint=issued.fingerprint,
            serial=run.serial,
            device_id=run.device_id or "",
            attempt_id=run.attempt_id,
            certificate_pem=issued.certificate_pem,
        )
        run.issued = issued
        run.journal.attempts.advance(run.attempt_id, JournalState.CREDENTIALS_RESERVED)
        content = run.issuer.region_bytes(issued)
        if len(content) > region.size:
            raise CredentialError(f"credential bundle ({len(content)} bytes) does not fit region {region.name}")
        unit.program([(region.address, content + b"\xff" * (region.size - len(content)))])
        run.issuer.check_region(issued, unit.read(region.address, region.size))
        run.journal.credentials.mark_injected(issued.certificate_serial)
        step.detail = f"certificate {issued.certificate_serial} ({issued.fingerprint[:16]}…) for {issued.endpoint_name}"

    @staticmethod
    def _issue(run: UnitRun, step: StepContext) -> IssuedCredentialView:
        device_id = run.device_id or ""
        if not run.issuer.device_generated:
            return run.issuer.issue_station_generated(run.serial, device_id)
        run.attached().reset()  # let the new firmware boot: it makes the key and answers the console
        console = run.console()
        reboot(run, console, step)
        common_name = run.issuer.endpoint_name(run.serial, device_id)
        command = run.recipe.console.commands.csr_command(common_name, run.serial, device_id)
        csr = query(run, console, command, step)
        return run.issuer.issue_from_csr(run.serial, device_id, csr)
