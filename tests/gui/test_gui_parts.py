"""The operator application's parts that need no running station: settings, PINs, scan timing,
counters, sounds, translations."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from station.domain.errors import ConfigurationError
from station.domain.records import OperatorRecord
from station.gui.i18n import compile_translations, lrelease_command
from station.gui.people import AccessError, People, hash_pin, verify_pin
from station.gui.resources import LANGUAGES, SOUNDS_DIR, translation_source
from station.gui.scanning import KeystrokeScanDetector, ScanDebouncer
from station.gui.settings import (
    ScannerSettings,
    SlotSettings,
    StationSettings,
    load_settings,
    save_settings,
)
from station.gui.sounds import SOUND_NAMES, render_wav

# ---- scan timing -------------------------------------------------------------------------------


def type_text(detector: KeystrokeScanDetector, text: str, start: float, gap: float) -> float:
    at = start
    for character in text:
        detector.key(character, at)
        at += gap
    return at


def test_keys_at_scanner_speed_make_a_scan() -> None:
    detector = KeystrokeScanDetector(max_gap_seconds=0.05, minimum_length=4)
    end = type_text(detector, "TST-000001", 10.0, 0.004)
    assert detector.end(end) == "TST-000001"


def test_keys_at_human_speed_never_make_a_scan() -> None:
    detector = KeystrokeScanDetector(max_gap_seconds=0.05, minimum_length=4)
    end = type_text(detector, "TST-000001", 10.0, 0.15)
    assert detector.end(end) is None
    assert not detector.collecting


def test_a_slow_start_then_a_fast_burst_keeps_only_the_burst() -> None:
    detector = KeystrokeScanDetector(max_gap_seconds=0.05, minimum_length=4)
    detector.key("x", 1.0)
    end = type_text(detector, "TST-000002", 2.0, 0.003)
    assert detector.end(end) == "TST-000002"


def test_a_late_end_key_or_a_short_burst_is_not_a_scan() -> None:
    detector = KeystrokeScanDetector(max_gap_seconds=0.05, minimum_length=4)
    end = type_text(detector, "TST-000003", 1.0, 0.003)
    assert detector.end(end + 0.5) is None
    end = type_text(detector, "ab", 5.0, 0.003)
    assert detector.end(end) is None


def test_the_same_scan_within_the_window_is_dropped() -> None:
    now = [100.0]
    debouncer = ScanDebouncer(1.5, clock=lambda: now[0])
    assert debouncer.accept("TST-000001")
    now[0] += 0.5
    assert not debouncer.accept("TST-000001")
    assert debouncer.accept("TST-000002")
    now[0] += 0.2
    assert debouncer.accept("TST-000001")  # another scan came between: not a double trigger
    now[0] += 2.0
    assert debouncer.accept("TST-000001")


# ---- settings ------------------------------------------------------------------------------------


def test_settings_round_trip(tmp_path: Path) -> None:
    settings = StationSettings(
        recipe=tmp_path / "recipe.toml",
        work_order='WO "7"',
        slots=(SlotSettings("A", "0240000034544e45", "/dev/serial/by-id/usb-x", "FIX-A"),
               SlotSettings("B", "sim:unit-0002", "/dev/ttyACM1")),
        scanner=ScannerSettings(serial_port="/dev/serial/by-id/scanner", keystroke_gap_ms=30, debounce_seconds=2.5),
        kiosk=True,
        language="es",
    )
    path = tmp_path / "station.toml"
    save_settings(settings, path)
    assert load_settings(path) == settings


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


# ---- people and PINs -----------------------------------------------------------------------------


class MemoryRegistry:
    def __init__(self) -> None:
        self.rows: dict[str, OperatorRecord] = {}

    def get_operator(self, name: str) -> OperatorRecord | None:
        return self.rows.get(name)

    def operators(self) -> list[OperatorRecord]:
        return list(self.rows.values())

    def upsert_operator(self, name: str, role: str = "operator", *, pin_hash: str | None = None) -> OperatorRecord:
        self.rows[name] = OperatorRecord(name, role, pin_hash)
        return self.rows[name]


def test_pins_are_kept_as_slow_salted_hashes() -> None:
    first, second = hash_pin("4711"), hash_pin("4711")
    assert first != second and "4711" not in first
    assert first.startswith("scrypt$")
    assert verify_pin("4711", first)
    assert not verify_pin("4712", first)
    assert not verify_pin("", first)
    assert not verify_pin("4711", "garbage")
    with pytest.raises(AccessError):
        hash_pin("12")


def test_roles_badges_and_pins() -> None:
    people = People(MemoryRegistry())
    people.add("anna", "operator", None)
    people.add("sam", "supervisor", "2468")
    assert people.badge_login("BADGE:anna").name == "anna"
    with pytest.raises(AccessError, match="PIN"):
        people.badge_login("sam")
    with pytest.raises(AccessError, match="unknown badge"):
        people.badge_login("nobody")
    supervisor = people.sign_in("sam", "2468")
    assert supervisor.role == "supervisor"
    with pytest.raises(AccessError):
        people.sign_in("sam", "0000")
    with pytest.raises(AccessError):
        people.sign_in("anna", "")
    people.confirm(supervisor, "2468", "supervisor")
    with pytest.raises(AccessError):
        people.confirm(supervisor, "", "supervisor")
    with pytest.raises(AccessError, match="needs a PIN"):
        people.add("eve", "engineer", None)


# ---- sounds and translations -----------------------------------------------------------------


def test_committed_sounds_are_what_the_code_generates() -> None:
    for name in SOUND_NAMES:
        assert (SOUNDS_DIR / f"{name}.wav").read_bytes() == render_wav(name), (
            f"resources/sounds/{name}.wav is stale: run `python -m station.gui.sounds` and commit it"
        )


def test_translations_cover_the_operator_view_and_are_compiled(tmp_path: Path) -> None:
    """Every string of the operator's screens is translated, and the committed .qm files are current."""
    operator_contexts = {"OperatorMessages", "OperatorView", "SlotTile", "StationLine", "MainWindow", "DemoBar",
                         "OperatorIdDialog", "SignInDialog"}
    for language in LANGUAGES:
        if language == "en":
            continue
        root = ElementTree.parse(translation_source(language)).getroot()
        missing = []
        for context in root.iter("context"):
            name = context.findtext("name")
            if name not in operator_contexts:
                continue
            for message in context.iter("message"):
                translation = message.find("translation")
                if translation is None or not (translation.text or "").strip() or translation.get("type") in (
                    "unfinished", "vanished", "obsolete"):
                    missing.append(f"{name}: {message.findtext('source')}")
        assert not missing, f"{language}: untranslated operator strings: {missing}"
    if lrelease_command() is None:
        pytest.skip("pyside6-lrelease is not installed")
    for compiled in compile_translations(tmp_path):
        committed = translation_source(compiled.stem.split("_", 1)[1]).with_suffix(".qm")
        assert committed.read_bytes() == compiled.read_bytes(), (
            f"{committed.name} is stale: run `python -m station.gui.i18n` and commit it"
        )


def test_tiles_go_in_one_row_up_to_three_then_two_rows_up_to_eight() -> None:
    """Eight slots as two rows of four (a window that fits a 1080 screen; three rows made 1,600)."""
    from station.gui.operator_view import tile_columns

    columns = {slots: tile_columns(slots) for slots in range(1, 13)}
    assert columns == {1: 1, 2: 2, 3: 3, 4: 2, 5: 3, 6: 3, 7: 4, 8: 4, 9: 3, 10: 4, 11: 4, 12: 4}
    rows = {slots: -(-slots // columns[slots]) for slots in columns}
    assert all(rows[slots] <= 2 for slots in range(1, 9))
