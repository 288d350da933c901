"""The station settings' ``[shift]``: when the line's shifts start, read strictly, written back."""

from __future__ import annotations

from datetime import time
from pathlib import Path

import pytest

from station.config.settings import StationSettings, load_settings, save_settings
from station.domain.errors import SettingsError
from station.domain.selftest import ShiftSchedule


def test_shift_starts_are_read_in_order_and_written_back(tmp_path: Path) -> None:
    path = tmp_path / "station.toml"
    assert load_settings(tmp_path / "none.toml").shift == ShiftSchedule((time(0, 0),))  # one shift a day
    path.write_text('[shift]\nstarts = ["22:00", "06:00", "14:00"]\n')
    assert load_settings(path).shift == ShiftSchedule((time(6), time(14), time(22)))
    settings = StationSettings(shift=ShiftSchedule((time(7, 30), time(19, 30))))
    save_settings(settings, path)
    assert 'starts = ["07:30", "19:30"]' in path.read_text(encoding="utf-8")
    assert load_settings(path) == settings


@pytest.mark.parametrize(
    ("text", "refusal"),
    [
        ("starts = []", r"\[shift\] starts: must be a non-empty array of local times"),
        ('starts = "06:00"', r"\[shift\] starts: must be a non-empty array of local times"),
        ('starts = ["6:00"]', r"\[shift\] starts: '6:00' is not a time of day as HH:MM \(00:00 to 23:59\)"),
        ('starts = ["24:00"]', r"\[shift\] starts: '24:00' is not a time of day"),
        ("starts = [600]", r"\[shift\] starts: an integer is not a time of day"),
        ('starts = ["06:00", "06:00"]', r"\[shift\] starts: 06:00 is given twice"),
        ('begins = ["06:00"]', r"\[shift\] begins: unknown key"),
    ],
)
def test_a_wrong_shift_table_is_refused_naming_its_key(tmp_path: Path, text: str, refusal: str) -> None:
    path = tmp_path / "station.toml"
    path.write_text(f"[shift]\n{text}\n")
    with pytest.raises(SettingsError, match=refusal):
        load_settings(path)
