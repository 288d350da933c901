"""Fixtures of the report tests: a database with the known scenario (see scenario.py), keys."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from station.security.station_key import StationKey, load_or_create_station_key
from station.store import Database, open_database

from .scenario import build_scenario


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'data' / 'station.db'}"


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    opened = open_database(db_url)
    opened.upgrade()
    yield opened
    opened.dispose()


@pytest.fixture
def scenario(database: Database) -> Database:
    build_scenario(database)
    return database


@pytest.fixture
def station_key(tmp_path: Path) -> StationKey:
    return load_or_create_station_key(tmp_path / "keys" / "station-key.pem")


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The station's data directory for CLI runs (its station key signs exports)."""
    directory = tmp_path / "station-data"
    directory.mkdir()
    monkeypatch.setenv("STATION_DATA_DIR", str(directory))
    monkeypatch.setenv("STATION_NAME", "line1-reports")
    load_or_create_station_key(directory / "station-key.pem")  # made when the station first ran; exports never make it
    return directory
