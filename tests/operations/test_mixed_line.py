"""A line whose slots make different products: each slot its own recipe, one CA, one vault.

Two products on simulated units: the demo toaster (labels TST-######) on slot 1 and a kettle
(labels KET-######, its own activation product and token pool) on slot 2, end to end through
the station's operations, as either front end drives them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from station.app import CompositionRoot
from station.app.demo import open_demo_line_station
from station.config.settings import SlotSettings
from station.domain.errors import ScanError
from station.domain.records import AttemptResult
from station.flow.observer import QuietObserver
from station.operations.station import Station
from station.sim.demo import DemoEnvironment, prepare_demo
from station.sim.units import SIM_DIR_ENVIRONMENT_VARIABLE, SimUnit

KETTLE = "ACME-KETTLE"


def kettle_recipe(environment: DemoEnvironment) -> Path:
    """The demo recipe as another product: its own labels, activation product and token pool."""
    text = environment.recipe_path.read_text(encoding="utf-8")
    for old, new in (('product = "ACME-TOASTER"\ndescription', f'product = "{KETTLE}"\ndescription'),
                     ('pattern = "^TST-[0-9]{6}$"', 'pattern = "^KET-[0-9]{6}$"'),
                     ('[activation]\nproduct = "ACME-TOASTER"\ntoken_pool = "ACME-TOASTER"',
                      f'[activation]\nproduct = "{KETTLE}"\ntoken_pool = "{KETTLE}"')):
        assert old in text, old
        text = text.replace(old, new)
    path = environment.recipe_path.with_name("kettle.toml")
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Station, list[SimUnit]]]:
    monkeypatch.setenv(SIM_DIR_ENVIRONMENT_VARIABLE, str(tmp_path / "demo" / "sim"))
    environment = prepare_demo(tmp_path / "demo")
    units = [environment.units.create_unit(), environment.units.create_unit()]
    slots = (
        SlotSettings("1", units[0].probe_id, environment.console_path(units[0])),
        SlotSettings("2", units[1].probe_id, environment.console_path(units[1]), recipe=kettle_recipe(environment)),
    )
    with environment.console_server() as consoles:
        for unit in units:
            consoles.wait_for_port(unit.unit_id)
        # The demo made the kettle's product and tokens too (its own family's demo product).
        station = open_demo_line_station(CompositionRoot(), environment, environment.recipe_path, slots=slots)
        yield station, units
        station.close()
    for unit in units:
        unit.close()


def test_each_slot_runs_its_own_recipe_and_each_unit_passes_as_its_product(
    line: tuple[Station, list[SimUnit]],
) -> None:
    station, units = line
    production = station.production
    assert [recipe.product for recipe in production.recipes_in_use()] == ["ACME-TOASTER", KETTLE]
    assert production.mixed and production.ca_open
    assert production.provisioner("1").recipe.product == "ACME-TOASTER"
    assert production.provisioner("2").recipe.product == KETTLE
    assert production.slot_takes("2", "KET-000001") and not production.slot_takes("1", "KET-000001")
    assert str(production.parse_unit_label("KET-000001")) == "KET-000001"
    with pytest.raises(ScanError):
        production.parse_unit_label("KET-000001", "1")  # slot 1's recipe does not read kettle labels

    for serial, slot in (("TST-000001", station.settings.slots[0]), ("KET-000001", station.settings.slots[1])):
        job = station.units.provisioning_job(production.parse_unit_label(serial, slot.name), slot, "ann")
        outcome = job.run(QuietObserver())
        assert outcome.passed, outcome.summary
    toaster = station.database.attempts.latest_attempt("TST-000001")
    kettle = station.database.attempts.latest_attempt("KET-000001")
    assert toaster is not None and kettle is not None
    assert (toaster.product, kettle.product) == ("ACME-TOASTER", KETTLE)
    assert toaster.result is kettle.result is AttemptResult.PASSED
    assert toaster.recipe_hash != kettle.recipe_hash
    assert [unit.reload().activated_product for unit in units] == ["ACME-TOASTER", KETTLE]
