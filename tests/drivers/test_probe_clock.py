"""The SWD clock of the station settings (``[probe] swd_frequency_hz``) reaches pyOCD: the
session's ``frequency`` option, and the clock pyOCD then sets on the (simulated) probe."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.config.settings import ProbeSettings, SlotSettings
from station.drivers.probe import PyOcdProbe
from station.drivers.slots import HardwareSlots
from station.sim.demo_recipe import load_demo_recipe
from station.sim.firmware import build_demo_firmware
from station.sim.probe import SimProbe
from station.sim.units import SimUnitStore


@pytest.mark.parametrize("frequency", [250_000, 1_000_000, ProbeSettings().swd_frequency_hz])
def test_the_settings_swd_clock_reaches_the_pyocd_session_and_the_probe(
    sim_store: SimUnitStore, tmp_path: Path, frequency: int
) -> None:
    recipe = load_demo_recipe(tmp_path / "recipe", build_demo_firmware(tmp_path / "recipe"))
    unit = sim_store.create_unit()
    try:
        slots = HardwareSlots(ProbeSettings(swd_frequency_hz=frequency))
        slot = slots.slot_for(SlotSettings("A", unit.probe_id, "/dev/null"), "TST-000001", recipe, kind="provision")
        assert isinstance(slot.probe, PyOcdProbe)
        with slot.probe.attach() as attached:
            session = attached.target.session
            assert session.options.get("frequency") == frequency
            probe = session.probe
            assert isinstance(probe, SimProbe)
            assert probe.clock_frequency == frequency  # pyOCD set the link's clock from the option
            assert probe.unique_id == unit.probe_id  # the id pyocd list shows is the one the station uses
    finally:
        unit.close()
