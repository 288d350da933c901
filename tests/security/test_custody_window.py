"""The window of a station whose CA and vault keys live in a token: no passphrase is asked for
either, the views say where the keys are, and both open with the token alone."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from station.app import CompositionRoot, main
from station.app.windows import build_line_window
from station.config.settings import SlotSettings, load_settings, save_settings
from station.operations.station import StationOptions
from station.sim.demo import prepare_demo

from .softhsm import USER_PIN, SoftHsm
from .test_custody_line import TOKEN, demo_tokens, token_station


def test_the_window_opens_a_token_ca_and_vault_without_passphrases(
    tmp_path: Path, softhsm: SoftHsm, qtbot: Any, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    monkeypatch.setenv("STATION_SIM_DIR", str(tmp_path / "demo" / "sim"))
    for name in ("STATION_CA_PASSPHRASE", "STATION_VAULT_PASSPHRASE", "STATION_DATA_DIR", "STATION_DB_URL"):
        monkeypatch.delenv(name, raising=False)
    environment = prepare_demo(tmp_path / "demo")
    data = token_station(tmp_path / "line-data", tmp_path)
    where = ["--data-dir", str(data)]
    assert main(["ca", "init", "--pkcs11", f"{TOKEN};object=factory-ca", *where]) == 0
    assert main(["db", "upgrade", *where]) == 0
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("\n".join(demo_tokens(environment, 2)) + "\n", encoding="utf-8")
    assert main(["tokens", "import", "--file", str(tokens), "--product", "ACME-TOASTER", *where]) == 0
    unit = environment.units.create_unit()
    settings_path = data / "station.toml"
    slot = SlotSettings("A", unit.probe_id, environment.console_path(unit))
    settings = replace(load_settings(settings_path), recipe=environment.recipe_for("nrf52840"), slots=(slot,))
    save_settings(settings, settings_path)
    station = build_line_window(CompositionRoot(), StationOptions(data_dir=data, settings_path=settings_path),
                                language="en", sounds=False, install_error_hooks=False)  # fmt: skip
    try:
        qtbot.addWidget(station.window)
        window = station.window
        engineer, supervisor = window.engineer_view, window.supervisor_view
        engineer.refresh()
        supervisor.refresh()
        assert "its key is in the token" in engineer.ca_state.text()
        assert engineer.ca_passphrase.isHidden() and engineer.create_ca_button.isHidden()
        assert "its key is in the token" in supervisor.vault_state.text() and supervisor.vault_passphrase.isHidden()
        production = station.line.station.production
        assert production.open_ca("", "eve") and production.ca_in_token()  # the PIN file, no passphrase
        production.unlock_vault("", "sam")
        assert production.vault is not None
        engineer.refresh()
        supervisor.refresh()
        assert engineer.ca_state.text() == "open for this recipe" and supervisor.vault_state.text() == "unlocked"
    finally:
        station.close()
        unit.close()
    assert USER_PIN not in capsys.readouterr().out
