"""The golden-unit self-test's pure parts: the recipe's ``[selftest]`` table, how long a pass
counts, when a shift starts, and the rule that judges a unit against its reference."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

import pytest

from station.domain.errors import RecipeError
from station.domain.recipe_loader import load_recipe
from station.domain.selftest import (
    CHECK_CONSOLE,
    CHECK_DEVICE_ID,
    CHECK_IMAGES,
    CHECK_LOCK,
    CHECKS,
    CheckOutcome,
    ConsoleIdentity,
    GoldenReference,
    ImageHash,
    SelfTestSettings,
    ShiftSchedule,
    UnitReading,
    checks_from_text,
    checks_to_text,
    describe_validity,
    failure_reason,
    firmware_version_of,
    judge,
    parse_validity,
)

from .recipe_support import RecipeFactory

DEVICE = "00AB12CD34EF5678"
IMAGES = (ImageHash("bootloader", "a" * 64), ImageHash("application", "b" * 64))
CONSOLE = ConsoleIdentity("1.4.2", DEVICE, f"acme-toaster-{DEVICE}", "c" * 64)


def reference(*, locked: bool = True, images: tuple[ImageHash, ...] = IMAGES) -> GoldenReference:
    return GoldenReference("TST-000001", DEVICE, images, locked, CONSOLE, "attempt 1", "sue", id=1)


def reading(**changes: Any) -> UnitReading:
    values: dict[str, Any] = {"probe_id": "sim:unit-0001", "locked": True, "device_id": DEVICE,
                              "device_id_from": "console", "images": None, "console": CONSOLE,
                              "problems": {CHECK_IMAGES: "locked"}}  # fmt: skip
    values.update(changes)
    return UnitReading(**values)


def outcomes(checks: tuple[Any, ...]) -> dict[str, CheckOutcome]:
    return {check.name: check.outcome for check in checks}


# ---- the recipe's [selftest] ----------------------------------------------------------------


def test_a_recipe_without_selftest_names_no_golden_unit_and_requires_nothing(recipes: RecipeFactory) -> None:
    assert load_recipe(recipes.write()).selftest == SelfTestSettings()


def test_the_selftest_table_loads(recipes: RecipeFactory) -> None:
    document = recipes.document()
    document["selftest"] = {"golden": ["TST-000001", "00ab12cd34ef5678"], "required": True, "valid_for": "1h30m"}
    settings = load_recipe(recipes.write(document)).selftest
    assert settings.golden == ("TST-000001", "00ab12cd34ef5678") and settings.required
    assert settings.valid_for == timedelta(hours=1, minutes=30)
    assert settings.names("TST-000001", None) and settings.names("TST-000002", DEVICE)
    assert not settings.names("TST-000002", "1111111111111111")


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ({"golden": "TST-000001"}, "[selftest] golden: must be an array of serials or device ids, not a string"),
        ({"golden": [1]}, "[selftest] golden: entry 1 must be a string (a serial or a device id), not an integer"),
        ({"golden": ["TST 1"]}, "[selftest] golden: entry 1 ('TST 1') is not a serial or a device id"),
        ({"golden": ["TST-1", "tst-1"]}, "[selftest] golden: tst-1 is named twice"),
        ({"required": True}, "[selftest] required: a required self-test needs its golden unit"),
        ({"required": "yes"}, "[selftest] required: must be true or false, not a string"),
        ({"golden": ["TST-1"], "valid_for": "8 hours"}, "[selftest] valid_for: '8 hours' is neither \"shift\" nor"),
        ({"golden": ["TST-1"], "valid_for": "0m"}, "[selftest] valid_for: '0m' must be at least 1 minute"),
        ({"golden": ["TST-1"], "valid_for": "200h"}, "[selftest] valid_for: '200h' must be at least 1 minute and"),
        ({"golden": ["TST-1"], "golden_unit": "x"}, "[selftest] golden_unit: unknown key"),
    ],
)
def test_a_wrong_selftest_table_is_refused_naming_its_key(
    recipes: RecipeFactory, table: dict[str, Any], expected: str
) -> None:
    document = recipes.document()
    document["selftest"] = table
    path = recipes.write(document)
    with pytest.raises(RecipeError) as refused:
        load_recipe(path)
    assert expected in str(refused.value)


def test_validity_reads_shift_or_a_duration_and_says_it_back() -> None:
    assert parse_validity("shift") is None and describe_validity(None) == "the current shift"
    for text, duration in {"8h": timedelta(hours=8), "90m": timedelta(minutes=90),
                           "1h30m": timedelta(minutes=90)}.items():  # fmt: skip
        assert parse_validity(text) == duration
    assert describe_validity(timedelta(hours=8)) == "8h" and describe_validity(timedelta(minutes=90)) == "1h30m"
    for wrong in ("", "h", "8", "-1h", "1d"):
        with pytest.raises(ValueError, match="neither"):
            parse_validity(wrong)


# ---- shifts ------------------------------------------------------------------------------------


def test_the_shift_started_at_the_latest_start_at_or_before_now() -> None:
    local = datetime(2026, 3, 10, 15, 30).astimezone()  # 15:30 in the station's own time zone
    three_shifts = ShiftSchedule((time(6), time(14), time(22)))
    assert three_shifts.start_of_shift(local) == datetime(2026, 3, 10, 14, 0).astimezone().astimezone(UTC)
    early = datetime(2026, 3, 10, 3, 0).astimezone()  # the night shift began yesterday at 22:00
    assert three_shifts.start_of_shift(early) == datetime(2026, 3, 9, 22, 0).astimezone().astimezone(UTC)
    assert ShiftSchedule().start_of_shift(local) == datetime(2026, 3, 10, 0, 0).astimezone().astimezone(UTC)
    exactly = datetime(2026, 3, 10, 6, 0).astimezone()
    assert three_shifts.start_of_shift(exactly) == exactly.astimezone(UTC)


# ---- the rule ----------------------------------------------------------------------------------


def test_a_locked_golden_unit_as_recorded_passes_every_check() -> None:
    checks = judge(reference(), reading(), IMAGES, "1.4.2")
    assert [check.name for check in checks] == list(CHECKS)
    assert all(check.passed for check in checks), checks
    assert "locked, so its flash cannot be read back" in checks[1].detail
    assert failure_reason(checks) == ""


def test_an_unlocked_golden_unit_has_its_images_read_back() -> None:
    unlocked = reading(locked=False, images=IMAGES, device_id_from="debug port", problems={})
    assert all(check.passed for check in judge(reference(locked=False), unlocked, IMAGES, "1.4.2"))
    changed = (IMAGES[0], ImageHash("application", "d" * 64))
    checks = judge(reference(locked=False), reading(locked=False, images=changed, problems={}), IMAGES, "1.4.2")
    assert outcomes(checks)[CHECK_IMAGES] is CheckOutcome.FAILED
    assert "application reads back dddddddddddd…, the recipe's and the reference's is bbbbbbbbbbbb…" in checks[1].detail


def test_another_unit_on_the_probe_fails_device_id_and_console() -> None:
    other = "1111222233334444"
    stranger = ConsoleIdentity("1.4.2", other, f"acme-toaster-{other}", "e" * 64)
    checks = judge(reference(), reading(device_id=other, console=stranger), IMAGES, "1.4.2")
    assert outcomes(checks) == {CHECK_DEVICE_ID: CheckOutcome.FAILED, CHECK_IMAGES: CheckOutcome.PASSED,
                                CHECK_LOCK: CheckOutcome.PASSED, CHECK_CONSOLE: CheckOutcome.FAILED}  # fmt: skip
    reason = failure_reason(checks)
    assert f"the unit on the probe is device {other}, golden unit TST-000001 is device {DEVICE}" in reason
    assert f"device id '{other}', recorded '{DEVICE}'" in reason


def test_a_lock_state_other_than_recorded_fails() -> None:
    checks = judge(reference(), reading(locked=False, images=IMAGES, problems={}), IMAGES, "1.4.2")
    assert outcomes(checks)[CHECK_LOCK] is CheckOutcome.FAILED
    assert checks[2].detail == "unlocked, the golden unit was recorded locked"


def test_a_reference_of_other_images_than_the_recipes_fails_whatever_the_unit() -> None:
    new_recipe = (IMAGES[0], ImageHash("application", "f" * 64))
    checks = judge(reference(), reading(), new_recipe, "1.4.2")
    assert outcomes(checks)[CHECK_IMAGES] is CheckOutcome.FAILED
    assert "the golden unit was recorded with other images than the recipe's: application" in checks[1].detail


def test_a_locked_unit_whose_firmware_no_longer_answers_fails_images_and_console() -> None:
    silent = reading(console=None, problems={CHECK_IMAGES: "locked", CHECK_CONSOLE: "the unit answered 'ver' with "
                                             "an error: no valid application"})  # fmt: skip
    checks = judge(reference(), silent, IMAGES, "1.4.2")
    assert outcomes(checks)[CHECK_IMAGES] is CheckOutcome.FAILED
    assert outcomes(checks)[CHECK_CONSOLE] is CheckOutcome.FAILED
    assert "no valid application" in checks[3].detail


def test_parts_not_read_fail_their_checks_saying_why() -> None:
    nothing = UnitReading("sim:unit-0001", problems={CHECK_LOCK: "probe sim:unit-0001 is not connected",
                                                     CHECK_DEVICE_ID: "probe sim:unit-0001 is not connected",
                                                     CHECK_IMAGES: "probe sim:unit-0001 is not connected",
                                                     CHECK_CONSOLE: "no reply within 0.5 s"})  # fmt: skip
    checks = judge(reference(), nothing, IMAGES, "1.4.2")
    assert not any(check.passed for check in checks)
    assert checks[0].detail == "not read: probe sim:unit-0001 is not connected"
    assert checks[3].detail == "no answer: no reply within 0.5 s"


def test_checks_survive_the_store_text_and_a_recipe_text_gives_its_version() -> None:
    checks = judge(reference(), reading(device_id="1111222233334444"), IMAGES, "1.4.2")
    assert checks_from_text(checks_to_text(checks)) == checks
    assert firmware_version_of('schema = 1\nfirmware_version = "2.0"\n') == "2.0"
    assert firmware_version_of("not toml [") == ""
