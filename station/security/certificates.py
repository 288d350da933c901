"""Certificates whatever holds the signing key: a key file in memory, or a key in a token.

cryptography's ``CertificateBuilder`` signs only with a key it holds. Here a certificate is
made in three steps that do not care where the key is:

1. :class:`CertificateContents` says what goes into it (names, key, serial, validity,
   extensions): ``station.security.ca`` (the CA's own) and ``station.security.credentials``
   (a unit's) decide that, the same for every CA;
2. :func:`build_certificate` encodes the to-be-signed part (TBSCertificate) in DER with
   asn1crypto, the names, key and extensions encoded by cryptography itself, so that the bytes
   are those ``CertificateBuilder`` would give;
3. a :class:`CertificateSigner` signs those bytes (a file key here, a token key in
   ``station.security.pkcs11``), and the certificate is assembled and checked with
   cryptography before anyone gets it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from asn1crypto import core as asn1_core
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from station.domain.errors import CredentialError
from station.domain.recipe import KeyType
from station.security.keys import (
    SigningAlgorithm,
    SigningPublicKey,
    certificate_fingerprint,
    key_type_of,
    public_key_der,
    signature_hash,
    signing_algorithm_of,
    verify_signature,
)

# asn1crypto's names of the X.509 signature algorithms (RFC 5758, RFC 8410).
_ASN1_SIGNATURE_ALGORITHMS: Final = {
    SigningAlgorithm.ED25519: "ed25519",
    SigningAlgorithm.ECDSA_P256_SHA256: "sha256_ecdsa",
    SigningAlgorithm.ECDSA_P384_SHA384: "sha384_ecdsa",
}
_UTC_TIME_UNTIL: Final = 2050  # RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050


class CertificateSigner(Protocol):
    """Signs a certificate's to-be-signed bytes with a key it may not show."""

    @property
    def algorithm(self) -> SigningAlgorithm: ...

    @property
    def public_key(self) -> SigningPublicKey: ...

    def sign(self, data: bytes) -> bytes:
        """The signature as X.509 carries it: DER ``ECDSA-Sig-Value``, or Ed25519's 64 bytes."""
        ...


class CertificateAuthority(Protocol):
    """A factory CA as the credential builder needs it, whichever way its key is held."""

    @property
    def certificate(self) -> x509.Certificate: ...

    @property
    def signer(self) -> CertificateSigner: ...

    @property
    def fingerprint(self) -> str: ...

    @property
    def key_location(self) -> str:
        """Where the private key lives, for ``station ca show`` (a file, or a PKCS#11 URI)."""
        ...


class PrivateKeySigner:
    """A :class:`CertificateSigner` over a key in memory (the file CA's)."""

    __slots__ = ("_algorithm", "_private_key")

    def __init__(self, private_key: ec.EllipticCurvePrivateKey) -> None:
        algorithm = signing_algorithm_of(private_key.public_key())
        if algorithm is None:
            raise CredentialError("a CA key must be EC P-256 or P-384")
        self._private_key = private_key
        self._algorithm = algorithm

    @property
    def algorithm(self) -> SigningAlgorithm:
        return self._algorithm

    @property
    def public_key(self) -> ec.EllipticCurvePublicKey:
        return self._private_key.public_key()

    def sign(self, data: bytes) -> bytes:
        key_type = key_type_of(self.public_key)
        assert key_type is not None  # checked in __init__
        return self._private_key.sign(data, ec.ECDSA(signature_hash(key_type)))

    def __repr__(self) -> str:
        return f"PrivateKeySigner({self._algorithm.value})"

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("a signer holding a private key cannot be pickled")


@dataclass(frozen=True)
class CertificateContents:
    """Everything a certificate says except its signature."""

    subject: x509.Name
    issuer: x509.Name
    public_key: SigningPublicKey
    serial_number: int
    not_before: dt.datetime
    not_after: dt.datetime
    extensions: Sequence[x509.Extension[x509.ExtensionType]]


def extension(value: x509.ExtensionType, *, critical: bool) -> x509.Extension[x509.ExtensionType]:
    """An extension for :class:`CertificateContents` (its OID is the value's)."""
    return x509.Extension(value.oid, critical, value)


def ca_key_usage() -> x509.KeyUsage:
    """A CA's: it signs certificates and CRLs (and its own OCSP answers: digitalSignature)."""
    return _key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True)


def device_key_usage() -> x509.KeyUsage:
    """A unit's: it signs (TLS client authentication), nothing else."""
    return _key_usage(digital_signature=True, key_cert_sign=False, crl_sign=False)


def authority_key_identifier(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    """The issuer's subject key identifier as the authority key identifier (from its key when it has none)."""
    try:
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    except x509.ExtensionNotFound:
        public_key = issuer.public_key()
        assert isinstance(public_key, ec.EllipticCurvePublicKey)  # the station's CAs are EC
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key)


def build_certificate(contents: CertificateContents, signer: CertificateSigner) -> x509.Certificate:
    """Encode ``contents``, have ``signer`` sign them, and return the certificate, whose signature
    is checked against the signer's public key (a token that signed garbage is caught here)."""
    algorithm = {"algorithm": _ASN1_SIGNATURE_ALGORITHMS[signer.algorithm]}
    tbs = asn1_x509.TbsCertificate(
        {
            "version": "v3",
            "serial_number": contents.serial_number,
            "signature": algorithm,
            "issuer": asn1_x509.Name.load(contents.issuer.public_bytes()),
            "validity": {"not_before": _time(contents.not_before), "not_after": _time(contents.not_after)},
            "subject": asn1_x509.Name.load(contents.subject.public_bytes()),
            "subject_public_key_info": asn1_keys.PublicKeyInfo.load(public_key_der(contents.public_key)),
            "extensions": [
                {
                    "extn_id": item.oid.dotted_string,
                    "critical": item.critical,
                    "extn_value": asn1_core.ParsableOctetString(item.value.public_bytes()),
                }
                for item in contents.extensions
            ],
        }
    )
    tbs_der: bytes = tbs.dump()
    signature = signer.sign(tbs_der)
    if not verify_signature(signer.public_key, tbs_der, signature):
        raise CredentialError(f"the CA's key ({signer.algorithm.value}) gave a signature that does not verify")
    # The TBS as the signed bytes themselves (loaded, not re-encoded: a third of the time).
    signed = asn1_x509.TbsCertificate.load(tbs_der)
    assembled = asn1_x509.Certificate(
        {"tbs_certificate": signed, "signature_algorithm": algorithm, "signature_value": signature}
    )
    return x509.load_der_x509_certificate(assembled.dump())


def check_ca_key_matches(certificate: x509.Certificate, signer: CertificateSigner, *, where: str) -> None:
    """CredentialError unless ``signer``'s key is the one in the CA ``certificate``."""
    if public_key_der(signer.public_key) != public_key_der(certificate.public_key()):
        fingerprint = certificate_fingerprint(certificate)[:16]
        raise CredentialError(f"the CA key in {where} does not belong to the CA certificate {fingerprint}…")


def ca_key_type(certificate: x509.Certificate) -> KeyType:
    """The CA's key type (the station's CAs are EC P-256 or P-384)."""
    key_type = key_type_of(certificate.public_key())
    if key_type is None:
        raise CredentialError("the CA certificate's key is not EC P-256 or P-384")
    return key_type


class CaCertificateFacts:
    """What a CA tells of its certificate, whichever holds its key (a file, a token)."""

    certificate: x509.Certificate

    @property
    def fingerprint(self) -> str:
        return certificate_fingerprint(self.certificate)

    @property
    def key_type(self) -> KeyType:
        return ca_key_type(self.certificate)

    @property
    def certificate_der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)


def _time(moment: dt.datetime) -> asn1_x509.Time:
    if moment.tzinfo is None:
        raise ValueError("certificate times must be timezone-aware")
    moment = moment.astimezone(dt.UTC).replace(microsecond=0)
    return asn1_x509.Time({"utc_time": moment} if moment.year < _UTC_TIME_UNTIL else {"general_time": moment})


def _key_usage(*, digital_signature: bool, key_cert_sign: bool, crl_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )
