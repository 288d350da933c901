"""Commands that only read never create a database or a station key: pointed at a data directory
that holds none, each refuses (exit 2) saying where it looked and why there, names the demo's
records when the demo has made some, and leaves the directory as it was. Every command that
touches the station's files takes the same ``--data-dir`` and ``--db``."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.app import CompositionRoot, main
from station.cli import build_parser
from station.operations.station import StationOptions

from .commands import every_command

READ_ONLY_COMMANDS = [
    ["units", "show", "TST-000001"],
    ["report", "yield"],
    ["report", "export", "--format", "csv", "--out", "{tmp}/out.csv"],
    ["report", "reconcile"],
    ["report", "public-key"],
    ["tokens", "list"],
    ["db", "status"],
    ["db", "verify"],
    ["ca", "show"],
]
# Commands that touch none of the station's files: simulated units live in the sim directory, the
# demo in its own directory. (`recipe check` reads the station's settings and people, when there
# is a station, to say whether the recipe's signature holds here: tests/cli/test_cli_recipe.py.)
WITHOUT_STATION_FILES = {"demo"}


def _run(command: list[str], tmp_path: Path) -> int:
    return main([part.replace("{tmp}", str(tmp_path)) for part in command])


@pytest.mark.parametrize("command", READ_ONLY_COMMANDS, ids=[" ".join(command[:2]) for command in READ_ONLY_COMMANDS])
def test_a_read_only_command_creates_nothing_and_says_where_it_looked(
    command: list[str], station_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(command, tmp_path) == 2
    error = capsys.readouterr().err
    assert str(station_data_dir) in error
    assert "in the data directory $STATION_DATA_DIR names" in error or "no factory CA" in error
    assert not station_data_dir.exists(), "a read-only command created the data directory"
    assert not (tmp_path / "out.csv").exists()


def test_the_refusal_names_the_demo_and_the_line_that_points_a_shell_at_it(
    station_data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    demo = tmp_path / "my demo"
    (demo / "data").mkdir(parents=True)
    (demo / "data" / "station.db").write_bytes(b"")
    monkeypatch.setenv("STATION_DEMO_DIR", str(demo))
    assert main(["report", "yield", "--data-dir", str(tmp_path / "elsewhere")]) == 2
    error = capsys.readouterr().err
    assert f"no station database at {tmp_path / 'elsewhere' / 'station.db'} (in the data directory given with " \
           "--data-dir); run `station db upgrade` to create one" in error
    assert (f"the demo's records are in {demo / 'data'}: point this shell at them with: "
            f"export STATION_DATA_DIR='{demo / 'data'}' STATION_SIM_DIR='{demo / 'sim'}'") in error
    assert main(["units", "show", "TST-1", "--db", f"sqlite:///{tmp_path / 'given.db'}"]) == 2
    assert f"no station database at {tmp_path / 'given.db'} (given with --db)" in capsys.readouterr().err
    assert not (tmp_path / "elsewhere").exists() and not (tmp_path / "given.db").exists()


def test_an_export_is_signed_by_the_station_key_and_never_makes_one(
    station_data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["db", "upgrade"]) == 0
    assert main(["report", "export", "--format", "csv", "--out", str(tmp_path / "out.csv")]) == 2
    assert f"the station key {station_data_dir / 'station-key.pem'} does not exist" in capsys.readouterr().err
    assert not (station_data_dir / "station-key.pem").exists() and not (tmp_path / "out.csv").exists()

    station = CompositionRoot().open_station(StationOptions())  # the station's first run makes its key
    try:
        station.audit.append_audit("engineer", "test.event", "a record for the chain")
        fingerprint = station.station_key.public_key_fingerprint
    finally:
        station.close()
    assert main(["report", "export", "--format", "csv", "--out", str(tmp_path / "out.csv")]) == 0
    assert fingerprint[:16] in capsys.readouterr().out
    assert main(["report", "public-key", "--out", str(tmp_path / "station.pub")]) == 0
    # An auditor's machine, with no station at all: verifies with the public key, creates nothing.
    elsewhere = tmp_path / "auditor"
    assert main(["report", "verify", str(tmp_path / "out.csv"), "--public-key", str(tmp_path / "station.pub"),
                 "--data-dir", str(elsewhere)]) == 0  # fmt: skip
    out = capsys.readouterr().out
    assert "OK:" in out and "the database was not checked (no station database at" in out
    assert not elsewhere.exists()


def test_every_command_with_station_files_takes_the_same_data_dir_and_db_options() -> None:
    commands = every_command(build_parser())
    for name, parser in commands.items():
        options = {option for action in parser._actions for option in action.option_strings}
        if name in WITHOUT_STATION_FILES or name.startswith("sim "):
            assert "--data-dir" not in options and "--db" not in options, name
        else:
            assert {"--data-dir", "--db"} <= options, f"station {name} lacks --data-dir or --db"
    assert {"units show", "report verify", "report public-key", "ca init", "ca show", "gui"} <= set(commands)
