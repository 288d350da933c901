"""The simulated Silicon Labs EFR32MG12: the MSC at register level (writes over unerased bits,
MSC_LOCK, page locks, invalid addresses, mass erase and its lock, the data sheet's time), the
debug lock word latched at reset, the AAP in the AHB-AP's place and its device erase, the DI
page's identity and USART0's transmitter. Driven through the simulator's debug port as a probe
drives it; pyOCD itself where a debugger's view matters (the pack's own algorithm running on the
core is tests/packs/)."""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest
from pyocd.core import exceptions

from station.domain.errors import SimulationError
from station.sim.chips import EFR32MG12
from station.sim.chips import efm32_aap as aap
from station.sim.chips import efm32_msc as msc
from station.sim.chips import efm32_usart as usart
from station.sim.chips import efr32mg12 as chip
from station.sim.device import AHB_AP_IDR, SimDevice
from station.sim.peripherals import UART_LOG_NAME
from station.sim.units import SimUnit, SimUnitStore, lock_unit_as_delivered

from .support import session_for

UNIQUE = 0x000B_57FF_FE12_3456


@pytest.fixture
def unit(sim_store: SimUnitStore) -> Iterator[SimUnit]:
    made = sim_store.create_unit(target=EFR32MG12, device_id=UNIQUE)
    yield made
    made.close()


@pytest.fixture
def device(unit: SimUnit) -> Iterator[SimDevice]:
    """A debug session on the unit, the way the probe plugin opens one."""
    session = SimDevice(unit)
    yield session
    session.close()


class Msc:
    """The MSC's registers as a debugger writes them (the profile's and emlib's sequences)."""

    def __init__(self, device: SimDevice) -> None:
        self.device = device

    def read(self, address: int) -> int:
        return self.device.read_memory(address, 32)

    def write(self, address: int, value: int) -> None:
        self.device.write_memory(address, value, 32)

    @property
    def status(self) -> int:
        return self.read(msc.STATUS)

    def unlock(self) -> None:
        self.write(msc.LOCK, msc.LOCK_UNLOCK)
        self.write(msc.WRITECTRL, msc.WRITECTRL_WREN)

    def load(self, address: int) -> int:
        self.write(msc.ADDRB, address)
        self.write(msc.WRITECMD, msc.WRITECMD_LADDRIM)
        return self.status

    def write_word(self, address: int, value: int) -> int:
        """LADDRIM, WDATA, WRITEONCE; STATUS once not busy."""
        self.load(address)
        self.write(msc.WDATA, value)
        self.write(msc.WRITECMD, msc.WRITECMD_WRITEONCE)
        while (status := self.status) & msc.STATUS_BUSY:
            pass
        return status

    def erase_page(self, address: int) -> int:
        self.load(address)
        self.write(msc.WRITECMD, msc.WRITECMD_ERASEPAGE)
        while (status := self.status) & msc.STATUS_BUSY:
            pass
        return status


def word(unit: SimUnit, address: int) -> int:
    value: int = struct.unpack("<I", unit.read_nvm(address, 4))[0]
    return value


def test_a_fresh_efr32_is_open_blank_and_carries_its_identity_in_the_di_page(unit: SimUnit, device: SimDevice) -> None:
    assert not unit.info.protected and unit.is_blank()
    assert unit.info.device_id_text == "000B57FFFE123456"
    assert unit.chip.lock_words(unit) == ("unlocked", False)
    assert device.read_memory(chip.DEVINFO_UNIQUEL, 32) == 0xFE12_3456
    assert device.read_memory(chip.DEVINFO_UNIQUEH, 32) == 0x000B_57FF
    assert device.read_memory(chip.DEVINFO_MSIZE, 32) == 0x0100_0400  # 256 KiB RAM, 1024 KiB flash
    assert device.read_memory(chip.DEVINFO_PART, 32) & 0xFF_FFFF == 28 << 16 | 433  # EFR32MG12P, 433
    assert 1 << ((device.read_memory(chip.DEVINFO_MEMINFO, 32) >> 24) + 10) == chip.PAGE_SIZE
    with pytest.raises(exceptions.TransferFaultError):
        device.write_memory(chip.DEVINFO_UNIQUEL, 0, 32)  # the DI page is read-only
    assert device.read_ap(0xFC) == AHB_AP_IDR and device.read_ap(1 << 24 | 0xFC) == 0  # the AHB-AP alone
    with pytest.raises(SimulationError, match="64 bits"):
        unit.chip.check_device_id(1 << 64)


def test_random_ids_are_eui64s_with_a_silicon_labs_oui(unit: SimUnit) -> None:
    for _ in range(20):
        device_id = unit.chip.random_device_id()
        assert device_id >> 40 in chip.SILICON_LABS_OUIS and (device_id >> 24) & 0xFFFF == 0xFFFE


def test_the_msc_writes_words_and_erases_pages_as_a_debugger_drives_it(unit: SimUnit, device: SimDevice) -> None:
    registers = Msc(device)
    assert registers.status == msc.STATUS_WDATAREADY and registers.read(msc.LOCK) == 0  # reset: unlocked
    assert registers.read(msc.MASSLOCK) == msc.LOCKED and registers.read(msc.READCTRL) == 0x0100_0100
    registers.unlock()
    assert registers.write_word(0x1_0000, 0x1234_5678) == msc.STATUS_WDATAREADY
    assert word(unit, 0x1_0000) == 0x1234_5678
    # Bits only go from 1 to 0: a word written over one that was not erased holds the AND of both.
    registers.write_word(0x1_0000, 0xFF00_FF0F)
    assert word(unit, 0x1_0000) == 0x1234_5678 & 0xFF00_FF0F
    # ADDR counts on by a word after each write, within its page.
    registers.load(0x1_07FC)
    for value in (0x1111_1111, 0x2222_2222):
        registers.write(msc.WDATA, value)
        assert not registers.status & msc.STATUS_WDATAREADY  # the buffer holds it until the write
        registers.write(msc.WRITECMD, msc.WRITECMD_WRITEONCE)
    assert (word(unit, 0x1_07FC), word(unit, 0x1_0000)) == (0x1111_1111, 0x2222_2222 & 0x1234_5678 & 0xFF00_FF0F)
    assert registers.erase_page(0x1_0404) == msc.STATUS_WDATAREADY  # the 2 KiB page holding the address
    assert unit.read_nvm(0x1_0000, chip.PAGE_SIZE) == b"\xff" * chip.PAGE_SIZE
    # A write sequence: WRITETRIG writes the buffered word and every later WDATA store, until WRITEEND.
    registers.load(0x2_0000)
    registers.write(msc.WDATA, 0xA5A5_0001)
    registers.write(msc.WRITECMD, msc.WRITECMD_WRITETRIG)
    for index in range(2, 5):
        registers.write(msc.WDATA, 0xA5A5_0000 | index)
    registers.write(msc.WRITECMD, msc.WRITECMD_WRITEEND)
    registers.write(msc.WDATA, 0)  # buffered, not written: the sequence ended
    assert struct.unpack("<5I", unit.read_nvm(0x2_0000, 20)) == (0xA5A5_0001, 0xA5A5_0002, 0xA5A5_0003, 0xA5A5_0004,
                                                                 0xFFFF_FFFF)  # fmt: skip
    with pytest.raises(exceptions.TransferFaultError):
        device.write_memory(0x3_0000, 0, 32)  # flash is written through the MSC, never by a store
    assert word(unit, 0x3_0000) == 0xFFFF_FFFF


def test_a_locked_msc_ignores_every_command_until_its_unlock_code(unit: SimUnit, device: SimDevice) -> None:
    registers = Msc(device)
    registers.unlock()
    registers.write(msc.LOCK, 0)  # any value but the code locks
    assert registers.read(msc.LOCK) == msc.LOCKED
    registers.write(msc.WRITECTRL, 0)  # ignored: WREN stays
    assert registers.read(msc.WRITECTRL) == msc.WRITECTRL_WREN
    registers.write_word(0x1_0000, 0)
    registers.write(msc.ADDRB, 0x2_0000)
    assert word(unit, 0x1_0000) == 0xFFFF_FFFF and registers.read(msc.ADDRB) == 0
    registers.write(msc.LOCK, msc.LOCK_UNLOCK)
    assert registers.read(msc.LOCK) == 0
    assert registers.write_word(0x1_0000, 0) & msc.STATUS_LOCKED == 0 and word(unit, 0x1_0000) == 0
    registers.write(msc.WRITECTRL, 0)  # without WREN nothing is written nor erased
    assert registers.erase_page(0x1_0000) == msc.STATUS_WDATAREADY and word(unit, 0x1_0000) == 0


def test_invalid_addresses_page_locks_and_the_mass_erase_lock_are_refused_with_their_flags(
    unit: SimUnit, device: SimDevice
) -> None:
    registers = Msc(device)
    registers.unlock()
    for address in (chip.FLASH_SIZE, chip.USERDATA_BASE + chip.INFO_PAGE_SIZE, chip.DI_PAGE, 0x2000_0000):
        assert registers.load(address) & msc.STATUS_INVADDR, hex(address)
        registers.write(msc.WDATA, 0)
        registers.write(msc.WRITECMD, msc.WRITECMD_WRITEONCE)
        assert registers.status & msc.STATUS_INVADDR
    assert registers.load(chip.USERDATA_BASE) & msc.STATUS_INVADDR == 0
    assert registers.write_word(chip.USERDATA_BASE, 0x600D_CAFE) & msc.STATUS_INVADDR == 0
    assert word(unit, chip.USERDATA_BASE) == 0x600D_CAFE
    # Page 33's bit in the lock bits page's word 1: the MSC refuses to write or erase it (LOCKED).
    registers.write_word(chip.LOCKBITS_BASE + 4, ~(1 << 1) & 0xFFFF_FFFF)
    page_33 = 33 * chip.PAGE_SIZE
    assert registers.write_word(page_33, 0) & msc.STATUS_LOCKED and word(unit, page_33) == 0xFFFF_FFFF
    registers.write_word(page_33 + chip.PAGE_SIZE, 0)
    assert registers.erase_page(page_33 + chip.PAGE_SIZE) & msc.STATUS_LOCKED == 0  # page 34 is open
    assert registers.load(page_33) & msc.STATUS_LOCKED == 0  # LADDRIM clears it
    # Mass erase: refused while MASSLOCK is locked, done with its code.
    registers.write_word(0x9_0000, 0)
    registers.write(msc.WRITECMD, msc.WRITECMD_ERASEMAIN1)
    assert registers.status & msc.STATUS_LOCKED and word(unit, 0x9_0000) == 0
    registers.write(msc.MASSLOCK, msc.MASSLOCK_UNLOCK)
    registers.write(msc.WRITECMD, msc.WRITECMD_ERASEMAIN1)
    assert registers.status & msc.STATUS_LOCKED == 0 and word(unit, 0x9_0000) == 0xFFFF_FFFF
    assert word(unit, chip.USERDATA_BASE) == 0x600D_CAFE  # the information pages are not main flash


def test_the_msc_accounts_the_data_sheet_s_time_and_reads_busy_meanwhile(sim_store: SimUnitStore) -> None:
    """At a factor of 20 the page erase (26 ms) outlasts a status poll's wait (0.25 s)."""
    unit = sim_store.create_unit(target=EFR32MG12, timing_factor=20.0)
    device = SimDevice(unit)
    try:
        registers = Msc(device)
        registers.unlock()
        before = unit.nvm_busy_seconds
        registers.load(0x1_0000)
        registers.write(msc.WDATA, 0)
        registers.write(msc.WRITECMD, msc.WRITECMD_WRITEONCE)
        registers.write(msc.WRITECMD, msc.WRITECMD_ERASEPAGE)  # waits while the write runs, as the bus stalls
        assert device.read_memory(msc.STATUS, 32) & msc.STATUS_BUSY  # the erase, for 26 ms x 20 from then
        while registers.status & msc.STATUS_BUSY:
            pass
        expected = (chip.WORD_WRITE_SECONDS + chip.PAGE_ERASE_SECONDS) * 20.0
        assert unit.nvm_busy_seconds - before == pytest.approx(expected)
        assert unit.read_nvm(0x1_0000, 4) == b"\xff" * 4
    finally:
        device.close()
        unit.close()


def test_the_debug_lock_word_locks_the_ahb_ap_out_at_the_next_reset(unit: SimUnit, device: SimDevice) -> None:
    registers = Msc(device)
    registers.unlock()
    registers.write_word(0x1_0000, 0x1234_5678)
    registers.write_word(chip.DLW_ADDRESS, 0xFFFF_FFF7)  # any of the lowest four bits cleared locks
    assert not unit.info.protected  # not before the reset
    assert unit.chip.lock_words(unit) == ("unlocked, debug lock word cleared: locks at next reset", True)
    device.set_reset_pin(True)
    device.set_reset_pin(False)
    assert unit.reload().protected
    assert unit.chip.lock_words(unit) == ("LOCKED (debug lock word)", False)
    assert device.read_ap(0xFC) == aap.IDR_VALUE and device.read_ap(1 << 24 | 0xFC) == 0  # the AAP alone
    for address in (0x1_0000, chip.DEVINFO_UNIQUEL, msc.STATUS, 0x2000_0000):
        with pytest.raises(exceptions.TransferFaultError):
            device.read_memory(address, 32)
    assert not device.family.device_enabled
    # AP writes now go to the AAP: the AHB-AP's TAR (0x04) is the AAP's key there.
    device.write_ap(0x04, 0x1234)
    assert device.read_ap(0x04) == 0x1234
    # A bit set again is impossible without an erase: the part stays locked at every reset.
    device.system_reset()
    assert unit.reload().protected and word(unit, 0x1_0000) == 0x1234_5678


def test_the_aap_device_erase_takes_flash_lock_bits_and_ram_and_the_next_reset_opens_the_port(
    unit: SimUnit, device: SimDevice
) -> None:
    registers = Msc(device)
    registers.unlock()
    registers.write_word(0x1_0000, 0)
    registers.write_word(chip.USERDATA_BASE, 0)
    unit.core_state.write_ram(0x2000_1000, b"secret")
    lock_unit_as_delivered(unit)
    assert unit.reload().protected
    device.write_ap(aap.CMD, aap.CMD_DEVICEERASE)  # without the key: ignored
    assert word(unit, 0x1_0000) == 0 and not unit.reload().ever_erased
    device.write_ap(aap.CMDKEY, aap.CMDKEY_WRITEENABLE)
    device.write_ap(aap.CMD, aap.CMD_DEVICEERASE)
    while device.read_ap(aap.STATUS) & aap.STATUS_ERASEBUSY:
        pass
    info = unit.reload()
    assert info.ever_erased and info.protected  # erased, still locked until the reset reads the DLW
    assert unit.chip.lock_words(unit) == ("LOCKED (debug lock word), lock bits erased: opens at next reset", True)
    assert unit.read_nvm(chip.FLASH_BASE, chip.FLASH_SIZE) == b"\xff" * chip.FLASH_SIZE
    assert unit.read_nvm(chip.LOCKBITS_BASE, chip.INFO_PAGE_SIZE) == b"\xff" * chip.INFO_PAGE_SIZE
    assert unit.core_state.read_ram(0x2000_1000, 6) == bytes(6)
    assert word(unit, chip.USERDATA_BASE) == 0  # the user data page is left as it was
    device.write_ap(aap.CMD, aap.CMD_SYSRESETREQ)
    assert not unit.reload().protected and device.read_ap(0xFC) == AHB_AP_IDR
    assert device.read_memory(0x1_0000, 32) == 0xFFFF_FFFF


def test_the_aap_keeps_its_key_over_a_system_reset_and_its_erase_takes_the_data_sheet_s_time(
    sim_store: SimUnitStore,
) -> None:
    unit = sim_store.create_unit(target=EFR32MG12, timing_factor=0.5)
    device = SimDevice(unit)
    try:
        lock_unit_as_delivered(unit)
        device.write_ap(aap.CMDKEY, aap.CMDKEY_WRITEENABLE)
        device.system_reset()  # the AAP's registers are the debug domain's: a system reset keeps them
        assert unit.reload().protected and device.read_ap(aap.CMDKEY) == aap.CMDKEY_WRITEENABLE
        before = unit.nvm_busy_seconds
        device.write_ap(aap.CMD, aap.CMD_DEVICEERASE)
        assert unit.nvm_busy_seconds - before == pytest.approx(chip.DEVICE_ERASE_SECONDS * 0.5)
        while device.read_ap(aap.STATUS) & aap.STATUS_ERASEBUSY:
            pass
        device.write_ap(aap.CMD, aap.CMD_SYSRESETREQ)
        assert not unit.reload().protected
    finally:
        device.close()
        unit.close()


def test_pyocd_finds_the_aap_and_no_core_on_a_locked_part_and_changes_nothing(unit: SimUnit) -> None:
    with unit.locked():
        unit.program_nvm(0x1_0000, b"firmware")
    lock_unit_as_delivered(unit)
    with session_for(unit, target_override="cortex_m", allow_no_cores=True) as session:
        assert list(session.target.dp.aps) == [0]
        assert session.target.dp.aps[0].read_reg(0xFC) == aap.IDR_VALUE
        assert not session.target.cores
    assert unit.read_nvm(0x1_0000, 8) == b"firmware" and unit.reload().protected and not unit.info.ever_erased


def test_usart0_sends_only_with_its_clock_and_transmitter_on(unit: SimUnit, device: SimDevice) -> None:
    log = unit.directory / UART_LOG_NAME
    assert device.read_memory(usart.STATUS, 32) == chip.USART_STATUS_RESET
    device.write_memory(usart.TXDATA, ord("a"), 32)  # no clock, no transmitter
    device.write_memory(chip.CMU_HFPERCLKEN0, chip.CMU_HFPERCLKEN0_USART0, 32)
    device.write_memory(usart.TXDATA, ord("b"), 32)  # clock, but the transmitter is off
    device.write_memory(usart.CMD, usart.CMD_TXEN, 32)
    assert device.read_memory(usart.STATUS, 32) & usart.STATUS_TXENS
    device.write_memory(usart.TXDATA, ord("c"), 32)
    device.write_memory(usart.CMD, usart.CMD_TXDIS, 32)
    device.write_memory(usart.TXDATA, ord("d"), 32)
    assert log.read_bytes() == b"c"
    assert device.read_memory(usart.STATUS, 32) & usart.STATUS_TXC
