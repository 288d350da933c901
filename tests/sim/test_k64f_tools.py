"""A simulated K64F under the stock ``pyocd`` commands in other processes, ``station sim``, its
console on a pty, and the unit's injected faults."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from pyocd.core import exceptions

from station.app import main
from station.domain.formats import decode_key_store
from station.sim.chips import k64f as chip
from station.sim.chips import kinetis_mdm as mdm
from station.sim.console import ConsoleServer
from station.sim.dms import SimDeviceManagement
from station.sim.host import HostedDevice, SimulatorHost
from station.sim.units import SimUnit, SimUnitStore

from .support import session_for
from .test_console import ConsoleClient, Frame
from .test_k64f import UID, image, inspection, load, mass_erase_through_mdm_ap, mdm_ap, unsecured


@pytest.fixture
def unit(sim_store: SimUnitStore) -> Iterator[SimUnit]:
    made = sim_store.create_unit(target="k64f", device_id=UID)
    yield made
    made.close()


def test_stock_pyocd_commands_in_other_processes(unit: SimUnit, tmp_path: Path) -> None:
    """``pyocd`` itself (auto_unlock on, as its commands have it) meets a fresh, secure K64F."""
    data = image(0x5000)
    firmware = tmp_path / "image.bin"
    firmware.write_bytes(data)

    def run(*arguments: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "pyocd", *arguments, "-u", unit.probe_id],
            capture_output=True, text=True, env=dict(os.environ), timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    run("load", "--base-address", "0", str(firmware))  # pyOCD's own unlock mass-erases it first
    assert unit.read_nvm(0, len(data)) == data
    assert not unit.reload().protected and not unit.info.ever_erased  # it was blank
    shown = run("cmd", "-c", "read32 0 16")
    assert shown.split()[1:5] == [f"{word:08x}" for word in struct.unpack_from("<4I", data)]
    run("erase", "--sector", "0x1000")
    assert unit.read_nvm(0x1000, 0x1000) == b"\xff" * 0x1000
    assert unit.read_nvm(0x2000, 0x3000) == data[0x2000:]
    run("erase", "--chip")  # the algorithm's Erase All Blocks: unsecure until the next reset
    assert unit.is_blank() and not unit.reload().protected
    assert unit.chip.lock_words(unit) == ("unsecure, FSEC 0xFF in flash: secure at next reset", True)
    # pyOCD's load resets the part before programming: with FSEC erased that reset would secure
    # it and the load would fail, as on the chip; without it the image's FSEC (0xFE) is in place.
    run("load", "-O", "load.pre_reset=off", "--base-address", "0", str(firmware))
    assert unit.read_nvm(0, len(data)) == data and not unit.reload().protected
    run("erase", "--mass")  # the MDM-AP's
    info = unit.reload()
    assert unit.is_blank() and info.ever_erased  # a debug-port erase of firmware: a development unit


def test_station_sim_create_and_show_speak_kinetis(sim_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "create", "--target", "k64f", "--json"]) == 0
    created = json.loads(capsys.readouterr().out)["units"][0]
    assert created["target"] == "k64f"
    assert main(["sim", "show", created["unit"], "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert len(shown["device_id"]) == 32 and shown["locked"]
    assert shown["lock_state"] == "SECURE (FSEC)"
    names = [region["name"] for region in shown["regions"]]
    assert names == ["bootloader", "app-header", "application", "credentials", "key-store", "flash-config"]
    assert shown["regions"][3]["address"] == 0x000F_E000
    assert main(["sim", "create", "--target", "k64f", "--build-code", "hardened"]) != 0


@pytest.fixture
def client(sim_store: SimUnitStore, dms: SimDeviceManagement, unit: SimUnit) -> Iterator[ConsoleClient]:
    with ConsoleServer(sim_store, dms) as server:
        opened = ConsoleClient(server.wait_for_port(unit.unit_id))
        yield opened
        opened.close()


def test_the_console_reports_the_128_bit_uid_and_uses_the_k64f_layout(client: ConsoleClient, unit: SimUnit) -> None:
    assert client.command("get system.uuid") == Frame("R", 0, "0123456789ABCDEF0011223344556677\r\n")
    reply = client.command("csr_generate toaster-1")
    request = x509.load_pem_x509_csr(reply.body.replace("\r\n", "\n").encode())
    serial = {attribute.oid.dotted_string: attribute.value for attribute in request.subject}["2.5.4.5"]
    assert serial == "0123456789ABCDEF0011223344556677"
    assert decode_key_store(unit.read_nvm(0x000F_F000, chip.SECTOR_SIZE))  # the last sector


def test_injected_faults_apply_to_a_k64f(unit: SimUnit) -> None:
    unsecured(unit)
    with unit.locked():
        unit.info.faults.drop_writes = (0x1000, 0x1100)
    with session_for(unit) as session, pytest.raises(exceptions.FlashProgramFailure):
        load(session, 0x1000, image(0x2000)[0x1000:])  # the FTFE's verify reports the lost phrases
    assert unit.read_nvm(0x1000, 0x100) == b"\xff" * 0x100
    with unit.locked():
        unit.info.faults.drop_writes = None
        unit.info.faults.transfer_fault_address = 0x2000_0100
    with session_for(unit) as session, pytest.raises(exceptions.TransferFaultError):
        session.target.read32(0x2000_0100)


def test_a_k64f_served_by_the_simulator_host(sim_dir: Path, unit: SimUnit) -> None:
    """Sessions in the host's processes: the MDM-AP, the reset pin and the flash algorithm there."""
    with SimulatorHost(sim_dir):
        with inspection(unit) as session:
            assert isinstance(session.probe.device, HostedDevice)
            mass_erase_through_mdm_ap(session)  # the reset pin held across the host's calls
            assert not mdm_ap(session).read_reg(mdm.STATUS) & mdm.STATUS_SYSTEM_SECURITY
        with session_for(unit) as session:
            load(session, 0, image(0x2000))
    assert unit.read_nvm(0, 0x2000) == image(0x2000) and not unit.reload().protected
