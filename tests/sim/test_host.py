"""The simulator host: probe sessions and consoles of simulated units in their own processes."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from pyocd.core import exceptions
from pyocd.flash.file_programmer import FileProgrammer

from station.domain.errors import SimulationError
from station.sim import board
from station.sim.firmware import DemoFirmware
from station.sim.host import HOST_SOCKET_NAME, SPARE_SESSIONS, HostedDevice, SimulatorHost
from station.sim.units import SimUnit, SimUnitStore

from .support import session_for
from .test_console import ConsoleClient
from .test_probe import assert_images_in_flash, lock_and_reset


@pytest.fixture
def host(sim_dir: Path) -> Iterator[SimulatorHost]:
    with SimulatorHost(sim_dir) as running:
        yield running


@pytest.fixture
def unit(sim_store: SimUnitStore) -> Iterator[SimUnit]:
    created = sim_store.create_unit()
    yield created
    created.close()


def test_pyocd_programs_a_unit_whose_model_runs_in_the_host(
    host: SimulatorHost, unit: SimUnit, demo_firmware: DemoFirmware
) -> None:
    with session_for(unit) as session:
        assert isinstance(session.probe.device, HostedDevice)
        FileProgrammer(session).program(str(demo_firmware.hex_path))
        read_back = bytes(session.target.read_memory_block8(board.APPLICATION_ADDRESS, 256))
    assert_images_in_flash(unit, demo_firmware)  # the host's writes are in the unit's shared files
    assert read_back == unit.read_nvm(board.APPLICATION_ADDRESS, 256)


def test_the_host_serves_the_console_of_a_unit_created_after_it_started(host: SimulatorHost, unit: SimUnit) -> None:
    client = ConsoleClient(host.wait_for_port(unit.unit_id, timeout=5.0))
    try:
        reply = client.command("get system.uuid")
    finally:
        client.close()
    assert reply.kind == "R" and reply.status == 0
    assert int(reply.body.strip(), 16) == unit.info.device_id


def test_a_fault_of_a_posted_write_is_reported_by_the_next_call_that_waits(
    host: SimulatorHost, unit: SimUnit, demo_firmware: DemoFirmware
) -> None:
    lock_and_reset(unit)
    device = HostedDevice.open(host.sim_dir, unit.unit_id)
    assert device is not None
    try:
        device.write_block(board.APPLICATION_ADDRESS, b"\x00" * 8)  # posted: returns at once
        with pytest.raises(exceptions.TransferFaultError, match="APPROTECT"):
            device.read_dp(0)
        assert device.read_dp(0) != 0  # reported once; the session goes on (DPIDR)
    finally:
        device.close()


def test_a_sim_directory_deeper_than_a_socket_path_may_be_is_served(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    deep = tmp_path / ("d" * 60) / ("e" * 60) / "sim"
    assert len(os.fsencode(deep / HOST_SOCKET_NAME)) > 108  # what sun_path holds
    monkeypatch.setenv("STATION_SIM_DIR", str(deep))
    store = SimUnitStore(deep)
    deep_unit = store.create_unit()
    try:
        with SimulatorHost(deep), session_for(deep_unit) as session:
            assert isinstance(session.probe.device, HostedDevice)
            assert session.target.read32(board.FICR_PART) == 0x52840
    finally:
        deep_unit.close()


def test_deferred_reads_are_answered_in_order_whenever_they_are_wanted(host: SimulatorHost, unit: SimUnit) -> None:
    device = HostedDevice.open(host.sim_dir, unit.unit_id)
    assert device is not None
    try:
        part_later = device.read_memory_later(board.FICR_PART, 32)
        device_id_low_later = device.read_memory_later(board.FICR_DEVICEID, 32)
        assert device.read_memory(board.FICR_PART, 32) == 0x52840  # a waiting call reads the earlier replies
        assert device_id_low_later() == unit.info.device_id & 0xFFFFFFFF
        assert part_later() == 0x52840
        assert part_later() == 0x52840  # a reply is kept, not read twice
        nowhere_later = device.read_memory_later(0x3000_0000, 32)
        with pytest.raises(exceptions.TransferFaultError):
            nowhere_later()
        assert device.read_dp(0) != 0
    finally:
        device.close()


def _group_members(process_group: int) -> set[int]:
    """Pids of the live (not zombie) processes in a process group, from /proc."""
    members = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[2]) == process_group:
            members.add(int(entry.name))
    return members


def _wait_for_members(process_group: int, count: int, timeout: float = 10.0) -> set[int]:
    deadline = time.monotonic() + timeout
    while len(members := _group_members(process_group)) != count and time.monotonic() < deadline:
        time.sleep(0.02)
    return members


def test_spare_session_processes_wait_ahead_and_one_taken_is_replaced(sim_dir: Path, unit: SimUnit) -> None:
    with SimulatorHost(sim_dir) as host:
        assert host._process is not None
        group = host._process.pid
        idle = 2 + SPARE_SESSIONS  # the host, its console process and the spares
        before = _wait_for_members(group, idle)
        assert len(before) == idle
        device = HostedDevice.open(sim_dir, unit.unit_id)
        assert device is not None
        try:
            serving = _wait_for_members(group, idle + 1)  # the spare that took it, and its replacement
            assert len(serving) == idle + 1
            assert len(serving - before) == 1
            assert device.read_memory(board.FICR_PART, 32) == 0x52840
        finally:
            device.close()
        after = _wait_for_members(group, idle)  # the session's process ends with its client
        assert len(after) == idle and after != before


def _idle_spares(host_pid: int) -> set[int]:
    """The host's children with one thread: its spares (the console process runs two)."""
    spares = set()
    for pid in _group_members(host_pid) - {host_pid}:
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if int(fields["PPid"]) == host_pid and int(fields["Threads"]) == 1:
            spares.add(pid)
    return spares


def test_a_spare_killed_while_idle_is_replaced(sim_dir: Path, unit: SimUnit) -> None:
    with SimulatorHost(sim_dir) as host:
        assert host._process is not None
        group = host._process.pid
        _wait_for_members(group, 2 + SPARE_SESSIONS)
        spares = _idle_spares(group)
        assert len(spares) == SPARE_SESSIONS
        victim = min(spares)
        os.kill(victim, signal.SIGKILL)  # no chance to tell the host
        deadline = time.monotonic() + 10
        while (victim in (now := _idle_spares(group)) or len(now) < SPARE_SESSIONS) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert victim not in now and len(now) == SPARE_SESSIONS
        assert _device_id_through_host(sim_dir, unit) == unit.info.device_id


def _device_id_through_host(sim_dir: Path, unit: SimUnit) -> int:
    device = HostedDevice.open(sim_dir, unit.unit_id)
    assert device is not None
    try:
        low = device.read_memory(board.FICR_DEVICEID, 32)
        high = device.read_memory(board.FICR_DEVICEID + 4, 32)
    finally:
        device.close()
    return (high << 32) | low


def test_eight_sessions_opened_in_the_same_instant_are_all_served(host: SimulatorHost, sim_store: SimUnitStore) -> None:
    units = [sim_store.create_unit() for _ in range(8)]
    start = threading.Barrier(len(units))

    def at_once(each: SimUnit) -> int:
        start.wait()
        return _device_id_through_host(host.sim_dir, each)

    try:
        with ThreadPoolExecutor(len(units)) as pool:
            assert list(pool.map(at_once, units)) == [each.info.device_id for each in units]
        # Three times as many sessions as there are spares, one after another: the pool keeps up.
        for each in units * 3:
            assert _device_id_through_host(host.sim_dir, each) == each.info.device_id
    finally:
        for each in units:
            each.close()


def test_an_unknown_unit_is_a_clear_probe_error(host: SimulatorHost) -> None:
    with pytest.raises(exceptions.ProbeError, match="no simulated unit 'unit-0042'"):
        HostedDevice.open(host.sim_dir, "unit-0042")


def test_stopping_the_host_ends_its_sessions_and_probes_fall_back_to_this_process(sim_dir: Path, unit: SimUnit) -> None:
    host = SimulatorHost(sim_dir)
    host.start()
    device = HostedDevice.open(sim_dir, unit.unit_id)
    assert device is not None
    host.stop()
    assert not (sim_dir / HOST_SOCKET_NAME).exists()
    with pytest.raises(exceptions.ProbeDisconnected, match="simulator host session"):
        device.read_dp(0)
    device.close()
    assert HostedDevice.open(sim_dir, unit.unit_id) is None
    with session_for(unit) as session:
        assert not isinstance(session.probe.device, HostedDevice)
        assert session.target.read32(board.FICR_PART) == 0x52840


def test_a_host_killed_outright_leaves_a_socket_that_probes_step_around(
    sim_dir: Path, unit: SimUnit, caplog: pytest.LogCaptureFixture
) -> None:
    host = SimulatorHost(sim_dir)
    host.start()
    process = host._process
    assert process is not None
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert (sim_dir / HOST_SOCKET_NAME).exists()
    assert HostedDevice.open(sim_dir, unit.unit_id) is None
    assert "does not answer" in caplog.text
    with session_for(unit) as session:
        assert session.target.read32(board.FICR_PART) == 0x52840
    host.stop()
    # A new host takes the stale socket over.
    with SimulatorHost(sim_dir):
        device = HostedDevice.open(sim_dir, unit.unit_id)
        assert device is not None
        device.close()


def _group_alive(process_group: int) -> bool:
    try:
        os.killpg(process_group, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_until_gone(process_group: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while _group_alive(process_group):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_stop_ends_the_host_its_consoles_and_its_sessions(sim_dir: Path, unit: SimUnit) -> None:
    host = SimulatorHost(sim_dir)
    host.start()
    assert host._process is not None
    group = host._process.pid
    device = HostedDevice.open(sim_dir, unit.unit_id)  # a session child, busy with a client
    assert device is not None
    host.wait_for_port(unit.unit_id, timeout=5.0)
    host.stop()
    assert _wait_until_gone(group), "a process of the host outlived stop()"
    device.close()


def test_the_host_does_not_outlive_the_program_that_started_it(sim_dir: Path, unit: SimUnit) -> None:
    host = SimulatorHost(sim_dir)
    host.start()
    process = host._process
    assert process is not None and process.stdin is not None
    host.wait_for_port(unit.unit_id, timeout=5.0)
    process.stdin.close()  # what the kernel does when the starting process dies, however it dies
    assert process.wait(timeout=10) == 0
    assert _wait_until_gone(process.pid), "the host's consoles kept running without the program that started it"
    assert not (sim_dir / HOST_SOCKET_NAME).exists()
    host.stop()


def test_the_consoles_and_idle_spares_end_with_a_host_killed_outright(sim_dir: Path, unit: SimUnit) -> None:
    host = SimulatorHost(sim_dir)
    host.start()
    process = host._process
    assert process is not None
    host.wait_for_port(unit.unit_id, timeout=5.0)
    os.kill(process.pid, signal.SIGKILL)  # only the host itself, not its console child
    process.wait()
    assert _wait_until_gone(process.pid), "the console or a spare session process outlived its killed host"
    host.stop()


def test_a_host_that_cannot_start_says_so(tmp_path: Path) -> None:
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("")
    with pytest.raises(SimulationError, match="did not start"):
        SimulatorHost(not_a_directory, start_timeout=20).start()


def test_frames_are_read_whole_however_the_bytes_arrive() -> None:
    """The host's framing reads through a buffer: frames split across receives, many frames in
    one receive, a large frame, and a closed connection mid-frame (EOFError, not a wrong message)."""
    import socket as sockets

    from station.sim.host import _frame, _FrameReader

    messages: list[tuple[str, tuple[object, ...]]] = [
        ("write_memory", (0xE000EDF0 + index, index, 32)) for index in range(50)
    ]
    messages.append(("write_block", (0x20000000, bytes(range(256)) * 1024)))  # 256 KiB: several receives
    sender, receiver = sockets.socketpair()
    with sender, receiver:
        stream = b"".join(_frame(message) for message in messages)

        def send_in_odd_pieces() -> None:
            for start in range(0, 4095, 7):  # the first frames a few bytes at a time
                sender.sendall(stream[start : start + 7])
            sender.sendall(stream[4095:])  # the rest at once
            sender.sendall(_frame(("open", ("unit-1",)))[:3])  # then a frame cut short
            sender.shutdown(sockets.SHUT_WR)

        writer = threading.Thread(target=send_in_odd_pieces)
        writer.start()
        reader = _FrameReader(receiver)
        assert [reader.receive() for _ in messages] == messages
        with pytest.raises(EOFError):
            reader.receive()
        writer.join()
