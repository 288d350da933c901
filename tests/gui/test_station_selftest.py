"""The station self-test in the window: a recipe that requires it refuses units (amber, in the
operator's words) until a supervisor runs it on the golden unit from the supervisor view, on a
thread of its own, the slot kept from new units meanwhile; then units run again."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from station.gui.main import StationWindow
from station.gui.slot_states import Verdict
from station.gui.wording import plain_words
from station.sim.demo import DEMO_SUPERVISOR, DEMO_SUPERVISOR_PIN, prepare_demo

from .conftest import wait_drawn, wait_finished

StationFactory = Callable[..., StationWindow]
GOLDEN = "TST-000001"  # the demo's first serial: the golden unit is made first


def selftest_recipe(demo_root: Path) -> Path:
    environment = prepare_demo(demo_root)
    text = environment.recipe_path.read_text(encoding="utf-8")
    text = text.replace("[activation]", f'[selftest]\ngolden = ["{GOLDEN}"]\nrequired = true\n\n[activation]', 1)
    path = environment.recipe_path.with_name("recipe-selftest.toml")
    path.write_text(text, encoding="utf-8")
    return path


def test_units_wait_for_the_supervisors_selftest_on_the_golden_unit(
    station_factory: StationFactory, tmp_path: Path, qtbot: Any
) -> None:
    station = station_factory(recipe_path=selftest_recipe(tmp_path / "demo"), slots=1)
    line, window = station.line, station.window
    assert window.demo_bar is not None
    assert window.demo_bar.simulate_scan() == GOLDEN  # the golden unit is made like any unit
    wait_finished(qtbot, line, "1")
    assert line.slot_states["1"].verdict is Verdict.PASS

    refused = window.demo_bar.simulate_scan()  # a production unit: refused untouched, amber
    wait_finished(qtbot, line, "1")
    state = line.slot_states["1"]
    assert (state.verdict, state.failure_code) == (Verdict.NEEDS_PERSON, "SELFTEST_REQUIRED")
    wait_drawn(qtbot, window)
    assert window.operator_view.tiles["1"].verdict_reason.text() == plain_words("SELFTEST_REQUIRED")
    assert station.operations.database.attempts.latest_attempt(refused) is None

    line.sign_in(DEMO_SUPERVISOR, DEMO_SUPERVISOR_PIN)
    view = window.supervisor_view
    window.show_view(view)
    view.selftest_slot.setCurrentText("1")
    view.run_selftest()  # not golden yet: refused, nothing recorded
    assert view.selftest_message.property("level") == "error"
    assert "is marked golden here" in view.selftest_message.text()
    assert not line.selftest.running

    line.mark_golden(GOLDEN, DEMO_SUPERVISOR_PIN)
    view.run_selftest()
    assert line.selftest.running and line.slot_busy("1")  # the slot takes no unit while its golden unit is tested
    assert not view.selftest_button.isEnabled()
    qtbot.waitUntil(lambda: not line.selftest.running, timeout=30_000)
    assert view.selftest_message.property("level") == "ok", view.selftest_message.text()
    assert view.selftest_message.text().startswith(f"Self-test passed on golden unit {GOLDEN}")
    assert "lock: PASSED" in view.selftest_message.text() and view.selftest_button.isEnabled()
    [recorded] = station.operations.database.selftests.selftests()
    assert recorded.passed and recorded.operator == DEMO_SUPERVISOR and recorded.serial == GOLDEN

    assert line.start_unit(refused)  # the refused unit again: it runs now
    wait_finished(qtbot, line, "1")
    assert line.slot_states["1"].serial == refused and line.slot_states["1"].verdict is Verdict.PASS


def test_only_a_signed_in_supervisor_runs_the_selftest(station_factory: StationFactory) -> None:
    station = station_factory()
    with pytest.raises(Exception, match="supervisor"):
        station.line.selftest.run("1", "", lambda _result: None)
    assert station.operations.database.selftests.selftests() == []
