"""The supervisor sees the line database's state, and under the 'stop' policy a station whose
line does not answer refuses new scans with the reason on its banner."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from station.app import CompositionRoot
from station.app.windows import build_line_window
from station.config import CA_PASSPHRASE_ENVIRONMENT_VARIABLE, VAULT_PASSPHRASE_ENVIRONMENT_VARIABLE
from station.config.line import LineSettings
from station.config.settings import SlotSettings, StationSettings, save_settings
from station.operations.people import SUPERVISOR
from station.operations.station import StationOptions
from station.sim.demo import DEMO_CA_PASSPHRASE, DEMO_VAULT_PASSPHRASE, prepare_demo
from station.sim.units import SIM_DIR_ENVIRONMENT_VARIABLE

from .conftest import running_qthreads


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("reachable", [True, False])
def test_the_line_database_state_and_the_stop_policy(
    tmp_path: Path, qtbot: Any, monkeypatch: pytest.MonkeyPatch, reachable: bool
) -> None:
    monkeypatch.setenv(SIM_DIR_ENVIRONMENT_VARIABLE, str(tmp_path / "demo" / "sim"))
    monkeypatch.setenv(CA_PASSPHRASE_ENVIRONMENT_VARIABLE, DEMO_CA_PASSPHRASE)
    monkeypatch.setenv(VAULT_PASSPHRASE_ENVIRONMENT_VARIABLE, DEMO_VAULT_PASSPHRASE)
    environment = prepare_demo(tmp_path / "demo")
    unit = environment.create_units(1)[0]
    url = (f"sqlite:///{tmp_path / 'line.db'}" if reachable
           else f"postgresql+psycopg://station@127.0.0.1:{closed_port()}/line")  # fmt: skip
    settings_path = tmp_path / "station.toml"
    save_settings(StationSettings(
        recipe=environment.recipe_path, slots=(SlotSettings("A", unit.probe_id, environment.console_path(unit)),),
        line=LineSettings(database_url=url, policy="stop", grace_seconds=0, forward_every_seconds=0.2),
    ), settings_path)  # fmt: skip
    options = StationOptions(data_dir=environment.paths.data_dir, db_url=environment.paths.db_url,
                             settings_path=settings_path)  # fmt: skip
    station = build_line_window(CompositionRoot(), options, language="en", sounds=False, install_error_hooks=False)
    try:
        qtbot.addWidget(station.window)
        view = station.window.supervisor_view
        line = station.line

        def shown() -> str:
            view.refresh_line()
            return str(view.line_state.text())

        if reachable:
            qtbot.waitUntil(lambda: shown().startswith("connected, all forwarded"), timeout=20_000)
            assert "LINE_OFFLINE" not in [code for code, _ in line.readiness_problems()]
        else:
            qtbot.waitUntil(lambda: shown().startswith("offline since"), timeout=20_000)
            problems = dict(line.readiness_problems())
            assert problems.get("LINE_OFFLINE") == (
                "The line database does not answer: no new unit until it does. Call a supervisor.")
    finally:
        station.close()
        unit.close()
    assert not running_qthreads()


def test_under_stop_scans_are_refused_while_the_line_is_away_and_resume_when_it_returns(
    tmp_path: Path, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import postgres_server

    reason = postgres_server.unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    monkeypatch.setenv(SIM_DIR_ENVIRONMENT_VARIABLE, str(tmp_path / "demo" / "sim"))
    monkeypatch.setenv(CA_PASSPHRASE_ENVIRONMENT_VARIABLE, DEMO_CA_PASSPHRASE)
    monkeypatch.setenv(VAULT_PASSPHRASE_ENVIRONMENT_VARIABLE, DEMO_VAULT_PASSPHRASE)
    environment = prepare_demo(tmp_path / "demo")
    unit = environment.create_units(1)[0]
    with postgres_server.throwaway_server() as server, environment.console_server() as consoles:
        consoles.wait_for_port(unit.unit_id)
        address = urlsplit(server.url)
        pgpass = tmp_path / "pgpass"
        pgpass.write_text(f"127.0.0.1:{address.port}:*:{address.username}:{address.password}\n")
        pgpass.chmod(0o600)
        monkeypatch.setenv("PGPASSFILE", str(pgpass))
        settings_path = tmp_path / "station.toml"
        save_settings(StationSettings(
            recipe=environment.recipe_path, slots=(SlotSettings("A", unit.probe_id, environment.console_path(unit)),),
            line=LineSettings(database_url=f"postgresql+psycopg://{address.username}@127.0.0.1:{address.port}"
                                           f"{address.path}", policy="stop", grace_seconds=1,
                              forward_every_seconds=0.2),
        ), settings_path)  # fmt: skip
        options = StationOptions(data_dir=environment.paths.data_dir, db_url=environment.paths.db_url,
                                 settings_path=settings_path)  # fmt: skip
        station = build_line_window(CompositionRoot(), options, language="en", sounds=False,
                                    install_error_hooks=False)  # fmt: skip
        try:
            qtbot.addWidget(station.window)
            line = station.line
            station.operations.people.add("sue", SUPERVISOR, "4711")
            line.sign_in("sue", "4711")

            def refused() -> bool:
                return "LINE_OFFLINE" in dict(line.readiness_problems())

            qtbot.waitUntil(lambda: station.operations.line_link is not None
                            and station.operations.line_link.state().connected, timeout=20_000)  # fmt: skip
            assert not refused()
            server.stop_immediately()
            qtbot.waitUntil(refused, timeout=30_000)
            # A scan now: refused with the line's reason on the banner, and the unit not started.
            assert not line.start_unit("TST-000501")
            assert "line database does not answer" in line.banner.text and not line.slot_states["A"].running
            server.start_again()
            qtbot.waitUntil(lambda: not refused(), timeout=30_000)
            assert line.start_unit("TST-000502")  # scans resume once the line answers
            qtbot.waitUntil(lambda: not line.slot_states["A"].running and line.slot_states["A"].outcome is not None,
                            timeout=60_000)  # fmt: skip
            assert line.slot_states["A"].outcome is not None and line.slot_states["A"].outcome.passed
        finally:
            station.close()
            unit.close()
    assert not running_qthreads()
