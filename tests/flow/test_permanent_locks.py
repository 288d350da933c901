"""A permanent lock (STM32 RDP level 2) is never offered rework, by the flow or its front ends."""

from __future__ import annotations

import pytest
from fakes import FakeConsole, FakeIssuer, FakeProbe, FakeTokens, FakeUnit, MemoryJournal

from station.domain.errors import PermanentLockError
from station.domain.identity import Serial
from station.domain.recipe import Recipe
from station.domain.recipe_loader import load_recipe
from station.flow.run import Slot, StationContext
from station.flow.sequence import UnitProvisioner
from station.flow.watchdog import Watchdog
from station.sim.demo_recipe import write_demo_recipe
from station.sim.firmware import build_demo_firmware

SUPERVISOR = StationContext("station-1", "sue", "WO-1")


def recipe_locking(tmp_path_factory: pytest.TempPathFactory, lock: str) -> Recipe:
    directory = tmp_path_factory.mktemp("permanent")
    path = write_demo_recipe(directory, build_demo_firmware(directory))
    text = path.read_text(encoding="utf-8").replace('target = "nrf52840"', 'target = "stm32f429xi"')
    variant = path.with_name("variant.toml")
    variant.write_text(text.replace('[lock]\nmethod = "nrf52-approtect"\n', lock), encoding="utf-8")
    return load_recipe(variant)


@pytest.mark.parametrize(("lock", "permanent"), [
    ('[lock]\nmethod = "stm32-rdp2"\npermanent = true\n', True),
    ('[lock]\nmethod = "stm32-rdp1"\n', False),
])
def test_rework_is_refused_before_anything_is_touched_only_under_a_permanent_lock(
    tmp_path_factory: pytest.TempPathFactory, lock: str, permanent: bool
) -> None:
    recipe = recipe_locking(tmp_path_factory, lock)
    journal, unit = MemoryJournal(), FakeUnit("00000000000000A1")
    unit.locked = True
    probe = FakeProbe(unit)
    provisioner = UnitProvisioner(recipe, journal.as_journal(), FakeIssuer(), FakeTokens(journal), watchdog=Watchdog())
    outcome = provisioner.rework(Serial("TST-000800"), Slot("1", probe, lambda: FakeConsole(unit, recipe)), SUPERVISOR)
    if permanent:
        assert isinstance(outcome.error, PermanentLockError) and outcome.attempt_id is None
        assert str(outcome.error) == (
            "units locked by stm32-rdp2 are locked for good: no erase reopens them, so no rework"
        )
        assert probe.recovery_erases == 0 and probe.sessions_opened == 0 and unit.locked
        assert journal.history("TST-000800") == []
    else:
        assert outcome.failure_step == "rework" and probe.recovery_erases == 1
