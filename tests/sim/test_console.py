"""The simulated console, exercised as the station will: pyserial on the unit's pty."""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import serial
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from station.domain.formats import CredentialBundle, decode_key_store
from station.sim import board
from station.sim.console import ConsoleServer, UnitFirmware
from station.sim.dms import SimDeviceManagement
from station.sim.firmware import DemoFirmware
from station.sim.units import ConsoleBehaviour, SimUnit, SimUnitStore

from .support import (
    FRIDGE,
    FRIDGE_TOKEN,
    SERVER_URI,
    TOASTER,
    TOASTER_TOKEN,
    CertificateAuthority,
    write_credentials,
    write_firmware,
)

TIMEOUT = 2.0
SILENCE = 0.3
_HEADER = re.compile(rb"([RL])([0-9])([0-9]{5})\r\n")


class ProtocolError(Exception):
    """The bytes on the wire are not a well-formed frame."""


@dataclass(frozen=True)
class Frame:
    kind: str  # "R" response, "L" log
    status: int
    body: str


class ConsoleClient:
    """A strict parser of the console framing over a real pyserial port."""

    def __init__(self, path: str, timeout: float = TIMEOUT) -> None:
        self.port = serial.Serial(path, 115200, timeout=timeout)
        self.port.reset_input_buffer()
        self.received = bytearray()
        self.logs: list[Frame] = []

    def close(self) -> None:
        self.port.close()

    def _read_exactly(self, count: int) -> bytes:
        data = self.port.read(count)
        self.received += data
        if len(data) < count:
            raise TimeoutError(f"read {len(data)} of {count} bytes")
        return bytes(data)

    def read_frame(self) -> Frame:
        header = self._read_exactly(9)
        match = _HEADER.fullmatch(header)
        if match is None:
            raise ProtocolError(f"bad header {header!r}")
        kind, status, length = match.group(1).decode(), int(match.group(2)), int(match.group(3))
        if kind == "L" and status != 0:
            raise ProtocolError("log frames carry status 0")
        body = self._read_exactly(length)
        if not body.endswith(b"\r\n"):
            raise ProtocolError("body does not end with CRLF")
        return Frame(kind, status, body.decode("utf-8"))

    def read_log(self) -> Frame:
        frame = self.read_frame()
        assert frame.kind == "L", frame
        return frame

    def send(self, line: bytes) -> None:
        self.port.write(line)

    def command(self, line: str) -> Frame:
        """Send one command; log frames that arrive first are kept in ``logs``."""
        self.send(line.encode("ascii") + b"\r\n")
        while True:
            frame = self.read_frame()
            if frame.kind == "R":
                return frame
            self.logs.append(frame)


@pytest.fixture
def server(sim_store: SimUnitStore, dms: SimDeviceManagement) -> Iterator[ConsoleServer]:
    console = ConsoleServer(sim_store, dms)
    console.start()
    yield console
    console.stop()


@pytest.fixture
def unit(sim_store: SimUnitStore) -> Iterator[SimUnit]:
    made = sim_store.create_unit(device_id=0x5EED_0000_C0FF_EE01)
    yield made
    made.close()


@pytest.fixture
def client(server: ConsoleServer, unit: SimUnit) -> Iterator[ConsoleClient]:
    opened = ConsoleClient(server.wait_for_port(unit.unit_id))
    yield opened
    opened.close()


def uuid_of(unit: SimUnit) -> str:
    return f"{unit.info.device_id:016X}"


def assert_console_answers(path: str, unit: SimUnit) -> None:
    """A client on ``path`` is answered by this unit (its own device id)."""
    opened = ConsoleClient(path)
    try:
        assert opened.command("get system.uuid").body == f"{uuid_of(unit)}\r\n"
    finally:
        opened.close()


def provision(unit: SimUnit, firmware: DemoFirmware, bundle: CredentialBundle | None) -> None:
    write_firmware(unit, firmware)
    if bundle is not None:
        write_credentials(unit, bundle.encode())


def set_console_fault(unit: SimUnit, behaviour: ConsoleBehaviour) -> None:
    with unit.locked():
        unit.info.faults.console = behaviour


# ---- plumbing -------------------------------------------------------------------------------


def test_consoles_keep_answering_with_descriptors_above_select_s_limit(
    sim_store: SimUnitStore, dms: SimDeviceManagement, unit: SimUnit
) -> None:
    """A long training session opens hundreds of units, five files each; select() cannot
    watch a descriptor above 1023, so the server must not use it."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 1200:
        pytest.skip("this machine allows fewer than 1200 open files")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 1200), hard))
    filler = [os.open(os.devnull, os.O_RDONLY) for _ in range(1100)]
    try:
        with ConsoleServer(sim_store, dms) as console:
            path = console.wait_for_port(unit.unit_id)  # the server's descriptors are all above 1100
            for fd in filler[:8]:  # the client (pyserial, which selects) gets low ones
                os.close(fd)
            del filler[:8]
            assert_console_answers(path, unit)
    finally:
        for fd in filler:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_replies_to_a_client_that_is_not_reading_wait_for_it_and_other_consoles_go_on(
    server: ConsoleServer, sim_store: SimUnitStore, unit: SimUnit
) -> None:
    """More replies than the pty holds: the rest waits in the server until the client reads,
    in order and whole, while another unit's console answers meanwhile."""
    other = sim_store.create_unit()
    slow = ConsoleClient(server.wait_for_port(unit.unit_id))
    try:
        commands = 1100  # 30 KiB of replies: a pty holds 20, the server keeps up to 16 more
        slow.send(b"get system.uuid\r\n" * commands)
        time.sleep(0.5)  # the server has answered everything it can by now
        assert_console_answers(server.wait_for_port(other.unit_id), other)
        replies = [slow.read_frame() for _ in range(commands)]
        assert all(reply == Frame("R", 0, f"{uuid_of(unit)}\r\n") for reply in replies)
        assert slow.command("get system.uuid").body == f"{uuid_of(unit)}\r\n"  # nothing left over
    finally:
        slow.close()
        other.close()


def test_each_unit_gets_a_pty_linked_from_its_directory(
    server: ConsoleServer, sim_store: SimUnitStore, unit: SimUnit
) -> None:
    path = server.wait_for_port(unit.unit_id)
    assert os.readlink(unit.directory / "console") == path
    later = sim_store.create_unit()
    try:
        later_path = server.wait_for_port(later.unit_id)
        assert later_path != path
        assert os.readlink(later.directory / "console") == later_path
        assert_console_answers(str(later.directory / "console"), later)
    finally:
        later.close()


def test_stop_joins_and_removes_the_links(sim_store: SimUnitStore, dms: SimDeviceManagement, unit: SimUnit) -> None:
    with ConsoleServer(sim_store, dms) as console:
        assert unit.unit_id in console.ports()
    assert console.ports() == {}
    assert not (unit.directory / "console").exists()
    assert not any(thread.name == "sim-console" for thread in threading.enumerate())


# ---- commands -------------------------------------------------------------------------------


def test_ver_reports_the_application_version(client: ConsoleClient, unit: SimUnit, demo_firmware: DemoFirmware) -> None:
    provision(unit, demo_firmware, None)
    assert client.command("ver") == Frame("R", 0, "1.4.2\r\n")


def test_ver_without_application_fails(client: ConsoleClient) -> None:
    assert client.command("ver") == Frame("R", 1, "no valid application\r\n")


def test_ver_with_a_damaged_application_fails(
    client: ConsoleClient, unit: SimUnit, demo_firmware: DemoFirmware
) -> None:
    provision(unit, demo_firmware, None)
    with unit.locked():
        unit.program_nvm(board.APPLICATION_ADDRESS + 0x2000, b"\x00")
    assert client.command("ver").status == 1


def test_get_uuid_and_credentials(
    client: ConsoleClient, unit: SimUnit, demo_firmware: DemoFirmware, factory_ca: CertificateAuthority
) -> None:
    bundle = factory_ca.bundle_for(unit.info.device_id)
    provision(unit, demo_firmware, bundle)
    assert client.command("get system.uuid") == Frame("R", 0, f"{uuid_of(unit)}\r\n")
    assert client.command("get dms.endpoint") == Frame("R", 0, f"{bundle.endpoint_name}\r\n")
    fingerprint = hashlib.sha256(bundle.device_certificate).hexdigest()
    assert client.command("get dms.cert_fingerprint") == Frame("R", 0, f"{fingerprint}\r\n")
    assert client.command("get dms.product") == Frame("R", 1, "not activated\r\n")


def test_get_credentials_absent_or_corrupt(
    client: ConsoleClient, unit: SimUnit, factory_ca: CertificateAuthority
) -> None:
    assert client.command("get dms.endpoint") == Frame("R", 1, "no credentials\r\n")
    region = bytearray(factory_ca.bundle_for(unit.info.device_id).encode())
    region[-1] ^= 0xFF
    write_credentials(unit, bytes(region))
    reply = client.command("get dms.cert_fingerprint")
    assert reply == Frame("R", 1, "credentials are corrupt: region CRC mismatch\r\n")


def test_status_codes_for_bad_commands(client: ConsoleClient) -> None:
    assert client.command("get no.such.variable") == Frame("R", 6, "Unknown variable\r\n")
    assert client.command("get") == Frame("R", 4, "Too few args\r\n")
    assert client.command("get system.uuid extra") == Frame("R", 5, "Too many args\r\n")
    assert client.command("frobnicate") == Frame("R", 3, "Unknown command\r\n")
    assert client.command("csr_generate " + "x" * 65).status == 7
    client.send(b"get \xff\xfe\r\n")
    assert client.read_frame() == Frame("R", 2, "Parse error\r\n")
    client.send(b"ver\n")  # a bare LF ends a line too
    assert client.read_frame().kind == "R"


def test_csr_generate_makes_a_key_and_a_csr(client: ConsoleClient, unit: SimUnit) -> None:
    reply = client.command("csr_generate toaster-csr-1")
    assert reply.status == 0
    assert reply.body.startswith("-----BEGIN CERTIFICATE REQUEST-----\r\n")
    request = x509.load_pem_x509_csr(reply.body.replace("\r\n", "\n").encode())
    assert request.is_signature_valid
    subject = {attribute.oid.dotted_string: attribute.value for attribute in request.subject}
    assert subject == {"2.5.4.3": "toaster-csr-1", "2.5.4.5": uuid_of(unit)}
    key_der = decode_key_store(unit.read_nvm(board.KEY_STORE_ADDRESS, board.KEY_STORE_SIZE))
    key = serialization.load_der_private_key(key_der, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    assert key.public_key().public_bytes(*spki) == request.public_key().public_bytes(*spki)
    assert key_der.hex() not in client.received.decode("ascii", "replace")

    again = client.command("csr_generate toaster-csr-1")
    second = x509.load_pem_x509_csr(again.body.replace("\r\n", "\n").encode())
    assert second.public_key().public_bytes(*spki) != request.public_key().public_bytes(*spki)
    newer = decode_key_store(unit.read_nvm(board.KEY_STORE_ADDRESS, board.KEY_STORE_SIZE))
    assert newer != key_der


# ---- activation -----------------------------------------------------------------------------


def test_activation_station_generated_plan(
    client: ConsoleClient,
    unit: SimUnit,
    demo_firmware: DemoFirmware,
    factory_ca: CertificateAuthority,
    dms: SimDeviceManagement,
) -> None:
    provision(unit, demo_firmware, factory_ca.bundle_for(unit.info.device_id))
    assert client.command(f"dms_activate {TOASTER_TOKEN}") == Frame("R", 0, f"Activated to {TOASTER}\r\n")
    assert unit.reload().activated_product == TOASTER
    assert dms.product_of(unit.info.device_id) == TOASTER
    assert client.command("get dms.product") == Frame("R", 0, f"{TOASTER}\r\n")
    # Once more with the same product's token: idempotent.
    assert client.command(f"dms_activate {TOASTER_TOKEN}").status == 0
    assert TOASTER_TOKEN.encode() not in client.received, "the unit never echoes the token"


def test_activation_device_generated_plan(
    client: ConsoleClient,
    unit: SimUnit,
    demo_firmware: DemoFirmware,
    factory_ca: CertificateAuthority,
) -> None:
    write_firmware(unit, demo_firmware)
    endpoint = "toaster-from-csr"
    request = x509.load_pem_x509_csr(client.command(f"csr_generate {endpoint}").body.replace("\r\n", "\n").encode())
    public_key = request.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    certificate = factory_ca.issue(public_key, device_id=unit.info.device_id, common_name=endpoint)
    write_credentials(unit, CredentialBundle(certificate, (factory_ca.der,), endpoint, SERVER_URI).encode())
    assert client.command(f"dms_activate {TOASTER_TOKEN}") == Frame("R", 0, f"Activated to {TOASTER}\r\n")


def test_activation_with_an_unknown_token(
    client: ConsoleClient, unit: SimUnit, demo_firmware: DemoFirmware, factory_ca: CertificateAuthority
) -> None:
    provision(unit, demo_firmware, factory_ca.bundle_for(unit.info.device_id))
    reply = client.command("dms_activate tok-not-issued")
    assert reply == Frame("R", 1, "401 Unauthorized: unknown activation token\r\n")
    assert unit.reload().activated_product is None


def test_activation_without_credentials(client: ConsoleClient, unit: SimUnit, demo_firmware: DemoFirmware) -> None:
    provision(unit, demo_firmware, None)
    reply = client.command(f"dms_activate {TOASTER_TOKEN}")
    assert reply == Frame("R", 1, "400 Bad Request: device has no credentials\r\n")


def test_activation_with_corrupt_credentials(
    client: ConsoleClient, unit: SimUnit, demo_firmware: DemoFirmware, factory_ca: CertificateAuthority
) -> None:
    provision(unit, demo_firmware, None)
    region = bytearray(factory_ca.bundle_for(unit.info.device_id).encode())
    region[12] ^= 0x01  # the stored CRC
    write_credentials(unit, bytes(region))
    reply = client.command(f"dms_activate {TOASTER_TOKEN}")
    assert reply == Frame("R", 1, "400 Bad Request: device credentials are corrupt\r\n")


def test_activation_without_application(client: ConsoleClient, unit: SimUnit, factory_ca: CertificateAuthority) -> None:
    write_credentials(unit, factory_ca.bundle_for(unit.info.device_id).encode())
    reply = client.command(f"dms_activate {TOASTER_TOKEN}")
    assert reply == Frame("R", 1, "400 Bad Request: no valid application\r\n")


def test_activation_of_a_development_unit(
    client: ConsoleClient,
    unit: SimUnit,
    demo_firmware: DemoFirmware,
    factory_ca: CertificateAuthority,
    dms: SimDeviceManagement,
) -> None:
    provision(unit, demo_firmware, factory_ca.bundle_for(unit.info.device_id))
    with unit.locked():
        unit.info.ever_erased = True
    reply = client.command(f"dms_activate {TOASTER_TOKEN}")
    assert reply == Frame("R", 1, "403 Forbidden: device is a development unit\r\n")
    assert dms.is_development_unit(unit.info.device_id)
    assert unit.reload().activated_product is None


def test_activation_to_a_second_product(
    client: ConsoleClient, unit: SimUnit, demo_firmware: DemoFirmware, factory_ca: CertificateAuthority
) -> None:
    provision(unit, demo_firmware, factory_ca.bundle_for(unit.info.device_id))
    assert client.command(f"dms_activate {TOASTER_TOKEN}").status == 0
    reply = client.command(f"dms_activate {FRIDGE_TOKEN}")
    assert reply == Frame("R", 1, "403 Forbidden: device is already activated to another product\r\n")
    assert unit.reload().activated_product == TOASTER != FRIDGE


# ---- resets, lock, faults -------------------------------------------------------------------


def test_reboot_prints_the_banner(client: ConsoleClient, unit: SimUnit, demo_firmware: DemoFirmware) -> None:
    provision(unit, demo_firmware, None)
    before = unit.reload().boot_count
    assert client.command("reboot") == Frame("R", 0, "Rebooting\r\n")
    banner = client.read_log()
    assert banner.body == f"Gecko OS-sim 4.2.1, device {uuid_of(unit)}, firmware 1.4.2\r\nReady\r\n"
    assert unit.reload().boot_count == before + 1
    assert client.command("ver").status == 0
    assert client.logs == [], "no second banner for the same reset"


def test_reset_from_another_process_prints_the_banner(
    client: ConsoleClient, unit: SimUnit, sim_store: SimUnitStore
) -> None:
    probe_side = sim_store.open_unit(unit.unit_id)  # another SimUnit, as the probe's process holds
    try:
        with probe_side.locked():
            probe_side.reset()
    finally:
        probe_side.close()
    banner = client.read_log()
    assert banner.body == f"Gecko OS-sim 4.2.1, device {uuid_of(unit)}, firmware none\r\nReady\r\n"


def test_a_locked_unit_still_answers(
    client: ConsoleClient, unit: SimUnit, demo_firmware: DemoFirmware, factory_ca: CertificateAuthority
) -> None:
    provision(unit, demo_firmware, factory_ca.bundle_for(unit.info.device_id))
    with unit.locked():
        unit.program_nvm(board.UICR_APPROTECT, b"\x00\x00\x00\x00")
        unit.reset()
    assert unit.reload().protected
    assert client.read_log().kind == "L"
    assert client.command("ver") == Frame("R", 0, "1.4.2\r\n")
    assert client.command("get system.uuid").body == f"{uuid_of(unit)}\r\n"
    assert client.command(f"dms_activate {TOASTER_TOKEN}").status == 0


def test_silent_console_says_nothing(client: ConsoleClient, unit: SimUnit) -> None:
    set_console_fault(unit, "silent")
    client.port.timeout = SILENCE
    with pytest.raises(TimeoutError):
        client.command("get system.uuid")
    before = unit.reload().boot_count
    with pytest.raises(TimeoutError):
        client.command("reboot")
    assert unit.reload().boot_count == before, "a silent unit ignores commands"
    with unit.locked():
        unit.reset()
    with pytest.raises(TimeoutError):
        client.read_frame()
    assert client.received == b""


def test_garbage_console_fails_a_strict_parser(client: ConsoleClient, unit: SimUnit) -> None:
    set_console_fault(unit, "garbage")
    client.port.timeout = SILENCE
    with pytest.raises(ProtocolError):
        client.command("get system.uuid")
    client.port.reset_input_buffer()
    time.sleep(0.05)
    client.port.reset_input_buffer()
    client.send(b"get system.uuid\r\n")
    first = client.port.read(200)
    client.send(b"get system.uuid\r\n")
    second = client.port.read(200)
    assert first == second != b"", "garbage is deterministic per command"
    assert first[0] >= 0x80


def test_firmware_interpreter_without_a_pty(
    unit: SimUnit, dms: SimDeviceManagement, demo_firmware: DemoFirmware, tmp_path: Path
) -> None:
    provision(unit, demo_firmware, None)
    firmware = UnitFirmware(unit, dms)
    assert firmware.feed(b"v") == b""
    assert firmware.feed(b"er\r") == b""
    assert firmware.feed(b"\n") == b"R000007\r\n1.4.2\r\n"
    assert firmware.poll() == b""
    assert firmware.feed(b"x" * 2000).startswith(b"R200015\r\n")
    assert firmware.feed(b"still the same line\r\nver\r\n") == b"R000007\r\n1.4.2\r\n"


def test_the_firmware_s_own_uart_banner_arrives_as_a_log_line(
    client: ConsoleClient, unit: SimUnit, demo_firmware: DemoFirmware
) -> None:
    """The demo firmware writes its boot banner through UARTE0 when its core really runs: a
    debug session holding the unit runs it; the console forwards it as a log frame."""
    from station.sim.device import SimDevice

    provision(unit, demo_firmware, None)
    session = SimDevice(unit)  # a debug session: its runner executes the core after the reset
    try:
        session.system_reset()
        expected = "Gecko OS-sim demo application 1.4.2 booting\r\n"
        deadline = time.monotonic() + 30
        bodies: list[str] = []
        while expected not in bodies and time.monotonic() < deadline:
            bodies.append(client.read_log().body)
        assert expected in bodies, bodies
        assert client.command("ver") == Frame("R", 0, "1.4.2\r\n"), "commands still answered between log lines"
    finally:
        session.close()
