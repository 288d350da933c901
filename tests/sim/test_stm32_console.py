"""An STM32F429xI unit's console: the same protocol as the nRF52840's, on the STM32's flash layout
and with its 96-bit unique id."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest
from cryptography import x509

from station.domain.formats import ApplicationHeader, decode_key_store
from station.sim.chips import stm32f429 as chip
from station.sim.console import ConsoleServer
from station.sim.dms import SimDeviceManagement
from station.sim.units import SimUnit, SimUnitStore

from .support import TOASTER, TOASTER_TOKEN, CertificateAuthority
from .test_console import ConsoleClient, Frame

UID = int.from_bytes(struct.pack("<HHB", 0x0021, 0x0043, 3) + b"7BK2M9A", "little")


@pytest.fixture
def unit(sim_store: SimUnitStore) -> Iterator[SimUnit]:
    made = sim_store.create_unit(target="stm32f429xi", device_id=UID)
    yield made
    made.close()


@pytest.fixture
def client(sim_store: SimUnitStore, dms: SimDeviceManagement, unit: SimUnit) -> Iterator[ConsoleClient]:
    with ConsoleServer(sim_store, dms) as server:
        opened = ConsoleClient(server.wait_for_port(unit.unit_id))
        yield opened
        opened.close()


def write_application(unit: SimUnit, version: str) -> None:
    """An application image where the STM32 product keeps it, and its header in sector 2."""
    product = unit.chip.product
    application = bytes(range(256)) * 64
    header = ApplicationHeader.for_image(product.application.base, application, version)
    with unit.locked():
        unit.program_nvm(product.app_header.base, header.encode())
        unit.program_nvm(product.application.base, application)


def test_the_console_reports_the_96_bit_uid(client: ConsoleClient, unit: SimUnit) -> None:
    # Word 2 first: lot "7BK2M9A" (its last character on top), wafer 3, Y 0x0043, X 0x0021.
    assert client.command("get system.uuid") == Frame("R", 0, "41394D324B42370300430021\r\n")
    assert unit.info.device_id_text == "41394D324B42370300430021"


def test_csr_and_activation_use_the_stm32_layout(
    client: ConsoleClient, unit: SimUnit, factory_ca: CertificateAuthority, dms: SimDeviceManagement
) -> None:
    uuid = unit.info.device_id_text
    reply = client.command("csr_generate toaster-1")
    request = x509.load_pem_x509_csr(reply.body.replace("\r\n", "\n").encode())
    assert {attribute.oid.dotted_string: attribute.value for attribute in request.subject}["2.5.4.5"] == uuid
    assert decode_key_store(unit.read_nvm(chip.BANK2_BASE + 0x4000, 0x4000))  # sector 13
    assert client.command("ver").status == 1
    write_application(unit, "2.7.0")
    assert client.command("ver") == Frame("R", 0, "2.7.0\r\n")
    bundle = factory_ca.bundle_for(unit.info.device_id)
    with unit.locked():
        unit.program_nvm(chip.BANK2_BASE, bundle.encode())  # sector 12
    assert client.command("get dms.endpoint") == Frame("R", 0, f"{bundle.endpoint_name}\r\n")
    assert client.command(f"dms_activate {TOASTER_TOKEN}") == Frame("R", 0, f"Activated to {TOASTER}\r\n")
    assert dms.product_of(unit.info.device_id) == TOASTER
