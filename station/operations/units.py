"""Units on slots: a provisioning job for a scanned unit, a supervisor's rework, and recovery.

A job is built here, where the rules are (the recipe and CA are ready, the supervisor's PIN
is right), and run wherever the front end runs blocking work: the window on the slot's
worker thread, the command line in its own. The slot's probe and console are made from its
settings on that thread (``SlotProvider``), since serial ports belong to the thread that
opens them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from station.config.settings import SlotSettings
from station.domain.errors import ConfigurationError, NoProbeError, PermanentLockError, StationError
from station.domain.identity import Serial
from station.domain.outcome import AttemptOutcome
from station.domain.records import AttemptRecord
from station.flow.observer import ProvisioningObserver
from station.flow.ports import AuditTrail
from station.flow.run import Slot, StationContext
from station.operations.labels import Labels
from station.operations.people import SUPERVISOR, People
from station.operations.production import Production
from station.operations.selftests import SelfTests
from station.operations.serials import SerialAllocator
from station.operations.session import STATION_ACTOR
from station.operations.slots import SlotProvider

LOG = logging.getLogger(__name__)


class JobKind(enum.StrEnum):
    PROVISION = "provision"
    REWORK = "rework"


@dataclass(frozen=True)
class UnitJob:
    """Work for one slot: ``run`` is called on the slot's thread with an observer."""

    kind: JobKind
    serial: Serial | None  # None: a unit without a label, whose serial the work order's rule makes
    slot: str
    run: Callable[[ProvisioningObserver], AttemptOutcome]

    @property
    def serial_text(self) -> str:
        """The serial as a tile shows it at the start ("" until an unlabelled unit's is allocated)."""
        return "" if self.serial is None else str(self.serial)


class Units:
    """Starts units and reworks on slots, by the station's rules."""

    def __init__(
        self,
        production: Production,
        people: People,
        slots: SlotProvider,
        audit: AuditTrail,
        selftests: SelfTests,
        *,
        station: str,
        work_order: str | None,
        labels: Labels | None = None,
        serials: SerialAllocator | None = None,
    ) -> None:
        self._production = production
        self._people = people
        self.slot_provider = slots
        self._audit = audit
        self._selftests = selftests
        self.station = station
        self.work_order = work_order
        self.labels = labels  # the recipe's label after each PASS (None: no labels at all)
        self.serials = serials  # serials from work orders' rules (settled at start after a crash)

    def takes_unlabelled_units(self) -> bool:
        """Whether units come without a label: the station's work order has a serial rule here
        (a fixture's scan then starts a unit on that fixture, with the rule's next serial)."""
        return self.work_order is not None and self.serials is not None and self.serials.has_rule(self.work_order)

    def context(self, person: str) -> StationContext:
        return StationContext(self.station, person, self.work_order)

    def provisioning_job(self, serial: Serial | None, settings: SlotSettings, operator: str) -> UnitJob:
        """The job that provisions the unit with ``serial`` in the slot ``settings`` describe
        (None: a unit without a label, which gets the next serial of the work order's rule when
        the job runs). A recipe that requires a station self-test refuses the unit untouched
        until one passed; a recipe with a ``[label]`` gets its label printed once the PASS is
        committed."""
        provisioner = self._production.provisioner(settings.name)
        recipe, context, slots = provisioner.recipe, self.context(operator), self.slot_provider
        selftests, labels = self._selftests, self.labels

        def run(observer: ProvisioningObserver) -> AttemptOutcome:
            refusal: StationError | None
            serial_text = "" if serial is None else str(serial)
            try:
                refusal = selftests.production_refusal(serial_text, settings.name)
            except StationError as error:  # the store could not say: refused all the same
                refusal = error
            if refusal is not None:
                return AttemptOutcome.refused(serial_text, refusal)
            try:
                slot = slots.slot_for(settings, serial_text, recipe, kind=JobKind.PROVISION.value)
            except StationError as error:
                return AttemptOutcome(serial_text, error=_slot_error(error), failure_step="connect")
            if serial is None:
                outcome = provisioner.provision_unlabelled(slot, context, observer)
            else:
                outcome = provisioner.provision(serial, slot, context, observer)
            if labels is not None and outcome.passed:  # the PASSED row is committed: now its label
                return dataclasses.replace(outcome, label=labels.after_pass(outcome, recipe))
            return outcome

        return UnitJob(JobKind.PROVISION, serial, settings.name, run)

    def rework_job(self, serial: Serial, settings: SlotSettings, supervisor: str, pin: str) -> UnitJob:
        """A supervisor's rework of the unit in a slot: refused (AccessError) unless ``pin`` is
        ``supervisor``'s PIN. The erase makes the unit a development unit for life."""
        provisioner = self._production.provisioner(settings.name)
        reason = provisioner.recipe.lock.no_rework_reason
        if reason is not None:  # said before the PIN is checked: no rework is possible at all
            raise PermanentLockError(reason)
        approved = self._people.approve(supervisor, pin, SUPERVISOR, f"rework of {serial} in slot {settings.name}")
        recipe, context, slots = provisioner.recipe, self.context(approved.name), self.slot_provider

        def run(observer: ProvisioningObserver) -> AttemptOutcome:
            slot = slots.slot_for(settings, str(serial), recipe, kind=JobKind.REWORK.value)
            return provisioner.rework(serial, slot, context)

        return UnitJob(JobKind.REWORK, serial, settings.name, run)

    def recover(self, slots: Iterable[SlotSettings]) -> list[AttemptRecord]:
        """Settle this station's attempts a crash left open, asking each slot's unit."""
        provisioner = self._production.provisioner()
        wired: dict[str, Slot] = {}
        for settings in slots:
            with contextlib.suppress(StationError):  # a slot that cannot be built cannot be asked
                recipe = self._production.provisioner(settings.name).recipe  # its probe speaks its target
                slot = self.slot_provider.slot_for(settings, "", recipe, kind="recovery")
                wired[slot.probe.probe_id] = slot
        settled = provisioner.recover_unfinished(self.station, wired)
        if self.serials is not None:  # serials a crash left with a unit, by how its attempt ended
            for serial in self.serials.settle_left_over(provisioner.journal.attempts, provisioner.journal.credentials):
                detail = f"serial {serial.serial} left {serial.state.value} after a restart"
                self._audit.append_audit(STATION_ACTOR, "serial.settled", detail)
        for attempt in settled:
            LOG.warning("recovered attempt %s (%s): %s", attempt.id, attempt.serial, attempt.failure_message)
            self._audit.append_audit(
                STATION_ACTOR, "attempt.recovered",
                f"attempt {attempt.id} {attempt.serial}: {attempt.result.value} {attempt.failure_code}",
            )  # fmt: skip
        return settled


def _slot_error(error: StationError) -> StationError:
    """A slot that cannot be wired (no probe or console configured) needs an engineer."""
    if isinstance(error, ConfigurationError) and not isinstance(error, NoProbeError):
        return NoProbeError(str(error))
    return error
