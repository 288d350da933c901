"""Clients of the device-management service the station asks about development units.

On a real line this is the vendor's service; in demo and training mode it is the simulated
service that the simulated units' firmware activates against.
"""

from __future__ import annotations

from pathlib import Path

from station.sim.dms import SimDeviceManagement


class SimulatedDeviceManagementClient:
    """``station.flow.ports.DevelopmentUnitRegistry`` over the simulated service."""

    def __init__(self, sim_dir: Path) -> None:
        self._service = SimDeviceManagement(sim_dir)

    def is_development_unit(self, device_id: str) -> bool:
        return self._service.is_development_unit(int(device_id, 16))
