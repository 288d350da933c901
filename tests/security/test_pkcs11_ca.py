"""The factory CA with its key in a SoftHSM2 token: the same certificates as a file CA's, signed there."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from station.domain.errors import CaError, TokenNotFoundError
from station.domain.recipe import CredentialPlan, KeyType
from station.security.ca import CA_CERTIFICATE_FILE, CA_KEY_FILE, CA_TOKEN_KEY_FILE, FactoryCa, init_ca, load_ca
from station.security.credentials import (
    IssuedCredential,
    check_bundle,
    issue_from_csr,
    issue_station_generated,
    verify_issued_by,
)
from station.security.issuer import FactoryCredentialIssuer
from station.security.keys import SigningAlgorithm
from station.security.pkcs11.ca import DEFAULT_CA_KEY_LABEL, TokenCa, init_token_ca, load_token_ca, token_ca_uri
from station.security.pkcs11.token import TokenSession

from .softhsm import TOKEN_LABEL, USER_PIN, SoftHsm, prompt_for
from .support import CA_PASSPHRASE, credential_settings

DEVICES = ("0123456789ABCDEF", "1111222233334444", "A5A5A5A5DEADBEEF")


def _csr(device_id: str, endpoint: str) -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, endpoint), x509.NameAttribute(NameOID.SERIAL_NUMBER, device_id)]
    )
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return key, csr.public_bytes(serialization.Encoding.PEM)


def _issue_three(ca: TokenCa | FactoryCa) -> list[IssuedCredential]:
    """Three units: two with station-made keys, one from its own CSR."""
    station_made = credential_settings(CredentialPlan.STATION_GENERATED)
    device_made = credential_settings(CredentialPlan.DEVICE_GENERATED)
    issued = [
        issue_station_generated(ca, station_made, f"SN-{index}", device) for index, device in enumerate(DEVICES[:2])
    ]
    _, csr = _csr(DEVICES[2], device_made.endpoint_name("SN-2", DEVICES[2]))
    issued.append(issue_from_csr(ca, device_made, "SN-2", DEVICES[2], csr))
    return issued


def test_ca_init_makes_the_key_in_the_token_and_self_signs_with_it(softhsm: SoftHsm, tmp_path: Path) -> None:
    ca_dir = tmp_path / "ca"
    session = softhsm.open()
    ca = init_token_ca(ca_dir, session, common_name="Line 3 Factory CA", validity_days=3650)

    assert sorted(path.name for path in ca_dir.iterdir()) == [CA_CERTIFICATE_FILE, CA_TOKEN_KEY_FILE]
    assert not (ca_dir / CA_KEY_FILE).exists()
    certificate = ca.certificate
    assert certificate.subject.rfc4514_string() == "CN=Line 3 Factory CA" and certificate.issuer == certificate.subject
    certificate.verify_directly_issued_by(certificate)
    assert isinstance(certificate.signature_hash_algorithm, hashes.SHA256)
    assert ca.key_type is KeyType.EC_P256 and ca.signer.algorithm is SigningAlgorithm.ECDSA_P256_SHA256
    constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and usage.digital_signature
    # The URI file names the key in this very token, and holds no PIN.
    uri = token_ca_uri(ca_dir)
    assert uri is not None and uri.object == DEFAULT_CA_KEY_LABEL
    assert (uri.token, uri.serial) == (TOKEN_LABEL, session.serial)
    for path in ca_dir.iterdir():
        assert USER_PIN.encode() not in path.read_bytes()
    assert ca.key_location.startswith(f"token pkcs11:token={TOKEN_LABEL};serial=")
    assert USER_PIN not in repr(ca)


def test_three_device_certificates_verify_with_cryptography_and_openssl(softhsm: SoftHsm, tmp_path: Path) -> None:
    ca_dir = tmp_path / "ca"
    ca = init_token_ca(ca_dir, softhsm.open(), validity_days=3650)
    issued = _issue_three(ca)
    assert len({credential.certificate_serial for credential in issued}) == 3
    for credential, device in zip(issued, DEVICES, strict=True):
        certificate = credential.certificate
        certificate.verify_directly_issued_by(ca.certificate)
        verify_issued_by(certificate, ca.certificate)
        assert certificate.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value == device

    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    paths = []
    for index, credential in enumerate(issued):
        path = tmp_path / f"unit-{index}.pem"
        path.write_text(credential.certificate_pem)
        paths.append(str(path))
    ca_file = str(ca_dir / CA_CERTIFICATE_FILE)
    done = subprocess.run(
        ["openssl", "verify", "-x509_strict", "-purpose", "sslclient", "-CAfile", ca_file, ca_file, *paths],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(": OK") == 4


def test_token_and_file_cas_put_the_same_things_in_a_device_certificate(softhsm: SoftHsm, tmp_path: Path) -> None:
    token_ca = init_token_ca(tmp_path / "token-ca", softhsm.open(), common_name="Factory CA", validity_days=3650)
    file_ca = init_ca(tmp_path / "file-ca", CA_PASSPHRASE, "Factory CA", validity_days=3650)
    settings = credential_settings(CredentialPlan.STATION_GENERATED)
    from_token = issue_station_generated(token_ca, settings, "SN-1", DEVICES[0]).certificate
    from_file = issue_station_generated(file_ca, settings, "SN-1", DEVICES[0]).certificate

    def described(certificate: x509.Certificate) -> object:
        extensions = {
            extension.oid.dotted_string: (extension.critical, extension.value)
            for extension in certificate.extensions
            if not isinstance(extension.value, x509.SubjectKeyIdentifier | x509.AuthorityKeyIdentifier)
        }
        lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
        return certificate.subject, certificate.issuer, extensions, lifetime, certificate.signature_algorithm_oid

    assert described(from_token) == described(from_file)
    usage = from_token.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    authority = from_token.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ca_subject_key = token_ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert authority.key_identifier == ca_subject_key.digest


def test_the_issuer_and_the_credential_region_work_with_a_token_ca(softhsm: SoftHsm, tmp_path: Path) -> None:
    ca = init_token_ca(tmp_path / "ca", softhsm.open(), validity_days=3650)
    issuer = FactoryCredentialIssuer(ca, credential_settings(CredentialPlan.STATION_GENERATED))
    issued = issuer.issue_station_generated("SN-7", DEVICES[0])
    region = issuer.region_bytes(issued)
    issuer.check_region(issued, region)
    check_bundle(region, issued, ca.certificate)


def test_the_ca_opens_again_through_the_token_and_never_from_a_file(softhsm: SoftHsm, tmp_path: Path) -> None:
    ca_dir = tmp_path / "ca"
    with softhsm.open() as session:
        made = init_token_ca(ca_dir, session, validity_days=3650)
        fingerprint = made.fingerprint
    with softhsm.open(writable=False) as session:
        ca = load_token_ca(ca_dir, session)
        assert ca.fingerprint == fingerprint
        issue_station_generated(ca, credential_settings(CredentialPlan.STATION_GENERATED), "SN-1", DEVICES[0])
    with pytest.raises(CaError, match=r"keeps its key in a PKCS#11 token .* never from a file"):
        load_ca(ca_dir, CA_PASSPHRASE)
    with pytest.raises(CaError, match="already exists"):
        init_ca(ca_dir, CA_PASSPHRASE)
    with softhsm.open() as session, pytest.raises(CaError, match="already exists"):
        init_token_ca(ca_dir, session)


def test_a_ca_in_another_token_or_without_its_token_is_refused(softhsm: SoftHsm, tmp_path: Path) -> None:
    ca_dir = tmp_path / "ca"
    with softhsm.open() as session:
        init_token_ca(ca_dir, session, validity_days=3650)
    softhsm.init_token("spare token")
    with softhsm.open("spare token") as other, pytest.raises(CaError, match="is in token 'station-test'"):
        load_token_ca(ca_dir, other)

    uri = token_ca_uri(ca_dir)
    assert uri is not None
    softhsm.wipe()  # the data directory copied to a machine without the token
    with pytest.raises(TokenNotFoundError, match="no token 'station-test'"):
        TokenSession.open(uri, prompt_for(USER_PIN))


def test_a_failed_ca_init_leaves_no_key_and_no_file(softhsm: SoftHsm, tmp_path: Path) -> None:
    ca_dir = tmp_path / "ca"
    ca_dir.mkdir()
    (ca_dir / CA_CERTIFICATE_FILE).mkdir()  # the certificate cannot be written there
    session = softhsm.open()
    with pytest.raises(CaError, match="already exists"):
        init_token_ca(ca_dir, session)
    (ca_dir / CA_CERTIFICATE_FILE).rmdir()
    (ca_dir / (CA_CERTIFICATE_FILE + ".tmp")).mkdir()  # write_public_file's temporary: now it fails late
    with pytest.raises(OSError):
        init_token_ca(ca_dir, session)
    assert sorted(path.name for path in ca_dir.iterdir()) == [CA_CERTIFICATE_FILE + ".tmp"]
    assert not session.exists(DEFAULT_CA_KEY_LABEL)
    (ca_dir / (CA_CERTIFICATE_FILE + ".tmp")).rmdir()
    init_token_ca(ca_dir, session)  # the label is free again


def test_bad_ca_parameters_are_refused_before_a_key_is_made(softhsm: SoftHsm, tmp_path: Path) -> None:
    session = softhsm.open()
    with pytest.raises(CaError, match="common name"):
        init_token_ca(tmp_path / "ca", session, common_name="")
    with pytest.raises(CaError, match="EC P-256 or P-384"):
        init_token_ca(tmp_path / "ca", session, algorithm=SigningAlgorithm.ED25519)
    assert not session.exists(DEFAULT_CA_KEY_LABEL)
