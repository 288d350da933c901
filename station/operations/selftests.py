"""The golden-unit station self-test, and the rule that production waits for it.

A golden unit's *reference* is taken when a supervisor marks it (``Supervision.mark_golden``):
read from the unit on a probe, or, when no probe is at hand, from the unit's PASS attempt (the
device id it recorded, the images its verify step read back, locked as its lock-confirm step
found it, the console identity its activate and identity steps checked: firmware version,
device id, endpoint (the common name of the certificate it was given), certificate fingerprint).

``selftest_job`` checks who may be tested before anything is touched (a recipe, a golden unit
of that recipe with a reference) and returns the work to run off the caller's thread: read the
unit (``station.flow.selftest``), judge it (``station.domain.selftest``), record the result in
the store and the chain. ``production_refusal`` is the one rule both front ends obey: a recipe
whose ``[selftest] required = true`` refuses production scans until a self-test with that
recipe passed at this station within ``valid_for`` (the current shift of the settings'
``[shift]``, or a duration). The recipe's own golden units are exempt, so that a new product's
reference unit can be made on a station that already requires the self-test.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from station.config.settings import SlotSettings
from station.domain.errors import GoldenReferenceError, NoRecipeError, NotGoldenError, SelfTestRequiredError, StoreError
from station.domain.recipe import Recipe, StepName
from station.domain.records import AttemptRecord, AttemptResult, StepOutcome
from station.domain.selftest import (
    CHECK_CONSOLE,
    CHECK_DEVICE_ID,
    CHECK_LOCK,
    ConsoleIdentity,
    GoldenReference,
    ImageHash,
    SelfTestRecord,
    ShiftSchedule,
    UnitReading,
    describe_validity,
    firmware_version_of,
    judge,
)
from station.flow.selftest import read_unit
from station.flow.watchdog import Watchdog
from station.operations.production import Production
from station.operations.slots import SlotProvider
from station.security.credentials import endpoint_name_of
from station.store import Database

SELFTEST_SLOT_KIND = "selftest"
GOLDEN_SLOT_KIND = "golden"


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class SelfTestJob:
    """A self-test ready to run: ``run`` reads the unit and records the result (blocking)."""

    serial: str
    slot: str
    run: Callable[[], SelfTestRecord]


class SelfTests:
    """Golden units' references, self-tests on them, and the production rule (see the module)."""

    def __init__(
        self,
        database: Database,
        production: Production,
        slots: SlotProvider,
        *,
        station: str,
        shifts: ShiftSchedule,
        watchdog: Watchdog,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._database = database
        self._production = production
        self.slot_provider = slots
        self.station = station
        self.shifts = shifts
        self._watchdog = watchdog
        self._clock = clock
        self._lock = threading.Lock()
        self._last_pass: dict[str, SelfTestRecord] = {}  # by recipe hash: spares a query per unit

    # ---- the production rule --------------------------------------------------------------------

    def valid_since(self, recipe: Recipe, now: datetime | None = None) -> datetime:
        """The earliest end of a self-test that still counts for ``recipe`` now."""
        moment = now or self._clock()
        validity = recipe.selftest.valid_for
        return self.shifts.start_of_shift(moment) if validity is None else moment - validity

    def passed_now(self, recipe: Recipe) -> SelfTestRecord | None:
        """This station's self-test with ``recipe`` that counts now, if one passed."""
        since = self.valid_since(recipe)
        with self._lock:
            cached = self._last_pass.get(recipe.content_hash)
        if cached is not None and cached.ended_at >= since:
            return cached
        found = self._database.selftests.latest_passed(self.station, recipe.content_hash, since)
        if found is not None:
            with self._lock:
                self._last_pass[recipe.content_hash] = found
        return found

    def production_refusal(self, serial: str, slot: str | None = None) -> SelfTestRequiredError | None:
        """Why the unit ``serial`` may not be provisioned now on ``slot`` (None: it may): the slot's
        recipe requires a passed self-test and none counts. Asked before the unit is touched, by
        both front ends."""
        recipe = self._production.recipe_for(slot)
        if recipe is None or not recipe.selftest.required or recipe.selftest.names(serial, None):
            return None
        if self.passed_now(recipe) is not None:
            return None
        since = self.valid_since(recipe).astimezone()
        golden = ", ".join(recipe.selftest.golden)
        return SelfTestRequiredError(
            f"the recipe requires a passed station self-test on its golden unit ({golden}) within "
            f"{describe_validity(recipe.selftest.valid_for)}: none passed at station {self.station} since "
            f"{since:%Y-%m-%d %H:%M %Z}; run the station self-test (station selftest, or Station self-test in "
            "the supervisor view) with the golden unit on a slot"
        )

    # ---- running a self-test ----------------------------------------------------------------------

    def golden_serial(self, recipe: Recipe, serial: str | None) -> str:
        """The golden unit a self-test is for: ``serial``, or the recipe's one golden unit marked
        here. NotGoldenError, before anything is touched, for any other unit."""
        names = recipe.selftest.golden
        if serial is not None:
            unit = self._database.units.get_unit(serial)
            if unit is None:
                raise NotGoldenError(f"no unit with serial {serial!r}: a self-test runs on a golden unit")
            if not unit.is_golden:
                raise NotGoldenError(f"unit {serial} is not a golden unit: a supervisor marks golden units "
                                     "(station units golden, or the supervisor view)")  # fmt: skip
            if names and not recipe.selftest.names(serial, unit.device_id):
                raise NotGoldenError(f"unit {serial} is not one of the recipe's golden units ({', '.join(names)})")
            return serial
        if not names:
            raise NotGoldenError("the recipe names no golden unit ([selftest] golden): say which golden unit is "
                                 "on the probe")  # fmt: skip
        marked = [found for found, device_id in self._database.selftests.golden_units()
                  if recipe.selftest.names(found, device_id)]  # fmt: skip
        if not marked:
            raise NotGoldenError(f"none of the recipe's golden units ({', '.join(names)}) is marked golden here: "
                                 "a supervisor marks it (station units golden)")  # fmt: skip
        if len(marked) > 1:
            raise NotGoldenError(f"the recipe's golden units {', '.join(marked)} are all marked: say which one is "
                                 "on the probe")  # fmt: skip
        return marked[0]

    def selftest_job(self, settings: SlotSettings, person: str, serial: str | None = None) -> SelfTestJob:
        """The self-test of a golden unit on the slot ``settings`` describe, run by ``person``;
        refused (NoRecipeError, NotGoldenError) before the unit is touched, nothing recorded."""
        recipe = self._production.recipe_for(settings.name)
        if recipe is None:
            raise NoRecipeError(self._production.recipe_problem or "choose a recipe first: the self-test checks "
                                "the golden unit against it")  # fmt: skip
        golden = self.golden_serial(recipe, serial)
        reference = self._database.selftests.current_reference(golden)
        if reference is None:
            raise NotGoldenError(f"golden unit {golden} has no recorded reference: a supervisor marks it again")
        recipe_images = [ImageHash(image.name, image.sha256) for image in recipe.images]

        def run() -> SelfTestRecord:
            started = self._clock()
            slot = self.slot_provider.slot_for(settings, golden, recipe, kind=SELFTEST_SLOT_KIND)
            reading = read_unit(slot, recipe, self._watchdog)
            checks = judge(reference, reading, recipe_images, recipe.firmware_version)
            record = self._database.selftests.record_selftest(
                station=self.station, operator=person, reference=reference, recipe_hash=recipe.content_hash,
                probe_id=reading.probe_id, device_id=reading.device_id, checks=checks, started_at=started,
                ended_at=self._clock(),
            )  # fmt: skip
            if record.passed:
                with self._lock:
                    self._last_pass[recipe.content_hash] = record
            return record

        return SelfTestJob(golden, settings.name, run)

    # ---- references ---------------------------------------------------------------------------

    def reference_from_unit(self, serial: str, settings: SlotSettings, recorded_by: str) -> GoldenReference:
        """The reference of unit ``serial``, read from it on the slot ``settings`` describe. Its
        images must be the recipe's; a locked unit's come from its verified attempt."""
        recipe = self._production.recipe_for(settings.name)
        if recipe is None:
            raise NoRecipeError(self._production.recipe_problem or "a golden unit read from a probe needs the "
                                "recipe its images are checked against")  # fmt: skip
        unit = self._database.units.get_unit(serial)
        if unit is None:
            raise StoreError(f"no unit with serial {serial!r}: a golden unit is one the station has provisioned")
        slot = self.slot_provider.slot_for(settings, serial, recipe, kind=GOLDEN_SLOT_KIND)
        reading = read_unit(slot, recipe, self._watchdog)
        where = f"the unit on probe {reading.probe_id}"
        if reading.device_id is not None and unit.device_id is not None \
                and reading.device_id.upper() != unit.device_id.upper():  # fmt: skip
            raise GoldenReferenceError(f"{where} is device {reading.device_id}, unit {serial} is device "
                                       f"{unit.device_id}: put unit {serial} on the probe")  # fmt: skip
        for check, part in ((CHECK_LOCK, reading.locked), (CHECK_DEVICE_ID, reading.device_id),
                            (CHECK_CONSOLE, reading.console)):  # fmt: skip
            if part is None:
                raise GoldenReferenceError(f"{where}: its {check} cannot be read ({reading.problems.get(check)})")
        assert reading.locked is not None and reading.device_id is not None and reading.console is not None
        images = reading.images if reading.images is not None else self._verified_images(serial, reading)
        recipe_images = tuple(ImageHash(image.name, image.sha256) for image in recipe.images)
        if images != recipe_images:
            found = ", ".join(f"{image.name} {image.sha256[:12]}…" for image in images)
            raise GoldenReferenceError(f"{where} does not hold the recipe's images (it holds {found or 'none'}): "
                                       "a golden unit holds the images of the recipe it checks")  # fmt: skip
        if reading.console.firmware_version != recipe.firmware_version:
            raise GoldenReferenceError(f"{where} reports firmware {reading.console.firmware_version!r}, the "
                                       f"recipe's is {recipe.firmware_version!r}")  # fmt: skip
        return GoldenReference(serial, reading.device_id, images, reading.locked, reading.console,
                               f"probe {reading.probe_id}", recorded_by)  # fmt: skip

    def reference_from_record(self, serial: str, recorded_by: str) -> GoldenReference:
        """The reference of unit ``serial`` from its PASS attempt (see the module's docstring)."""
        history = self._database.attempts.history(serial)
        passed = [attempt for attempt in history if attempt.result is AttemptResult.PASSED and not attempt.is_rework]
        if not passed or passed[-1].device_id is None:
            raise GoldenReferenceError(
                f"unit {serial} has no PASS attempt to take its reference from: mark it with the unit on a probe "
                "(--recipe, --probe and --console), so that the reference is read from the unit"
            )
        attempt = passed[-1]
        device_id = attempt.device_id or ""
        images = _verified_images(history, attempt.id)
        if images is None:
            raise GoldenReferenceError(f"unit {serial}'s attempts recorded no verified images: mark it with the "
                                       "unit on a probe")  # fmt: skip
        recorded_recipe = self._database.registry.get_recipe(attempt.recipe_hash)
        version = firmware_version_of(recorded_recipe.content) if recorded_recipe is not None else ""
        fingerprint = (attempt.certificate_fingerprint or "").lower()
        endpoint = next((endpoint_name_of(credential.certificate_pem)
                         for credential in self._database.credentials.credentials_for_serial(serial)
                         if credential.certificate_fingerprint.lower() == fingerprint), "")  # fmt: skip
        console = ConsoleIdentity(version, device_id.upper(), endpoint, fingerprint)
        return GoldenReference(serial, device_id.upper(), images, True, console, f"attempt {attempt.id}",
                               recorded_by)  # fmt: skip

    def _verified_images(self, serial: str, reading: UnitReading) -> tuple[ImageHash, ...]:
        images = _verified_images(self._database.attempts.history(serial), None)
        if images is None:
            raise GoldenReferenceError(
                f"the unit on probe {reading.probe_id} is locked, so its flash cannot be read back, and no attempt "
                f"at unit {serial} recorded verified images"
            )
        return images

    def reference(self, serial: str) -> GoldenReference | None:
        """The reference a self-test of ``serial`` compares with (None: not a golden unit)."""
        return self._database.selftests.current_reference(serial)


def _verified_images(history: list[AttemptRecord], up_to: int | None) -> tuple[ImageHash, ...] | None:
    """The images of the newest attempt (up to attempt ``up_to``) whose verify step read them back
    and found them right: what a locked unit holds (a rework's erase would have unlocked it)."""
    for attempt in reversed(history):
        if up_to is not None and attempt.id > up_to:
            continue
        verified = any(step.name == StepName.VERIFY.value and step.outcome is StepOutcome.PASSED
                       for step in attempt.steps)
        if verified and attempt.image_hashes:
            return tuple(ImageHash.parse(text) for text in attempt.image_hashes)
        if attempt.is_rework:
            return None
    return None
