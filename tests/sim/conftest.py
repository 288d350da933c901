"""Fixtures for the simulator tests: demo firmware, a test factory CA, a populated DMS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from station.sim.dms import SimDeviceManagement
from station.sim.firmware import DemoFirmware, build_demo_firmware
from station.sim.units import SimUnit

from .support import (
    DEVELOPMENT,
    DEVELOPMENT_TOKEN,
    FRIDGE,
    FRIDGE_TOKEN,
    TOASTER,
    TOASTER_TOKEN,
    CertificateAuthority,
)


@pytest.fixture(scope="session")
def factory_ca() -> CertificateAuthority:
    return CertificateAuthority.create("ACME Factory CA")


@pytest.fixture(scope="session")
def demo_firmware(tmp_path_factory: pytest.TempPathFactory) -> DemoFirmware:
    return build_demo_firmware(tmp_path_factory.mktemp("firmware"))


@pytest.fixture
def dms(sim_dir: Path, factory_ca: CertificateAuthority) -> SimDeviceManagement:
    """A service with two production products and one development product, all trusting the CA."""
    service = SimDeviceManagement(sim_dir)
    service.add_product(TOASTER, [TOASTER_TOKEN], [factory_ca.pem])
    service.add_product(FRIDGE, [FRIDGE_TOKEN], [factory_ca.pem])
    service.add_product(DEVELOPMENT, [DEVELOPMENT_TOKEN], [factory_ca.pem], production=False)
    return service


@pytest.fixture
def closing_units() -> Iterator[list[SimUnit]]:
    """Units a test opened itself, closed at the end."""
    units: list[SimUnit] = []
    yield units
    for unit in units:
        unit.close()
