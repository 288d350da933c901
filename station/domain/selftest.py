"""The golden-unit station self-test: what a reference unit is, what a self-test found, and the rule
that judges one against the other.

A golden unit is a reference board a supervisor marked (with their PIN). When it is marked, its
*reference* is recorded: its device id, the recipe's images as read back from it, its lock
state and what its console answers to the identity commands the sequence uses (firmware
version, device id, endpoint, certificate fingerprint). At the start of a shift someone puts it
on a slot and runs the self-test: the station reads the same things again and judges them here,
check by check, against the reference and the recipe. A station whose recipe requires a
self-test refuses production scans until one passed (``SelfTestSettings``).

Why the checks are what they are: a locked nRF52 answers no memory read through its debug port
(that is what the lock is for), so a locked golden unit's flash cannot be read back. Its images
are then checked as far as a locked unit allows: the reference must hold the recipe's images
(recorded when the unit was verified), and the unit's firmware must report the recipe's version
over its console (it reports none when its application no longer matches its header). An
unlocked golden unit's images are read back and hashed, byte for byte.

Pure Python: the flow reads the unit (``station.flow.selftest``), the store keeps the records.
"""

from __future__ import annotations

import enum
import json
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Final

# The names of the checks, in the order they are made and shown.
CHECK_DEVICE_ID: Final = "device id"
CHECK_IMAGES: Final = "images"
CHECK_LOCK: Final = "lock"
CHECK_CONSOLE: Final = "console"
CHECKS: Final = (CHECK_DEVICE_ID, CHECK_IMAGES, CHECK_LOCK, CHECK_CONSOLE)

VALID_FOR_SHIFT: Final = "shift"
_DURATION = re.compile(r"^(?:(?P<hours>[0-9]{1,3})h)?(?:(?P<minutes>[0-9]{1,4})m)?$")
MINIMUM_VALIDITY: Final = timedelta(minutes=1)
MAXIMUM_VALIDITY: Final = timedelta(days=7)


def parse_validity(text: str) -> timedelta | None:
    """``"shift"`` (None: until the current shift ends) or a duration such as ``"8h"``, ``"90m"``
    or ``"1h30m"``; ValueError with the reason otherwise."""
    if text == VALID_FOR_SHIFT:
        return None
    match = _DURATION.match(text)
    if not text or match is None:
        raise ValueError(f"{text!r} is neither \"shift\" nor a duration such as \"8h\", \"90m\" or \"1h30m\"")
    duration = timedelta(hours=int(match["hours"] or 0), minutes=int(match["minutes"] or 0))
    if not MINIMUM_VALIDITY <= duration <= MAXIMUM_VALIDITY:
        raise ValueError(f"{text!r} must be at least 1 minute and at most 7 days")
    return duration


def describe_validity(validity: timedelta | None) -> str:
    """The inverse of :func:`parse_validity`, for messages and ``recipe check``."""
    if validity is None:
        return "the current shift"
    minutes = int(validity.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    return (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes or not hours else "")


@dataclass(frozen=True)
class SelfTestSettings:
    """A recipe's ``[selftest]`` table: its golden units (serials or device ids), whether a passed
    self-test is required before production scans, and how long a pass counts (None: the shift)."""

    golden: tuple[str, ...] = ()
    required: bool = False
    valid_for: timedelta | None = None

    def names(self, serial: str, device_id: str | None) -> bool:
        """Whether this unit (by its serial or its device id) is one of the recipe's golden units."""
        wanted = {entry.upper() for entry in self.golden}
        return serial.upper() in wanted or (device_id is not None and device_id.upper() in wanted)


@dataclass(frozen=True)
class ShiftSchedule:
    """When the line's shifts start, in the station's local time (the station settings' ``[shift]``).

    The current shift is the one whose start is the latest at or before now; with one start a
    day, a shift is a day from that time.
    """

    starts: tuple[time, ...] = (time(0, 0),)

    def start_of_shift(self, now: datetime) -> datetime:
        """The moment the shift running at ``now`` (timezone-aware) started, in UTC."""
        local = now.astimezone()
        # A naive local time made aware by astimezone() takes the offset of its own date (summer
        # or winter time), not today's.
        candidates = [
            datetime.combine(local.date() - timedelta(days=days_back), start).astimezone()
            for days_back in (0, 1)
            for start in self.starts
        ]
        started = max(candidate for candidate in candidates if candidate <= local)
        return started.astimezone(UTC)


@dataclass(frozen=True)
class ConsoleIdentity:
    """What a unit's console answers to the identity commands the sequence uses ("" when it
    answers with an error: a unit without credentials has no endpoint)."""

    firmware_version: str
    device_id: str
    endpoint: str
    certificate_fingerprint: str

    def normalized(self) -> ConsoleIdentity:
        """Device ids compare in upper case, fingerprints in lower case (as the identity step does)."""
        return ConsoleIdentity(self.firmware_version, self.device_id.upper(), self.endpoint,
                               self.certificate_fingerprint.lower())  # fmt: skip

    def fields(self) -> dict[str, str]:
        return {"firmware version": self.firmware_version, "device id": self.device_id, "endpoint": self.endpoint,
                "certificate": self.certificate_fingerprint}  # fmt: skip

    def to_json(self) -> dict[str, str]:
        return {"firmware_version": self.firmware_version, "device_id": self.device_id, "endpoint": self.endpoint,
                "certificate_fingerprint": self.certificate_fingerprint}  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> ConsoleIdentity:
        return cls(*(str(data.get(key) or "") for key in
                     ("firmware_version", "device_id", "endpoint", "certificate_fingerprint")))  # fmt: skip


@dataclass(frozen=True)
class ImageHash:
    """One recipe image as found on a unit: its name and the SHA-256 of its content."""

    name: str
    sha256: str

    @classmethod
    def parse(cls, text: str) -> ImageHash:
        """``name:sha256``, as attempts record the images they programmed."""
        name, _, sha256 = text.rpartition(":")
        return cls(name, sha256.lower())

    def __str__(self) -> str:
        return f"{self.name}:{self.sha256}"


@dataclass(frozen=True)
class GoldenReference:
    """What a golden unit was when it was marked: the self-test compares the unit with this.

    ``source`` says where it was read: ``probe <id>`` (from the unit itself) or ``attempt <n>``
    (from the unit's PASS attempt, when no probe was at hand).
    """

    serial: str
    device_id: str
    images: tuple[ImageHash, ...]
    locked: bool
    console: ConsoleIdentity
    source: str
    recorded_by: str = ""
    recorded_at: datetime | None = None
    id: int | None = None

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "serial": self.serial, "device_id": self.device_id,
                "images": [{"name": image.name, "sha256": image.sha256} for image in self.images],
                "locked": self.locked, "console": self.console.to_json(), "source": self.source,
                "recorded_by": self.recorded_by, "recorded_at": self.recorded_at}  # fmt: skip


@dataclass(frozen=True)
class UnitReading:
    """What a self-test (or a marking) read from the unit on the probe. A part that could not be
    read is None, and ``problems`` says why, under the check's name."""

    probe_id: str
    locked: bool | None = None
    device_id: str | None = None
    device_id_from: str = ""  # "debug port" or "console"
    images: tuple[ImageHash, ...] | None = None
    console: ConsoleIdentity | None = None
    problems: Mapping[str, str] = field(default_factory=dict)


class CheckOutcome(enum.StrEnum):
    PASSED = "PASSED"
    FAILED = "FAILED"


@dataclass(frozen=True)
class SelfTestCheck:
    """One check of a self-test: its name, its outcome and, in words, what was found."""

    name: str
    outcome: CheckOutcome
    detail: str

    @property
    def passed(self) -> bool:
        return self.outcome is CheckOutcome.PASSED

    def to_json(self) -> dict[str, str]:
        return {"check": self.name, "outcome": self.outcome.value, "detail": self.detail}


class SelfTestResult(enum.StrEnum):
    PASSED = "PASSED"
    FAILED = "FAILED"


@dataclass(frozen=True)
class SelfTestRecord:
    """One self-test as recorded: where, by whom, on which golden unit, and every check."""

    id: int
    station: str
    operator: str
    serial: str
    reference_id: int
    recipe_hash: str
    probe_id: str
    device_id: str | None
    result: SelfTestResult
    checks: tuple[SelfTestCheck, ...]
    reason: str
    started_at: datetime
    ended_at: datetime

    @property
    def passed(self) -> bool:
        return self.result is SelfTestResult.PASSED

    def to_json(self) -> dict[str, object]:
        return {"selftest_id": self.id, "station": self.station, "operator": self.operator, "serial": self.serial,
                "reference_id": self.reference_id, "recipe_hash": self.recipe_hash, "probe_id": self.probe_id,
                "device_id": self.device_id, "result": "PASS" if self.passed else "FAIL",
                "checks": [check.to_json() for check in self.checks], "reason": self.reason or None,
                "started_at": self.started_at, "ended_at": self.ended_at}  # fmt: skip


def checks_to_text(checks: Iterable[SelfTestCheck]) -> str:
    """The checks as the store keeps them (a JSON array)."""
    return json.dumps([check.to_json() for check in checks], ensure_ascii=False, separators=(",", ":"))


def checks_from_text(text: str) -> tuple[SelfTestCheck, ...]:
    items = json.loads(text or "[]")
    return tuple(SelfTestCheck(str(item["check"]), CheckOutcome(item["outcome"]), str(item["detail"]))
                 for item in items)  # fmt: skip


def failure_reason(checks: Sequence[SelfTestCheck]) -> str:
    """What differed, check by check: "" when every check passed."""
    return "; ".join(f"{check.name}: {check.detail}" for check in checks if not check.passed)


def firmware_version_of(recipe_text: str) -> str:
    """The firmware version a recorded recipe's text pins ("" when it cannot be read)."""
    try:
        value = tomllib.loads(recipe_text).get("firmware_version")
    except tomllib.TOMLDecodeError:
        return ""
    return value if isinstance(value, str) else ""


# ---- the rule ----------------------------------------------------------------------------------


def _short(sha256: str) -> str:
    return f"{sha256[:12]}…"


def _passed(name: str, detail: str) -> SelfTestCheck:
    return SelfTestCheck(name, CheckOutcome.PASSED, detail)


def _failed(name: str, detail: str) -> SelfTestCheck:
    return SelfTestCheck(name, CheckOutcome.FAILED, detail)


def judge(
    reference: GoldenReference,
    reading: UnitReading,
    recipe_images: Sequence[ImageHash],
    recipe_firmware_version: str,
) -> tuple[SelfTestCheck, ...]:
    """Every check of a self-test, in ``CHECKS`` order: the unit as read against its reference
    and the recipe. A part that could not be read fails its check, saying why."""
    return (
        _device_check(reference, reading),
        _image_check(reference, reading, recipe_images, recipe_firmware_version),
        _lock_check(reference, reading),
        _console_check(reference, reading),
    )


def _device_check(reference: GoldenReference, reading: UnitReading) -> SelfTestCheck:
    if reading.device_id is None:
        return _failed(CHECK_DEVICE_ID, f"not read: {reading.problems.get(CHECK_DEVICE_ID, 'no answer')}")
    if reading.device_id.upper() != reference.device_id.upper():
        return _failed(CHECK_DEVICE_ID, f"the unit on the probe is device {reading.device_id}, golden unit "
                       f"{reference.serial} is device {reference.device_id}: another unit is on the probe")
    return _passed(CHECK_DEVICE_ID, f"{reading.device_id} (read through the {reading.device_id_from})")


def _image_check(
    reference: GoldenReference, reading: UnitReading, recipe_images: Sequence[ImageHash], firmware_version: str
) -> SelfTestCheck:
    recorded = {image.name: image.sha256 for image in reference.images}
    stale = [image for image in recipe_images if recorded.get(image.name) != image.sha256]
    if stale or len(recorded) != len(recipe_images):
        named = ", ".join(f"{image.name} (recipe {_short(image.sha256)}, reference "
                          f"{_short(recorded[image.name]) if image.name in recorded else 'none'})"
                          for image in stale) or "their names differ"  # fmt: skip
        return _failed(CHECK_IMAGES, f"the golden unit was recorded with other images than the recipe's: {named}; "
                       "mark a golden unit made with this recipe")
    if reading.images is None:
        if reading.locked and reading.console is not None:
            reported = reading.console.firmware_version
            if reported != firmware_version:
                return _failed(CHECK_IMAGES, f"locked, so its flash cannot be read back; its firmware reports "
                               f"version {reported!r}, the recipe's is {firmware_version!r}")
            return _passed(CHECK_IMAGES, f"locked, so its flash cannot be read back; its firmware reports the "
                           f"recipe's version {reported}, and it was recorded with the recipe's images")
        why = reading.problems.get(CHECK_IMAGES) or reading.problems.get(CHECK_CONSOLE) or "no answer"
        return _failed(CHECK_IMAGES, f"not read: {why}")
    found = {image.name: image.sha256 for image in reading.images}
    differing = [f"{image.name} reads back {_short(found.get(image.name, ''))}, the recipe's and the reference's "
                 f"is {_short(image.sha256)}" for image in recipe_images if found.get(image.name) != image.sha256]
    if differing:
        return _failed(CHECK_IMAGES, "; ".join(differing))
    return _passed(CHECK_IMAGES, ", ".join(f"{image.name} {_short(image.sha256)}" for image in recipe_images)
                   + " read back: the recipe's and the reference's")


def _lock_check(reference: GoldenReference, reading: UnitReading) -> SelfTestCheck:
    if reading.locked is None:
        return _failed(CHECK_LOCK, f"not read: {reading.problems.get(CHECK_LOCK, 'no answer')}")
    state = "locked" if reading.locked else "unlocked"
    if reading.locked != reference.locked:
        recorded = "locked" if reference.locked else "unlocked"
        return _failed(CHECK_LOCK, f"{state}, the golden unit was recorded {recorded}")
    return _passed(CHECK_LOCK, f"{state}, as recorded")


def _console_check(reference: GoldenReference, reading: UnitReading) -> SelfTestCheck:
    if reading.console is None:
        return _failed(CHECK_CONSOLE, f"no answer: {reading.problems.get(CHECK_CONSOLE, 'not asked')}")
    found = reading.console.normalized().fields()
    wanted = reference.console.normalized().fields()
    differing = [f"{name} {found[name]!r}, recorded {wanted[name]!r}" for name in wanted if found[name] != wanted[name]]
    if differing:
        return _failed(CHECK_CONSOLE, "answers " + "; ".join(differing))
    return _passed(CHECK_CONSOLE, f"firmware {found['firmware version']}, device {found['device id']}, endpoint "
                   f"{found['endpoint'] or '-'}, certificate {found['certificate'][:16] or '-'}…, as recorded")
