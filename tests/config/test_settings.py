"""The station settings: read strictly (the recipes' reader), written atomically, round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.config.settings import (
    AccessSettings,
    ProbeSettings,
    ScannerSettings,
    SlotSettings,
    StationSettings,
    load_settings,
    save_settings,
)
from station.domain.errors import ConfigurationError, SettingsError


def test_settings_round_trip(tmp_path: Path) -> None:
    settings = StationSettings(
        recipe=tmp_path / "recipe.toml",
        work_order='WO "7"',
        slots=(SlotSettings("A", "0240000034544e45", "/dev/serial/by-id/usb-x", "FIX-A"),
               SlotSettings("B", "sim:unit-0002", "/dev/ttyACM1", recipe=tmp_path / "kettle" / "recipe.toml")),
        scanner=ScannerSettings(serial_port="/dev/serial/by-id/scanner", keystroke_gap_ms=30, debounce_seconds=2.5),
        kiosk=True,
        language="es",
    )
    path = tmp_path / "station.toml"
    save_settings(settings, path)
    assert load_settings(path) == settings


def test_a_slot_s_own_recipe_is_read_relative_to_the_settings_file(tmp_path: Path) -> None:
    path = tmp_path / "station.toml"
    path.write_text('recipe = "toaster.toml"\n[[slots]]\nname = "A"\nprobe = "p1"\nconsole = "c"\n'
                    '[[slots]]\nname = "B"\nprobe = "p2"\nconsole = "c2"\nrecipe = "kettle/recipe.toml"\n')
    settings = load_settings(path)
    assert settings.recipe == tmp_path / "toaster.toml"
    assert [slot.recipe for slot in settings.slots] == [None, tmp_path / "kettle" / "recipe.toml"]


def test_unknown_keys_and_bad_slots_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "station.toml"
    path.write_text('schema = 1\nrecipie = "x.toml"\n')
    with pytest.raises(ConfigurationError, match="unknown key"):
        load_settings(path)
    path.write_text(
        '[[slots]]\nname = "A"\nprobe = "p1"\nconsole = "c"\n[[slots]]\nname = "a"\nprobe = "p2"\nconsole = "c"\n'
    )
    with pytest.raises(ConfigurationError, match="two slots"):
        load_settings(path)
    path.write_text('[scanner]\nkeystroke_gap_ms = "fast"\n')
    with pytest.raises(ConfigurationError, match="keystroke_gap_ms"):
        load_settings(path)


def test_missing_settings_file_means_defaults(tmp_path: Path) -> None:
    assert load_settings(tmp_path / "none.toml") == StationSettings()




def test_the_pin_lock_out_is_configurable_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "station.toml"
    path.write_text("[access]\npin_attempts = 3\nlockout_minutes = 30\n")
    assert load_settings(path).access == AccessSettings(pin_attempts=3, lockout_minutes=30)
    settings = StationSettings(access=AccessSettings(pin_attempts=7, lockout_minutes=2))
    save_settings(settings, path)
    assert load_settings(path) == settings
    path.write_text("[access]\npin_attempts = 0\n")
    with pytest.raises(SettingsError, match=r"\[access\] pin_attempts: must be at least 1, not 0"):
        load_settings(path)
    path.write_text("[access]\nlockout = 5\n")
    with pytest.raises(SettingsError, match=r"\[access\] lockout: unknown key"):
        load_settings(path)


def test_a_settings_error_names_the_file_table_and_key(tmp_path: Path) -> None:
    path = tmp_path / "station.toml"
    path.write_text('[scanner]\nbaud_rate = "fast"\n')
    with pytest.raises(SettingsError) as raised:
        load_settings(path)
    assert str(raised.value) == f"{path}: [scanner] baud_rate: must be an integer, not a string"
    path.write_text("kiosk = 1\n")
    with pytest.raises(SettingsError, match=r"kiosk: must be true or false, not an integer"):
        load_settings(path)
    path.write_text("schema = 2\n")
    with pytest.raises(SettingsError, match="this station reads settings schema 1, not 2"):
        load_settings(path)
    path.write_text("not toml [\n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(path)


def test_the_owner_lease_is_configurable_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "station.toml"
    path.write_text("[recovery]\nowner_lease_seconds = 120\n")
    assert load_settings(path).recovery.owner_lease_seconds == 120
    path.write_text("[recovery]\nowner_lease_seconds = 1\n")
    with pytest.raises(SettingsError, match=r"\[recovery\] owner_lease_seconds: must be at least 5, not 1"):
        load_settings(path)


def test_the_swd_clock_is_a_checked_setting(tmp_path: Path) -> None:
    path = tmp_path / "station.toml"
    assert load_settings(tmp_path / "none.toml").probe == ProbeSettings(swd_frequency_hz=4_000_000)
    path.write_text("[probe]\nswd_frequency_hz = 1000000\n")
    assert load_settings(path).probe.swd_frequency_hz == 1_000_000
    settings = StationSettings(probe=ProbeSettings(swd_frequency_hz=250_000))
    save_settings(settings, path)
    assert "[probe]" in path.read_text(encoding="utf-8")
    assert load_settings(path) == settings
    for text, refusal in (
        ("swd_frequency_hz = 0", r"\[probe\] swd_frequency_hz: must be at least 1000, not 0"),
        ("swd_frequency_hz = 100000000", r"\[probe\] swd_frequency_hz: must be at most 50000000, not 100000000"),
        ('swd_frequency_hz = "1 MHz"', r"\[probe\] swd_frequency_hz: must be an integer, not a string"),
        ("swd_frequency = 1000000", r"\[probe\] swd_frequency: unknown key"),
    ):
        path.write_text(f"[probe]\n{text}\n")
        with pytest.raises(SettingsError, match=refusal):
            load_settings(path)


def test_key_custody_settings_round_trip_and_are_checked(tmp_path: Path) -> None:
    from station.config.custody import CustodySettings

    custody = CustodySettings(
        mode="production", pkcs11_module=Path("/usr/lib/softhsm/libsofthsm2.so"),
        ca_key="pkcs11:token=factory;object=ca", station_key="pkcs11:token=factory;object=station",
        vault_key="pkcs11:token=factory;object=vault", pin_file=tmp_path / "pin", pin_credential="station-pin",
    )  # fmt: skip
    path = tmp_path / "station.toml"
    save_settings(StationSettings(custody=custody), path)
    loaded = load_settings(path).custody
    assert loaded == custody and loaded.production and loaded.uses_token
    assert load_settings(tmp_path / "none.toml").custody == CustodySettings()
    assert not CustodySettings().production and not CustodySettings().uses_token
    for line, complaint in (
        ('[custody]\nmode = "testing"\n', "must be one of development, production"),
        ('[custody]\nca_key = "/data/ca-key.pem"\n', "must be a PKCS#11 URI"),
        ('[custody]\npin = "1234"\n', "pin"),
    ):
        path.write_text(line, encoding="utf-8")
        with pytest.raises(SettingsError, match=complaint):
            load_settings(path)


def test_the_line_database_settings_round_trip_and_are_checked(tmp_path: Path) -> None:
    from station.config.line import LineSettings

    line = LineSettings(database_url="postgresql+psycopg://station_line1_st1@line-db.local/station",
                        policy="continue", grace_seconds=45, forward_every_seconds=0.5)  # fmt: skip
    path = tmp_path / "station.toml"
    save_settings(StationSettings(line=line), path)
    assert load_settings(path).line == line and line.configured and not LineSettings().configured
    for text, complaint in (
        ('[line]\ndatabase_url = "postgresql+psycopg://st:secret@db/station"\n', "must not hold a password"),
        ('[line]\ndatabase_url = "mysql://db/station"\n', "PostgreSQL"),
        ('[line]\npolicy = "merge"\n', "must be one of stop, continue"),
        ('[line]\nforward_every_seconds = 0\n', "from 0.1 to 3600"),
        ('[line]\ngrace = 5\n', "grace"),
    ):
        path.write_text(text, encoding="utf-8")
        with pytest.raises(SettingsError, match=complaint):
            load_settings(path)
