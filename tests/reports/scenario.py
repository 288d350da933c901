"""A traceability database built through the repositories, with known failures and known figures.

``scenario`` records 17 attempts on 13 units the way the station records them (create_attempt,
start_step/finish_step, finish_attempt), with failures at several steps and codes, a retried
unit, a unit failed twice, a reworked unit, a unit that needs inspection, one still in
progress and a golden unit. :data:`EXPECTED` holds the figures worked out by hand from that
story; tests compare every export and the yield code against them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypedDict

from station.domain.records import AttemptResult, StepOutcome
from station.store import Database

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
RECIPE_TEXT = '[product]\ncode = "ACME-TOASTER"\n# reports test recipe\n'
PRODUCT = "ACME-TOASTER"
IMAGE_HASHES = (hashlib.sha256(b"bootloader").hexdigest(), hashlib.sha256(b"application").hexdigest())
TOKEN_PLAINTEXT = "tok-plaintext-never-exported-0123456789"  # what must never appear in an export
TOKEN_FINGERPRINT = hashlib.sha256(TOKEN_PLAINTEXT.encode()).hexdigest()
GOLDEN_SERIAL = "GLD-000001"

# (name, seconds) of a passing attempt's steps, in order.
STEPS = (("connect", 0.5), ("flash", 4.0), ("verify", 1.0), ("credentials", 0.5), ("lock", 0.2),
         ("activate", 2.0), ("identity", 0.3))


@dataclass(frozen=True)
class Planned:
    serial: str
    result: AttemptResult
    failure_step: str | None = None
    failure_code: str | None = None
    work_order: str = "WO-1"
    operator: str = "ann"
    station: str = "st1"
    rework: bool = False


# In order of their start times, one a minute from T0.
PLAN: tuple[Planned, ...] = (
    *(Planned(f"SN-A{n}", AttemptResult.PASSED) for n in range(1, 7)),
    Planned("SN-B1", AttemptResult.FAILED, "verify", "VERIFY_MISMATCH"),
    Planned("SN-B2", AttemptResult.FAILED, "activate", "CONSOLE_TIMEOUT"),
    Planned("SN-B3", AttemptResult.FAILED, "connect", "UNIT_LOCKED"),
    Planned(GOLDEN_SERIAL, AttemptResult.FAILED, "flash", "FLASH"),
    Planned("SN-C1", AttemptResult.NEEDS_INSPECTION, "recovery", "MAY_BE_LOCKED", "WO-2", "bob", "st2"),
    Planned("SN-C2", AttemptResult.PASSED, None, None, "WO-2", "bob", "st2"),
    Planned("SN-B1", AttemptResult.PASSED),
    Planned("SN-B2", AttemptResult.FAILED, "activate", "CONSOLE_TIMEOUT"),
    Planned("SN-B3", AttemptResult.FAILED, "rework", "REWORKED", operator="sue", rework=True),
    Planned(GOLDEN_SERIAL, AttemptResult.PASSED),
    Planned("SN-C3", AttemptResult.IN_PROGRESS, None, None, "WO-2", "bob", "st2"),
)


class ExpectedFigures(TypedDict):
    """The hand-worked figures of :data:`PLAN`; failures are (code or step, count) pairs."""

    attempts: int
    result_counts: dict[str, int]
    units: int
    units_started: int
    first_pass_units: int
    final_pass_units: int
    production_attempts: int
    rework_attempts: int
    golden_units: int
    golden_attempts: int
    failures_by_code: list[tuple[str, int]]
    failures_by_step: list[tuple[str, int]]
    wo2_attempts: int


EXPECTED: ExpectedFigures = {
    "attempts": 17,
    "result_counts": {"FAILED": 6, "IN_PROGRESS": 1, "NEEDS_INSPECTION": 1, "PASSED": 9},
    "units": 12,
    "units_started": 11,  # SN-C3's first attempt is still running: not a first pass yet, nor a failed one
    "first_pass_units": 7,  # A1..A6, C2
    "final_pass_units": 8,  # A1..A6, C2, B1
    "production_attempts": 14,
    "rework_attempts": 1,
    "golden_units": 1,
    "golden_attempts": 2,
    "failures_by_code": [("CONSOLE_TIMEOUT", 2), ("MAY_BE_LOCKED", 1), ("UNIT_LOCKED", 1), ("VERIFY_MISMATCH", 1)],
    "failures_by_step": [("activate", 2), ("connect", 1), ("recovery", 1), ("verify", 1)],
    "wo2_attempts": 3,
}


def record_attempt(database: Database, recipe_hash: str, planned: Planned, started: datetime) -> int:
    """One attempt with its steps, exactly as the flow journals it."""
    attempts = database.attempts
    attempt = attempts.create_attempt(
        serial=planned.serial, station=planned.station, operator=planned.operator, recipe_hash=recipe_hash,
        product=PRODUCT, work_order=planned.work_order, probe_id="sim:unit-0001", is_rework=planned.rework,
        at=started,
    )
    device_id = hashlib.sha256(planned.serial.encode()).hexdigest()[:16].upper()
    moment = started
    steps = (("rework", 3.0),) if planned.rework else STEPS
    for name, seconds in steps:
        step = attempts.start_step(attempt.id, name, at=moment)
        assert step.id is not None, "a started step is stored, so it has an id"
        if planned.result is AttemptResult.IN_PROGRESS and name == "flash":
            break  # still running
        fails = name == planned.failure_step
        if name == "activate" and fails:
            seconds = 10.0  # a timeout
        moment += timedelta(seconds=seconds)
        attempts.finish_step(step.id, StepOutcome.FAILED if fails else StepOutcome.PASSED,
                             failure_code=planned.failure_code if fails else None, at=moment,
                             detail=f"{name} done")
        if name == "connect":
            attempts.set_attempt_fields(attempt.id, device_id=device_id)
        if name == "flash":
            attempts.set_attempt_fields(attempt.id, image_hashes=IMAGE_HASHES)
        if name == "credentials":
            attempts.set_attempt_fields(
                attempt.id, certificate_fingerprint=hashlib.sha256(f"cert-{attempt.id}".encode()).hexdigest())
        if name == "activate" and not fails:
            attempts.set_attempt_fields(attempt.id, token_fingerprint=TOKEN_FINGERPRINT,
                                        console_transcript="> dms_activate tok:" + TOKEN_FINGERPRINT[:16] + "\n< ok\n")
        if fails:
            break
        moment += timedelta(milliseconds=50)
    if planned.result is not AttemptResult.IN_PROGRESS:
        failure = {} if planned.result is AttemptResult.PASSED else {
            "failure_step": planned.failure_step, "failure_code": planned.failure_code,
            "failure_message": f"{planned.failure_code} at {planned.failure_step}",
        }
        attempts.finish_attempt(attempt.id, planned.result, at=moment, **failure)
    return attempt.id


def build_scenario(database: Database) -> list[int]:
    recipe_hash = database.registry.record_recipe(RECIPE_TEXT, PRODUCT).sha256
    ids = [record_attempt(database, recipe_hash, planned, T0 + timedelta(minutes=index))
           for index, planned in enumerate(PLAN)]
    database.units.set_golden(GOLDEN_SERIAL)
    return ids
