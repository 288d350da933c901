"""``station line status|forward`` and ``station db verify --against-line`` on a demo station's
records, with a line database of its own; the line's policy when the line does not answer."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

from station.app import main
from station.config.line import LineSettings
from station.config.settings import StationSettings, save_settings
from station.operations.line_link import LineLink
from station.store import open_database


def test_a_station_forwards_to_the_line_and_a_lost_entry_is_found_against_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("STATION_SIM_DIR", str(tmp_path / "demo" / "sim"))
    monkeypatch.setenv("STATION_NAME", "line-1-station-4")
    demo = tmp_path / "demo"
    assert main(["demo", "--headless", "--units", "2", "--demo-dir", str(demo)]) == 0
    data = demo / "data"
    line_url = f"sqlite:///{tmp_path / 'line.db'}"
    save_settings(StationSettings(line=LineSettings(database_url=line_url, policy="continue")), data / "station.toml")
    where = ["--data-dir", str(data)]
    capsys.readouterr()

    assert main(["line", "status", *where]) == 0
    status = capsys.readouterr().out
    assert "reached; it holds entries 1..0 of station line-1-station-4" in status and "waiting" in status
    assert main(["line", "forward", *where]) == 0
    assert "forwarded" in capsys.readouterr().out
    assert main(["line", "status", *where]) == 0
    assert "(0 waiting)" in capsys.readouterr().out
    assert main(["db", "verify", "--against-line", *where]) == 0
    assert "line OK: the line holds entries 1.." in capsys.readouterr().out

    # The station's database replaced by an older copy after the line saw more: found.
    shutil.copy(data / "station.db", tmp_path / "older.db")
    for suffix in ("-wal", "-shm"):
        if (data / f"station.db{suffix}").exists():
            shutil.copy(data / f"station.db{suffix}", tmp_path / f"older.db{suffix}")
    assert main(["demo", "--headless", "--units", "1", "--demo-dir", str(demo)]) == 0
    assert main(["line", "forward", *where]) == 0
    for suffix in ("", "-wal", "-shm"):
        (data / f"station.db{suffix}").unlink(missing_ok=True)
        if (tmp_path / f"older.db{suffix}").exists():
            shutil.copy(tmp_path / f"older.db{suffix}", data / f"station.db{suffix}")
    capsys.readouterr()
    assert main(["db", "verify", "--against-line", *where]) == 1
    out = capsys.readouterr().out
    assert "line BAD" in out and "entries are gone here" in out
    assert main(["line", "forward", *where]) == 1
    assert "it lost entries" in capsys.readouterr().out


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("policy", ["stop", "continue"])
def test_the_lines_policy_when_it_does_not_answer(tmp_path: Path, policy: str) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'station.db'}")
    database.upgrade()
    settings = LineSettings(database_url=f"postgresql+psycopg://station@127.0.0.1:{closed_port()}/line",
                            policy=policy, grace_seconds=0)  # fmt: skip
    link = LineLink(database, settings, "st-9")
    try:
        assert link.refusal() is None  # not tried yet: nothing known to be away
        link.claim("TST-000001")  # the line away: the station's own journal decides (no error)
        link.release("TST-000001", passed=True)
        with pytest.raises(Exception, match="does not answer"):
            link.forward_now()
        state = link.state()
        assert not state.connected and state.offline_since is not None and "offline since" in state.describe()
        refusal = link.refusal()
        if policy == "stop":
            assert refusal is not None and refusal.code == "LINE_OFFLINE" and "policy is stop" in str(refusal)
        else:
            assert refusal is None
    finally:
        link.close()
        database.dispose()
