"""Production credentials: a device certificate (and in one plan its key) per unit, and the bundle.

Two plans, chosen by the recipe:

- **station-generated**: the station makes the unit's EC key and a certificate for it; the key
  exists only in memory and inside the bundle bytes written to the unit.
- **device-generated**: the unit makes its key and returns a CSR over its console; the station
  checks the CSR (signature, key type, subject) and signs a certificate for the CSR's key.

Certificate convention (the device-management service checks the first two):

- subject ``CN`` = the endpoint name (the recipe's template over serial and device id);
- subject ``serialNumber`` (OID 2.5.4.5) = the device id, 16 uppercase hex digits;
- the unit's serial number in the subjectAltName as a URI ``urn:dev:os:32473-<serial>``
  (RFC 9039 "organization serial number"; 32473 is the documentation enterprise number of
  RFC 5612, to be replaced by the manufacturer's own; the serial is percent-encoded);
- validity: from now (less five minutes of clock skew) for the recipe's days, but never past
  the CA's own expiry; a random 159-bit certificate serial;
- basicConstraints CA=false, keyUsage digitalSignature, extendedKeyUsage clientAuth, subject
  and authority key identifiers. Nothing from a CSR but its key and subject is copied.

An :class:`IssuedCredential` carries the certificate and identifiers the store keeps; the
private key (station-generated plan) is held outside ``repr``/``==`` and is never written to
any file or database by the station.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from station.domain.errors import CredentialError, FormatError
from station.domain.formats import CredentialBundle
from station.domain.identity import DeviceId, Serial
from station.domain.recipe import CredentialPlan, CredentialSettings, KeyType
from station.security.certificates import (
    CertificateAuthority,
    CertificateContents,
    authority_key_identifier,
    build_certificate,
    device_key_usage,
    extension,
)
from station.security.keys import (
    certificate_fingerprint,
    generate_private_key,
    key_type_of,
    public_key_der,
)

SERIAL_URN_PREFIX: Final = "urn:dev:os:32473-"
CLOCK_SKEW: Final = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class IssuedCredential:
    """A certificate issued to one unit. ``private_key_der`` (PKCS#8 DER, station-generated plan
    only) is excluded from ``repr`` and comparisons; it goes into the bundle and nowhere else."""

    plan: CredentialPlan
    certificate_der: bytes = field(repr=False)
    certificate_serial: str  # lowercase hex
    fingerprint: str  # SHA-256 hex of the DER certificate
    endpoint_name: str
    device_id: str
    serial: str
    private_key_der: bytes | None = field(default=None, repr=False, compare=False)

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_der_x509_certificate(self.certificate_der)

    @property
    def certificate_pem(self) -> str:
        return self.certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("an IssuedCredential may hold a private key and cannot be pickled")


def issue_station_generated(
    ca: CertificateAuthority,
    settings: CredentialSettings,
    serial: Serial | str,
    device_id: DeviceId | str,
    *,
    now: dt.datetime | None = None,
) -> IssuedCredential:
    """Make the unit's key pair and its certificate (station-generated plan)."""
    if settings.plan is not CredentialPlan.STATION_GENERATED:
        raise CredentialError(f"the recipe's credential plan is {settings.plan.value}, not station-generated")
    device = _device_id(device_id)
    endpoint = settings.endpoint_name(serial, device)
    private_key = generate_private_key(settings.key_type)
    certificate = _sign(ca, private_key.public_key(), endpoint, device, str(serial), settings.validity_days, now)
    key_der = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return _issued(CredentialPlan.STATION_GENERATED, certificate, endpoint, device, str(serial), key_der)


def load_csr(csr_data: bytes | str) -> x509.CertificateSigningRequest:
    """A CSR from PEM (as the unit prints it) or DER; CredentialError if it is neither."""
    data = csr_data.encode("ascii", errors="replace") if isinstance(csr_data, str) else csr_data
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_csr(data.strip())
        return x509.load_der_x509_csr(data)
    except ValueError as error:
        raise CredentialError(f"the unit's certificate request cannot be read: {error}") from None


def verify_csr(
    csr: x509.CertificateSigningRequest, *, endpoint_name: str, device_id: DeviceId | str, key_type: KeyType | str
) -> None:
    """Refuse (CredentialError) a CSR that is not signed by its key, has another key type, or
    does not name exactly this unit's endpoint and device id."""
    if not csr.is_signature_valid:
        raise CredentialError("the unit's certificate request has a bad signature")
    expected_type = KeyType(key_type)
    found_type = key_type_of(csr.public_key())
    if found_type is not expected_type:
        raise CredentialError(
            f"the unit's certificate request has a {found_type.value if found_type else 'unsupported'} key; "
            f"the recipe requires {expected_type.value}"
        )
    common_names = [attribute.value for attribute in csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if common_names != [endpoint_name]:
        raise CredentialError(
            f"the unit's certificate request names CN {_shown(common_names)}, expected {endpoint_name!r}"
        )
    device = _device_id(device_id)
    serial_numbers = [attribute.value for attribute in csr.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)]
    if serial_numbers != [device.value]:
        raise CredentialError(
            f"the unit's certificate request names serialNumber {_shown(serial_numbers)}, "
            f"expected the device id {device.value}"
        )


def issue_from_csr(
    ca: CertificateAuthority,
    settings: CredentialSettings,
    serial: Serial | str,
    device_id: DeviceId | str,
    csr_data: bytes | str | x509.CertificateSigningRequest,
    *,
    now: dt.datetime | None = None,
) -> IssuedCredential:
    """Check the unit's CSR and sign a certificate for its key (device-generated plan)."""
    if settings.plan is not CredentialPlan.DEVICE_GENERATED:
        raise CredentialError(f"the recipe's credential plan is {settings.plan.value}, not device-generated")
    device = _device_id(device_id)
    endpoint = settings.endpoint_name(serial, device)
    csr = csr_data if isinstance(csr_data, x509.CertificateSigningRequest) else load_csr(csr_data)
    verify_csr(csr, endpoint_name=endpoint, device_id=device, key_type=settings.key_type)
    public_key = csr.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)  # verify_csr checked the key type
    certificate = _sign(ca, public_key, endpoint, device, str(serial), settings.validity_days, now)
    return _issued(CredentialPlan.DEVICE_GENERATED, certificate, endpoint, device, str(serial), None)


def build_bundle(
    issued: IssuedCredential, ca: CertificateAuthority | x509.Certificate, settings: CredentialSettings
) -> CredentialBundle:
    """The credential region's content for one unit (see ``station.domain.formats``)."""
    ca_certificate = ca if isinstance(ca, x509.Certificate) else ca.certificate
    if issued.plan is CredentialPlan.STATION_GENERATED and issued.private_key_der is None:
        raise CredentialError("a station-generated credential must carry its private key into the bundle")
    update_certificate = None
    if settings.update_auth_certificate is not None:
        update_certificate = update_auth_certificate_der(settings.update_auth_certificate)
    return CredentialBundle(
        device_certificate=issued.certificate_der,
        ca_chain=(ca_certificate.public_bytes(serialization.Encoding.DER),),
        endpoint_name=issued.endpoint_name,
        server_uri=settings.server_uri,
        device_private_key=issued.private_key_der if issued.plan is CredentialPlan.STATION_GENERATED else None,
        update_auth_certificate=update_certificate,
        update_vendor_id=settings.update_vendor_id.bytes if settings.update_vendor_id else None,
        update_class_id=settings.update_class_id.bytes if settings.update_class_id else None,
    )


def update_auth_certificate_der(data: bytes) -> bytes:
    """The firmware-update authenticity certificate as DER, checked to be a certificate."""
    try:
        if b"-----BEGIN" in data:
            certificate = x509.load_pem_x509_certificate(data)
        else:
            certificate = x509.load_der_x509_certificate(data)
    except ValueError as error:
        raise CredentialError(f"the update authenticity certificate cannot be read: {error}") from None
    return certificate.public_bytes(serialization.Encoding.DER)


def check_recipe_credentials(settings: CredentialSettings) -> None:
    """What ``recipe check`` adds to the loader's checks: the update certificate really parses."""
    if settings.update_auth_certificate is not None:
        update_auth_certificate_der(settings.update_auth_certificate)


def check_bundle(
    bundle_bytes: bytes,
    expected: IssuedCredential,
    ca_certificate: x509.Certificate,
    device_key_public: object | None = None,
) -> CredentialBundle:
    """Verify a credential region read back from the unit against what was issued.

    Checks: the region decodes (magic, version, CRC); it holds exactly the issued certificate
    and endpoint name; the certificate is signed by the CA and names the device id; and the key
    matches the certificate: the bundle's key (station-generated plan), or ``device_key_public``
    when given (device-generated plan, e.g. read from the unit's key store). The device-generated
    bundle must not carry a key at all. Returns the decoded bundle.
    """
    try:
        bundle = CredentialBundle.decode(bundle_bytes)
    except FormatError as error:
        raise CredentialError(f"the credential region read back is not valid: {error}") from None
    if bundle.device_certificate != expected.certificate_der:
        raise CredentialError("the credential region holds another certificate than the one issued")
    if bundle.endpoint_name != expected.endpoint_name:
        raise CredentialError(
            f"the credential region names endpoint {bundle.endpoint_name!r}, expected {expected.endpoint_name!r}"
        )
    try:
        certificate = x509.load_der_x509_certificate(bundle.device_certificate)
    except ValueError:
        raise CredentialError("the credential region's certificate cannot be read") from None
    verify_issued_by(certificate, ca_certificate)
    serial_numbers = [item.value for item in certificate.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)]
    if serial_numbers != [expected.device_id]:
        raise CredentialError(f"the certificate names device {_shown(serial_numbers)}, expected {expected.device_id}")
    certificate_key = public_key_der(certificate.public_key())

    if expected.plan is CredentialPlan.STATION_GENERATED:
        if bundle.device_private_key is None:
            raise CredentialError("the credential region has no device key (station-generated plan)")
        try:
            private_key = serialization.load_der_private_key(bundle.device_private_key, password=None)
        except (ValueError, TypeError):
            raise CredentialError("the credential region's device key cannot be read") from None
        if public_key_der(private_key) != certificate_key:
            raise CredentialError("the credential region's device key does not match its certificate")
    elif bundle.device_private_key is not None:
        raise CredentialError("the credential region carries a device key, but the unit made its own")
    if device_key_public is not None and public_key_der(device_key_public) != certificate_key:
        raise CredentialError("the unit's own key does not match the certificate issued for it")
    return bundle


def verify_issued_by(certificate: x509.Certificate, ca_certificate: x509.Certificate) -> None:
    """CredentialError unless ``certificate`` is signed by the CA's key under the CA's name."""
    if certificate.issuer != ca_certificate.subject:
        raise CredentialError("the certificate is not issued by this factory CA (issuer name differs)")
    try:
        certificate.verify_directly_issued_by(ca_certificate)
    except (ValueError, TypeError, InvalidSignature):
        raise CredentialError("the certificate's signature does not verify with the factory CA") from None


def unit_serial_of(certificate: x509.Certificate) -> str | None:
    """The unit serial recorded in a device certificate's subjectAltName, if any."""
    try:
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    for uri in names.get_values_for_type(x509.UniformResourceIdentifier):
        if uri.startswith(SERIAL_URN_PREFIX):
            return urllib.parse.unquote(uri[len(SERIAL_URN_PREFIX) :])
    return None


def endpoint_name_of(certificate_pem: str) -> str:
    """The endpoint name (the common name) of a device certificate the station recorded: what
    the unit's console reports as its endpoint once it holds the certificate."""
    try:
        certificate = x509.load_pem_x509_certificate(certificate_pem.encode("ascii"))
    except (ValueError, UnicodeEncodeError) as error:
        raise CredentialError(f"a recorded certificate cannot be read: {error}") from None
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else ""


def device_certificate_contents(
    ca_certificate: x509.Certificate,
    public_key: ec.EllipticCurvePublicKey,
    endpoint_name: str,
    device_id: DeviceId,
    serial: str,
    validity_days: int,
    now: dt.datetime | None = None,
) -> CertificateContents:
    """What a unit's certificate says (the module doc's convention), whichever CA signs it."""
    issued_at = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    not_before = issued_at - CLOCK_SKEW
    not_after = min(issued_at + dt.timedelta(days=validity_days), ca_certificate.not_valid_after_utc)
    if not_after <= issued_at:
        raise CredentialError("the factory CA has expired; it cannot issue certificates")
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, endpoint_name),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, device_id.value),
        ]
    )
    serial_uri = SERIAL_URN_PREFIX + urllib.parse.quote(serial, safe="")
    return CertificateContents(
        subject=subject,
        issuer=ca_certificate.subject,
        public_key=public_key,
        serial_number=x509.random_serial_number(),
        not_before=not_before,
        not_after=not_after,
        extensions=(
            extension(x509.BasicConstraints(ca=False, path_length=None), critical=True),
            extension(device_key_usage(), critical=True),
            extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False),
            extension(x509.SubjectAlternativeName([x509.UniformResourceIdentifier(serial_uri)]), critical=False),
            extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False),
            extension(authority_key_identifier(ca_certificate), critical=False),
        ),
    )


def _sign(
    ca: CertificateAuthority,
    public_key: ec.EllipticCurvePublicKey,
    endpoint_name: str,
    device_id: DeviceId,
    serial: str,
    validity_days: int,
    now: dt.datetime | None,
) -> x509.Certificate:
    contents = device_certificate_contents(
        ca.certificate, public_key, endpoint_name, device_id, serial, validity_days, now
    )
    return build_certificate(contents, ca.signer)


def _issued(
    plan: CredentialPlan,
    certificate: x509.Certificate,
    endpoint_name: str,
    device_id: DeviceId,
    serial: str,
    private_key_der: bytes | None,
) -> IssuedCredential:
    return IssuedCredential(
        plan=plan,
        certificate_der=certificate.public_bytes(serialization.Encoding.DER),
        certificate_serial=f"{certificate.serial_number:x}",
        fingerprint=certificate_fingerprint(certificate),
        endpoint_name=endpoint_name,
        device_id=device_id.value,
        serial=serial,
        private_key_der=private_key_der,
    )


def _device_id(device_id: DeviceId | str) -> DeviceId:
    if isinstance(device_id, DeviceId):
        return device_id
    try:
        return DeviceId.parse(device_id)
    except Exception as error:
        raise CredentialError(str(error)) from None


def _shown(values: Sequence[object]) -> str:
    if not values:
        return "none"
    return ", ".join(repr(value) for value in values)
