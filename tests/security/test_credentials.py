"""Device certificates in both plans, the credential bundle, and checking a region read back."""

from __future__ import annotations

import datetime as dt
import pickle
import struct
import uuid
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from station.domain.errors import CredentialError, FormatError
from station.domain.formats import CredentialBundle, crc32
from station.domain.recipe import CredentialPlan, KeyType
from station.security.ca import FactoryCa, init_ca
from station.security.credentials import (
    IssuedCredential,
    build_bundle,
    check_bundle,
    issue_from_csr,
    issue_station_generated,
    unit_serial_of,
    verify_issued_by,
)
from station.security.keys import public_key_der

from .support import credential_settings

DEVICE_ID = "00112233AABBCCDD"
SERIAL = "TST-000123"
ENDPOINT = f"acme-toaster-{DEVICE_ID}"
STATION = credential_settings(CredentialPlan.STATION_GENERATED)
DEVICE = credential_settings(CredentialPlan.DEVICE_GENERATED)


def make_csr(
    key: ec.EllipticCurvePrivateKey, *, common_name: str = ENDPOINT, serial_number: str = DEVICE_ID
) -> bytes:
    """What the unit prints for `csr_generate <cn>`: a PEM CSR with CN and serialNumber."""
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, serial_number),
        ]
    )
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM)


# --------------------------------------------------------------------------- station-generated


def test_station_generated_certificate_verifies_against_the_ca(ca: FactoryCa) -> None:
    issued = issue_station_generated(ca, STATION, SERIAL, DEVICE_ID)
    certificate = issued.certificate

    certificate.verify_directly_issued_by(ca.certificate)
    verify_issued_by(certificate, ca.certificate)
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == ENDPOINT
    assert certificate.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == DEVICE_ID
    assert unit_serial_of(certificate) == SERIAL
    assert issued.endpoint_name == ENDPOINT and issued.device_id == DEVICE_ID and issued.serial == SERIAL
    assert issued.certificate_serial == f"{certificate.serial_number:x}"
    assert issued.certificate_pem.startswith("-----BEGIN CERTIFICATE-----")

    extensions = certificate.extensions
    basic = extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and not basic.value.ca
    usage = extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    assert extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == x509.ExtendedKeyUsage(
        [ExtendedKeyUsageOID.CLIENT_AUTH]
    )
    authority = extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ca_key_id = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert authority.key_identifier == ca_key_id.digest
    extensions.get_extension_for_class(x509.SubjectKeyIdentifier)


def test_station_generated_bundle_key_matches_the_certificate_and_round_trips(ca: FactoryCa) -> None:
    issued = issue_station_generated(ca, STATION, SERIAL, DEVICE_ID)
    bundle = build_bundle(issued, ca, STATION)
    assert bundle.device_private_key is not None

    private_key = serialization.load_der_private_key(bundle.device_private_key, password=None)
    assert public_key_der(private_key) == public_key_der(issued.certificate.public_key())

    encoded = bundle.encode()
    assert CredentialBundle.decode(encoded) == bundle
    decoded = check_bundle(encoded + b"\xff" * 64, issued, ca.certificate)  # erased flash after it is ignored
    assert decoded.ca_chain == (ca.certificate_der,)
    assert decoded.server_uri == STATION.server_uri
    assert decoded.endpoint_name == ENDPOINT


def test_validity_follows_the_recipe_and_never_outlives_the_ca(ca: FactoryCa) -> None:
    certificate = issue_station_generated(ca, STATION, SERIAL, DEVICE_ID).certificate
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert lifetime == dt.timedelta(days=365, minutes=5)  # five minutes of clock skew before "now"

    long_lived = credential_settings(CredentialPlan.STATION_GENERATED, validity_days=40 * 365)
    capped = issue_station_generated(ca, long_lived, SERIAL, DEVICE_ID).certificate
    assert capped.not_valid_after_utc == ca.certificate.not_valid_after_utc


def test_each_certificate_gets_a_fresh_key_and_serial(ca: FactoryCa) -> None:
    first = issue_station_generated(ca, STATION, SERIAL, DEVICE_ID)
    second = issue_station_generated(ca, STATION, SERIAL, DEVICE_ID)
    assert first.certificate_serial != second.certificate_serial
    assert first.private_key_der != second.private_key_der


def test_private_key_is_kept_out_of_repr_and_pickle(ca: FactoryCa) -> None:
    issued = issue_station_generated(ca, STATION, SERIAL, DEVICE_ID)
    assert issued.private_key_der is not None
    text = repr(issued)
    assert "private_key" not in text and issued.private_key_der.hex() not in text
    bundle = build_bundle(issued, ca, STATION)
    assert issued.private_key_der.hex() not in repr(bundle) and "device_private_key" not in repr(bundle)
    with pytest.raises(TypeError):
        pickle.dumps(issued)


def test_plan_mismatch_is_refused(ca: FactoryCa) -> None:
    with pytest.raises(CredentialError, match="plan is device-generated, not station-generated"):
        issue_station_generated(ca, DEVICE, SERIAL, DEVICE_ID)
    with pytest.raises(CredentialError, match="plan is station-generated, not device-generated"):
        issue_from_csr(ca, STATION, SERIAL, DEVICE_ID, make_csr(ec.generate_private_key(ec.SECP256R1())))


def test_update_authenticity_certificate_and_identifiers_go_into_the_bundle(ca: FactoryCa) -> None:
    vendor, device_class = uuid.uuid4(), uuid.uuid4()
    settings = credential_settings(
        CredentialPlan.STATION_GENERATED,
        update_vendor_id=vendor,
        update_class_id=device_class,
        update_auth_certificate=ca.certificate.public_bytes(serialization.Encoding.PEM),
    )
    issued = issue_station_generated(ca, settings, SERIAL, DEVICE_ID)
    bundle = CredentialBundle.decode(build_bundle(issued, ca, settings).encode())
    assert bundle.update_vendor_id == vendor.bytes and bundle.update_class_id == device_class.bytes
    assert bundle.update_auth_certificate == ca.certificate_der


# --------------------------------------------------------------------------- device-generated


def test_device_generated_certificate_is_for_the_csr_key(ca: FactoryCa) -> None:
    device_key = ec.generate_private_key(ec.SECP256R1())
    issued = issue_from_csr(ca, DEVICE, SERIAL, DEVICE_ID, make_csr(device_key).decode("ascii"))

    issued.certificate.verify_directly_issued_by(ca.certificate)
    assert public_key_der(issued.certificate.public_key()) == public_key_der(device_key)
    assert issued.private_key_der is None
    assert issued.plan is CredentialPlan.DEVICE_GENERATED

    bundle = build_bundle(issued, ca.certificate, DEVICE)
    assert bundle.device_private_key is None
    check_bundle(bundle.encode(), issued, ca.certificate, device_key_public=device_key.public_key())


def test_csr_with_wrong_common_name_is_refused(ca: FactoryCa) -> None:
    csr = make_csr(ec.generate_private_key(ec.SECP256R1()), common_name="acme-toaster-FFFFFFFFFFFFFFFF")
    with pytest.raises(CredentialError, match="names CN 'acme-toaster-FFFFFFFFFFFFFFFF', expected 'acme-toaster-"):
        issue_from_csr(ca, DEVICE, SERIAL, DEVICE_ID, csr)


def test_csr_with_wrong_serial_number_is_refused(ca: FactoryCa) -> None:
    csr = make_csr(ec.generate_private_key(ec.SECP256R1()), serial_number="00112233aabbccdd")
    with pytest.raises(CredentialError, match="names serialNumber '00112233aabbccdd', expected the device id"):
        issue_from_csr(ca, DEVICE, SERIAL, DEVICE_ID, csr)


def test_csr_with_a_bad_signature_is_refused(ca: FactoryCa) -> None:
    csr = x509.load_pem_x509_csr(make_csr(ec.generate_private_key(ec.SECP256R1())))
    der = bytearray(csr.public_bytes(serialization.Encoding.DER))
    # The signature (an ECDSA DER SEQUENCE of two INTEGERs) ends the CSR: flip a bit in the last integer.
    der[-3] ^= 0x01
    with pytest.raises(CredentialError, match="bad signature"):
        issue_from_csr(ca, DEVICE, SERIAL, DEVICE_ID, bytes(der))


def test_csr_with_another_key_type_is_refused(ca: FactoryCa) -> None:
    csr = make_csr(ec.generate_private_key(ec.SECP384R1()))
    with pytest.raises(CredentialError, match="has a ec-p384 key; the recipe requires ec-p256"):
        issue_from_csr(ca, DEVICE, SERIAL, DEVICE_ID, csr)
    p384 = credential_settings(CredentialPlan.DEVICE_GENERATED, key_type=KeyType.EC_P384)
    issue_from_csr(ca, p384, SERIAL, DEVICE_ID, csr)


def test_garbage_instead_of_a_csr(ca: FactoryCa) -> None:
    with pytest.raises(CredentialError, match="certificate request cannot be read"):
        issue_from_csr(ca, DEVICE, SERIAL, DEVICE_ID, "-----BEGIN CERTIFICATE REQUEST-----\nnope\n")


# --------------------------------------------------------------------------- checking a region read back


def _issued_and_region(ca: FactoryCa) -> tuple[IssuedCredential, bytes]:
    issued = issue_station_generated(ca, STATION, SERIAL, DEVICE_ID)
    return issued, build_bundle(issued, ca, STATION).encode()


def test_corrupt_crc_is_rejected(ca: FactoryCa) -> None:
    issued, region = _issued_and_region(ca)
    damaged = bytearray(region)
    damaged[-1] ^= 0xFF  # last payload byte
    with pytest.raises(FormatError, match="region CRC mismatch"):
        CredentialBundle.decode(bytes(damaged))
    with pytest.raises(CredentialError, match="the credential region read back is not valid: region CRC mismatch"):
        check_bundle(bytes(damaged), issued, ca.certificate)


def test_wrong_version_is_rejected(ca: FactoryCa) -> None:
    issued, region = _issued_and_region(ca)
    damaged = bytearray(region)
    struct.pack_into("<H", damaged, 4, 2)
    struct.pack_into("<I", damaged, 12, crc32(bytes(damaged[:12]) + bytes(damaged[16:])))  # CRC made right
    with pytest.raises(CredentialError, match="unsupported region version 2"):
        check_bundle(bytes(damaged), issued, ca.certificate)


def test_erased_region_is_rejected(ca: FactoryCa) -> None:
    issued, _ = _issued_and_region(ca)
    with pytest.raises(CredentialError, match="region is empty"):
        check_bundle(b"\xff" * 4096, issued, ca.certificate)


def test_region_with_another_certificate_is_rejected(ca: FactoryCa) -> None:
    issued, _ = _issued_and_region(ca)
    _, other_region = _issued_and_region(ca)
    with pytest.raises(CredentialError, match="holds another certificate than the one issued"):
        check_bundle(other_region, issued, ca.certificate)


def test_key_not_matching_the_certificate_is_rejected(ca: FactoryCa) -> None:
    issued, region = _issued_and_region(ca)
    bundle = CredentialBundle.decode(region)
    other_key = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    swapped = CredentialBundle(
        device_certificate=bundle.device_certificate,
        ca_chain=bundle.ca_chain,
        endpoint_name=bundle.endpoint_name,
        server_uri=bundle.server_uri,
        device_private_key=other_key,
    )
    with pytest.raises(CredentialError, match="device key does not match its certificate"):
        check_bundle(swapped.encode(), issued, ca.certificate)


def test_certificate_from_another_ca_is_rejected(ca: FactoryCa, tmp_path: Path) -> None:
    other = init_ca(tmp_path / "other", "another passphrase", "Test Factory CA")
    issued, region = _issued_and_region(ca)
    with pytest.raises(CredentialError, match="signature does not verify with the factory CA"):
        check_bundle(region, issued, other.certificate)


def test_device_generated_region_must_not_carry_a_key_and_must_match_the_unit_key(ca: FactoryCa) -> None:
    device_key = ec.generate_private_key(ec.SECP256R1())
    issued = issue_from_csr(ca, DEVICE, SERIAL, DEVICE_ID, make_csr(device_key))
    bundle = build_bundle(issued, ca, DEVICE)
    with pytest.raises(CredentialError, match="the unit's own key does not match"):
        check_bundle(bundle.encode(), issued, ca.certificate, device_key_public=ec.generate_private_key(ec.SECP256R1()))
    with_key = CredentialBundle(
        device_certificate=bundle.device_certificate,
        ca_chain=bundle.ca_chain,
        endpoint_name=bundle.endpoint_name,
        server_uri=bundle.server_uri,
        device_private_key=b"\x30\x00",
    )
    with pytest.raises(CredentialError, match="carries a device key, but the unit made its own"):
        check_bundle(with_key.encode(), issued, ca.certificate)
