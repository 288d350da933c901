"""The simulated DMS enforces the field's production-activation rules, one case each."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from station.domain.errors import SimulationError
from station.domain.formats import CredentialBundle
from station.sim.dms import DMS_FILE, SimDeviceManagement

from .support import (
    DEVELOPMENT_TOKEN,
    FRIDGE,
    FRIDGE_TOKEN,
    SERVER_URI,
    TOASTER,
    TOASTER_TOKEN,
    CertificateAuthority,
    private_key_der,
)

DEVICE_ID = 0x0123_4567_89AB_CDEF


def test_activation_records_the_device(dms: SimDeviceManagement, factory_ca: CertificateAuthority) -> None:
    bundle = factory_ca.bundle_for(DEVICE_ID)
    result = dms.activate(DEVICE_ID, TOASTER_TOKEN, bundle, None, False)
    assert result.ok, result.describe()
    assert (result.status, result.product, result.repeated) == (200, TOASTER, False)
    assert dms.product_of(DEVICE_ID) == TOASTER
    assert dms.product_of(DEVICE_ID + 1) is None
    [device] = dms.devices_in(TOASTER)
    assert device == result.device
    assert device.device_id == DEVICE_ID
    assert device.endpoint_name == bundle.endpoint_name
    assert device.certificate_fingerprint == hashlib.sha256(bundle.device_certificate).hexdigest()
    assert datetime.datetime.fromisoformat(device.activated_at).tzinfo is not None
    assert dms.devices_in(FRIDGE) == []


def test_state_is_shared_by_every_instance_and_holds_no_secret(
    sim_dir: Path, dms: SimDeviceManagement, factory_ca: CertificateAuthority
) -> None:
    bundle = factory_ca.bundle_for(DEVICE_ID)
    assert dms.activate(DEVICE_ID, TOASTER_TOKEN, bundle, None, False).ok
    other = SimDeviceManagement(sim_dir)
    assert other.product_of(DEVICE_ID) == TOASTER
    text = (sim_dir / DMS_FILE).read_text()
    for token in (TOASTER_TOKEN, FRIDGE_TOKEN, DEVELOPMENT_TOKEN):
        assert token not in text
    assert hashlib.sha256(TOASTER_TOKEN.encode()).hexdigest() in text
    assert bundle.device_private_key is not None
    assert bundle.device_private_key.hex() not in text
    summary = {product.code: product for product in other.products()}
    assert summary[TOASTER].token_count == 1
    assert summary[TOASTER].production


def test_reactivation_to_the_same_product_is_idempotent(
    dms: SimDeviceManagement, factory_ca: CertificateAuthority
) -> None:
    bundle = factory_ca.bundle_for(DEVICE_ID)
    first = dms.activate(DEVICE_ID, TOASTER_TOKEN, bundle, None, False)
    second = dms.activate(DEVICE_ID, TOASTER_TOKEN, bundle, None, False)
    assert second.ok and second.repeated
    assert second.device == first.device
    assert len(dms.devices_in(TOASTER)) == 1


def test_unknown_token_is_401(dms: SimDeviceManagement, factory_ca: CertificateAuthority) -> None:
    result = dms.activate(DEVICE_ID, "tok-guessed", factory_ca.bundle_for(DEVICE_ID), None, False)
    assert result.status == 401
    assert result.describe() == "401 Unauthorized: unknown activation token"
    assert "tok-guessed" not in repr(result)
    assert dms.product_of(DEVICE_ID) is None


def test_token_of_a_development_product_is_403(dms: SimDeviceManagement, factory_ca: CertificateAuthority) -> None:
    result = dms.activate(DEVICE_ID, DEVELOPMENT_TOKEN, factory_ca.bundle_for(DEVICE_ID), None, False)
    assert result.status == 403
    assert "not a production product" in result.reason


def test_missing_credentials_are_400(dms: SimDeviceManagement) -> None:
    result = dms.activate(DEVICE_ID, TOASTER_TOKEN, None, None, False)
    assert (result.status, result.reason) == (400, "device has no credentials")


def test_corrupt_certificate_is_400(dms: SimDeviceManagement, factory_ca: CertificateAuthority) -> None:
    bundle = factory_ca.bundle_for(DEVICE_ID)
    broken = dataclasses.replace(bundle, device_certificate=bundle.device_certificate[:40])
    result = dms.activate(DEVICE_ID, TOASTER_TOKEN, broken, None, False)
    assert result.status == 400
    assert "corrupt" in result.reason


def test_corrupt_private_key_is_400(dms: SimDeviceManagement, factory_ca: CertificateAuthority) -> None:
    bundle = dataclasses.replace(factory_ca.bundle_for(DEVICE_ID), device_private_key=b"\x30\x03\x02\x01\x00")
    result = dms.activate(DEVICE_ID, TOASTER_TOKEN, bundle, None, False)
    assert result.status == 400
    assert "private key" in result.reason


def test_certificate_from_an_untrusted_ca_is_403(dms: SimDeviceManagement) -> None:
    rogue = CertificateAuthority.create("Rogue CA")
    result = dms.activate(DEVICE_ID, TOASTER_TOKEN, rogue.bundle_for(DEVICE_ID), None, False)
    assert result.status == 403
    assert "trusted" in result.reason


def test_ca_with_the_trusted_name_but_another_key_is_403(dms: SimDeviceManagement) -> None:
    impostor = CertificateAuthority.create("ACME Factory CA")  # same subject, different key
    result = dms.activate(DEVICE_ID, TOASTER_TOKEN, impostor.bundle_for(DEVICE_ID), None, False)
    assert result.status == 403


def test_chain_through_an_intermediate_in_the_bundle(sim_dir: Path) -> None:
    root = CertificateAuthority.create("ACME Root CA")
    station_ca = CertificateAuthority.create("ACME Station 7 CA", issuer=root)
    service = SimDeviceManagement(sim_dir)
    service.add_product(TOASTER, [TOASTER_TOKEN], [root.pem])
    bundle = station_ca.bundle_for(DEVICE_ID)
    assert service.activate(DEVICE_ID, TOASTER_TOKEN, bundle, None, False).ok
    without_chain = dataclasses.replace(station_ca.bundle_for(DEVICE_ID + 1), ca_chain=())
    assert service.activate(DEVICE_ID + 1, TOASTER_TOKEN, without_chain, None, False).status == 403


def test_trust_ca_adds_a_factory_ca(dms: SimDeviceManagement) -> None:
    second_station = CertificateAuthority.create("ACME Station 2 CA")
    bundle = second_station.bundle_for(DEVICE_ID)
    assert dms.activate(DEVICE_ID, TOASTER_TOKEN, bundle, None, False).status == 403
    dms.trust_ca(TOASTER, second_station.pem)
    assert dms.activate(DEVICE_ID, TOASTER_TOKEN, bundle, None, False).ok


def test_certificate_of_another_device_is_400(dms: SimDeviceManagement, factory_ca: CertificateAuthority) -> None:
    bundle = factory_ca.bundle_for(DEVICE_ID + 1, endpoint="toaster-0001")
    result = dms.activate(DEVICE_ID, TOASTER_TOKEN, bundle, None, False)
    assert (result.status, result.reason) == (400, "device certificate does not identify this device")


def test_lowercase_device_id_in_certificate_is_400(dms: SimDeviceManagement, factory_ca: CertificateAuthority) -> None:
    # The convention is exactly 16 uppercase hex digits.
    device_id = 0x00AB_CDEF_0000_0001
    bundle = factory_ca.bundle_for(device_id)
    assert f"{device_id:016X}" != f"{device_id:016x}"
    assert dms.activate(device_id, TOASTER_TOKEN, bundle, None, False).ok
    assert dms.activate(device_id + 1, TOASTER_TOKEN, bundle, None, False).status == 400


def test_common_name_other_than_endpoint_is_400(dms: SimDeviceManagement, factory_ca: CertificateAuthority) -> None:
    bundle = factory_ca.bundle_for(DEVICE_ID, endpoint="toaster-a", common_name="toaster-b")
    result = dms.activate(DEVICE_ID, TOASTER_TOKEN, bundle, None, False)
    assert (result.status, result.reason) == (400, "device certificate common name is not the endpoint name")


def test_private_key_not_matching_certificate_is_400(
    dms: SimDeviceManagement, factory_ca: CertificateAuthority
) -> None:
    other_key = private_key_der(ec.generate_private_key(ec.SECP256R1()))
    bundle = dataclasses.replace(factory_ca.bundle_for(DEVICE_ID), device_private_key=other_key)
    result = dms.activate(DEVICE_ID, TOASTER_TOKEN, bundle, None, False)
    assert (result.status, result.reason) == (400, "device private key does not match its certificate")


def test_device_generated_plan_uses_the_key_store_key(
    dms: SimDeviceManagement, factory_ca: CertificateAuthority
) -> None:
    device_key = ec.generate_private_key(ec.SECP256R1())
    endpoint = "toaster-device-made"
    certificate = factory_ca.issue(device_key.public_key(), device_id=DEVICE_ID, common_name=endpoint)
    bundle = CredentialBundle(certificate, (factory_ca.der,), endpoint, SERVER_URI)
    assert dms.activate(DEVICE_ID, TOASTER_TOKEN, bundle, None, False).status == 400  # no key at all
    wrong = private_key_der(ec.generate_private_key(ec.SECP256R1()))
    assert dms.activate(DEVICE_ID, TOASTER_TOKEN, bundle, wrong, False).status == 400
    assert dms.activate(DEVICE_ID, TOASTER_TOKEN, bundle, private_key_der(device_key), False).ok


def test_ever_erased_unit_is_403_and_remembered(dms: SimDeviceManagement, factory_ca: CertificateAuthority) -> None:
    bundle = factory_ca.bundle_for(DEVICE_ID)
    result = dms.activate(DEVICE_ID, TOASTER_TOKEN, bundle, None, True)
    assert result.describe() == "403 Forbidden: device is a development unit"
    assert dms.is_development_unit(DEVICE_ID)
    # Lives forever as a development device, even if the flag is not reported again.
    assert dms.activate(DEVICE_ID, TOASTER_TOKEN, bundle, None, False).status == 403
    assert dms.product_of(DEVICE_ID) is None


def test_listed_development_unit_is_403(dms: SimDeviceManagement, factory_ca: CertificateAuthority) -> None:
    assert not dms.is_development_unit(DEVICE_ID)
    dms.mark_development_unit(DEVICE_ID)
    assert dms.is_development_unit(DEVICE_ID)
    result = dms.activate(DEVICE_ID, TOASTER_TOKEN, factory_ca.bundle_for(DEVICE_ID), None, False)
    assert result.status == 403


def test_activated_device_cannot_move_to_another_product(
    dms: SimDeviceManagement, factory_ca: CertificateAuthority
) -> None:
    bundle = factory_ca.bundle_for(DEVICE_ID)
    assert dms.activate(DEVICE_ID, TOASTER_TOKEN, bundle, None, False).ok
    result = dms.activate(DEVICE_ID, FRIDGE_TOKEN, bundle, None, False)
    assert result.describe() == "403 Forbidden: device is already activated to another product"
    assert dms.product_of(DEVICE_ID) == TOASTER
    assert dms.devices_in(FRIDGE) == []


def test_add_tokens_issues_more_tokens(dms: SimDeviceManagement, factory_ca: CertificateAuthority) -> None:
    dms.add_tokens(TOASTER, ["tok-toaster-second"])
    assert dms.activate(DEVICE_ID, "tok-toaster-second", factory_ca.bundle_for(DEVICE_ID), None, False).ok
    # The first token still works for another unit.
    assert dms.activate(DEVICE_ID + 1, TOASTER_TOKEN, factory_ca.bundle_for(DEVICE_ID + 1), None, False).ok


def test_administration_refuses_bad_input(dms: SimDeviceManagement, factory_ca: CertificateAuthority) -> None:
    with pytest.raises(SimulationError):
        dms.add_product(TOASTER, ["tok-new"], [factory_ca.pem])  # exists
    with pytest.raises(SimulationError, match="already issued") as caught:
        dms.add_product("ACME-OVEN", [FRIDGE_TOKEN], [factory_ca.pem])  # token of another product
    assert FRIDGE_TOKEN not in str(caught.value)
    with pytest.raises(SimulationError):
        dms.add_tokens("ACME-NOPE", ["tok-x"])
    with pytest.raises(SimulationError):
        dms.add_tokens(TOASTER, [""])
    with pytest.raises(SimulationError):
        dms.trust_ca(TOASTER, b"not a certificate")
    with pytest.raises(SimulationError):
        dms.devices_in("ACME-NOPE")
    with pytest.raises(SimulationError):
        dms.add_product("bad code", [], [])
