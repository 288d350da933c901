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


@pytest.fixture(autouse=True)
def _private_station_data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test touches the user's real data directory (station key, database): a test that
    names none gets a fresh one; tests that set their own (monkeypatch.setenv) override it."""
    monkeypatch.setenv("STATION_DATA_DIR", str(tmp_path_factory.mktemp("station-data")))
