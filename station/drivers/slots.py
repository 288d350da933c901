"""A slot on a real line: its pyOCD probe and its serial console, wired for the flow.

The same wiring serves simulated units: their probes are pyOCD probes too (``sim:<unit>``)
and their consoles are ptys.
"""

from __future__ import annotations

from station.config.settings import ProbeSettings, SlotSettings
from station.domain.errors import NoProbeError
from station.domain.recipe import Recipe
from station.drivers.console import SerialConsole
from station.drivers.probe import PyOcdProbe
from station.flow.ports import UnitConsole
from station.flow.run import Slot


def hardware_slot(
    name: str,
    probe_id: str,
    console_port: str,
    recipe: Recipe,
    *,
    swd_frequency_hz: int = ProbeSettings.swd_frequency_hz,
) -> Slot:
    """A slot wired to a probe (by pyOCD unique id, its SWD clock from the station settings'
    ``[probe]``) and a serial console port."""
    if not probe_id:
        raise NoProbeError(f"slot {name} has no probe")
    if not console_port:
        raise NoProbeError(f"slot {name} has no console port")
    probe = PyOcdProbe(probe_id, recipe.target, recipe.lock, frequency=swd_frequency_hz, pack=recipe.pack)

    def open_console() -> UnitConsole:
        return SerialConsole(console_port, recipe.console)

    return Slot(name=name, probe=probe, open_console=open_console)


class HardwareSlots:
    """A real line's SlotProvider: each slot's probe and console port as the settings name them,
    every probe at the settings' SWD clock."""

    def __init__(self, probe: ProbeSettings | None = None) -> None:
        self.probe = probe or ProbeSettings()

    def slot_for(self, settings: SlotSettings, serial: str, recipe: Recipe, *, kind: str) -> Slot:
        return hardware_slot(settings.name, settings.probe, settings.console, recipe,
                             swd_frequency_hz=self.probe.swd_frequency_hz)  # fmt: skip
