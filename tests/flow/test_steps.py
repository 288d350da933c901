"""The flow's rules on hand-written fakes: order, retries, deadlines, every failure path, resume.

Each test runs the station's real sequence (steps, runner, watchdog, recovery) against the
doubles in ``tests/fakes.py`` and finishes in milliseconds; the end-to-end tests beside these
run the same sequence through real pyOCD, the simulator and a pty.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fakes import FakeConsole, FakeIssuer, FakeProbe, FakeReply, FakeTokens, FakeUnit, MemoryJournal

from station.domain.errors import (
    ActivationForbiddenError,
    AlreadyPassedError,
    DevelopmentUnitError,
    DeviceAlreadyPassedError,
    FirmwareVersionError,
    IdentityError,
    InternalError,
    LockError,
    ProbeError,
    SerialInProgressError,
    StepTimeoutError,
    StoreError,
    UnitLockedError,
    UnitReworkedError,
    VaultError,
    VerifyError,
    WorkOrderCompleteError,
)
from station.domain.identity import Serial
from station.domain.outcome import AttemptOutcome
from station.domain.recipe import Recipe, StepName
from station.domain.recipe_loader import load_recipe
from station.domain.records import (
    AttemptOwner,
    AttemptRecord,
    AttemptResult,
    CredentialState,
    JournalState,
    StepEnd,
    StepOutcome,
    StepRecord,
)
from station.flow.observer import QuietObserver
from station.flow.run import Slot, StationContext
from station.flow.sequence import PROVISIONING_STEPS, UnitProvisioner, display_steps, displayed_as
from station.flow.watchdog import Watchdog
from station.sim.demo_recipe import write_demo_recipe
from station.sim.firmware import build_demo_firmware

ALL_STEPS = ["connect", "flash", "verify", "credentials", "lock", "lock-confirm", "activate", "identity"]
CONTEXT = StationContext("station-1", "ann", "WO-1")


@pytest.fixture(scope="module")
def demo_recipe_text(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo recipe next to its firmware, built once for this module."""
    directory = tmp_path_factory.mktemp("fake-line")
    return write_demo_recipe(directory, build_demo_firmware(directory))


def recipe_with(recipe_path: Path, tmp_path: Path, **steps: tuple[float, int]) -> Recipe:
    """The demo recipe with some steps' (timeout, retries) changed."""
    text = recipe_path.read_text(encoding="utf-8")
    for name, (timeout, retries) in steps.items():
        table = name.replace("_", "-")
        text, count = re.subn(
            rf"\[steps\.{table}\]\ntimeout_seconds = [0-9.]+\nretries = [0-9]+",
            f"[steps.{table}]\ntimeout_seconds = {timeout}\nretries = {retries}",
            text,
        )
        assert count == 1, name
    variant = recipe_path.with_name(f"variant-{tmp_path.name}.toml")
    variant.write_text(text, encoding="utf-8")
    return load_recipe(variant)


@dataclass
class FakeLine:
    recipe: Recipe
    journal: MemoryJournal
    tokens: FakeTokens
    issuer: FakeIssuer
    provisioner: UnitProvisioner
    probe: FakeProbe
    console: FakeConsole

    def insert(self, unit: FakeUnit) -> FakeUnit:
        """Put another board in the fixture (same probe, same console cable)."""
        self.probe.unit = unit
        self.console.unit = unit
        return unit

    def slot(self) -> Slot:
        return Slot("1", self.probe, lambda: self.console)

    def provision(self, serial: str) -> AttemptOutcome:
        return self.provisioner.provision(Serial(serial), self.slot(), CONTEXT)

    def steps(self, outcome: AttemptOutcome) -> list[tuple[str, StepOutcome]]:
        assert outcome.attempt_id is not None
        return [(step.name, step.outcome) for step in self.journal.get_attempt(outcome.attempt_id).steps]


def make_line(recipe: Recipe, *, watchdog: Watchdog | None = None) -> FakeLine:
    journal, issuer = MemoryJournal(), FakeIssuer()
    tokens = FakeTokens(journal)
    unit = FakeUnit("00000000000000A1")
    provisioner = UnitProvisioner(recipe, journal.as_journal(), issuer, tokens, watchdog=watchdog or Watchdog())
    return FakeLine(recipe, journal, tokens, issuer, provisioner, FakeProbe(unit), FakeConsole(unit, recipe))


@pytest.fixture
def line(demo_recipe_text: Path) -> Iterator[FakeLine]:
    yield make_line(load_recipe(demo_recipe_text))


# ---- the sequence --------------------------------------------------------------------------


def test_the_sequence_is_declared_in_order_with_its_journal_states() -> None:
    assert [step.name.value for step in PROVISIONING_STEPS] == ALL_STEPS
    reached = [step.reaches for step in PROVISIONING_STEPS if step.reaches is not None]
    assert reached == [
        JournalState.CONNECTED, JournalState.FLASHED, JournalState.VERIFIED, JournalState.INJECTED,
        JournalState.LOCKED, JournalState.ACTIVATED,
    ]  # fmt: skip
    irreversible = [step.name for step in PROVISIONING_STEPS if step.irreversible]
    assert irreversible == [StepName.CREDENTIALS, StepName.LOCK, StepName.ACTIVATE]
    # The operator's tile shows lock-confirm on the lock row; every declared step has a row.
    assert displayed_as("lock-confirm") == "lock"
    assert [name.value for name in display_steps()] == [s for s in ALL_STEPS if s != "lock-confirm"]


def test_a_unit_passes_with_every_step_recorded(line: FakeLine) -> None:
    outcome = line.provision("TST-000001")
    assert outcome.passed and outcome.summary == "PASS TST-000001"
    assert line.steps(outcome) == [(name, StepOutcome.PASSED) for name in ALL_STEPS]
    record = line.journal.get_attempt(outcome.attempt_id or 0)
    assert record.state is JournalState.PASSED and record.device_id == "00000000000000A1"
    assert record.token_fingerprint == "tok:0000" and record.certificate_fingerprint
    assert [c.state for c in line.journal.credentials_for_serial("TST-000001")] == [CredentialState.INJECTED]
    assert line.probe.unit.locked and line.probe.unit.activated_product == "ACME-TOASTER"
    assert "secret-token" not in (record.console_transcript or "") and "tok:0000" in record.console_transcript
    assert set(outcome.step_seconds) == set(ALL_STEPS)


def test_a_serial_that_passed_is_refused_before_anything(line: FakeLine) -> None:
    assert line.provision("TST-000002").passed
    line.insert(FakeUnit("00000000000000A2"))
    refused = line.provision("TST-000002")
    assert isinstance(refused.error, AlreadyPassedError) and refused.attempt_id is None
    assert refused.failure_step == "scan" and len(line.journal.history("TST-000002")) == 1
    assert line.probe.unit.flash == FakeUnit("x").flash


class CountingJournal(MemoryJournal):
    """Counts the journal's step commits, and checks at each step's start what it holds."""

    def __init__(self) -> None:
        super().__init__()
        self.commits: list[str] = []

    def start_step(self, attempt_id: int, name: str, *, at: datetime | None = None) -> StepRecord:
        with self._lock:
            if not self._in_combined:
                self.commits.append(f"start {name}")
            return super().start_step(attempt_id, name, at=at)

    def finish_step(self, step_id: int, outcome: StepOutcome, **kwargs: Any) -> StepRecord:
        with self._lock:
            if not self._in_combined:
                self.commits.append(f"finish {outcome}")
            return super().finish_step(step_id, outcome, **kwargs)

    def finish_step_and_start(self, step_id: int, end: StepEnd, next_step: str, *,
                              at: datetime | None = None) -> tuple[StepRecord, StepRecord]:  # fmt: skip
        with self._lock:
            self.commits.append(f"{end.outcome} and start {next_step}")
            self._in_combined = True
            try:
                return super().finish_step_and_start(step_id, end, next_step, at=at)
            finally:
                self._in_combined = False

    _in_combined = False


def test_each_step_boundary_is_one_journal_commit_made_before_the_next_step_acts(demo_recipe_text: Path) -> None:
    """A pass and the next step's RUNNING row share one commit (8 steps: 8 step commits, not
    16); each step still finds its own RUNNING row committed, and the one before it closed."""
    line = make_line(load_recipe(demo_recipe_text))
    journal = CountingJournal()
    line.journal = journal
    line.provisioner = UnitProvisioner(line.recipe, journal.as_journal(), line.issuer, FakeTokens(journal),
                                       watchdog=Watchdog())  # fmt: skip
    seen: list[list[tuple[str, StepOutcome]]] = []

    class Watching(QuietObserver):
        def step_started(self, step: str) -> None:
            attempt = journal.unfinished_attempts()[0]
            seen.append([(record.name, record.outcome) for record in attempt.steps])

    outcome = line.provisioner.provision(Serial("TST-000009"), line.slot(), CONTEXT, Watching())
    assert outcome.passed, outcome.summary
    assert journal.commits == (
        ["start connect"] + [f"PASSED and start {name}" for name in ALL_STEPS[1:]] + ["finish PASSED"]
    )
    for index, steps in enumerate(seen):
        assert steps == [(name, StepOutcome.PASSED) for name in ALL_STEPS[:index]] + [
            (ALL_STEPS[index], StepOutcome.RUNNING)
        ]


class LineOfTwo:
    """The line's claims as another station holds them (a hand-written stand-in for LineLink)."""

    def __init__(self) -> None:
        self.held: dict[str, str] = {}  # serial -> "live" or "passed", by the other station
        self.calls: list[str] = []

    def claim(self, serial: str, work_order: str | None = None) -> None:
        self.calls.append(f"claim {serial}")
        if self.held.get(serial) == "live":
            raise SerialInProgressError(f"unit {serial} is being provisioned at station st-2 (line database)")
        if self.held.get(serial) == "passed":
            raise AlreadyPassedError(f"unit {serial} already PASSED at station st-2 (line database)")

    def release(self, serial: str, *, passed: bool) -> None:
        self.calls.append(f"release {serial} {'passed' if passed else 'not passed'}")


def test_the_line_refuses_a_serial_another_station_holds_before_the_unit_is_touched(line: FakeLine) -> None:
    claims = LineOfTwo()
    line.provisioner.line_claims = claims
    claims.held["TST-000020"] = "live"
    refused = line.provision("TST-000020")
    assert isinstance(refused.error, SerialInProgressError) and refused.attempt_id is None
    assert line.probe.unit.flash == FakeUnit("x").flash and not line.journal.history("TST-000020")
    claims.held["TST-000021"] = "passed"
    assert isinstance(line.provision("TST-000021").error, AlreadyPassedError)
    assert line.provision("TST-000022").passed
    assert claims.calls[-2:] == ["claim TST-000022", "release TST-000022 passed"]
    assert "release TST-000020 not passed" not in claims.calls  # refused by the line: nothing to release
    line.insert(FakeUnit("00000000000000A9"))
    line.probe.unit.locked = True  # fails at connect, after its claim: the claim is let go
    assert not line.provision("TST-000023").passed
    assert claims.calls[-2:] == ["claim TST-000023", "release TST-000023 not passed"]


# ---- retries ----------------------------------------------------------------------------------


def test_a_transient_link_fault_is_retried_with_a_fresh_session(
    demo_recipe_text: Path, tmp_path: Path
) -> None:
    line = make_line(recipe_with(demo_recipe_text, tmp_path, flash=(30, 1)))
    line.probe.disconnect_after_bytes, line.probe.disconnects_left = 1024, 1
    outcome = line.provision("TST-000010")
    assert outcome.passed, outcome.summary
    steps = line.journal.get_attempt(outcome.attempt_id or 0).steps
    flash_tries = [step for step in steps if step.name == "flash"]
    assert [step.outcome for step in flash_tries] == [StepOutcome.FAILED, StepOutcome.PASSED]
    assert flash_tries[0].failure_code == ProbeError.code and flash_tries[0].detail.startswith("try 1 of 2: ")
    assert line.probe.sessions_opened == 2  # the retry opened its own session


def test_retries_are_bounded_by_the_recipe(demo_recipe_text: Path, tmp_path: Path) -> None:
    line = make_line(recipe_with(demo_recipe_text, tmp_path, flash=(30, 1)))
    line.probe.disconnect_after_bytes, line.probe.disconnects_left = 1024, 5
    outcome = line.provision("TST-000011")
    assert isinstance(outcome.error, ProbeError) and outcome.failure_step == "flash"
    assert [o for name, o in line.steps(outcome) if name == "flash"] == [StepOutcome.FAILED] * 2
    assert line.journal.credentials_for_serial("TST-000011") == []


def test_a_retry_never_programs_a_board_swapped_between_tries(demo_recipe_text: Path, tmp_path: Path) -> None:
    line = make_line(recipe_with(demo_recipe_text, tmp_path, flash=(30, 1)))
    line.probe.disconnect_after_bytes, line.probe.disconnects_left = 1024, 1
    original_transfer = line.probe.transfer

    def swap_on_drop(count: int) -> None:
        try:
            original_transfer(count)
        except ProbeError:
            line.insert(FakeUnit("00000000000000B2"))  # someone reseats another board
            raise

    line.probe.transfer = swap_on_drop  # type: ignore[method-assign]
    outcome = line.provision("TST-000012")
    assert isinstance(outcome.error, IdentityError) and "00000000000000B2" in outcome.message
    assert line.probe.unit.flash == FakeUnit("x").flash


# ---- deadlines ----------------------------------------------------------------------------------


def test_a_hung_flash_algorithm_ends_at_the_steps_deadline(demo_recipe_text: Path, tmp_path: Path) -> None:
    line = make_line(recipe_with(demo_recipe_text, tmp_path, flash=(0.3, 0)))
    line.probe.hang_flash = True  # blocks until the watchdog interrupts the probe (else 60 s)
    started = time.monotonic()
    outcome = line.provision("TST-000020")
    elapsed = time.monotonic() - started
    assert isinstance(outcome.error, StepTimeoutError) and outcome.failure_step == "flash"
    assert outcome.error.step == "flash" and outcome.error.deadline_seconds == 0.3
    assert outcome.summary.startswith("FAIL TST-000020 flash STEP_TIMEOUT: step flash did not finish within")
    assert line.probe.interrupts == 1
    assert elapsed < 30  # the unwatched call would have blocked for 60 s
    # The journal is as after any other failure of the flash step.
    record = line.journal.get_attempt(outcome.attempt_id or 0)
    assert record.result is AttemptResult.FAILED and record.state is JournalState.FAILED
    assert [(name, o) for name, o in line.steps(outcome)] == [
        ("connect", StepOutcome.PASSED), ("flash", StepOutcome.FAILED)
    ]
    assert line.journal.credentials_for_serial("TST-000020") == []
    # The next unit on the same probe provisions normally.
    line.probe.hang_flash = False
    line.insert(FakeUnit("00000000000000A3"))
    assert line.provision("TST-000021").passed


def test_a_timed_out_try_is_retried_when_the_recipe_allows(demo_recipe_text: Path, tmp_path: Path) -> None:
    line = make_line(recipe_with(demo_recipe_text, tmp_path, flash=(0.3, 1)))
    line.probe.hang_flash = True
    original = line.probe.flash_algorithm_runs

    def hang_once() -> None:
        try:
            original()
        finally:
            line.probe.hang_flash = False

    line.probe.flash_algorithm_runs = hang_once  # type: ignore[method-assign]
    outcome = line.provision("TST-000022")
    assert outcome.passed, outcome.summary
    flash = [step for step in line.journal.get_attempt(outcome.attempt_id or 0).steps if step.name == "flash"]
    assert [(step.outcome, step.failure_code) for step in flash] == [
        (StepOutcome.FAILED, StepTimeoutError.code), (StepOutcome.PASSED, None)
    ]


def test_the_watchdog_fires_only_past_the_deadline_and_waits_for_its_interrupt() -> None:
    watchdog = Watchdog()
    fired: list[str] = []
    with watchdog.watch(time.monotonic() + 60, lambda: fired.append("early")) as watch:
        pass
    assert not watch.expired
    def slow_interrupt() -> None:
        time.sleep(0.1)
        fired.append("late")

    with watchdog.watch(time.monotonic() + 0.05, slow_interrupt) as watch:
        while not watch.expired:
            time.sleep(0.01)
    # Leaving the watch waited for the interrupt under way: it cannot reach a later try.
    assert watch.expired and fired == ["late"]


# ---- failure paths ------------------------------------------------------------------------------


def test_a_locked_unit_stops_at_connect_untouched(line: FakeLine) -> None:
    line.probe.unit.locked = True
    outcome = line.provision("TST-000030")
    assert isinstance(outcome.error, UnitLockedError) and outcome.needs_person
    assert outcome.failure_step == "connect" and line.probe.sessions_opened == 0
    assert line.probe.unit.flash == FakeUnit("x").flash and not line.probe.unit.erased_for_rework


def test_dropped_writes_fail_verify_before_any_credential(line: FakeLine) -> None:
    application = next(image for image in line.recipe.images if image.name == "application").start
    line.probe.unit.drop_writes = (application + 0x100, application + 0x200)
    outcome = line.provision("TST-000031")
    assert isinstance(outcome.error, VerifyError) and outcome.error.address == application + 0x100
    assert line.journal.credentials_for_serial("TST-000031") == []
    assert not line.probe.unit.lock_written


def test_a_lock_that_does_not_hold_fails_lock_confirm(line: FakeLine) -> None:
    unit = line.probe.unit
    unit.reset = lambda: None  # type: ignore[method-assign]  # the lock never latches
    outcome = line.provision("TST-000032")
    assert isinstance(outcome.error, LockError) and outcome.failure_step == "lock-confirm"
    record = line.journal.get_attempt(outcome.attempt_id or 0)
    # From LOCK_PENDING on the unit "may be locked": its credential is not voided.
    assert [c.state for c in line.journal.credentials_for_serial("TST-000032")] == [CredentialState.INJECTED]
    assert record.failure_code == "LOCK"


def test_a_bug_in_a_step_is_recorded_as_internal_and_the_credential_voided(line: FakeLine) -> None:
    def broken(issued: object, read_back: bytes) -> None:
        raise RuntimeError("bug")

    line.issuer.check_region = broken  # type: ignore[method-assign]
    outcome = line.provision("TST-000033")
    assert isinstance(outcome.error, InternalError) and outcome.failure_step == "credentials"
    assert "RuntimeError" in outcome.message
    assert [c.state for c in line.journal.credentials_for_serial("TST-000033")] == [CredentialState.VOID]


def test_wrong_firmware_version_fails_activation(line: FakeLine) -> None:
    line.probe.unit.firmware_version = "0.0.1"
    outcome = line.provision("TST-000034")
    assert isinstance(outcome.error, FirmwareVersionError) and outcome.failure_code == "FIRMWARE_VERSION"
    assert line.tokens.uses["tok:0000"] == []


def test_a_refused_activation_is_coded_by_the_services_status(line: FakeLine) -> None:
    line.console.refuse_activation = "403 Forbidden: device is a development unit"
    outcome = line.provision("TST-000035")
    assert isinstance(outcome.error, ActivationForbiddenError) and outcome.failure_code == "ACTIVATION_403"
    assert outcome.error.status == 1 and outcome.error.body.startswith("403")
    # The unit refused the token: its use is given back, however many tries the step took.
    assert line.tokens.uses["tok:0000"] == []
    assert set(line.tokens.states.values()) == {"released"}


def test_a_locked_vault_needs_a_person(line: FakeLine) -> None:
    line.provisioner.tokens = None
    outcome = line.provision("TST-000036")
    assert isinstance(outcome.error, VaultError) and outcome.needs_person and outcome.failure_step == "activate"


def test_a_token_whose_last_use_another_slot_took_gives_way_to_the_next(line: FakeLine) -> None:
    line.tokens.stolen_last_uses = 1
    outcome = line.provision("TST-000037")
    assert outcome.passed, outcome.summary
    assert line.journal.get_attempt(outcome.attempt_id or 0).token_fingerprint == "tok:0001"


def test_an_identity_that_does_not_survive_the_reset_fails(line: FakeLine) -> None:
    original = line.console._answer

    def other_device_after_activation(command: str) -> object:
        reply = original(command)
        if command == line.recipe.console.commands.uuid and line.probe.unit.activated_product:
            return type(reply)(0, "00000000DEADBEEF")
        return reply

    line.console._answer = other_device_after_activation  # type: ignore[method-assign,assignment]
    outcome = line.provision("TST-000038")
    assert isinstance(outcome.error, IdentityError) and outcome.failure_step == "identity"
    assert "device id" in outcome.message


# ---- resume and rework ------------------------------------------------------------------------------


def test_a_unit_locked_before_its_console_answered_resumes_at_activation(line: FakeLine) -> None:
    line.console.silent = True
    failed = line.provision("TST-000040")
    assert failed.failure_step == "activate" and line.probe.unit.locked
    line.console.silent = False
    resumed = line.provision("TST-000040")
    assert resumed.passed and resumed.resumed, resumed.summary
    assert line.steps(resumed) == [
        ("connect", StepOutcome.PASSED), ("flash", StepOutcome.SKIPPED), ("verify", StepOutcome.SKIPPED),
        ("credentials", StepOutcome.SKIPPED), ("lock", StepOutcome.SKIPPED), ("lock-confirm", StepOutcome.SKIPPED),
        ("activate", StepOutcome.PASSED), ("identity", StepOutcome.PASSED),
    ]  # fmt: skip
    assert len(line.journal.credentials_for_serial("TST-000040")) == 1


def test_rework_erases_and_makes_a_development_unit_for_life(line: FakeLine) -> None:
    line.probe.unit.locked = True
    supervisor = StationContext("station-1", "sue", "WO-1")
    outcome = line.provisioner.rework(Serial("TST-000050"), line.slot(), supervisor)
    assert isinstance(outcome.error, UnitReworkedError) and outcome.failure_step == "rework"
    assert line.probe.unit.erased_for_rework and not line.probe.unit.locked
    record = line.journal.get_attempt(outcome.attempt_id or 0)
    assert record.is_rework and record.operator == "sue" and record.device_id == "00000000000000A1"
    assert line.journal.audit_entries[-1][:2] == ("sue", "unit.rework")
    refused = line.provision("TST-000050")
    assert isinstance(refused.error, DevelopmentUnitError) and refused.attempt_id is None
    relabelled = line.provision("TST-000051")
    assert isinstance(relabelled.error, DevelopmentUnitError) and relabelled.failure_step == "connect"


# ---- claims and owners -----------------------------------------------------------------------------


class Owners:
    """An ownership double: this station's owner, and which owners are gone."""

    def __init__(self, station: str = "station-1") -> None:
        self.alive: set[str] = set()
        self.station = station

    def owner(self, station: str, slot: str) -> AttemptOwner:
        return AttemptOwner(station, "host", 1, f"start:{station}", slot)

    def is_gone(self, attempt: AttemptRecord) -> bool:
        return attempt.owner is None or attempt.owner.process_start not in self.alive

    def working_on(self, attempt_id: int) -> AbstractContextManager[None]:
        return contextlib.nullcontext()


def test_a_serial_a_live_owner_works_on_is_refused_untouched(line: FakeLine) -> None:
    owners = Owners()
    line.provisioner.ownership = owners
    held = line.journal.create_attempt(
        serial="TST-000060", station="station-2", operator="bob", recipe_hash=line.recipe.content_hash,
        product=line.recipe.product, owner=owners.owner("station-2", "3"),
    )  # fmt: skip
    owners.alive.add("start:station-2")
    refused = line.provision("TST-000060")
    assert isinstance(refused.error, SerialInProgressError) and refused.attempt_id is None
    assert refused.summary.startswith("FAIL TST-000060 scan SERIAL_IN_PROGRESS: this serial is being provisioned at "
                                      "station-2/3 since ")  # fmt: skip
    assert refused.needs_person and line.probe.sessions_opened == 0
    assert line.journal.get_attempt(held.id).result is AttemptResult.IN_PROGRESS  # the live owner's, untouched
    # The owner is gone (its process died): the attempt is settled by asking the unit, then the unit runs.
    owners.alive.clear()
    outcome = line.provision("TST-000060")
    assert outcome.passed, outcome.summary
    assert line.journal.get_attempt(held.id).failure_code == "INTERRUPTED"


def test_the_unit_after_the_work_orders_last_is_refused_untouched(line: FakeLine) -> None:
    line.journal.work_order_quantities[CONTEXT.work_order or ""] = 1
    assert line.provision("TST-000070").passed
    line.insert(FakeUnit("00000000000000A7"))
    opened = line.probe.sessions_opened
    refused = line.provision("TST-000071")
    assert isinstance(refused.error, WorkOrderCompleteError) and refused.attempt_id is None
    assert refused.summary == (
        "FAIL TST-000071 scan WORK_ORDER_COMPLETE: work order WO-1 is complete: 1 of 1 units passed or in progress"
    )
    assert refused.needs_person and line.probe.sessions_opened == opened  # the unit was not touched
    assert line.probe.unit.flash == FakeUnit("x").flash and line.journal.latest_attempt("TST-000071") is None


def test_start_up_recovery_leaves_a_live_owners_attempt_alone(line: FakeLine) -> None:
    owners = Owners()
    line.provisioner.ownership = owners
    def open_attempt(serial: str, owner: AttemptOwner) -> AttemptRecord:
        return line.journal.create_attempt(serial=serial, station="station-1", operator="ann", owner=owner,
                                           recipe_hash=line.recipe.content_hash, product=line.recipe.product)

    live = open_attempt("TST-000061", owners.owner("station-1", "1"))
    dead = open_attempt("TST-000062", AttemptOwner("station-1", "host", 2, "old", "2"))
    owners.alive.add("start:station-1")
    settled = line.provisioner.recover_unfinished("station-1", {})
    assert [attempt.id for attempt in settled] == [dead.id]
    assert line.journal.get_attempt(live.id).result is AttemptResult.IN_PROGRESS


class OwnerWorksOnThenDies(Owners):
    """The owner, listed at CREDENTIALS_RESERVED, injects and locks, then dies just before it is judged."""

    def __init__(self, line: FakeLine, certificate_serial: str) -> None:
        super().__init__()
        self.line, self.certificate_serial = line, certificate_serial

    def is_gone(self, attempt: AttemptRecord) -> bool:
        self.line.journal.mark_injected(self.certificate_serial)
        self.line.journal.advance(attempt.id, JournalState.INJECTED)
        self.line.journal.advance(attempt.id, JournalState.LOCK_PENDING)
        self.line.probe.unit.locked = True
        return True


def test_recovery_settles_an_attempt_as_it_is_when_its_owner_is_found_gone(line: FakeLine) -> None:
    """The attempt is settled as locked (credential kept), not from the first read ("not locked")."""
    attempt = line.journal.create_attempt(
        serial="TST-000065", station="station-1", operator="ann", recipe_hash=line.recipe.content_hash,
        product=line.recipe.product, probe_id=line.probe.probe_id,
        owner=AttemptOwner("station-1", "host", 2, "old", "1"),
    )  # fmt: skip
    line.journal.advance(attempt.id, JournalState.CREDENTIALS_RESERVED)
    line.journal.reserve_credential(
        certificate_serial="c1", certificate_fingerprint="f1", serial="TST-000065", device_id="00000000000000A1",
        attempt_id=attempt.id, certificate_pem="-----BEGIN CERTIFICATE-----",
    )  # fmt: skip
    line.provisioner.ownership = OwnerWorksOnThenDies(line, "c1")
    [settled] = line.provisioner.recover_unfinished("station-1", {line.probe.probe_id: line.slot()})
    assert settled.failure_code == "INTERRUPTED_LOCKED", settled.failure_message
    assert [c.state for c in line.journal.credentials_for_serial("TST-000065")] == [CredentialState.INJECTED]


def test_a_device_that_passed_under_another_serial_is_refused(line: FakeLine) -> None:
    assert line.provision("TST-000063").passed
    line.probe.unit.locked = False  # the same board, unlocked somehow, under another label
    outcome = line.provision("TST-000064")
    assert isinstance(outcome.error, DeviceAlreadyPassedError) and outcome.failure_step == "connect"
    assert "already passed as serial TST-000063" in outcome.message


# ---- activation: asked first, a token use only for an activation the unit accepted ----------


def activations_sent(line: FakeLine) -> int:
    prefix = line.recipe.console.commands.activate_command("")
    return sum(1 for text in line.console.lines if text.startswith(f">> {prefix}"))


def test_a_lost_activation_reply_is_settled_by_asking_the_unit(line: FakeLine) -> None:
    line.console.lose_activation_replies = 1  # the unit activated; its answer never came
    outcome = line.provision("TST-000090")
    assert outcome.passed, outcome.summary
    assert activations_sent(line) == 1  # the retry asked, and did not activate again
    assert line.tokens.used() == [("tok:0000", outcome.attempt_id)]
    assert line.tokens.states == {("tok:0000", outcome.attempt_id): "used"}


def test_a_unit_resumed_after_it_activated_takes_no_second_token(demo_recipe_text: Path, tmp_path: Path) -> None:
    """A kill while the activation was answered: the next attempt finds the unit activated."""
    line = make_line(recipe_with(demo_recipe_text, tmp_path, activate=(60, 0)))
    line.console.lose_activation_replies = 1
    first = line.provision("TST-000091")
    assert not first.passed and first.failure_step == "activate" and line.probe.unit.locked
    assert line.tokens.states == {("tok:0000", first.attempt_id): "reserved"}  # nobody knows yet
    resumed = line.provision("TST-000091")
    assert resumed.passed and resumed.resumed, resumed.summary
    assert activations_sent(line) == 1
    assert line.tokens.used() == [("tok:0000", first.attempt_id)]  # the first attempt's use, confirmed
    assert resumed.attempt_id is not None
    [activate] = [step for step in line.journal.get_attempt(resumed.attempt_id).steps if step.name == "activate"]
    assert "already activated to ACME-TOASTER: no token taken" in activate.detail


def test_a_unit_resumed_that_never_got_its_activation_gives_the_use_back(
    demo_recipe_text: Path, tmp_path: Path
) -> None:
    line = make_line(recipe_with(demo_recipe_text, tmp_path, activate=(60, 0)))
    line.console.drop_activations = 1  # the command never reached the unit: the use stays reserved
    lost = line.provision("TST-000092")
    assert not lost.passed and line.tokens.states == {("tok:0000", lost.attempt_id): "reserved"}
    resumed = line.provision("TST-000092")
    assert resumed.passed, resumed.summary
    assert activations_sent(line) == 2
    assert line.tokens.states == {("tok:0000", lost.attempt_id): "released", ("tok:0000", resumed.attempt_id): "used"}
    assert line.tokens.uses["tok:0000"] == [resumed.attempt_id]


def test_an_answer_that_is_neither_a_product_nor_not_activated_stops_before_any_token(line: FakeLine) -> None:
    original = line.console._answer

    def garbled(text: str) -> FakeReply:
        if text == line.recipe.console.commands.activation_status:
            return FakeReply(6, "Unknown variable")
        return original(text)

    line.console._answer = garbled  # type: ignore[method-assign,assignment]
    outcome = line.provision("TST-000093")
    assert outcome.failure_step == "activate" and outcome.failure_code == "CONSOLE_REFUSED"
    assert "neither a product nor 'not activated'" in outcome.message
    assert activations_sent(line) == 0 and line.tokens.states == {}


def test_a_unit_activated_to_another_product_is_refused_without_a_token(line: FakeLine) -> None:
    line.probe.unit.activated_product = "ACME-FRIDGE"
    outcome = line.provision("TST-000094")
    assert outcome.failure_code == "ACTIVATION_403" and "activated to 'ACME-FRIDGE'" in outcome.message
    assert activations_sent(line) == 0 and line.tokens.states == {}


# ---- PASS only after the commit ---------------------------------------------------------------


def test_a_pass_that_cannot_be_committed_is_never_shown_and_the_next_scan_settles_it(line: FakeLine) -> None:
    from station.operations.owners import Ownership, ProcessIdentity

    line.provisioner.ownership = Ownership(ProcessIdentity.current(), timedelta(minutes=1))
    original = line.journal.finish_attempt
    refusals = [StoreError("the store could not complete the change: database is locked")]

    def finish(attempt_id: int, result: AttemptResult, **fields: Any) -> AttemptRecord:
        if result is AttemptResult.PASSED and refusals:  # the store's boundary: the final commit fails
            raise refusals.pop()
        return original(attempt_id, result, **fields)

    line.journal.finish_attempt = finish  # type: ignore[method-assign]
    first = line.provision("TST-000095")
    assert not first.passed and first.failure_code == "NOT_RECORDED" and first.failure_step == "record"
    assert first.summary.startswith("FAIL TST-000095 record NOT_RECORDED: the unit finished every step")
    assert first.attempt_id is not None
    assert line.journal.get_attempt(first.attempt_id).result is AttemptResult.IN_PROGRESS  # left open
    assert line.tokens.used() == [("tok:0000", first.attempt_id)]

    second = line.provision("TST-000095")  # the same process: its own attempt, no slot runs it
    assert second.passed and second.resumed, second.summary
    history = [line.journal.get_attempt(attempt) for attempt in (first.attempt_id, second.attempt_id or 0)]
    assert [attempt.result for attempt in history] == [AttemptResult.FAILED, AttemptResult.PASSED]
    assert len(line.journal.credentials_for_serial("TST-000095")) == 1  # no second credential
    assert line.tokens.used() == [("tok:0000", first.attempt_id)]  # no second token use
    assert activations_sent(line) == 1
