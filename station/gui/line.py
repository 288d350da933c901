"""The window's adapter over the station's operations: signals in, operations called, views told.

``StationLine`` holds no rule of its own. Sign-in, roles, PINs and lock-outs are
``station.operations.people``; which slot a unit goes to is ``SlotChooser``; the recipe, CA
and vault are ``Production``; jobs and rework approvals are ``Units``; inspections and golden
units are ``Supervision``; the station self-test is ``SelfTests`` (``selftest_actions``). What
is left here is what only a window has: one worker thread per slot, one for chores and one for
the self-test, the slots' view models, the message line (banner), sounds, and the
signals the views listen to. Slow operations run on the chores thread; their results come
back as ``ActionResult`` callbacks on the GUI thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from station.config.settings import SlotSettings, StationSettings
from station.domain.errors import AccessError, InternalError, ScanError, SlotBusyError, SlotError, StationError
from station.domain.outcome import AttemptOutcome
from station.domain.recipe import Recipe
from station.domain.records import AttemptRecord, StepOutcome
from station.flow.sequence import INTERNAL_STEP, displayed_as
from station.gui.engineer_actions import EngineerActions
from station.gui.errors import ErrorSink, describe_error
from station.gui.label_actions import LabelActions
from station.gui.scanning import ScanDebouncer
from station.gui.selftest_actions import SelfTestActions
from station.gui.slot_states import ANY_SLOT, ActionResult, Banner, BannerLevel, SlotState, StepState, Verdict
from station.gui.sounds import ATTENTION, FAIL, PASS, SCAN, SoundBoard
from station.gui.wording import invalid_scan_words, readiness_words, refusal_words, sound_problem_words
from station.gui.workers import ChoreRunner, SlotJob, SlotRunner
from station.operations.counters import CounterFigures
from station.operations.people import OPERATOR, SUPERVISOR, User, badge_name
from station.operations.session import StationSession
from station.operations.slots import SlotChooser, SlotStatus
from station.operations.station import Station
from station.operations.units import JobKind, UnitJob
from station.security.vault import UnlockedVault

LOG = logging.getLogger(__name__)

ResultCallback = Callable[[ActionResult], None]

__all__ = ["ActionResult", "Banner", "BannerLevel", "SlotState", "StationLine", "StepState", "Verdict"]


class StationLine(QObject):
    slot_changed = Signal(str)
    slots_replaced = Signal()
    banner_changed = Signal()
    counters_changed = Signal()
    session_changed = Signal()
    production_changed = Signal()
    inspections_changed = Signal()
    pin_needed = Signal(str)  # a supervisor's or engineer's badge was scanned: ask the PIN
    next_slot_changed = Signal()  # a fixture label chose the next unit's slot, or the choice ended

    def __init__(
        self,
        station: Station,
        *,
        error_sink: ErrorSink,
        sounds: SoundBoard,
        clock: Callable[[], float] = time.monotonic,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.station = station
        self.error_sink = error_sink
        self.sounds = sounds
        self.clock = clock
        self.session = StationSession(station.people, station.audit)
        self.chooser = SlotChooser(station.settings.slots, clock=clock)
        self.debouncer = ScanDebouncer(station.settings.scanner.debounce_seconds, clock=clock)
        self.chores = ChoreRunner(self.error_sink.report, self)
        self.counters = station.counters()
        self.recovering = False
        self._recovered = False
        self._shut_down = False
        self.banner = Banner()
        self.slot_states: dict[str, SlotState] = {}
        self.runners: dict[str, SlotRunner] = {}
        self._figures = CounterFigures(passed=0, failed=0, first_pass_yield=None, units_per_hour=None)
        self._figures_running = False
        self._figures_stale = False
        self.engineer = EngineerActions(self)
        self.selftest = SelfTestActions(self)
        self.labels = LabelActions(self)
        self._build_slots(station.settings.slots)
        self.refresh_counters()
        if station.production.recipe_problem:
            self._set_banner(BannerLevel.ATTENTION, self.tr("The recipe was refused. Call an engineer."),
                             until_ready=True)  # fmt: skip
        self.production_changed.connect(self._end_readiness_banner)
        sounds.problem_found.connect(self._sound_problem)
        self._recover_once()

    # ---- state the views read ------------------------------------------------------------

    @property
    def settings(self) -> StationSettings:
        return self.station.settings

    @property
    def station_name(self) -> str:
        return self.station.name

    @property
    def user(self) -> User | None:
        return self.session.user

    @property
    def recipe(self) -> Recipe | None:
        return self.station.production.recipe

    @property
    def recipe_problem(self) -> str | None:
        return self.station.production.recipe_problem

    @property
    def vault(self) -> UnlockedVault | None:
        return self.station.production.vault

    @property
    def ca_loaded(self) -> bool:
        return self.station.production.ca_open

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
        problems = self.station.production.readiness_problems(
            slot_count=len(self.slot_states), recovering=self.recovering
        )
        return [(problem.code, readiness_words(problem)) for problem in problems]

    def next_slots(self) -> list[str]:
        """The slots the next new units' scans go to, one per product the line makes (the
        operator view marks them); empty while every slot works."""
        products = self.station.production.product_slots(list(self.slot_states))
        return self.chooser.next_slots(self._slot_statuses(), products)

    def is_used_serial(self, serial: str) -> bool:
        return self.station.database.units.get_unit(serial) is not None

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
        fixture = self.chooser.fixture_for(text)
        if fixture is not None and self.station.units.takes_unlabelled_units():
            self.start_unlabelled(fixture)  # no label to scan: the fixture's scan starts its unit
            return
        if fixture is not None:
            self.chooser.choose_fixture(fixture)
            self.next_slot_changed.emit()
            self._set_banner(BannerLevel.INFO, self.tr("Slot {slot} chosen: now scan the unit.").format(slot=fixture))
            return
        if not self.station.production.recipes_in_use():
            self._attention(self.tr("No recipe is chosen. Call an engineer."), until_ready=True)
            return
        try:
            self.station.production.parse_unit_label(text)
        except ScanError:
            if self._other_badge(text):
                return
            self._attention(invalid_scan_words(text))  # what was read, escaped and shortened
            self.sounds.play(FAIL)
            return
        self.start_unit(text)

    def is_actionable_scan(self, text: str) -> bool:
        """Whether a scan would do something here (a unit's serial, a person's badge, a fixture
        code): what a burst of keys in a PIN field must be to count as a scan rather than a PIN."""
        text = text.strip()
        if self.station.people.find(badge_name(text)) is not None or self.chooser.fixture_for(text) is not None:
            return True
        return self._is_unit_label(text)

    def _badge_scan(self, text: str) -> None:
        try:
            self.login_with_badge(text)
        except AccessError as error:
            user = self.station.people.find(badge_name(text))
            if user is not None and user.role != OPERATOR:
                self.pin_needed.emit(user.name)
                return
            if user is None and self._is_unit_label(text):
                self._attention(self.tr("Scan your badge first."))
                return
            self._attention(self.tr("Unknown badge. Ask a supervisor to register you.") if user is None else str(error))

    def _is_unit_label(self, text: str) -> bool:
        try:
            self.station.production.parse_unit_label(text)
        except StationError:  # not a label, or no recipe to read it by
            return False
        return True

    @Slot()
    def typed_text_ignored(self) -> None:
        """Keys typed by hand outside a text field: say how units are started."""
        self._set_banner(BannerLevel.INFO, self.tr("Typing does not start a unit: scan the unit's label."))

    def _other_badge(self, text: str) -> bool:
        """A badge scanned while someone is logged in: hand the station over."""
        user = self.station.people.find(badge_name(text))
        if user is None:
            return False
        if user.role == OPERATOR:
            self.login_with_badge(text)
        else:
            self.pin_needed.emit(user.name)
        return True

    # ---- sessions ------------------------------------------------------------------------

    def login_with_badge(self, scan: str) -> User:
        user = self.session.login_with_badge(scan)
        self._session_started()
        return user

    def sign_in(self, name: str, pin: str) -> User:
        user = self.session.sign_in(name, pin)
        self._session_started()
        return user

    def needs_first_engineer(self) -> bool:
        return self.session.needs_first_engineer()

    def create_first_engineer(self, name: str, pin: str) -> User:
        user = self.session.create_first_engineer(name, pin)
        self._session_started()
        return user

    def _session_started(self) -> None:
        self._clear_banner()
        self.session_changed.emit()

    def logout(self, reason: str = "logout") -> None:
        if self.session.logout(reason):
            self.chooser.forget_fixture()
            self.next_slot_changed.emit()
            self.session_changed.emit()

    # ---- units ---------------------------------------------------------------------------

    def start_unit(self, scan_text: str, slot_name: str | None = None) -> bool:
        """Start provisioning the scanned unit on a slot; False (with a message) if it cannot."""
        problems = self.readiness_problems()
        if problems:
            self._attention(problems[0][1], until_ready=True)
            return False
        user, production = self.user, self.station.production
        if user is None:
            self._attention(self.tr("Scan your badge first."))
            return False
        serial = production.parse_unit_label(scan_text)
        if slot_name is not None:
            self.chooser.choose_fixture(slot_name)
        try:
            # On a line of mixed products the unit goes to a slot whose recipe reads its label.
            chosen = self.chooser.choose(str(serial), self._slot_statuses(),
                                         lambda name: production.slot_takes(name, scan_text))  # fmt: skip
            serial = production.parse_unit_label(scan_text, chosen)
            job = self.station.units.provisioning_job(serial, self._slot_settings(chosen), user.name)
        except SlotError as error:
            self.next_slot_changed.emit()  # a fixture's choice is used up by a refusal too
            # True only while that slot (or, with no slot named, every slot) is busy.
            self._attention(refusal_words(error), until_slot_free=error.slot or ANY_SLOT)
            return False
        self._submit(job)
        return True

    def start_unlabelled(self, slot_name: str) -> bool:
        """Start the unit in ``slot_name`` that came without a label: it gets the next serial of
        the work order's rule when its job runs; False (with a message) if it cannot start."""
        problems = self.readiness_problems()
        if problems:
            self._attention(problems[0][1], until_ready=True)
            return False
        user = self.user
        if user is None:
            self._attention(self.tr("Scan your badge first."))
            return False
        if self.slot_busy(slot_name):
            self._attention(refusal_words(SlotBusyError(f"slot {slot_name} is not free", slot=slot_name)),
                            until_slot_free=slot_name)  # fmt: skip
            return False
        self._submit(self.station.units.provisioning_job(None, self._slot_settings(slot_name), user.name))
        return True

    def rework(self, serial_text: str, slot_name: str, pin: str) -> None:
        """Supervisor: erase the unit in ``slot_name`` (the only way to erase a locked unit).

        The signed-in supervisor gives their PIN again; a wrong one counts towards a lock-out.
        """
        supervisor = self.session.require(SUPERVISOR)
        if self.station.production.recipe_for(slot_name) is None:
            raise AccessError("the recipe and the factory CA must be loaded first")
        if self.slot_busy(slot_name):
            raise SlotBusyError(f"slot {slot_name} is not free", slot=slot_name)
        serial = self.station.production.parse_unit_label(serial_text, slot_name)
        job = self.station.units.rework_job(serial, self._slot_settings(slot_name), supervisor.name, pin)
        self._submit(job)

    def _submit(self, job: UnitJob) -> None:
        self.slot_states[job.slot].start(job.kind.value, job.serial_text, self.clock())
        self._clear_banner()
        self.runners[job.slot].submit(SlotJob(job.kind.value, job.serial_text, job.run))
        self.slot_changed.emit(job.slot)

    def slot_busy(self, name: str) -> bool:
        """Whether the slot works on a unit, or its unit is under a station self-test (or it is gone)."""
        return name not in self.runners or self.runners[name].busy or self.selftest.slot == name

    def _slot_statuses(self) -> list[SlotStatus]:
        return [SlotStatus(name, self.slot_busy(name), state.serial) for name, state in self.slot_states.items()]

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
            runner.console_line.connect(self._on_console_line)
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

    @Slot(str, str)
    def _on_step_started(self, slot: str, step: str) -> None:
        state = self.slot_states.get(slot)
        if state is None:
            return
        recipe = self.station.production.recipe_for(slot)
        state.step_started(step, recipe.instruction(step) if recipe is not None else None)
        step = displayed_as(step)
        if step in state.steps:
            state.steps[step] = StepState.RUNNING
        state.current_step, state.progress = step, None
        self.slot_changed.emit(slot)

    @Slot(str, str, str, str)
    def _on_step_finished(self, slot: str, step: str, outcome: str, detail: str) -> None:
        state = self.slot_states.get(slot)
        if state is None:
            return
        state.step_finished(step, outcome, detail)
        step = displayed_as(step)
        shown = {
            StepOutcome.PASSED.value: StepState.PASSED,
            StepOutcome.FAILED.value: StepState.FAILED,
            StepOutcome.SKIPPED.value: StepState.SKIPPED,
        }
        if step in state.steps:
            # A failed try that is retried shows as running again at the next step_started.
            state.steps[step] = shown.get(outcome, StepState.PENDING)
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
        state.serial = serial  # a unit without a label shows its allocated serial from here on
        self.slot_changed.emit(slot)

    @Slot(str, str)
    def _on_console_line(self, slot: str, line: str) -> None:
        state = self.slot_states.get(slot)
        if state is None:
            return
        state.console_line(line)
        self.slot_changed.emit(slot)

    @Slot(str, str, AttemptOutcome)
    def _on_job_finished(self, slot: str, kind: str, outcome: AttemptOutcome) -> None:
        state = self.slot_states.get(slot)
        if state is None:
            return
        state.finish(outcome, self.clock())
        verdict = state.verdict
        # An already passed unit is a good unit to move on, as after its PASS: the same sound.
        passed = verdict in (Verdict.PASS, Verdict.ALREADY_PASSED)
        self.sounds.play(PASS if passed else FAIL if verdict is Verdict.FAIL else ATTENTION)
        if kind == JobKind.PROVISION.value:
            self.refresh_counters()
            self.labels.unit_finished(outcome.label)
        LOG.info("slot %s: %s", slot, outcome.summary)
        self._slot_freed(slot)
        self.slot_changed.emit(slot)

    @Slot(str, str, str)
    def _on_job_crashed(self, slot: str, text: str, shown: str) -> None:
        state = self.slot_states.get(slot)
        self.error_sink.report_message(f"slot {slot}", f"{text}: {shown}")
        if state is None:
            return
        state.finish(AttemptOutcome(state.serial, error=InternalError(shown), failure_step=INTERNAL_STEP), self.clock())
        self.sounds.play(FAIL)
        self._slot_freed(slot)
        self.slot_changed.emit(slot)

    # ---- the station's message line ----------------------------------------------------

    def _set_banner(self, level: BannerLevel, text: str, *, until_slot_free: str | None = None,
                    until_ready: bool = False) -> None:  # fmt: skip
        self.banner = Banner(level, text, until_slot_free=until_slot_free, until_ready=until_ready)
        self.banner_changed.emit()

    def _attention(self, text: str, *, until_slot_free: str | None = None, until_ready: bool = False) -> None:
        self._set_banner(BannerLevel.ATTENTION, text, until_slot_free=until_slot_free, until_ready=until_ready)
        self.sounds.play(ATTENTION)

    def _slot_freed(self, slot: str) -> None:
        """A banner that was only true while this slot was busy has lost its cause."""
        if self.banner.ends_when_free(slot):
            self._clear_banner()

    @Slot()
    def _end_readiness_banner(self) -> None:
        """A banner about what kept the station from starting a unit goes once nothing does."""
        if self.banner.until_ready and not self.readiness_problems():
            self._clear_banner()

    @Slot(str)
    def _sound_problem(self, reason: str) -> None:
        """Said once, at start: a station that cannot be heard must say so (the board logged it)."""
        if self.banner.level is BannerLevel.NONE:
            self._set_banner(BannerLevel.INFO, sound_problem_words())

    def _clear_banner(self) -> None:
        if self.banner.level is not BannerLevel.NONE:
            self._set_banner(BannerLevel.NONE, "")

    def show_error(self, text: str) -> None:
        self._set_banner(BannerLevel.ERROR, text)

    # ---- slow operations, on the chores thread ------------------------------------------

    def run_chore(self, name: str, work: Callable[[], Any], done: Callable[[Any], None],
               on_result: ResultCallback | None = None) -> None:  # fmt: skip
        """Run ``work`` off the GUI thread; ``done`` with its result, or the error as an ActionResult."""

        def failed(error: BaseException) -> None:
            if on_result is None:
                raise error
            on_result(ActionResult(False, describe_error(error)))

        self.chores.run(name, work, done, failed)

    def open_ca_for_recipe(self, passphrase: str, on_result: ResultCallback | None) -> None:
        """Open the factory CA for the recipes in use off the GUI thread; recovery follows."""
        if not self.station.production.recipes_in_use():
            if on_result is not None:
                on_result(ActionResult(False, self.tr("Choose a recipe first.")))
            return
        production, actor = self.station.production, self.session.actor

        def done(opened: Any) -> None:
            if not opened:
                return  # the recipe changed meanwhile: this CA session belonged to the old one
            self.production_changed.emit()
            self._clear_banner()
            self._recover_once()
            if on_result is not None:
                on_result(ActionResult(True, self.tr("The factory CA is open.")))

        self.run_chore("open the factory CA", lambda: production.open_ca(passphrase, actor), done, on_result)

    def _recover_once(self) -> None:
        """After a restart, settle this station's open attempts once (the CA must be open)."""
        if self._recovered or not self.ca_loaded:
            return
        self._recovered = True
        self.recovering = True
        self.production_changed.emit()
        units, slots = self.station.units, self.settings.slots

        def done(_: Any) -> None:
            self.recovering = False
            self.production_changed.emit()
            self.inspections_changed.emit()
            if self.inspections():
                self._set_banner(BannerLevel.ATTENTION,
                                 self.tr("A unit needs inspection by a supervisor after a restart."))  # fmt: skip

        def failed(error: BaseException) -> None:
            self.recovering = False
            self.production_changed.emit()
            raise error

        self.chores.run("crash recovery", lambda: units.recover(slots), done, failed)

    # ---- supervisor ------------------------------------------------------------------------

    def unlock_vault(self, passphrase: str, on_result: ResultCallback) -> None:
        self.session.require(SUPERVISOR)
        production, actor = self.station.production, self.session.actor

        def done(_: Any) -> None:
            self.production_changed.emit()
            self._clear_banner()
            on_result(ActionResult(True, self.tr("The token vault is unlocked for this shift.")))

        self.run_chore("unlock the vault", lambda: production.unlock_vault(passphrase, actor), done, on_result)

    def lock_vault(self) -> None:
        self.session.require(SUPERVISOR)
        self.station.production.lock_vault(self.session.actor)
        self.production_changed.emit()

    def inspections(self) -> list[AttemptRecord]:
        """Attempts a crash left that a supervisor has not inspected yet."""
        return self.station.supervision.pending_inspections()

    def acknowledge_inspection(self, attempt_id: int, note: str, pin: str) -> None:
        """Record what the signed-in supervisor found; their PIN again, as for every override."""
        supervisor = self.session.require(SUPERVISOR)
        self.station.supervision.acknowledge_inspection(attempt_id, note, supervisor.name, pin)
        self.inspections_changed.emit()
        if not self.inspections() and self.banner.level is BannerLevel.ATTENTION:
            self._clear_banner()

    def mark_golden(self, serial_text: str, pin: str, *, golden: bool = True) -> None:
        """Mark (or unmark) a reference unit, with the signed-in supervisor's PIN."""
        supervisor = self.session.require(SUPERVISOR)
        if not self.station.production.recipes_in_use():
            raise AccessError("choose a recipe first: the serial is read by its rule")
        serial = self.station.production.parse_unit_label(serial_text)
        self.station.supervision.mark_golden(str(serial), supervisor.name, pin, golden=golden)
        self.refresh_counters()

    def require_idle(self) -> None:
        if any(runner.busy for runner in self.runners.values()):
            raise AccessError("wait until every slot has finished")

    def replace_slots(self, slots: tuple[SlotSettings, ...]) -> None:
        """New slots (the engineer saved them): every slot's worker ends, new ones start."""
        self._stop_slots()
        self.chooser = SlotChooser(slots, clock=self.clock)
        self._build_slots(slots)
        self.slots_replaced.emit()
        self.production_changed.emit()

    # ---- shutting down --------------------------------------------------------------------

    def busy(self) -> bool:
        return (any(runner.busy for runner in self.runners.values()) or self.chores.pending > 0
                or self.selftest.running)  # fmt: skip

    def shutdown(self) -> bool:
        """Wait for running units to finish, then end every thread; True when all have ended."""
        self._shut_down = True
        stopped = self._stop_slots()
        self.chores.wait_idle(30.0)
        self.selftest.runner.wait_idle(30.0)
        stopped = self.chores.stop() and stopped
        stopped = self.selftest.stop() and stopped
        stopped = self.labels.stop() and stopped
        return stopped

