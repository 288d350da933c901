"""Two stations on one line database (issue 19's must-show, on simulated units through
``station provision``): each provisions its units in a process of its own, with its own SQLite
journal; the line database (PostgreSQL) is stopped with ``pg_ctl stop -m immediate`` in the middle
and started again. Under the ``continue`` policy both go on; every record reaches the line once,
in order; ``db verify --against-line`` is clean for both; a serial passed at both stations while
the line was away is a conflict to inspect once both have forwarded."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import postgres_server
import pytest

from station.config.line import LineSettings
from station.config.settings import StationSettings, save_settings
from station.sim.demo import DEMO_CA_PASSPHRASE, DEMO_VAULT_PASSPHRASE, prepare_demo
from station.store import open_database
from station.store.forwarding import compare_with_line
from station.store.line import SERIAL_PASSED_TWICE, LineDatabase

WORKER = Path(__file__).with_name("line_station_provisioner.py")
PER_STATION = 20  # units each (issue 19's figure)
AWAY_AFTER, BACK_AFTER = 6, 14  # the line stops after each station's 6th unit, returns after its 14th
SHARED_SERIAL = "TST-000999"  # scanned at both stations while the line is away (their 8th unit)


def test_two_stations_through_a_line_outage(line_server: postgres_server.RunningServer, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("STATION_SIM_DIR", str(tmp_path / "demo" / "sim"))
    environment = prepare_demo(tmp_path / "demo")
    address = urlsplit(line_server.url)
    pgpass = tmp_path / "pgpass"  # the password never in the settings: libpq reads it here
    pgpass.write_text(f"127.0.0.1:{address.port}:*:{address.username}:{address.password}\n")
    pgpass.chmod(0o600)
    line_url = f"postgresql+psycopg://{address.username}@127.0.0.1:{address.port}{address.path}"
    recipe = str(environment.recipe_for("nrf52840"))
    away, back = tmp_path / "line-away", tmp_path / "line-back"
    gates = f"{AWAY_AFTER}={away},{BACK_AFTER}={back}"
    stations: dict[str, tuple[Path, Path]] = {}
    workers: list[subprocess.Popen[str]] = []
    with environment.console_server() as consoles:
        for index, station in enumerate(("st-a", "st-b")):
            data = tmp_path / station
            # Each station its own journal (a copy of the demo's: its CA, vault and tokens), CA and vault.
            shutil.copytree(environment.paths.data_dir, data)
            save_settings(StationSettings(line=LineSettings(database_url=line_url, policy="continue",
                                                            forward_every_seconds=0.2)), data / "station.toml")
            units = []
            for number in range(1, PER_STATION + 1):
                unit = environment.units.create_unit()
                consoles.wait_for_port(unit.unit_id)
                serial = SHARED_SERIAL if number == AWAY_AFTER + 2 else f"TST-{index + 1}{number:05d}"
                units.append(f"{serial}|{unit.probe_id}|{environment.console_path(unit)}")
            progress = tmp_path / f"{station}.progress"
            stations[station] = (data, progress)
            environ = {**os.environ, "STATION_NAME": station, "PGPASSFILE": str(pgpass),
                       "STATION_CA_PASSPHRASE": DEMO_CA_PASSPHRASE, "STATION_VAULT_PASSPHRASE": DEMO_VAULT_PASSPHRASE}
            workers.append(subprocess.Popen(
                [sys.executable, str(WORKER), str(data), recipe, str(progress), gates, *units],
                env=environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))  # fmt: skip

        def done(station: str) -> int:
            progress = stations[station][1]
            return int(progress.read_text().split()[0]) if progress.exists() else 0

        def wait_until(condition: Callable[[], bool], what: str) -> None:
            deadline = time.monotonic() + 240
            while not condition():
                for worker in workers:
                    if worker.poll() not in (None, 0):
                        pytest.fail(f"a station ended while waiting until {what}: {worker.communicate()[1][-3000:]}")
                assert time.monotonic() < deadline, f"timed out waiting until {what}"
                time.sleep(0.05)

        try:
            wait_until(lambda: all(done(station) >= AWAY_AFTER for station in stations), "the first units ran")
            line_server.stop_immediately()
            away.touch()
            wait_until(lambda: all(done(station) >= BACK_AFTER for station in stations), "units ran while away")
            line_server.start_again()
            back.touch()
            wait_until(lambda: all(done(station) >= PER_STATION for station in stations), "every unit ran")
            errors = []
            for worker in workers:
                _, err = worker.communicate(timeout=240)
                assert worker.returncode == 0, err[-3000:]
                errors.append(err)
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.kill()

    line = LineDatabase(line_server.url)
    try:
        for station, (data, progress) in stations.items():
            results = progress.read_text().split()[1:-1]
            assert results == [f"{unit.split('=')[0]}=0" for unit in results], (results, errors)  # every unit PASSED
            database = open_database(f"sqlite:///{data / 'station.db'}")
            try:
                held = line.entries(station)
                assert [entry.sequence for entry in held] == list(range(1, database.last_sequence() + 1))
                comparison = compare_with_line(database, line, station)
                assert comparison.ok and comparison.line_sequence == comparison.local_sequence, comparison.problems
            finally:
                database.dispose()
            verified = subprocess.run(
                [sys.executable, "-m", "station", "db", "verify", "--against-line", "--data-dir", str(data)],
                capture_output=True, text=True, check=False, env={**os.environ, "STATION_NAME": station,
                                                                  "PGPASSFILE": str(pgpass)},
            )  # fmt: skip
            assert verified.returncode == 0 and "line OK" in verified.stdout, verified.stdout + verified.stderr
        line.find_conflicts()
        assert [(kind, subject, stations) for kind, subject, stations, _ in line.conflicts()] == [
            (SERIAL_PASSED_TWICE, SHARED_SERIAL, "st-a,st-b")]  # fmt: skip
    finally:
        line.dispose()
