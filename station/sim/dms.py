"""A simulated device-management service (DMS), file-backed so every process sees one service.

It enforces the field's production rules (Gecko OS "Development vs Production" notes) so that
the station's activation step meets the same refusals a real line would:

* A production product is activated to with an **activation token**, a secret. The service
  keeps only the SHA-256 of each token and never stores, returns or echoes a token; a token
  of a product that is not a production product is refused (403).
* The unit must present valid credentials: a device certificate that chains, through the
  bundle's CA certificates if needed, to one of the product's trusted factory CAs; a private
  key that matches the certificate (passing the key here stands for the proof of possession a
  TLS handshake gives; it is only compared, never stored); and a certificate that identifies
  the unit.
* **Identity convention** (the station's certificate builder follows it): the device
  certificate's subject carries the unit's FICR device id as exactly 16 uppercase hex digits
  in the ``serialNumber`` attribute (OID 2.5.4.5), and its common name (CN) equals the
  endpoint name in the credential bundle.
* A unit whose debug port was ever unlocked (mass-erased) "lives forever as a development
  device": it is refused (403) and remembered as a development unit.
* A production device activates once. Activating it to another product is refused (403);
  activating it again to the same product with a valid token succeeds without change.

Result codes are the field's HTTP-style ones: 200 success, 400 bad request (no or corrupt
credentials, identity mismatch), 401 unknown token, 403 forbidden (development unit, activated
to another product, untrusted certificate, not a production product). Checks run in that
order: token, credentials, trust, identity, development unit, existing activation.

State lives in ``<sim dir>/dms.json`` (written atomically, guarded by ``dms.lock``)::

    {"version": 1,
     "products": {code: {"production": bool, "token_sha256": [hex...], "trusted_ca_pem": [pem...]}},
     "activations": {device id hex: {"product", "endpoint_name", "certificate_fingerprint",
                                     "activated_at"}},
     "development_units": [device id hex...]}
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import filelock
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from station.domain.errors import SimulationError
from station.domain.formats import CredentialBundle

DMS_FILE: Final = "dms.json"
DMS_LOCK_FILE: Final = "dms.lock"
LOCK_TIMEOUT_SECONDS: Final = 30.0
_STATE_VERSION: Final = 1
_MAX_CHAIN_LENGTH: Final = 8

STATUS_OK: Final = 200
STATUS_BAD_REQUEST: Final = 400
STATUS_UNAUTHORIZED: Final = 401
STATUS_FORBIDDEN: Final = 403
STATUS_PHRASES: Final = {
    STATUS_OK: "OK",
    STATUS_BAD_REQUEST: "Bad Request",
    STATUS_UNAUTHORIZED: "Unauthorized",
    STATUS_FORBIDDEN: "Forbidden",
}


def device_id_text(device_id: int) -> str:
    """The device id as the DMS records key it (a certificate carries it at its family's width)."""
    return f"{device_id:016X}"


def token_digest(token: str) -> str:
    """What the service keeps instead of a token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ActivatedDevice:
    """One device's activation record as the service keeps it."""

    device_id: int
    product: str
    endpoint_name: str
    certificate_fingerprint: str  # SHA-256 hex of the device certificate DER
    activated_at: str  # ISO 8601, UTC


@dataclass(frozen=True)
class ActivationResult:
    """Outcome of one activation request; carries no secret, so it may be logged."""

    status: int
    reason: str
    product: str | None = None
    device: ActivatedDevice | None = None
    repeated: bool = False  # already activated to this product: nothing changed

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    def describe(self) -> str:
        """``403 Forbidden: device is a development unit``, as the unit's console reports it."""
        return f"{self.status} {STATUS_PHRASES.get(self.status, 'Error')}: {self.reason}"


@dataclass(frozen=True)
class ProductSummary:
    """A product without its secrets: token count only, CA fingerprints only."""

    code: str
    production: bool
    token_count: int
    trusted_ca_fingerprints: tuple[str, ...]


def _refuse(status: int, reason: str) -> ActivationResult:
    return ActivationResult(status=status, reason=reason)


class SimDeviceManagement:
    """The simulated service; every call reloads and (when it changes something) saves the state."""

    def __init__(self, root: Path, *, clock: Callable[[], datetime] | None = None) -> None:
        self.root = root
        self.path = root / DMS_FILE
        self._lock = filelock.FileLock(str(root / DMS_LOCK_FILE), timeout=LOCK_TIMEOUT_SECONDS)
        self._clock = clock or (lambda: datetime.now(UTC))

    # ---- administration ---------------------------------------------------------------------

    def add_product(
        self,
        code: str,
        tokens: Iterable[str],
        trusted_ca_pem: Iterable[bytes],
        production: bool = True,
    ) -> None:
        """Create a product with its activation tokens and trusted factory CAs."""
        if not code or code != code.strip() or any(character.isspace() for character in code):
            raise SimulationError("product code must be a non-empty word")
        digests = [self._checked_digest(token) for token in tokens]
        pems = [self._checked_pem(pem) for pem in trusted_ca_pem]
        with self._state() as state:
            if code in state["products"]:
                raise SimulationError(f"product {code} already exists")
            self._ensure_tokens_unused(state, digests)
            state["products"][code] = {
                "production": production,
                "token_sha256": sorted(set(digests)),
                "trusted_ca_pem": pems,
            }

    def add_tokens(self, code: str, tokens: Iterable[str]) -> None:
        """Issue more activation tokens for a product."""
        digests = [self._checked_digest(token) for token in tokens]
        with self._state() as state:
            product = self._product(state, code)
            self._ensure_tokens_unused(state, [d for d in digests if d not in product["token_sha256"]])
            product["token_sha256"] = sorted(set(product["token_sha256"]) | set(digests))

    def trust_ca(self, code: str, pem: bytes) -> None:
        """Trust one more factory CA for a product (e.g. a new station's CA)."""
        text = self._checked_pem(pem)
        with self._state() as state:
            product = self._product(state, code)
            if text not in product["trusted_ca_pem"]:
                product["trusted_ca_pem"].append(text)

    def mark_development_unit(self, device_id: int) -> None:
        """Record that a unit was unlocked once and may never be activated to production."""
        with self._state() as state:
            self._mark_development(state, device_id)

    # ---- queries ----------------------------------------------------------------------------

    def products(self) -> list[ProductSummary]:
        state = self._read()
        return [
            ProductSummary(
                code=code,
                production=bool(product["production"]),
                token_count=len(product["token_sha256"]),
                trusted_ca_fingerprints=tuple(
                    x509.load_pem_x509_certificate(pem.encode("ascii")).fingerprint(hashes.SHA256()).hex()
                    for pem in product["trusted_ca_pem"]
                ),
            )
            for code, product in sorted(state["products"].items())
        ]

    def product_of(self, device_id: int) -> str | None:
        record = self._read()["activations"].get(device_id_text(device_id))
        return None if record is None else str(record["product"])

    def devices_in(self, product: str) -> list[ActivatedDevice]:
        state = self._read()
        self._product(state, product)
        devices = [
            _activated_device(key, record)
            for key, record in state["activations"].items()
            if record["product"] == product
        ]
        return sorted(devices, key=lambda device: (device.activated_at, device.device_id))

    def is_development_unit(self, device_id: int) -> bool:
        return device_id_text(device_id) in self._read()["development_units"]

    # ---- activation -------------------------------------------------------------------------

    def activate(
        self,
        device_id: int,
        token: str,
        credentials: CredentialBundle | None,
        device_key_der: bytes | None,
        ever_erased: bool,
        *,
        device_id_digits: int = 16,
    ) -> ActivationResult:
        """Activate a unit to the production product its token belongs to.

        ``device_key_der`` is the key from the unit's key store (device-generated plan); it is
        used only when the bundle carries no private key (station-generated plan).
        ``device_id_digits``: how many hex digits the unit's family writes its id with (16 on
        the nRF52840, 24 on the STM32, 32 on the Kinetis), leading zeros kept, as the station
        puts it in the certificate.
        """
        digest = token_digest(token)
        with self._state() as state:
            code = next(
                (name for name, product in state["products"].items() if digest in product["token_sha256"]),
                None,
            )
            if code is None:
                return _refuse(STATUS_UNAUTHORIZED, "unknown activation token")
            product = state["products"][code]
            if not product["production"]:
                return _refuse(STATUS_FORBIDDEN, f"product {code} is not a production product")

            checked = _check_credentials(
                f"{device_id:0{device_id_digits}X}", credentials, device_key_der, product["trusted_ca_pem"]
            )
            if isinstance(checked, ActivationResult):
                return checked
            endpoint_name, fingerprint = checked

            key = device_id_text(device_id)
            if ever_erased or key in state["development_units"]:
                self._mark_development(state, device_id)
                return _refuse(STATUS_FORBIDDEN, "device is a development unit")

            existing = state["activations"].get(key)
            if existing is not None:
                if existing["product"] != code:
                    return _refuse(STATUS_FORBIDDEN, "device is already activated to another product")
                return ActivationResult(
                    status=STATUS_OK,
                    reason="already activated to this product",
                    product=code,
                    device=_activated_device(key, existing),
                    repeated=True,
                )
            record = {
                "product": code,
                "endpoint_name": endpoint_name,
                "certificate_fingerprint": fingerprint,
                "activated_at": self._clock().astimezone(UTC).isoformat(timespec="seconds"),
            }
            state["activations"][key] = record
            return ActivationResult(
                status=STATUS_OK,
                reason="activated",
                product=code,
                device=_activated_device(key, record),
            )

    # ---- state file -------------------------------------------------------------------------

    def _read(self) -> dict[str, Any]:
        with self._locked():
            return self._load()

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        try:
            self._lock.acquire()
        except filelock.Timeout as error:
            raise SimulationError(f"simulated DMS in {self.root} is busy in another process") from error
        try:
            yield
        finally:
            self._lock.release()

    def _load(self) -> dict[str, Any]:
        if not self.path.exists():
            return {"version": _STATE_VERSION, "products": {}, "activations": {}, "development_units": []}
        state: dict[str, Any] = json.loads(self.path.read_text(encoding="utf-8"))
        if state.get("version") != _STATE_VERSION:
            raise SimulationError(f"unsupported DMS state version in {self.path}")
        return state

    @contextlib.contextmanager
    def _state(self) -> Iterator[dict[str, Any]]:
        """Hold the lock around load, change and atomic save (saved only if it changed)."""
        with self._locked():
            state = self._load()
            before = json.dumps(state, sort_keys=True)
            yield state
            if json.dumps(state, sort_keys=True) != before:
                self._save(state)

    def _save(self, state: dict[str, Any]) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(state, indent=2, sort_keys=True), encoding="utf-8")
        os.replace(temporary, self.path)

    @staticmethod
    def _product(state: dict[str, Any], code: str) -> dict[str, Any]:
        product: dict[str, Any] | None = state["products"].get(code)
        if product is None:
            raise SimulationError(f"no product {code} in the simulated DMS")
        return product

    @staticmethod
    def _mark_development(state: dict[str, Any], device_id: int) -> None:
        key = device_id_text(device_id)
        if key not in state["development_units"]:
            state["development_units"] = sorted([*state["development_units"], key])

    @staticmethod
    def _ensure_tokens_unused(state: dict[str, Any], digests: list[str]) -> None:
        for product in state["products"].values():
            if set(digests) & set(product["token_sha256"]):
                raise SimulationError("an activation token is already issued for a product")

    @staticmethod
    def _checked_digest(token: str) -> str:
        if not token or token != token.strip() or any(character.isspace() for character in token):
            raise SimulationError("an activation token must be a non-empty word")
        return token_digest(token)

    @staticmethod
    def _checked_pem(pem: bytes) -> str:
        try:
            certificate = x509.load_pem_x509_certificate(pem)
        except ValueError as error:
            raise SimulationError("trusted CA is not a PEM X.509 certificate") from error
        return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _activated_device(key: str, record: dict[str, Any]) -> ActivatedDevice:
    return ActivatedDevice(
        device_id=int(key, 16),
        product=str(record["product"]),
        endpoint_name=str(record["endpoint_name"]),
        certificate_fingerprint=str(record["certificate_fingerprint"]),
        activated_at=str(record["activated_at"]),
    )


def _check_credentials(
    certified_id: str,
    credentials: CredentialBundle | None,
    device_key_der: bytes | None,
    trusted_ca_pem: list[str],
) -> tuple[str, str] | ActivationResult:
    """Endpoint name and certificate fingerprint if the credentials are good, else the refusal."""
    if credentials is None:
        return _refuse(STATUS_BAD_REQUEST, "device has no credentials")
    try:
        certificate = x509.load_der_x509_certificate(credentials.device_certificate)
        chain = [x509.load_der_x509_certificate(der) for der in credentials.ca_chain]
    except ValueError:
        return _refuse(STATUS_BAD_REQUEST, "device credentials are corrupt (certificate)")

    key_der = credentials.device_private_key if credentials.device_private_key is not None else device_key_der
    if key_der is None:
        return _refuse(STATUS_BAD_REQUEST, "device has no private key")
    try:
        private_key = serialization.load_der_private_key(key_der, password=None)
    except (ValueError, TypeError):
        return _refuse(STATUS_BAD_REQUEST, "device credentials are corrupt (private key)")

    trusted = [x509.load_pem_x509_certificate(pem.encode("ascii")) for pem in trusted_ca_pem]
    if not _chains_to(certificate, chain, trusted):
        return _refuse(STATUS_FORBIDDEN, "device certificate is not issued by a trusted factory CA")

    serial_numbers = certificate.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    if [attribute.value for attribute in serial_numbers] != [certified_id]:
        return _refuse(STATUS_BAD_REQUEST, "device certificate does not identify this device")
    common_names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if [attribute.value for attribute in common_names] != [credentials.endpoint_name]:
        return _refuse(STATUS_BAD_REQUEST, "device certificate common name is not the endpoint name")

    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    if private_key.public_key().public_bytes(*spki) != certificate.public_key().public_bytes(*spki):
        return _refuse(STATUS_BAD_REQUEST, "device private key does not match its certificate")
    fingerprint = hashlib.sha256(credentials.device_certificate).hexdigest()
    return credentials.endpoint_name, fingerprint


def _chains_to(
    certificate: x509.Certificate,
    intermediates: list[x509.Certificate],
    trusted: list[x509.Certificate],
) -> bool:
    """True if ``certificate`` is signed by a trusted CA, directly or via the bundle's CAs."""
    current = certificate
    for _ in range(_MAX_CHAIN_LENGTH):
        if any(_issued_by(current, anchor) for anchor in trusted):
            return True
        issuer = next((ca for ca in intermediates if ca != current and _issued_by(current, ca)), None)
        if issuer is None:
            return False
        current = issuer
    return False


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Name match and signature check (ECDSA with the certificate's own hash for EC keys)."""
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


class SimulatedDeviceManagementClient:
    """The flow's ``DevelopmentUnitRegistry`` over the simulated service.

    On a real line the station asks the vendor's service; simulated units activate against
    this one, so it is what the station asks about them (``station.app`` decides which).
    """

    def __init__(self, sim_dir: Path) -> None:
        self._service = SimDeviceManagement(sim_dir)

    def is_development_unit(self, device_id: str) -> bool:
        return self._service.is_development_unit(int(device_id, 16))
