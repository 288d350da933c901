"""Which locked units the station erases as factory-fresh parts, and what it records (fakes).

The hardware side (hardened APPROTECT, the HwDisabled write, pyOCD) is in test_fresh_parts.py on
simulated units; here the rules: only where the recipe says parts ship protected, only for a
serial with no record anywhere, never a development unit, and a relabelled unit refused.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fakes import FakeConsole, FakeIssuer, FakeProbe, FakeTokens, FakeUnit, MemoryJournal

from station.domain.errors import AlreadyPassedError, RelabelledUnitError, UnitLockedError
from station.domain.identity import Serial
from station.domain.outcome import AttemptOutcome
from station.domain.recipe import Recipe
from station.domain.recipe_loader import load_recipe
from station.domain.records import StepOutcome
from station.flow.run import Slot, StationContext
from station.flow.sequence import UnitProvisioner
from station.flow.watchdog import Watchdog
from station.sim.demo_recipe import write_demo_recipe
from station.sim.firmware import build_demo_firmware

CONTEXT = StationContext("station-1", "ann", "WO-1")


@pytest.fixture(scope="module")
def recipes(tmp_path_factory: pytest.TempPathFactory) -> dict[bool, Recipe]:
    """The demo recipe as it is, and saying its parts ship protected."""
    directory = tmp_path_factory.mktemp("fresh-parts")
    path = write_demo_recipe(directory, build_demo_firmware(directory))
    text = path.read_text(encoding="utf-8")
    assert '[lock]\nmethod = "nrf52-approtect"\n' in text
    protected = path.with_name("protected.toml")
    protected.write_text(
        text.replace('[lock]\nmethod = "nrf52-approtect"\n',
                     '[lock]\nmethod = "nrf52-approtect"\nparts_ship_protected = true\n'),
        encoding="utf-8",
    )
    return {False: load_recipe(path), True: load_recipe(protected)}


class Line:
    """One slot on a fake unit, journal in memory."""

    def __init__(self, recipe: Recipe) -> None:
        self.journal = MemoryJournal()
        self.unit = FakeUnit("00000000000000A1")
        self.probe = FakeProbe(self.unit)
        self.console = FakeConsole(self.unit, recipe)
        self.provisioner = UnitProvisioner(
            recipe, self.journal.as_journal(), FakeIssuer(), FakeTokens(self.journal), watchdog=Watchdog()
        )

    def insert(self, unit: FakeUnit) -> None:
        self.unit = self.probe.unit = self.console.unit = unit

    def provision(self, serial: str) -> AttemptOutcome:
        return self.provisioner.provision(Serial(serial), Slot("1", self.probe, lambda: self.console), CONTEXT)

    def connect_detail(self, outcome: AttemptOutcome) -> str:
        steps = self.journal.get_attempt(outcome.attempt_id or 0).steps
        return next(step.detail for step in steps if step.name == "connect")


@pytest.fixture
def line(recipes: dict[bool, Recipe]) -> Iterator[Line]:
    yield Line(recipes[True])


def fresh_locked(device_id: str) -> FakeUnit:
    """A blank part, locked as it leaves its maker."""
    unit = FakeUnit(device_id)
    unit.locked = True
    return unit


def test_a_locked_unit_with_no_record_is_erased_as_a_fresh_part_and_passes(line: Line) -> None:
    line.insert(fresh_locked("00000000000000F1"))
    outcome = line.provision("TST-000900")
    assert outcome.passed, outcome.summary
    assert line.probe.recovery_erases == 1
    assert line.connect_detail(outcome).startswith("fresh part: arrived locked with no record anywhere, erased (")
    assert line.connect_detail(outcome).endswith("device id 00000000000000F1")
    unit = line.journal.get_unit("TST-000900")
    assert unit is not None and not unit.is_development
    assert not line.journal.is_development_device("00000000000000F1")
    fresh = [entry for entry in line.journal.audit_entries if entry[1] == "unit.fresh_erase"]
    assert len(fresh) == 1 and fresh[0][0] == "ann" and "not a rework" in fresh[0][2]
    assert line.unit.locked  # the production lock, after the pass


def test_without_the_recipe_s_word_a_locked_unit_is_never_erased(recipes: dict[bool, Recipe]) -> None:
    line = Line(recipes[False])
    line.insert(fresh_locked("00000000000000F2"))
    outcome = line.provision("TST-000901")
    assert isinstance(outcome.error, UnitLockedError) and outcome.failure_step == "connect"
    assert "the recipe does not say its parts ship protected" in str(outcome.error)
    assert line.probe.recovery_erases == 0 and line.unit.locked


def test_a_locked_unit_whose_serial_has_an_earlier_attempt_is_refused_untouched(line: Line) -> None:
    line.insert(FakeUnit("00000000000000F3"))
    line.probe.disconnect_after_bytes, line.probe.disconnects_left = 0, 10  # the first attempt fails
    assert line.provision("TST-000902").failure_step == "connect"
    line.probe.disconnect_after_bytes = None
    line.unit.locked = True
    outcome = line.provision("TST-000902")
    assert isinstance(outcome.error, UnitLockedError)
    assert "serial TST-000902 has 1 earlier attempt(s) on record" in str(outcome.error)
    assert line.probe.recovery_erases == 0 and line.unit.locked


def test_a_locked_unit_whose_serial_passed_is_refused_before_it_is_touched(line: Line) -> None:
    line.insert(fresh_locked("00000000000000F4"))
    assert line.provision("TST-000903").passed
    sessions = line.probe.sessions_opened
    outcome = line.provision("TST-000903")
    assert isinstance(outcome.error, AlreadyPassedError) and outcome.attempt_id is None
    assert line.probe.recovery_erases == 1 and line.probe.sessions_opened == sessions


def test_a_relabelled_unit_is_erased_then_refused_and_both_records_say_so(line: Line) -> None:
    line.insert(fresh_locked("00000000000000F5"))
    assert line.provision("TST-000904").passed  # locked by production now
    outcome = line.provision("TST-000905")  # the same board under a new label
    assert isinstance(outcome.error, RelabelledUnitError) and outcome.failure_step == "connect"
    assert "on record as serial TST-000904" in str(outcome.error)
    record = line.journal.get_attempt(outcome.attempt_id or 0)
    assert record.device_id == "00000000000000F5"
    assert [(step.name, step.outcome) for step in record.steps] == [("connect", StepOutcome.FAILED)]
    assert record.failure_code == "RELABELLED_UNIT"
    # The erase took the shipped unit's credential: it is a development unit from now on.
    shipped = line.journal.get_unit("TST-000904")
    assert shipped is not None and shipped.is_development
    assert [entry[1] for entry in line.journal.audit_entries][-2:] == ["unit.fresh_erase", "unit.relabelled"]


def test_a_board_seen_under_another_serial_that_never_passed_is_refused_but_not_condemned(line: Line) -> None:
    board = FakeUnit("00000000000000F6")
    line.insert(board)
    line.probe.disconnect_after_bytes, line.probe.disconnects_left = 64, 10  # fails after connect
    assert line.provision("TST-000906").failure_step == "flash"
    line.probe.disconnect_after_bytes = None
    board.locked = True
    outcome = line.provision("TST-000907")
    assert isinstance(outcome.error, RelabelledUnitError)
    other = line.journal.get_unit("TST-000906")
    assert other is not None and not other.is_development
