"""Shared fixtures: every test gets its own simulation directory and station data directory."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import postgres_server
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


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database the tests may wipe, started once per session and only when a test
    asks for it: STATION_TEST_POSTGRES_URL's when set, otherwise a throwaway server on 127.0.0.1
    (tests/postgres_server.py), so that the PostgreSQL claims are tested on every run."""
    explicit = os.environ.get(postgres_server.POSTGRES_URL_VARIABLE)
    if explicit:
        yield explicit
        return
    reason = postgres_server.unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    with postgres_server.throwaway_server() as server:
        yield server.url


@pytest.fixture
def line_server() -> Iterator[postgres_server.RunningServer]:
    """A PostgreSQL of this test's own, to stop and start as a line's server goes away and comes
    back (the session's ``postgres_url`` server is shared by every test)."""
    reason = postgres_server.unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    with postgres_server.throwaway_server() as server:
        yield server
