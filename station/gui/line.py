"""The station's state behind the windows: who is logged in, the slots, scans, and guarded actions.

``StationLine`` is the one object the views talk to. It holds no widget: it turns scans into
units on slots, runs them through the same ``UnitProvisioner`` the command line uses (one
worker thread per slot), keeps each slot's view model, the shift counters and the station's
message line, and carries out the supervisor's and engineer's actions, each checked against
the signed-in role and recorded in the audit log with who did it.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import QObject, Signal, Slot

from station.app import StationServices, make_slot
from station.domain.errors import (
    ConfigurationError,
    InternalError,
    NoProbeError,
    ScanError,
    StationError,
    UnitReworkedError,
)
from station.domain.outcome import AttemptOutcome
from station.domain.recipe import Recipe
from station.domain.recipe_loader import load_recipe
from station.domain.records import AttemptFilter, AttemptRecord, AttemptResult, StepOutcome
from station.domain.scan import parse_scan
from station.flow.observer import ProvisioningObserver
from station.flow.ports import DevelopmentUnitRegistry
from station.flow.run import Slot as UnitSlot
from station.flow.run import StationContext
from station.flow.sequence import UnitProvisioner, display_steps, displayed_as
from station.gui.counters import CounterFigures, ShiftCounters
from station.gui.errors import ErrorSink, describe_error
from station.gui.people import ENGINEER, OPERATOR, SUPERVISOR, AccessError, People, User, badge_name
from station.gui.scanning import ScanDebouncer
from station.gui.settings import SlotSettings, StationSettings, check_slots, save_settings
from station.gui.sounds import ATTENTION, FAIL, PASS, SCAN, SoundBoard
from station.gui.wording import plain_words
from station.gui.workers import ChoreRunner, SlotJob, SlotRunner
from station.security.vault import TokenVault, UnlockedVault

LOG = logging.getLogger(__name__)
DISPLAY_STEPS = tuple(step.value for step in display_steps())
FIXTURE_CHOICE_SECONDS = 30.0
INSPECTION_ACTION = "inspection.acknowledge"


class StepState(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


class Verdict(enum.StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NEEDS_PERSON = "needs-person"
    REWORKED = "reworked"


class BannerLevel(enum.StrEnum):
    NONE = "none"
    INFO = "info"
    ATTENTION = "attention"
    ERROR = "error"


@dataclass
class SlotState:
    """What a slot tile shows."""

    name: str
    serial: str = ""
    device_id: str = ""
    job_kind: str = ""
    steps: dict[str, StepState] = field(default_factory=lambda: dict.fromkeys(DISPLAY_STEPS, StepState.PENDING))
    current_step: str | None = None
    progress: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    running: bool = False
    verdict: Verdict | None = None
    failure_step: str | None = None
    failure_code: str | None = None
    detail: str = ""

    def start(self, kind: str, serial: str, now: float) -> None:
        self.serial, self.device_id, self.job_kind = serial, "", kind
        self.steps = dict.fromkeys(DISPLAY_STEPS, StepState.PENDING)
        self.current_step, self.progress = None, None
        self.started_at, self.finished_at, self.running = now, None, True
        self.verdict, self.failure_step, self.failure_code, self.detail = None, None, None, ""

    def elapsed(self, now: float) -> float | None:
        if self.started_at is None:
            return None
        return (self.finished_at if self.finished_at is not None else now) - self.started_at

    @property
    def headline(self) -> str:
        """The plain-words sentence under the verdict."""
        if self.verdict in (None, Verdict.PASS):
            return ""
        return plain_words(self.failure_code)


@dataclass(frozen=True)
class Banner:
    level: BannerLevel = BannerLevel.NONE
    text: str = ""


@dataclass(frozen=True)
class ActionResult:
    ok: bool
    message: str = ""


ResultCallback = Callable[[ActionResult], None]


class SlotProvider(Protocol):
    """Turns a slot's settings into the flow's Slot, on the slot's worker thread."""

    def slot_for(self, settings: SlotSettings, serial: str, recipe: Recipe, *, kind: str) -> UnitSlot: ...


class HardwareSlots:
    """A real line: each slot's probe and console port as the station settings name them."""

    def slot_for(self, settings: SlotSettings, serial: str, recipe: Recipe, *, kind: str) -> UnitSlot:
        return make_slot(settings.name, settings.probe, settings.console, recipe)


class StationLine(QObject):
    slot_changed = Signal(str)
    slots_replaced = Signal()
    banner_changed = Signal()
    counters_changed = Signal()
    session_changed = Signal()
    production_changed = Signal()
    inspections_changed = Signal()
    pin_needed = Signal(str)  # a supervisor's or engineer's badge was scanned: ask the PIN

    def __init__(
        self,
        services: StationServices,
        settings: StationSettings,
        *,
        station_name: str,
        slot_provider: SlotProvider,
        error_sink: ErrorSink,
        sounds: SoundBoard,
        settings_path: Path | None = None,
        development_registry: DevelopmentUnitRegistry | None = None,
        demo_passphrases: tuple[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.services = services
        self.settings = settings
        self.settings_path = settings_path
        self.station_name = station_name
        self.slot_provider = slot_provider
        self.error_sink = error_sink
        self.sounds = sounds
        self.development_registry = development_registry
        self._demo_passphrases = demo_passphrases  # (CA, vault): published training values only
        self.clock = clock
        self.people = People(services.database.registry)
        self.user: User | None = None
        self.recipe: Recipe | None = None
        self.recipe_problem: str | None = None
        self._base: UnitProvisioner | None = None
        self.vault: UnlockedVault | None = None
        self.recovering = False
        self._recovered = False
        self.banner = Banner()
        self.counters = ShiftCounters(services.database, station_name)
        self.debouncer = ScanDebouncer(settings.scanner.debounce_seconds, clock=clock)
        self.chores = ChoreRunner(self.error_sink.report, self)
        self._fixture_choice: tuple[str, float] | None = None
        self._last_assigned: str | None = None
        self.slot_states: dict[str, SlotState] = {}
        self.runners: dict[str, SlotRunner] = {}
        self._figures = CounterFigures(passed=0, failed=0, first_pass_yield=None, units_per_hour=None)
        self._figures_running = False
        self._figures_stale = False
        self._build_slots(settings.slots)
        self._shut_down = False
        self.refresh_counters()
        if settings.recipe is not None:
            self._load_configured_recipe(settings.recipe)

    # ---- state the views read ------------------------------------------------------------

    @property
    def production_ready(self) -> bool:
        return self._base is not None

    @property
    def ca_loaded(self) -> bool:
        return self._base is not None

    @property
    def slot_names(self) -> list[str]:
        return list(self.slot_states)

    def figures(self) -> CounterFigures:
        """The shift counters as last computed (see refresh_counters)."""
        return self._figures

    def refresh_counters(self) -> None:
        """Recompute the shift counters on the chores thread, then emit counters_changed.

        They are read from the store over the whole shift -- a read that grows with every
        unit -- so never on this (the GUI) thread; units finishing while one computation runs
        are folded into one more.
        """
        if self._figures_running:
            self._figures_stale = True
            return
        self._figures_running = True
        self.chores.run("shift counters", self.counters.figures, self._counters_computed, self._counters_failed)

    def _counters_computed(self, figures: CounterFigures) -> None:
        self._figures_running = False
        self._figures = figures
        self.counters_changed.emit()
        if self._figures_stale:
            self._figures_stale = False
            self.refresh_counters()

    def _counters_failed(self, error: BaseException) -> None:
        self._figures_running = self._figures_stale = False
        self.error_sink.report("shift counters", error)

    def readiness_problems(self) -> list[tuple[str, str]]:
        """(code, plain words) of everything that keeps the station from starting a unit."""
        problems: list[tuple[str, str]] = []
        if self.recipe is None:
            problems.append(("RECIPE", self.tr("No recipe is chosen. Call an engineer.")))
        elif self._base is None:
            problems.append(("CA", plain_words("CA")))
        if self.vault is None:
            problems.append(("VAULT", self.tr("The token vault is locked. A supervisor must unlock it for the shift.")))
        if not self.slot_states:
            problems.append(("NO_PROBE", self.tr("No slot is set up. Call an engineer.")))
        if self.recovering:
            problems.append(("RECOVERY", self.tr("The station is checking unfinished units. Wait a moment.")))
        return problems

    def is_used_serial(self, serial: str) -> bool:
        return self.services.database.units.get_unit(serial) is not None

    # ---- scans ---------------------------------------------------------------------------

    @Slot(str)
    def handle_scan(self, text: str) -> None:
        """Every scan, from any scanner, comes here."""
        text = text.strip()
        if not text or self._shut_down:
            return
        if not self.debouncer.accept(text):
            LOG.info("repeated scan within %.1f s ignored", self.debouncer.window_seconds)
            return
        self.sounds.play(SCAN)
        if self.user is None:
            self._badge_scan(text)
            return
        fixture = self._fixture_slot(text)
        if fixture is not None:
            self._fixture_choice = (fixture, self.clock())
            self._set_banner(BannerLevel.INFO, self.tr("Slot {slot} chosen: now scan the unit.").format(slot=fixture))
            return
        if self.recipe is None:
            self._attention(self.tr("No recipe is chosen. Call an engineer."))
            return
        try:
            parse_scan(text, self.recipe.serial_rule)
        except ScanError:
            if self._other_badge(text):
                return
            self._attention(plain_words("SCAN"))
            self.sounds.play(FAIL)
            return
        slot_name = None
        if self._fixture_choice is not None:
            chosen, at = self._fixture_choice
            self._fixture_choice = None
            if self.clock() - at <= FIXTURE_CHOICE_SECONDS:
                slot_name = chosen
        self.start_unit(text, slot_name)

    def _fixture_slot(self, text: str) -> str | None:
        folded = text.casefold()
        for slot in self.settings.slots:
            if slot.fixture_code and slot.fixture_code.casefold() == folded:
                return slot.name
            if folded in (f"slot:{slot.name}".casefold(), f"slot-{slot.name}".casefold()):
                return slot.name
        return None

    def _badge_scan(self, text: str) -> None:
        try:
            self.login_with_badge(text)
        except AccessError as error:
            user = self.people.find(badge_name(text))
            if user is not None and user.role != OPERATOR:
                self.pin_needed.emit(user.name)
                return
            if user is None and self._is_unit_label(text):
                self._attention(self.tr("Scan your badge first."))
                return
            self._attention(self.tr("Unknown badge. Ask a supervisor to register you.") if user is None else str(error))

    def _is_unit_label(self, text: str) -> bool:
        if self.recipe is None:
            return False
        try:
            parse_scan(text, self.recipe.serial_rule)
        except ScanError:
            return False
        return True

    @Slot()
    def typed_text_ignored(self) -> None:
        """Keys typed by hand outside a text field: say how units are started."""
        self._set_banner(BannerLevel.INFO, self.tr("Typing does not start a unit: scan the unit's label."))

    def _other_badge(self, text: str) -> bool:
        """A badge scanned while someone is logged in: hand the station over."""
        user = self.people.find(badge_name(text))
        if user is None:
            return False
        if user.role == OPERATOR:
            self.login_with_badge(text)
        else:
            self.pin_needed.emit(user.name)
        return True

    # ---- sessions ------------------------------------------------------------------------

    def login_with_badge(self, scan: str) -> User:
        user = self.people.badge_login(scan)
        self._start_session(user)
        return user

    def sign_in(self, name: str, pin: str) -> User:
        try:
            user = self.people.sign_in(name, pin)
        except AccessError:
            self._audit_as(f"unknown:{badge_name(name)}", "session.refused", "wrong name or PIN")
            raise
        self._start_session(user)
        return user

    def needs_first_engineer(self) -> bool:
        return not self.people.has_role(ENGINEER)

    def create_first_engineer(self, name: str, pin: str) -> User:
        """A new station has no engineer yet: the first one registers themselves."""
        if not self.needs_first_engineer():
            raise AccessError("the station already has an engineer")
        user = self.people.add(name, ENGINEER, pin)
        self._audit_as(f"{ENGINEER}:{name}", "people.first-engineer", f"{name} registered as the first engineer")
        self._start_session(user)
        return user

    def _start_session(self, user: User) -> None:
        self.user = user
        self._audit("session.login", f"{user.name} logged in as {user.role}")
        self._clear_banner()
        self.session_changed.emit()

    def logout(self, reason: str = "logout") -> None:
        if self.user is None:
            return
        self._audit("session.logout", f"{self.user.name} logged out ({reason})")
        self.user = None
        self._fixture_choice = None
        self.session_changed.emit()

    def _require(self, role: str) -> User:
        if self.user is None or self.user.role != role:
            raise AccessError(f"only a signed-in {role} may do this")
        return self.user

    # ---- units ---------------------------------------------------------------------------

    def start_unit(self, scan_text: str, slot_name: str | None = None) -> bool:
        """Start provisioning the scanned unit on a slot; False (with a message) if it cannot."""
        problems = self.readiness_problems()
        if problems:
            self._attention(problems[0][1])
            return False
        if self.user is None:
            self._attention(self.tr("Scan your badge first."))
            return False
        recipe, base = self.recipe, self._base
        assert recipe is not None and base is not None
        parsed = parse_scan(scan_text, recipe.serial_rule)
        serial = str(parsed)
        for name, state in self.slot_states.items():
            if state.running and state.serial == serial:
                self._attention(self.tr("This unit is already running in slot {slot}.").format(slot=name))
                return False
        if slot_name is not None:
            if self.runners[slot_name].busy:
                self._attention(self.tr("Slot {slot} is still working. Wait for its result.").format(slot=slot_name))
                return False
            chosen = slot_name
        else:
            names = list(self.runners)
            start = names.index(self._last_assigned) + 1 if self._last_assigned in names else 0
            in_turn = names[start:] + names[:start]  # round robin: fixtures are loaded in turn
            free = [name for name in in_turn if not self.runners[name].busy]
            if not free:
                self._attention(self.tr("All slots are working. Wait for a result."))
                return False
            # The slot that last ran this serial (a rescan of the unit still in it), else the next free one.
            chosen = next((name for name in free if self.slot_states[name].serial == serial), free[0])
        settings = self._slot_settings(chosen)
        provisioner = self._provisioner_for()
        context = self._context(self.user.name)
        provider = self.slot_provider

        def run(observer: ProvisioningObserver) -> AttemptOutcome:
            try:
                unit_slot = provider.slot_for(settings, serial, recipe, kind="provision")
            except ConfigurationError as error:
                return AttemptOutcome(serial, error=NoProbeError(str(error)), failure_step="connect")
            except StationError as error:
                return AttemptOutcome(serial, error=error, failure_step="connect")
            return provisioner.provision(parsed, unit_slot, context, observer)

        self._last_assigned = chosen
        self.slot_states[chosen].start("provision", serial, self.clock())
        self._clear_banner()
        self.runners[chosen].submit(SlotJob("provision", scan_text, run))
        self.slot_changed.emit(chosen)
        return True

    def rework(self, serial_text: str, slot_name: str, pin: str) -> None:
        """Supervisor: erase the unit in ``slot_name`` (the only way to erase a locked unit).

        The signed-in supervisor must give their PIN again; without it nothing happens.
        """
        supervisor = self._require(SUPERVISOR)
        try:
            self.people.confirm(supervisor, pin, SUPERVISOR)
        except AccessError:
            self._audit("rework.refused", f"rework of {serial_text.strip()} refused: PIN not confirmed")
            raise
        if self.recipe is None or self._base is None:
            raise AccessError("the recipe and the factory CA must be loaded first")
        if slot_name not in self.runners or self.runners[slot_name].busy:
            raise AccessError(f"slot {slot_name} is not free")
        recipe = self.recipe
        parsed = parse_scan(serial_text, recipe.serial_rule)
        serial = str(parsed)
        settings = self._slot_settings(slot_name)
        provider = self.slot_provider
        provisioner = self._provisioner_for()
        context = self._context(supervisor.name)

        def run(observer: ProvisioningObserver) -> AttemptOutcome:
            unit_slot = provider.slot_for(settings, serial, recipe, kind="rework")
            return provisioner.rework(parsed, unit_slot, context)

        self._audit("rework.approved", f"rework of {serial} in slot {slot_name} approved with PIN")
        self.slot_states[slot_name].start("rework", serial, self.clock())
        self.runners[slot_name].submit(SlotJob("rework", serial_text, run))
        self.slot_changed.emit(slot_name)

    def _provisioner_for(self) -> UnitProvisioner:
        """The shared provisioner's recipe, journal and CA, with the vault as it is now."""
        base = self._base
        assert base is not None
        return UnitProvisioner(
            base.recipe, base.journal, base.issuer, self.vault, development_registry=base.development_registry
        )

    def _context(self, person: str) -> StationContext:
        return StationContext(self.station_name, person, self.settings.work_order)

    def _slot_settings(self, name: str) -> SlotSettings:
        return next(slot for slot in self.settings.slots if slot.name == name)

    # ---- slot workers and their signals -------------------------------------------------

    def _build_slots(self, slots: Iterable[SlotSettings]) -> None:
        for slot in slots:
            runner = SlotRunner(slot.name, self)
            runner.step_started.connect(self._on_step_started)
            runner.step_finished.connect(self._on_step_finished)
            runner.progress.connect(self._on_progress)
            runner.identified.connect(self._on_identified)
            runner.job_finished.connect(self._on_job_finished)
            runner.job_crashed.connect(self._on_job_crashed)
            self.runners[slot.name] = runner
            self.slot_states[slot.name] = SlotState(slot.name)

    def _stop_slots(self) -> bool:
        stopped = True
        for runner in self.runners.values():
            stopped = runner.stop() and stopped
        self.runners.clear()
        self.slot_states.clear()
        return stopped

    @staticmethod
    def _display_step(step: str) -> str:
        return displayed_as(step)

    @Slot(str, str)
    def _on_step_started(self, slot: str, step: str) -> None:
        state = self.slot_states.get(slot)
        if state is None:
            return
        step = self._display_step(step)
        if step in state.steps:
            state.steps[step] = StepState.RUNNING
        state.current_step, state.progress = step, None
        self.slot_changed.emit(slot)

    @Slot(str, str, str, str)
    def _on_step_finished(self, slot: str, step: str, outcome: str, detail: str) -> None:
        state = self.slot_states.get(slot)
        if state is None:
            return
        step = self._display_step(step)
        mapping = {
            StepOutcome.PASSED.value: StepState.PASSED,
            StepOutcome.FAILED.value: StepState.FAILED,
            StepOutcome.SKIPPED.value: StepState.SKIPPED,
        }
        if step in state.steps:
            new_state = mapping.get(outcome, StepState.PENDING)
            # A failed try that is retried shows as running again at the next step_started.
            state.steps[step] = new_state
        self.slot_changed.emit(slot)

    @Slot(str, str, float)
    def _on_progress(self, slot: str, step: str, fraction: float) -> None:
        state = self.slot_states.get(slot)
        if state is None:
            return
        state.progress = max(0.0, min(1.0, fraction))
        self.slot_changed.emit(slot)

    @Slot(str, str, str)
    def _on_identified(self, slot: str, serial: str, device_id: str) -> None:
        state = self.slot_states.get(slot)
        if state is None:
            return
        state.device_id = device_id
        self.slot_changed.emit(slot)

    @Slot(str, str, AttemptOutcome)
    def _on_job_finished(self, slot: str, kind: str, outcome: AttemptOutcome) -> None:
        state = self.slot_states.get(slot)
        if state is None:
            return
        state.running, state.finished_at, state.current_step = False, self.clock(), None
        state.device_id = outcome.device_id or state.device_id
        state.failure_step, state.failure_code = outcome.failure_step, outcome.failure_code
        state.detail = outcome.message
        if outcome.passed:
            state.verdict = Verdict.PASS
            self.sounds.play(PASS)
        elif isinstance(outcome.error, UnitReworkedError):
            state.verdict = Verdict.REWORKED
            self.sounds.play(ATTENTION)
        elif outcome.needs_person:
            state.verdict = Verdict.NEEDS_PERSON
            self.sounds.play(ATTENTION)
        else:
            state.verdict = Verdict.FAIL
            self.sounds.play(FAIL)
        if kind == "provision":
            self.refresh_counters()
        LOG.info("slot %s: %s", slot, outcome.summary)
        self.slot_changed.emit(slot)

    @Slot(str, str, str)
    def _on_job_crashed(self, slot: str, text: str, shown: str) -> None:
        state = self.slot_states.get(slot)
        self.error_sink.report_message(f"slot {slot}", f"{text}: {shown}")
        if state is None:
            return
        state.running, state.finished_at = False, self.clock()
        state.verdict, state.failure_code, state.detail = Verdict.FAIL, InternalError.code, shown
        self.sounds.play(FAIL)
        self.slot_changed.emit(slot)

    # ---- the station's message line ----------------------------------------------------

    def _set_banner(self, level: BannerLevel, text: str) -> None:
        self.banner = Banner(level, text)
        self.banner_changed.emit()

    def _attention(self, text: str) -> None:
        self._set_banner(BannerLevel.ATTENTION, text)
        self.sounds.play(ATTENTION)

    def _clear_banner(self) -> None:
        if self.banner.level is not BannerLevel.NONE:
            self._set_banner(BannerLevel.NONE, "")

    def show_error(self, text: str) -> None:
        self._set_banner(BannerLevel.ERROR, text)

    # ---- audit ---------------------------------------------------------------------------

    def _actor(self) -> str:
        return f"{self.user.role}:{self.user.name}" if self.user is not None else "station"

    def _audit(self, action: str, detail: str) -> None:
        self._audit_as(self._actor(), action, detail)

    def _audit_as(self, actor: str, action: str, detail: str) -> None:
        try:
            self.services.journal.audit.append_audit(actor, action, detail)
        except StationError as error:
            self.error_sink.report("audit log", error)

    # ---- production setup: recipe, CA, vault, recovery ----------------------------------

    def _load_configured_recipe(self, path: Path) -> None:
        try:
            self.recipe = self.services.load_recipe(path)
            self.recipe_problem = None
        except StationError as error:
            self.recipe, self.recipe_problem = None, str(error)
            LOG.warning("configured recipe %s refused: %s", path, error)
            self._set_banner(BannerLevel.ATTENTION, self.tr("The recipe was refused. Call an engineer."))
            return
        if self._demo_passphrases is not None:
            self._open_ca(self._demo_passphrases[0], None)

    def open_ca_from_environment(self, passphrase: str | None) -> None:
        """A passphrase given to the process (STATION_CA_PASSPHRASE) opens the CA at start."""
        if passphrase and self.recipe is not None and self._base is None:
            self._open_ca(passphrase, None)

    def _open_ca(self, passphrase: str, on_result: ResultCallback | None) -> None:
        recipe = self.recipe
        if recipe is None:
            if on_result is not None:
                on_result(ActionResult(False, self.tr("Choose a recipe first.")))
            return
        services, registry = self.services, self.development_registry
        def build() -> UnitProvisioner:
            return services.provisioner(recipe, ca_passphrase=passphrase, vault=None, development_registry=registry)

        def done(base: Any) -> None:
            if self.recipe is not recipe:
                return  # the recipe changed meanwhile: this CA session belongs to the old one
            self._base = base
            self._audit("ca.load", f"factory CA opened for recipe {recipe.content_hash[:16]} ({recipe.product})")
            self.production_changed.emit()
            self._clear_banner()
            self._recover_once()
            if on_result is not None:
                on_result(ActionResult(True, self.tr("The factory CA is open.")))

        def failed(error: BaseException) -> None:
            if on_result is None:
                raise error
            on_result(ActionResult(False, describe_error(error)))

        self.chores.run("open the factory CA", build, done, failed)

    def _recover_once(self) -> None:
        if self._recovered or self._base is None:
            return
        self._recovered = True
        base, recipe = self._base, self.recipe
        assert recipe is not None
        slots = {slot.probe: make_slot(slot.name, slot.probe, slot.console, recipe) for slot in self.settings.slots}
        self.recovering = True
        self.production_changed.emit()

        def done(settled: Any) -> None:
            self.recovering = False
            for attempt in settled:
                LOG.warning("recovered attempt %s (%s): %s", attempt.id, attempt.serial, attempt.failure_message)
                self._audit_as("station", "attempt.recovered",
                               f"attempt {attempt.id} {attempt.serial}: {attempt.result.value} {attempt.failure_code}")
            self.production_changed.emit()
            self.inspections_changed.emit()
            if self.inspections():
                self._set_banner(BannerLevel.ATTENTION,
                                 self.tr("A unit needs inspection by a supervisor after a restart."))

        def failed(error: BaseException) -> None:
            self.recovering = False
            self.production_changed.emit()
            raise error

        station = self.station_name
        self.chores.run("crash recovery", lambda: base.recover_unfinished(station, slots), done, failed)

    # ---- supervisor ------------------------------------------------------------------------

    def unlock_vault(self, passphrase: str, on_result: ResultCallback) -> None:
        self._require(SUPERVISOR)
        services = self.services

        def done(vault: Any) -> None:
            self.vault = vault
            self._audit("vault.unlock", "token vault unlocked for the shift")
            self.production_changed.emit()
            self._clear_banner()
            on_result(ActionResult(True, self.tr("The token vault is unlocked for this shift.")))

        def failed(error: BaseException) -> None:
            self._audit("vault.unlock-refused", describe_error(error))
            on_result(ActionResult(False, describe_error(error)))

        self.chores.run("unlock the vault", lambda: services.unlock_vault(passphrase), done, failed)

    def lock_vault(self) -> None:
        self._require(SUPERVISOR)
        self.vault = None
        self._audit("vault.lock", "token vault locked")
        self.production_changed.emit()

    def unlock_demo_vault(self) -> None:
        """Demo and training only: the published demo passphrase opens the demo vault."""
        if self._demo_passphrases is None:
            return
        self.vault = self.services.unlock_vault(self._demo_passphrases[1])
        self.production_changed.emit()

    def inspections(self) -> list[AttemptRecord]:
        """Attempts a crash left that a supervisor has not acknowledged yet."""
        wanted = AttemptFilter(station=self.station_name, result=AttemptResult.NEEDS_INSPECTION)
        attempts = list(self.services.database.attempts.iter_attempts(wanted))
        if not attempts:
            return []
        acknowledged = set()
        for entry in self.services.database.audit_log().entries():
            if entry.action == INSPECTION_ACTION:
                acknowledged.add(entry.detail.split(":", 1)[0].removeprefix("attempt ").strip())
        return [attempt for attempt in attempts if str(attempt.id) not in acknowledged]

    def acknowledge_inspection(self, attempt_id: int, note: str) -> None:
        supervisor = self._require(SUPERVISOR)
        note = " ".join(note.split())
        if not note:
            raise AccessError("say what the inspection found")
        attempt = self.services.database.attempts.get_attempt(attempt_id)
        self._audit(INSPECTION_ACTION, f"attempt {attempt_id}: {attempt.serial} inspected by {supervisor.name}: {note}")
        self.inspections_changed.emit()
        if not self.inspections() and self.banner.level is BannerLevel.ATTENTION:
            self._clear_banner()

    # ---- engineer --------------------------------------------------------------------------

    def check_recipe_file(self, path: Path) -> str:
        """The recipe check an engineer reads before choosing a recipe (changes nothing)."""
        from station.cli.recipe import format_recipe
        from station.security.credentials import check_recipe_credentials

        recipe = load_recipe(path)
        check_recipe_credentials(recipe.credentials)
        return format_recipe(recipe) + f"\nsha256      {recipe.content_hash}"

    def select_recipe(self, path: Path) -> None:
        engineer = self._require(ENGINEER)
        self._require_idle()
        from station.security.credentials import check_recipe_credentials

        recipe = self.services.load_recipe(path)
        check_recipe_credentials(recipe.credentials)
        self.recipe, self.recipe_problem, self._base = recipe, None, None
        self._save(replace(self.settings, recipe=path))
        self._audit("recipe.select", f"{engineer.name} chose recipe {path} sha256 {recipe.content_hash}")
        if self._demo_passphrases is not None:
            self._open_ca(self._demo_passphrases[0], None)
        self.production_changed.emit()

    def set_work_order(self, code: str) -> None:
        self._require(ENGINEER)
        code = code.strip()
        if code:
            product = self.recipe.product if self.recipe else None
            self.services.database.registry.upsert_work_order(code, product=product)
        self._save(replace(self.settings, work_order=code or None))
        self._audit("work-order.set", f"work order {code or '(none)'}")
        self.production_changed.emit()

    def open_ca(self, passphrase: str, on_result: ResultCallback) -> None:
        self._require(ENGINEER)
        self._open_ca(passphrase, on_result)

    def create_ca(self, common_name: str, passphrase: str, on_result: ResultCallback) -> None:
        self._require(ENGINEER)
        from station.security.ca import init_ca

        ca_dir = self.services.paths.ca_dir

        def done(_: Any) -> None:
            self._audit("ca.init", f"factory CA {common_name!r} created in {ca_dir}")
            if self.recipe is None:
                on_result(ActionResult(True, self.tr("The factory CA was created. Choose a recipe, then open the CA.")))
                return
            self._open_ca(passphrase, on_result)

        def failed(error: BaseException) -> None:
            on_result(ActionResult(False, describe_error(error)))

        self.chores.run("create the factory CA", lambda: init_ca(ca_dir, passphrase, common_name), done, failed)

    def ca_exists(self) -> bool:
        from station.security.ca import ca_paths

        return ca_paths(self.services.paths.ca_dir)[0].exists()

    def import_tokens(
        self, path: Path, product: str, use_limit: int | None, passphrase: str, on_result: ResultCallback
    ) -> None:
        self._require(ENGINEER)
        repository = self.services.database.tokens

        def work() -> Any:
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as error:
                raise StationError(f"cannot read the token file {path.name}: {type(error).__name__}") from None
            return TokenVault(repository).import_tokens(passphrase, product, lines, use_limit)

        def done(summary: Any) -> None:
            self._audit("tokens.import",
                        f"{summary.product}: {summary.added} new token(s), {summary.duplicates} duplicate(s)")
            on_result(ActionResult(True, self.tr("{added} new token(s) imported for {product}.").format(
                added=summary.added, product=summary.product)))

        def failed(error: BaseException) -> None:
            on_result(ActionResult(False, describe_error(error)))

        self.chores.run("import tokens", work, done, failed)

    def discover(self, on_found: Callable[[list[tuple[str, str]], list[tuple[str, str]]], None]) -> None:
        """Probes (pyOCD) and serial ports (pyserial) on this PC, for slot setup."""
        self._require(ENGINEER)

        def work() -> Any:
            from station.drivers.console import list_serial_ports
            from station.drivers.probe import list_probes

            return list_probes(), list_serial_ports()

        self.chores.run("discover probes and ports", work, lambda found: on_found(found[0], found[1]))

    def apply_slots(self, slots: tuple[SlotSettings, ...]) -> None:
        self._require(ENGINEER)
        self._require_idle()
        check_slots(slots)
        self._stop_slots()
        self._save(self.settings.with_slots(slots))
        self._build_slots(slots)
        described = "; ".join(f"{slot.name}: probe {slot.probe}, console {slot.console}" for slot in slots)
        self._audit("slots.set", described)
        self.slots_replaced.emit()
        self.production_changed.emit()

    def add_person(self, name: str, role: str, pin: str | None) -> None:
        self._require(ENGINEER)
        self.people.add(name, role, pin)
        self._audit("people.add", f"{name} registered as {role}")

    def _require_idle(self) -> None:
        if any(runner.busy for runner in self.runners.values()):
            raise AccessError("wait until every slot has finished")

    def _save(self, settings: StationSettings) -> None:
        self.settings = settings
        self.debouncer.window_seconds = settings.scanner.debounce_seconds
        if self.settings_path is not None:
            save_settings(settings, self.settings_path)

    # ---- shutting down --------------------------------------------------------------------

    def busy(self) -> bool:
        return any(runner.busy for runner in self.runners.values()) or self.chores.pending > 0

    def shutdown(self) -> bool:
        """Wait for running units to finish, then end every thread; True when all have ended."""
        self._shut_down = True
        stopped = self._stop_slots()
        self.chores.wait_idle(30.0)
        stopped = self.chores.stop() and stopped
        return stopped

