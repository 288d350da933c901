"""The factory CA as the per-unit sequence sees it (``station.flow.ports.CredentialIssuer``).

The CA may hold its key in a file (``station.security.ca``) or in a token
(``station.security.pkcs11.ca``): both are a ``CertificateAuthority``.

Keeps the flow free of ``cryptography``: it hands over serials, device ids and CSR text and
gets back credentials whose private key (station-generated plan) stays inside this object
graph until it is encoded into the unit's credential region.
"""

from __future__ import annotations

from station.domain.errors import CredentialError
from station.domain.recipe import CredentialPlan, CredentialSettings
from station.flow.ports import IssuedCredentialView
from station.security.certificates import CertificateAuthority
from station.security.credentials import (
    IssuedCredential,
    build_bundle,
    check_bundle,
    issue_from_csr,
    issue_station_generated,
)


class FactoryCredentialIssuer:
    """Issues and checks credentials under one factory CA for one recipe's credential plan."""

    def __init__(self, ca: CertificateAuthority, settings: CredentialSettings) -> None:
        self._ca = ca
        self._settings = settings

    def __repr__(self) -> str:
        return f"FactoryCredentialIssuer(ca={self._ca.fingerprint[:16]}…, plan={self._settings.plan.value})"

    @property
    def device_generated(self) -> bool:
        return self._settings.plan is CredentialPlan.DEVICE_GENERATED

    def endpoint_name(self, serial: str, device_id: str) -> str:
        return self._settings.endpoint_name(serial, device_id)

    def issue_station_generated(self, serial: str, device_id: str) -> IssuedCredential:
        return issue_station_generated(self._ca, self._settings, serial, device_id)

    def issue_from_csr(self, serial: str, device_id: str, csr_pem: str) -> IssuedCredential:
        return issue_from_csr(self._ca, self._settings, serial, device_id, csr_pem)

    @staticmethod
    def _issued(issued: IssuedCredentialView) -> IssuedCredential:
        if not isinstance(issued, IssuedCredential):
            raise CredentialError("this credential was not issued by the station's factory CA")
        return issued

    def region_bytes(self, issued: IssuedCredentialView) -> bytes:
        return build_bundle(self._issued(issued), self._ca, self._settings).encode()

    def check_region(self, issued: IssuedCredentialView, read_back: bytes) -> None:
        check_bundle(read_back, self._issued(issued), self._ca.certificate)
