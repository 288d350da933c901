"""K64F flash security through the real pyOCD code and the station's Kinetis profile: FSEC latched
at reset, the MDM-AP's mass erase, mass erase disabled for good, the backdoor key, and pyOCD with
``auto_unlock=False`` never erasing a secure unit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pyocd.core import exceptions
from pyocd.core.helpers import ConnectHelper
from pyocd.core.target import Target

from station.domain.errors import LockError, UnitLockedError
from station.domain.recipe import LockMethod, LockSettings
from station.drivers.probe import PyOcdProbe
from station.drivers.profiles import pin_reset, profile_for_target
from station.drivers.profiles.kinetis import FlashSecurity
from station.sim.chips import k64f as chip
from station.sim.chips import kinetis_ftfe as ftfe
from station.sim.chips import kinetis_mdm as mdm
from station.sim.units import SimUnit, SimUnitStore, lock_unit_as_delivered

from .support import session_for
from .test_k64f import (
    UID,
    image,
    inspection,
    load,
    mass_erase_through_mdm_ap,
    mdm_ap,
    run_command,
    unsecured,
)

FIRMWARE = image(0x2000)


@pytest.fixture
def unit(sim_store: SimUnitStore) -> Iterator[SimUnit]:
    made = sim_store.create_unit(target="k64f", device_id=UID)
    yield made
    made.close()


def with_firmware(unit: SimUnit, fsec: int) -> None:
    """Firmware in flash whose configuration field holds ``fsec``, in force after a reset."""
    unsecured(unit)
    with session_for(unit) as session:
        load(session, 0, FIRMWARE)
    with unit.locked():
        unit.erase_range(0, chip.SECTOR_SIZE)
        sector = bytearray(FIRMWARE[: chip.SECTOR_SIZE])
        sector[chip.FSEC_ADDRESS] = fsec
        unit.program_nvm(0, bytes(sector))
        unit.reset()


@pytest.mark.parametrize("connect_mode", ["halt", "attach", "under-reset"])
def test_pyocd_without_auto_unlock_finds_no_core_and_never_erases(unit: SimUnit, connect_mode: str) -> None:
    with_firmware(unit, 0xFF)
    assert unit.reload().protected
    before = unit.read_nvm(0, chip.FLASH_SIZE)
    with (
        pytest.raises(exceptions.DebugError, match="No cores were discovered"),
        session_for(unit, connect_mode=connect_mode),
    ):
        pass
    info = unit.reload()
    assert unit.read_nvm(0, chip.FLASH_SIZE) == before
    assert info.protected and not info.ever_erased


def test_the_stations_probe_driver_never_erases_a_secure_unit(unit: SimUnit) -> None:
    with_firmware(unit, 0xFF)
    before = unit.read_nvm(0, chip.FLASH_SIZE)
    probe = PyOcdProbe(unit.probe_id, "k64f", LockSettings(LockMethod.KINETIS_FSEC))
    assert probe.is_locked()
    with pytest.raises(UnitLockedError), probe.attach():  # "no cores" from pyOCD, read as locked
        pass
    info = unit.reload()
    assert unit.read_nvm(0, chip.FLASH_SIZE) == before and info.protected and not info.ever_erased


def test_pyocd_with_auto_unlock_would_mass_erase_it(unit: SimUnit) -> None:
    """What the station forbids, to show that the test above would see an erase."""
    with_firmware(unit, 0xFF)
    session = ConnectHelper.session_with_chosen_probe(unique_id=unit.probe_id, options={"auto_unlock": True})
    assert session is not None
    with session:
        assert session.target.read32(0x1000) == 0xFFFF_FFFF
    info = unit.reload()
    assert unit.is_blank() and not info.protected and info.ever_erased


def test_the_mdm_ap_mass_erase_unsecures_until_the_next_reset(unit: SimUnit) -> None:
    with_firmware(unit, 0xFF)
    with inspection(unit) as session:
        mass_erase_through_mdm_ap(session, hold_reset=False)
        status = mdm_ap(session).read_reg(mdm.STATUS)
        assert status & mdm.STATUS_MASS_ERASE_ACK and not status & mdm.STATUS_SYSTEM_SECURITY
        assert unit.is_blank() and unit.reload().ever_erased  # it held firmware: a development unit
        session.probe.assert_reset(True)
        assert not mdm_ap(session).read_reg(mdm.STATUS) & mdm.STATUS_SYSTEM_RESET  # held in reset
        session.probe.assert_reset(False)  # a new reset: the erased FSEC (0xFF) loads
        status = mdm_ap(session).read_reg(mdm.STATUS)
        assert status & mdm.STATUS_SYSTEM_SECURITY and not status & mdm.STATUS_MASS_ERASE_ACK
    assert unit.reload().protected


def test_a_mass_erase_under_a_held_reset_stays_unsecure_through_its_release(unit: SimUnit) -> None:
    with_firmware(unit, 0xFF)
    with inspection(unit) as session:
        mass_erase_through_mdm_ap(session, hold_reset=True)  # FSEC loaded as that reset began
        assert not mdm_ap(session).read_reg(mdm.STATUS) & mdm.STATUS_SYSTEM_SECURITY
        pin_reset(session)  # the next reset is a new one
        assert mdm_ap(session).read_reg(mdm.STATUS) & mdm.STATUS_SYSTEM_SECURITY


def test_a_blank_part_erased_out_of_its_factory_security_stays_a_new_part(unit: SimUnit) -> None:
    with inspection(unit) as session:
        mass_erase_through_mdm_ap(session)
    assert not unit.reload().ever_erased


def test_mass_erase_disabled_cannot_be_undone(unit: SimUnit) -> None:
    with_firmware(unit, 0xEF)  # SEC 11b secure, MEEN 10b: mass erase disabled
    info = unit.reload()
    assert info.protected and info.protection_level == 2
    assert unit.chip.lock_words(unit)[0] == "SECURE FOR GOOD (FSEC, mass erase disabled)"
    before = unit.read_nvm(0, chip.FLASH_SIZE)
    with inspection(unit) as session:
        ap = mdm_ap(session)
        assert not ap.read_reg(mdm.STATUS) & mdm.STATUS_MASS_ERASE_ENABLE
        ap.write_reg(mdm.CONTROL, mdm.CONTROL_MASS_ERASE | mdm.CONTROL_SYSTEM_RESET_REQUEST)
        assert ap.read_reg(mdm.CONTROL) == mdm.CONTROL_MASS_ERASE  # secure: only bit 0 takes a write
        assert not ap.read_reg(mdm.STATUS) & mdm.STATUS_MASS_ERASE_ACK
        pin_reset(session)
        assert ap.read_reg(mdm.CONTROL) == 0  # the request stayed pending until the reset
        with pytest.raises(LockError, match="locked for good"):
            FlashSecurity(LockSettings(LockMethod.KINETIS_FSEC)).recovery_erase(session)
    session = ConnectHelper.session_with_chosen_probe(unique_id=unit.probe_id, options={"auto_unlock": True})
    assert session is not None
    with pytest.raises(exceptions.Error):
        session.open()  # pyOCD's own unlock gives up too
    session.close()
    with unit.locked():
        unit.reset()  # a power cycle changes nothing
    assert unit.read_nvm(0, chip.FLASH_SIZE) == before and unit.info.protected and not unit.info.ever_erased


def test_the_backdoor_key_follows_keyen_and_refuses_after_a_wrong_try(unit: SimUnit) -> None:
    key = bytes.fromhex("0123456789abcdef")
    unsecured(unit)
    with unit.locked():
        unit.erase_range(0, chip.SECTOR_SIZE)
        unit.program_nvm(0x400, key + b"\xff" * 4 + bytes([0xBE]))  # KEYEN 10b, unsecure
        unit.reset()

    def verify(target: Target, guess: bytes) -> int:
        # FCCOB4..FCCOBB hold key bytes 0..7: FCCOB4 is the top byte of the word at 0x08.
        high, low = int.from_bytes(guess[:4], "big"), int.from_bytes(guess[4:], "big")
        return run_command(target, ftfe.VERIFY_BACKDOOR, 0, high, low)

    with session_for(unit) as session:
        target = session.target
        assert mdm_ap(session).read_reg(mdm.STATUS) & mdm.STATUS_BACKDOOR_ENABLE
        assert verify(target, bytes(8)) & ftfe.ACCERR
        assert verify(target, key) & ftfe.ACCERR  # one wrong try: none until reset
        target.reset_and_halt()
        assert verify(target, key) == ftfe.CCIF
    with unit.locked():
        unit.program_nvm(chip.FSEC_ADDRESS, b"\x7e")  # KEYEN 01b: disabled
        unit.reset()
    with session_for(unit) as session:
        assert verify(session.target, key) & ftfe.ACCERR


def test_mdm_ap_debug_request_halts_and_system_reset_request_resets(unit: SimUnit) -> None:
    unsecured(unit)
    with session_for(unit) as session:
        load(session, 0, FIRMWARE)
        target = session.target
        target.resume()
        ap = mdm_ap(session)
        ap.write_reg(mdm.CONTROL, mdm.CONTROL_DEBUG_REQUEST)
        assert ap.read_reg(mdm.STATUS) & mdm.STATUS_CORE_HALTED
        ap.write_reg(mdm.CONTROL, 0)
        boots = unit.reload().boot_count
        ap.write_reg(mdm.CONTROL, mdm.CONTROL_SYSTEM_RESET_REQUEST)
        assert not ap.read_reg(mdm.STATUS) & mdm.STATUS_SYSTEM_RESET
        ap.write_reg(mdm.CONTROL, 0)
        assert unit.reload().boot_count == boots + 1
    with session_for(unit, connect_mode="under-reset") as session:  # pyOCD's MDM-AP halt on connect
        assert session.target.get_state() == Target.State.HALTED


def test_the_station_profile_locks_reads_back_and_reworks_the_unit(unit: SimUnit) -> None:
    profile = profile_for_target("k64f")
    lock = FlashSecurity(LockSettings(LockMethod.KINETIS_FSEC))
    unsecured(unit)
    with session_for(unit) as session:
        load(session, 0, FIRMWARE)
        assert profile.read_device_id(session.target) == unit.info.device_id_text
        lock.apply_lock(session)  # sector 0 rewritten with FSEC 0xFF, then the reset pin
    assert unit.read_nvm(0, 0x40C) == FIRMWARE[:0x40C] and unit.read_nvm(0x40C, 1) == b"\xff"
    with inspection(unit) as session:
        assert lock.is_locked(session)
        lock.recovery_erase(session)
        assert not lock.is_locked(session)
    with session_for(unit) as session:  # a new session, before any reset, as the station opens one
        assert "FSEC = 0xFE" in lock.keep_port_open(session)
    with inspection(unit) as session:
        pin_reset(session)
        assert not lock.is_locked(session)
    info = unit.reload()
    assert not info.protected and info.ever_erased
    assert unit.read_nvm(0x400, 16) == b"\xff" * 12 + b"\xfe\xff\xff\xff"


def test_the_stations_probe_driver_opens_a_factory_fresh_k64f(unit: SimUnit) -> None:
    """A fresh K64F ships secure (erased FSEC): the station's fresh-part erase opens it for good
    (FSEC 0xFE before any reset) and, blank as it was, it stays a new part."""
    probe = PyOcdProbe(unit.probe_id, "k64f", LockSettings(LockMethod.KINETIS_FSEC))
    assert probe.is_locked()
    assert "FSEC = 0xFE" in probe.recovery_erase()
    assert not probe.is_locked()
    with probe.attach() as session:
        assert session.read_device_id() == unit.info.device_id_text
    with unit.locked():
        unit.reset()
    assert not probe.is_locked() and not unit.info.ever_erased


def test_the_station_profiles_permanent_lock_leaves_no_rework(unit: SimUnit) -> None:
    settings = LockSettings(LockMethod.KINETIS_FSEC, mass_erase=False, permanent=True)
    unsecured(unit)
    with session_for(unit) as session:
        load(session, 0, FIRMWARE)
        FlashSecurity(settings).apply_lock(session)
    with inspection(unit) as session:
        status = mdm_ap(session).read_reg(mdm.STATUS)
        assert status & mdm.STATUS_SYSTEM_SECURITY and not status & mdm.STATUS_MASS_ERASE_ENABLE


def test_a_unit_delivered_locked_is_closed_to_every_debug_access(unit: SimUnit) -> None:
    unsecured(unit)
    lock_unit_as_delivered(unit)
    assert unit.reload().protected
    with inspection(unit) as session:
        assert mdm_ap(session).read_reg(mdm.STATUS) & mdm.STATUS_SYSTEM_SECURITY
        with pytest.raises(exceptions.TransferError):
            session.target.dp.aps[0].write32(ftfe.FCCOB_COMMAND, 0)  # no FTFE command while secure
