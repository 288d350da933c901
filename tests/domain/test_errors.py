"""The one error tree: every failure code is one class, found again from the records' text."""

from __future__ import annotations

import pytest

from station.domain import errors
from station.domain.errors import (
    ActivationBadRequestError,
    ActivationError,
    ActivationForbiddenError,
    ActivationUnauthorizedError,
    ConsoleTimeoutError,
    StationError,
    StepTimeoutError,
    activation_refusal,
    error_class_for,
    known_codes,
)

# Every code the station records, by the class that defines it (issue 12: none of them a string
# that two layers compare).
RECORDED_CODES = {
    "ALREADY_PASSED", "TOKEN_LIMIT", "NO_PROBE", "INTERRUPTED", "INTERRUPTED_LOCKED", "MAY_BE_LOCKED",
    "REWORKED", "STEP_TIMEOUT", "INTERNAL", "FIRMWARE_VERSION", "ACTIVATION_400", "ACTIVATION_401",
    "ACTIVATION_403", "ACTIVATION_REFUSED", "UNIT_LOCKED", "DEVELOPMENT_UNIT", "VERIFY_MISMATCH", "FLASH",
    "PROBE", "LOCK", "CREDENTIAL", "CONSOLE", "CONSOLE_TIMEOUT", "CONSOLE_GARBLED", "CONSOLE_REFUSED",
    "IDENTITY_MISMATCH", "BINDING", "SCAN", "GTIN", "VAULT", "STORE", "ACCESS", "LOCKED_OUT", "PIN_REQUIRED",
}  # fmt: skip


def test_every_recorded_code_has_its_class_and_each_class_its_own_code() -> None:
    assert RECORDED_CODES <= known_codes()
    classes = [value for value in vars(errors).values() if isinstance(value, type) and issubclass(value, StationError)]
    defined = [cls.code for cls in classes if "code" in cls.__dict__]
    assert len(defined) == len(set(defined))
    for cls in classes:
        if "code" in cls.__dict__:
            assert error_class_for(cls.code) is cls


def test_a_second_class_with_a_code_is_refused_at_import() -> None:
    with pytest.raises(TypeError, match="error code FLASH is defined twice"):

        class AnotherFlashError(StationError):
            code = "FLASH"


def test_an_unknown_code_from_old_records_is_a_station_error() -> None:
    assert error_class_for("SOMETHING_ELSE") is StationError
    assert error_class_for(None) is StationError


def test_a_refused_activation_is_classed_by_the_services_status() -> None:
    cases = {
        "400 Bad Request: no valid application": ActivationBadRequestError,
        "401 Unauthorized: unknown token": ActivationUnauthorizedError,
        "403 Forbidden: device is a development unit": ActivationForbiddenError,
        "busy": ActivationError,
        "409 Conflict": ActivationError,
    }
    for body, kind in cases.items():
        refusal = activation_refusal(body, status=1)
        assert type(refusal) is kind and refusal.body == body and refusal.status == 1
        assert str(refusal) == f"activation refused: {body}"


def test_who_needs_a_person_is_a_property_of_the_class() -> None:
    assert errors.UnitLockedError("x").needs_person and errors.VaultError("x").needs_person
    assert errors.TokenLimitError("x").needs_person  # a vault condition
    assert not errors.FlashError("x").needs_person and not ConsoleTimeoutError("x").needs_person
    timeout = StepTimeoutError("flash", 3.0)
    assert (timeout.step, timeout.deadline_seconds, str(timeout)) == (
        "flash", 3.0, "step flash did not finish within its deadline of 3 s"
    )
