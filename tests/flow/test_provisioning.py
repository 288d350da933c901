"""The per-unit sequence end to end: real pyOCD on simulated units, real ptys, the real store."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest

from station.domain.errors import RecipeError
from station.domain.formats import CredentialBundle, decode_key_store
from station.domain.records import AttemptResult, CredentialState, JournalState, StepOutcome
from station.sim import board
from station.sim.units import Faults, SimUnit, lock_unit_as_delivered

from .conftest import Line, variant_recipe

ALL_STEPS = ["connect", "flash", "verify", "credentials", "lock", "lock-confirm", "activate", "identity"]


def set_faults(unit: SimUnit, **faults: object) -> None:
    with unit.locked():
        unit.info.faults = Faults(**faults)  # type: ignore[arg-type]


def flash_of(unit: SimUnit) -> bytes:
    return unit.read_nvm(0, board.FLASH_SIZE)


def test_three_units_in_a_row(line: Line) -> None:
    serials = ["TST-000101", "TST-000102", "TST-000103"]
    units = [line.new_unit() for _ in serials]
    outcomes = [line.provision(serial, unit) for serial, unit in zip(serials, units, strict=True)]
    assert [outcome.summary for outcome in outcomes] == [f"PASS {serial}" for serial in serials]

    directory = {device.device_id for device in line.environment.service.devices_in("ACME-TOASTER")}
    for serial, unit, outcome in zip(serials, units, outcomes, strict=True):
        info = unit.reload()
        device_id = f"{info.device_id:016X}"
        assert outcome.device_id == device_id
        # Images read back equal.
        for image in line.recipe.images:
            for segment in image.segments:
                assert unit.read_nvm(segment.address, len(segment.data)) == segment.data
        # Credential region valid and holding the certificate the record names.
        region = line.recipe.flash.credentials_region
        bundle = CredentialBundle.decode(unit.read_nvm(region.address, region.size))
        attempt = line.station.database.attempts.latest_attempt(serial)
        assert attempt is not None
        assert hashlib.sha256(bundle.device_certificate).hexdigest() == attempt.certificate_fingerprint
        assert bundle.endpoint_name == f"acme-toaster-{device_id}"
        # Locked after reset, activated, in the service's product directory.
        assert info.protected and not info.ever_erased
        assert info.activated_product == "ACME-TOASTER"
        assert info.device_id in directory
        # The attempt row is complete.
        assert attempt.result is AttemptResult.PASSED and attempt.state is JournalState.PASSED
        assert attempt.station == "line-1-station-1" and attempt.operator == "ann"
        assert attempt.work_order == "WO-1001"
        assert attempt.recipe_hash == line.recipe.content_hash
        assert attempt.image_hashes == tuple(f"{image.name}:{image.sha256}" for image in line.recipe.images)
        assert attempt.device_id == device_id and attempt.probe_id == unit.probe_id
        assert attempt.token_fingerprint is not None and attempt.token_fingerprint.startswith("tok:")
        assert attempt.ended_at is not None and attempt.ended_at >= attempt.started_at
        assert [step.name for step in attempt.steps] == ALL_STEPS
        assert all(step.outcome is StepOutcome.PASSED and step.ended_at is not None for step in attempt.steps)
        credentials = line.station.database.credentials.credentials_for_serial(serial)
        assert [credential.state for credential in credentials] == [CredentialState.INJECTED]


def test_device_generated_plan_end_to_end(device_generated_line: Line) -> None:
    line = device_generated_line
    unit = line.new_unit()
    outcome = line.provision("TST-000201", unit)
    assert outcome.passed, outcome.summary
    region = line.recipe.flash.credentials_region
    bundle = CredentialBundle.decode(unit.read_nvm(region.address, region.size))
    assert bundle.device_private_key is None  # the unit's key never left it
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    device_key = serialization.load_der_private_key(
        decode_key_store(unit.read_nvm(board.KEY_STORE_ADDRESS, board.KEY_STORE_SIZE)), password=None
    )
    certificate = x509.load_der_x509_certificate(bundle.device_certificate)
    public = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    assert certificate.public_key().public_bytes(*public) == device_key.public_key().public_bytes(*public)
    assert unit.reload().activated_product == "ACME-TOASTER"


def test_station_generated_plan_puts_the_key_in_the_bundle(line: Line) -> None:
    unit = line.new_unit()
    assert line.provision("TST-000202", unit).passed
    region = line.recipe.flash.credentials_region
    bundle = CredentialBundle.decode(unit.read_nvm(region.address, region.size))
    assert bundle.device_private_key is not None


# ---- refused before the unit is touched ----------------------------------------------------------


def assert_untouched(line: Line, unit: SimUnit, boots_before: int) -> None:
    info = unit.reload()
    assert info.boot_count == boots_before
    assert flash_of(unit) == b"\xff" * board.FLASH_SIZE


def test_a_scan_that_breaks_the_rule_is_refused(line: Line) -> None:
    unit = line.new_unit()
    outcome = line.provision("TST-12", unit)
    assert not outcome.passed and outcome.failure_step == "scan" and outcome.failure_code == "SCAN"
    assert outcome.attempt_id is None
    assert line.station.database.attempts.latest_attempt("TST-12") is None
    assert_untouched(line, unit, 0)


def test_a_bad_gs1_check_digit_is_refused(make_line: Callable[..., Line]) -> None:
    gs1 = {'kind = "regex"\npattern = "^TST-[0-9]{6}$"': 'kind = "gs1"\napplication_identifier = "21"'}
    line = make_line(replacements=gs1)
    unit = line.new_unit()
    good_gtin, bad_gtin = "09506000134352", "09506000134353"
    refused = line.provision(f"]d201{bad_gtin}21TST-000301", unit)
    assert refused.failure_code == "SCAN" and "check digit" in refused.message
    assert_untouched(line, unit, 0)
    accepted = line.provision(f"]d201{good_gtin}21TST-000301", unit)
    assert accepted.passed, accepted.summary
    assert accepted.serial == "TST-000301"


def test_a_serial_that_already_passed_is_refused(line: Line) -> None:
    unit = line.new_unit()
    assert line.provision("TST-000401", unit).passed
    attempts_before = len(line.station.database.attempts.history("TST-000401"))
    other = line.new_unit()
    outcome = line.provision("TST-000401", other)
    assert outcome.failure_code == "ALREADY_PASSED" and outcome.attempt_id is None
    assert len(line.station.database.attempts.history("TST-000401")) == attempts_before
    assert_untouched(line, other, 0)


def test_a_recipe_whose_image_hash_changed_is_refused(line: Line) -> None:
    image = next(image for image in line.recipe.images if image.name == "application")
    tampered = image.path.with_name("tampered-application.bin")
    data = bytearray(image.path.read_bytes())
    data[100] ^= 0xFF
    tampered.write_bytes(bytes(data))
    path = variant_recipe(
        line.environment, "tampered", {'file = "application.bin"': 'file = "tampered-application.bin"'}
    )
    with pytest.raises(RecipeError, match="image hash differs from the pinned one"):
        line.station.production.load_recipe(path)


# ---- locked units and rework -------------------------------------------------------------------


def test_a_locked_unit_is_reported_and_left_alone_then_rework_makes_it_a_development_unit(line: Line) -> None:
    unit = line.new_unit()
    with unit.locked():
        unit.program_nvm(0x2_0000, b"previous firmware" * 100)
    lock_unit_as_delivered(unit)
    before = flash_of(unit)

    outcome = line.provision("TST-000501", unit)
    assert outcome.failure_step == "connect" and outcome.failure_code == "UNIT_LOCKED"
    assert outcome.needs_person
    assert "locked" in outcome.message
    assert flash_of(unit) == before
    assert unit.reload().protected and not unit.info.ever_erased

    rework = line.rework("TST-000501", unit, supervisor="sue")
    assert rework.failure_code == "REWORKED"
    info = unit.reload()
    assert info.ever_erased and not info.protected
    assert flash_of(unit) == b"\xff" * board.FLASH_SIZE
    record = line.station.database.units.get_unit("TST-000501")
    assert record is not None and record.is_development
    attempt = line.station.database.attempts.latest_attempt("TST-000501")
    assert attempt is not None and attempt.is_rework and attempt.operator == "sue"
    audit = list(line.station.database.audit_log().entries())
    assert any(
        entry.action == "unit.rework" and entry.actor == "sue" and "TST-000501" in entry.detail for entry in audit
    )

    refused = line.provision("TST-000501", unit)
    assert refused.failure_code == "DEVELOPMENT_UNIT" and refused.attempt_id is None
    # The same board under another label is recognised by its device id.
    relabelled = line.provision("TST-000502", unit)
    assert relabelled.failure_step == "connect" and relabelled.failure_code == "DEVELOPMENT_UNIT"
    assert not unit.reload().protected


# ---- faults ----------------------------------------------------------------------------------------


def test_dropped_flash_writes_fail_verify_before_any_credential(line: Line) -> None:
    unit = line.new_unit()
    application = board.APPLICATION_ADDRESS
    set_faults(unit, drop_writes=(application + 0x3000, application + 0x4000))
    outcome = line.provision("TST-000601", unit)
    assert outcome.failure_step == "verify" and outcome.failure_code == "VERIFY_MISMATCH"
    assert "application" in outcome.message
    assert line.station.database.credentials.credentials_for_serial("TST-000601") == []
    info = unit.reload()
    assert not info.protected
    assert unit.read_nvm(board.UICR_APPROTECT, 4) == b"\xff\xff\xff\xff"
    assert unit.read_nvm(board.CREDENTIALS_ADDRESS, 16) == b"\xff" * 16


def test_silent_console_fails_activation_then_a_rescan_resumes(line: Line) -> None:
    unit = line.new_unit()
    set_faults(unit, console="silent")
    failed = line.provision("TST-000701", unit)
    assert failed.failure_step == "activate" and failed.failure_code == "CONSOLE_TIMEOUT"
    assert unit.reload().protected
    credentials = line.station.database.credentials.credentials_for_serial("TST-000701")
    assert [credential.state for credential in credentials] == [CredentialState.INJECTED]
    region_before = unit.read_nvm(board.CREDENTIALS_ADDRESS, board.CREDENTIALS_SIZE)

    set_faults(unit)  # the console answers again (cable reseated)
    resumed = line.provision("TST-000701", unit)
    assert resumed.passed and resumed.resumed, resumed.summary
    history = line.station.database.attempts.history("TST-000701")
    assert len(history) == 2 and history[1].previous_attempt_id == history[0].id
    second = {step.name: step.outcome for step in history[1].steps}
    assert second["flash"] is StepOutcome.SKIPPED and second["credentials"] is StepOutcome.SKIPPED
    assert second["activate"] is StepOutcome.PASSED and second["identity"] is StepOutcome.PASSED
    assert len(line.station.database.credentials.credentials_for_serial("TST-000701")) == 1
    assert unit.read_nvm(board.CREDENTIALS_ADDRESS, board.CREDENTIALS_SIZE) == region_before
    assert unit.reload().activated_product == "ACME-TOASTER"


def test_a_garbled_console_reply_fails_with_a_clear_code(line: Line) -> None:
    unit = line.new_unit()
    set_faults(unit, console="garbage")
    outcome = line.provision("TST-000702", unit)
    assert outcome.failure_step == "activate" and outcome.failure_code == "CONSOLE_GARBLED"
    assert "garbled" in outcome.message


def test_a_locked_stranger_is_not_taken_for_the_resumed_unit(line: Line) -> None:
    unit = line.new_unit()
    set_faults(unit, console="silent")
    assert line.provision("TST-000703", unit).failure_step == "activate"
    stranger = line.new_unit()
    lock_unit_as_delivered(stranger)
    outcome = line.provision("TST-000703", stranger)
    assert outcome.failure_code == "UNIT_LOCKED"
    assert len(line.station.database.credentials.credentials_for_serial("TST-000703")) == 1


def test_vault_locked_needs_a_person(line: Line) -> None:
    line.provisioner.tokens = None
    unit = line.new_unit()
    outcome = line.provision("TST-000704", unit)
    assert outcome.failure_step == "activate" and outcome.failure_code == "VAULT" and outcome.needs_person


def test_serials_bound_to_device_ids_are_checked_at_connect(make_line: Callable[..., Line]) -> None:
    binding = '[binding]\nrequire_listed = true\n\n[binding.devices]\n"TST-000990" = "00000000DEADBEEF"\n\n[activation]'
    line = make_line(replacements={"[activation]": binding})

    def unit_with(device_id: int) -> SimUnit:
        unit = line.environment.units.create_unit(device_id=device_id)
        line.units.append(unit)
        line.consoles.wait_for_port(unit.unit_id)
        return unit

    wrong = unit_with(0x0000_0000_CAFE_F00D)
    refused = line.provision("TST-000990", wrong)
    assert refused.failure_step == "connect" and refused.failure_code == "BINDING"
    assert "bound to device 00000000DEADBEEF" in refused.message
    assert flash_of(wrong) == b"\xff" * board.FLASH_SIZE
    unlisted = line.provision("TST-000991", unit_with(0x0000_0000_0000_0001))
    assert unlisted.failure_code == "BINDING" and "not listed" in unlisted.message
    assert line.provision("TST-000990", unit_with(0x0000_0000_DEAD_BEEF)).passed
