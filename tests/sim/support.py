"""Test helpers for the simulator tests: a test factory CA and writing state into a unit's flash.

Units are put into a known state the way the unit's own flash would hold it, by programming
flash directly under the unit's lock; nothing here goes through the debug probe.
"""

from __future__ import annotations

import datetime
import struct
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyocd.core.helpers import ConnectHelper
from pyocd.core.session import Session

from station.domain.formats import CredentialBundle
from station.sim import board
from station.sim.firmware import DemoFirmware
from station.sim.units import SimUnit

TOASTER = "ACME-TOASTER"
FRIDGE = "ACME-FRIDGE"
DEVELOPMENT = "0ST3XD-TOASTER"
TOASTER_TOKEN = "tok-toaster-5f0c2d9e"
FRIDGE_TOKEN = "tok-fridge-81b7aa40"
DEVELOPMENT_TOKEN = "tok-dev-77e1c3"
SERVER_URI = "coaps://dms.example.com:5684"


def private_key_der(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@dataclass
class CertificateAuthority:
    """A test CA (root or intermediate) that issues device certificates."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @property
    def pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @classmethod
    def create(cls, name: str, issuer: CertificateAuthority | None = None) -> CertificateAuthority:
        key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        signer_key = issuer.key if issuer else key
        issuer_name = issuer.certificate.subject if issuer else subject
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(signer_key, hashes.SHA256())
        )
        return cls(key, certificate)

    def issue(self, public_key: ec.EllipticCurvePublicKey, *, device_id: int, common_name: str) -> bytes:
        """A device certificate (DER) following the DMS identity convention."""
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                x509.NameAttribute(NameOID.SERIAL_NUMBER, f"{device_id:016X}"),
            ]
        )
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=3650))
            .sign(self.key, hashes.SHA256())
        )
        return certificate.public_bytes(serialization.Encoding.DER)

    def bundle_for(
        self, device_id: int, *, endpoint: str | None = None, common_name: str | None = None
    ) -> CredentialBundle:
        """Station-generated plan: key made here, certificate and key both in the bundle."""
        endpoint = endpoint or f"toaster-{device_id:016X}"
        key = ec.generate_private_key(ec.SECP256R1())
        certificate = self.issue(key.public_key(), device_id=device_id, common_name=common_name or endpoint)
        return CredentialBundle(
            device_certificate=certificate,
            ca_chain=(self.der,),
            endpoint_name=endpoint,
            server_uri=SERVER_URI,
            device_private_key=private_key_der(key),
        )


def write_firmware(unit: SimUnit, firmware: DemoFirmware) -> None:
    with unit.locked():
        for image in firmware.images:
            unit.program_nvm(image.address, image.data)


def write_credentials(unit: SimUnit, region: bytes) -> None:
    with unit.locked():
        unit.erase_page(board.CREDENTIALS_ADDRESS)
        unit.program_nvm(board.CREDENTIALS_ADDRESS, region)


@contextmanager
def session_for(unit: SimUnit, **options: Any) -> Iterator[Session]:
    """A pyOCD session on a simulated unit as the station opens one: never auto-unlock."""
    session = ConnectHelper.session_with_chosen_probe(
        unique_id=unit.probe_id, options={"auto_unlock": False, "frequency": 1_000_000, **options}
    )
    assert session is not None
    with session:
        yield session


def wait_for(condition: Callable[[], bool], what: str, seconds: float = 30.0) -> None:
    """Until ``condition`` holds: a condition, never a duration, is what a test asserts."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


DEMO_BANNER = "Gecko OS-sim demo application 1.4.2 booting\r\n"  # what every family's demo sends first


@contextmanager
def booted_demo(sim_store: Any, dms: Any, unit: SimUnit, firmware: DemoFirmware) -> Iterator[Any]:
    """The demo firmware written to ``unit`` and started by a reset from a debug session, until
    its banner reached the console (sent once, byte by byte, through the family's UART) and its
    main loop runs (SysTick counts, the heartbeat follows). Yields the session, open until the
    block ends, for the family's own checks."""
    from station.sim.console import ConsoleServer
    from station.sim.device import SimDevice
    from station.sim.peripherals import UART_LOG_NAME

    from .test_console import ConsoleClient

    write_firmware(unit, firmware)
    with ConsoleServer(sim_store, dms) as server:
        client = ConsoleClient(server.wait_for_port(unit.unit_id))
        session = SimDevice(unit)  # a debug session: its runner executes the core after the reset
        try:
            session.system_reset()
            bodies: list[str] = []
            deadline = time.monotonic() + 30
            while DEMO_BANNER not in bodies and time.monotonic() < deadline:
                bodies.append(client.read_log().body)
            assert DEMO_BANNER in bodies, bodies
            wait_for(lambda: unit.core_state.read_ram(board.HEARTBEAT_COUNT_ADDRESS, 4) != bytes(4), "a heartbeat")
            systick, heartbeat = struct.unpack("<II", unit.core_state.read_ram(board.SYSTICK_COUNT_ADDRESS, 8))
            assert systick >= 100 * heartbeat >= 100
            assert (unit.directory / UART_LOG_NAME).read_bytes() == DEMO_BANNER.encode(), "sent once, byte by byte"
            yield session
        finally:
            session.close()
            client.close()
