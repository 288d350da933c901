"""The operator application's parts that need no running station: scan timing, counters, sounds.
(Translations are tested in test_translations.py; settings and people, which are not the
window's, in tests/config and tests/operations, without Qt.)"""

from __future__ import annotations

from station.gui.resources import SOUNDS_DIR
from station.gui.scanning import KeystrokeScanDetector, ScanDebouncer
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


# ---- sounds -----------------------------------------------------------------------------


def test_committed_sounds_are_what_the_code_generates() -> None:
    for name in SOUND_NAMES:
        assert (SOUNDS_DIR / f"{name}.wav").read_bytes() == render_wav(name), (
            f"resources/sounds/{name}.wav is stale: run `python -m station.gui.sounds` and commit it"
        )


def test_tiles_go_in_one_row_up_to_three_then_two_rows_up_to_eight() -> None:
    """Eight slots as two rows of four (a window that fits a 1080 screen; three rows made 1,600)."""
    from station.gui.operator_view import tile_columns

    columns = {slots: tile_columns(slots) for slots in range(1, 13)}
    assert columns == {1: 1, 2: 2, 3: 3, 4: 2, 5: 3, 6: 3, 7: 4, 8: 4, 9: 3, 10: 4, 11: 4, 12: 4}
    rows = {slots: -(-slots // columns[slots]) for slots in columns}
    assert all(rows[slots] <= 2 for slots in range(1, 9))


def test_operator_words_follow_the_error_tree() -> None:
    """A code without a sentence of its own gets its nearest ancestor's (ACTIVATION_403 the refused
    activation's, TOKEN_LIMIT the vault's); an unknown code still gets words."""
    from station.gui.wording import plain_words

    assert plain_words("ACTIVATION_403") == plain_words("ACTIVATION_REFUSED") != plain_words("CONSOLE")
    assert plain_words("TOKEN_LIMIT") == plain_words("VAULT")
    assert plain_words("CONSOLE_GARBLED") != plain_words("CONSOLE")
    assert plain_words("MAY_BE_LOCKED") != plain_words("INTERRUPTED")
    assert plain_words("WORK_ORDER_COMPLETE") == (
        "This work order is complete. Put the unit aside and call a supervisor."
    )
    assert plain_words("NOT_A_CODE") == "The unit failed. Put it aside for a supervisor."
    assert plain_words(None) == "Station problem. Call an engineer."
