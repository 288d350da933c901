"""Shared fixtures: every test gets its own simulation directory and station data directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from station.sim.units import SimUnitStore


@pytest.fixture
def sim_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh simulation state directory, also exported as STATION_SIM_DIR for subprocesses."""
    directory = tmp_path / "sim"
    directory.mkdir()
    monkeypatch.setenv("STATION_SIM_DIR", str(directory))
    return directory


@pytest.fixture
def sim_store(sim_dir: Path) -> Iterator[SimUnitStore]:
    yield SimUnitStore(sim_dir)
