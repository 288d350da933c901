"""The nRF52840: FICR, UICR APPROTECT, the NVMC, the CTRL-AP, UARTE0.

Faithful where pyOCD and the station can tell the difference:

* UICR APPROTECT takes effect at the next reset: the AHB-AP then reports DeviceEn clear,
  every memory access faults, and CTRL-AP APPROTECTSTATUS reads 0.
* CTRL-AP ERASEALL erases flash, UICR and RAM and lifts the protection until the next reset
  (on hardened parts the reset closes it again unless UICR says HwDisabled and the firmware
  opens it); a unit that held anything is "ever erased" from then on: a development unit for life.
* Flash bits only go from 1 to 0; writes need NVMC CONFIG=WEN, erases CONFIG=EEN; every
  store made with CONFIG=WEN costs a word write, whatever its value.
* NVMC work costs the datasheet's time times the unit's timing factor, spent as real time:
  after a resume the core reports running until the modelled time has passed.
"""

from __future__ import annotations

import logging
import secrets
import struct
import time
from typing import TYPE_CHECKING, Final

from station.domain.errors import SimulationError
from station.sim import board, peripherals
from station.sim.chips.base import ChipModel, ClosedByProtection, FamilyPort, ProductLayout, ReadNvm
from station.sim.chips.layout import MemoryLayout, Window
from station.sim.controller import poll_wait
from station.sim.core_state import AHB_GPIO_BASE, AHB_GPIO_SIZE, APB_BASE, APB_SIZE

if TYPE_CHECKING:
    from station.sim.core_state import CoreState
    from station.sim.device import SimDevice
    from station.sim.flash_copy import PageStores
    from station.sim.units import SimUnit, UnitInfo

LOG = logging.getLogger(__name__)

CTRL_AP: Final = 1
CTRL_AP_IDR: Final = 0x0288_0000
AP_IDR: Final = 0xFC
CTRL_AP_RESET: Final = 0x00
CTRL_AP_ERASEALL: Final = 0x04
CTRL_AP_ERASEALLSTATUS: Final = 0x08
CTRL_AP_APPROTECTSTATUS: Final = 0x0C

NVMC_BASE: Final = peripherals.NVMC_BASE
NVMC_READY: Final = peripherals.NVMC_READY
NVMC_READYNEXT: Final = peripherals.NVMC_READYNEXT
NVMC_CONFIG: Final = peripherals.NVMC_CONFIG
NVMC_ERASEPAGE: Final = NVMC_BASE + 0x508
NVMC_ERASEALL: Final = NVMC_BASE + 0x50C
NVMC_ERASEPCR0: Final = NVMC_BASE + 0x510
NVMC_ERASEUICR: Final = NVMC_BASE + 0x514
NVMC_CONFIG_WEN: Final = 1
NVMC_CONFIG_EEN: Final = 2
# UARTE0 tasks: a store starts something and reads back as zero.
_TASK_REGISTERS: Final = frozenset({peripherals.UARTE_TASKS_STARTTX, peripherals.UARTE_TASKS_STOPTX})
_SLOT: Final = peripherals.SLOT_SIZE


class Nrf52840(ChipModel):
    target = "nrf52840"
    part_name = "nRF52840"
    clock_hz = 64_000_000  # the 64 MHz HFCLK
    layout = MemoryLayout(
        nvm=(Window(board.FLASH_BASE, board.FLASH_SIZE), Window(board.UICR_BASE, board.UICR_SIZE)),
        ram=(Window(board.RAM_BASE, board.RAM_SIZE),),
        id_page=Window(board.FICR_BASE, board.FICR_SIZE),
        peripherals=(Window(APB_BASE, APB_SIZE), Window(AHB_GPIO_BASE, AHB_GPIO_SIZE)),
        holes=frozenset(APB_BASE + _SLOT * slot for slot in peripherals.APB_HOLES),
    )
    product = ProductLayout(
        bootloader=Window(board.BOOTLOADER_ADDRESS, board.BOOTLOADER_SIZE),
        app_header=Window(board.APP_HEADER_ADDRESS, board.APP_HEADER_SIZE),
        application=Window(board.APPLICATION_ADDRESS, board.APPLICATION_SIZE),
        credentials=Window(board.CREDENTIALS_ADDRESS, board.CREDENTIALS_SIZE),
        key_store=Window(board.KEY_STORE_ADDRESS, board.KEY_STORE_SIZE),
        extra_regions=(("uicr", Window(board.UICR_BASE, board.UICR_SIZE)),),
    )
    device_id_digits = 16
    device_id_source = "FICR DEVICEID (0x10000060, 64 bits)"
    behaving_ranges = peripherals.BEHAVING_RANGES

    def random_device_id(self) -> int:
        return secrets.randbits(64)

    def check_device_id(self, device_id: int) -> None:
        if not 0 <= device_id < 1 << 64:
            raise SimulationError("an nRF52840 device id is 64 bits")

    def blank_nvm(self) -> bytes:
        return b"\xff" * self.layout.nvm_size

    def is_blank(self, nvm: bytes) -> bool:
        return nvm == b"\xff" * self.layout.nvm_size

    def id_image(self, info: UnitInfo) -> bytes:
        """The factory information page: unique DEVICEID and part identification."""
        ficr = bytearray(b"\xff" * board.FICR_SIZE)

        def put(address: int, value: int) -> None:
            struct.pack_into("<I", ficr, address - board.FICR_BASE, value & 0xFFFFFFFF)

        put(board.FICR_DEVICEID, info.device_id & 0xFFFFFFFF)
        put(board.FICR_DEVICEID + 4, info.device_id >> 32)
        put(board.FICR_PART, info.part)
        put(board.FICR_VARIANT, info.variant)
        put(board.FICR_PACKAGE, info.package)
        put(board.FICR_RAM, board.RAM_SIZE // 1024)
        put(board.FICR_FLASH, board.FLASH_SIZE // 1024)
        put(board.FICR_BASE + 0x10, board.PAGE_SIZE)  # CODEPAGESIZE
        put(board.FICR_BASE + 0x14, board.FLASH_SIZE // board.PAGE_SIZE)  # CODESIZE
        return bytes(ficr)

    def reset_peripherals(self, state: CoreState, read_nvm: ReadNvm) -> None:
        peripherals.reset_peripherals(state, self.layout.present_pages())

    def latch_protection(self, unit: SimUnit) -> None:
        unit.info.protected = unit.approtect_requested()

    def lock_words(self, unit: SimUnit) -> tuple[str, bool]:
        protected = unit.info.protected
        pending = unit.approtect_requested() and not protected
        words = "LOCKED (APPROTECT)" if protected else "unlocked"
        if pending:
            words += ", APPROTECT set: locks at next reset"
        return words, pending

    def lock_as_delivered(self, unit: SimUnit) -> None:
        unit.program_nvm(board.UICR_APPROTECT, b"\x00\x00\x00\x00")

    def initial_protection(self, build_code: str) -> bool:
        return build_code == "hardened"

    def make_port(self, device: SimDevice) -> FamilyPort:
        return Nrf52Port(device)


class Nrf52Port(ClosedByProtection):
    """The nRF52840's part of one debug session: the NVMC, the CTRL-AP, APPROTECT, UARTE0."""

    closed_because = "AHB-AP disabled (APPROTECT)"

    def __init__(self, device: SimDevice) -> None:
        self._device = device
        self.unit = device.unit
        self._uarte = peripherals.Uarte(self.unit.core_state, self.unit.directory)
        self._nvm_busy_until = 0.0  # NVMC READY reads 0 until then
        self._erase_all_busy_until = 0.0
        self._ctrl_ap_reset_held = False

    # ---- protection -----------------------------------------------------------------------------

    # ---- CTRL-AP ----------------------------------------------------------------------------------

    def read_ap(self, apsel: int, register: int) -> int | None:
        if apsel != CTRL_AP:
            return None
        if register == AP_IDR:
            return CTRL_AP_IDR
        if register == CTRL_AP_RESET:
            return int(self._ctrl_ap_reset_held)
        if register == CTRL_AP_ERASEALLSTATUS:
            poll_wait(self._erase_all_busy_until)
            return int(time.monotonic() < self._erase_all_busy_until)
        if register == CTRL_AP_APPROTECTSTATUS:
            with self.unit.locked():
                return 0 if self.unit.info.protected else 1
        return 0

    def write_ap(self, apsel: int, register: int, value: int) -> None:
        if apsel != CTRL_AP:
            return
        if register == CTRL_AP_RESET:
            held = bool(value & 1)
            if self._ctrl_ap_reset_held and not held:
                self._device.system_reset()
            self._ctrl_ap_reset_held = held
        elif register == CTRL_AP_ERASEALL and value & 1:
            self._erase_all_through_ctrl_ap()

    def _erase_all_through_ctrl_ap(self) -> None:
        """The only way past APPROTECT: everything goes.

        A unit whose flash or UICR held anything is a development unit for life from now on
        (the erase destroyed what a station put there); a factory-fresh part, blank as it left
        Nordic (a hardened part ships protected), holds nothing to lose and stays a new part.
        The access port stays open until the next reset.
        """
        factor = self._device.factor
        with self.unit.locked():
            held_something = not self.unit.is_blank()
            self.unit.erase_all_flash()
            self.unit.core_state.clear_ram()
            info = self.unit.info
            info.protected = False
            info.ever_erased = info.ever_erased or held_something
            info.activated_product = None
        LOG.info("%s: CTRL-AP ERASEALL: flash, UICR and RAM erased; unit marked ever-erased", info.unit_id)
        self._erase_all_busy_until = time.monotonic() + board.CHIP_ERASE_SECONDS * factor
        with self.unit.locked():
            self.unit.add_nvm_busy_seconds(board.CHIP_ERASE_SECONDS * factor)

    # ---- the NVMC -------------------------------------------------------------------------------

    def _spend(self, seconds: float) -> None:
        """Account NVMC time: inside a core run it delays the halt, else it keeps READY low."""
        factor = self._device.factor
        self.unit.add_nvm_busy_seconds(seconds * factor)
        controller = self._device.controller
        if controller.in_emulation:
            controller.modelled_seconds += seconds
        else:
            self._nvm_busy_until = max(self._nvm_busy_until, time.monotonic()) + seconds * factor

    @property
    def _nvmc_config(self) -> int:
        """NVMC CONFIG, the chip's (kept with the other peripheral registers), not a session's."""
        return self.unit.core_state.read_peripheral(NVMC_CONFIG) & 3

    def nvm_writable(self) -> bool:
        return self._nvmc_config == NVMC_CONFIG_WEN

    @property
    def nvm_store_hook(self) -> None:
        """The NVMC takes what the CPU stored a page at a time (see :meth:`cpu_nvm_stores`)."""
        return None

    def commit_nvm_stores(self) -> None:
        """Nothing kept back: :meth:`cpu_nvm_stores` writes the pages it is handed at once."""

    def cpu_nvm_stores(self, stores: list[PageStores]) -> None:
        """The CPU's stores to flash and UICR since the last NVMC register write, page by page:
        the words they changed, and how many the CPU made while CONFIG = WEN (counted then).

        Each store costs a word write's time, whatever its value: one of the value the word
        held already (all ones over an erased word) changes no page but takes its 41 us on
        the chip too. The NVMC supports only word-aligned 32-bit writes; a byte or halfword
        store is taken as a word write (its time) of the bytes it stored, with ones in the
        rest of its word. A page is programmed in one go with the stored values in the changed
        words and all ones elsewhere: programming only clears bits, so the words the CPU left
        alone keep whatever the shared map holds.
        """
        if self._nvmc_config != NVMC_CONFIG_WEN:
            LOG.debug("%d CPU writes to flash ignored: NVMC not write-enabled", sum(page.words for page in stores))
            return
        with self.unit.locked():
            self._spend(board.WORD_WRITE_SECONDS * sum(page.stores for page in stores))
            dropped = self.unit.info.faults.drop_writes
            all_ones = (1 << (8 * board.PAGE_SIZE)) - 1
            for page in stores:
                changed = page.changed
                if dropped is not None:
                    low = max(dropped[0], page.address) - page.address
                    high = min(dropped[1], page.address + board.PAGE_SIZE) - page.address
                    if low < high:  # injected fault: these writes silently do not happen
                        changed &= ~(((1 << (8 * (high - low))) - 1) << (8 * low))
                if changed:
                    data = page.values | (all_ones ^ changed)
                    self.unit.program_nvm(page.address, data.to_bytes(board.PAGE_SIZE, "little"))

    def nvm_write(self, address: int, size: int, value: int) -> None:
        """A store to flash or UICR: programmed only with CONFIG=WEN, bits only 1 -> 0."""
        if self._nvmc_config != NVMC_CONFIG_WEN:
            LOG.debug("write to 0x%08X ignored: NVMC not write-enabled", address)
            return
        self._spend(board.WORD_WRITE_SECONDS)
        dropped = self.unit.info.faults.drop_writes
        if dropped is not None and dropped[0] <= address < dropped[1]:
            return  # injected fault: the write silently does not happen
        self.unit.program_nvm(address, value.to_bytes(size, "little"))

    def read_register(self, address: int) -> int | None:
        if address in (NVMC_READY, NVMC_READYNEXT):
            if self._device.controller.in_emulation:
                return 1
            poll_wait(self._nvm_busy_until)
            return int(time.monotonic() >= self._nvm_busy_until)
        return None

    def write_register(self, address: int, size: int, value: int) -> bool:
        """A store to a peripheral with behaviour (the NVMC, UARTE0), from the CPU or a debugger;
        everything but UARTE0's tasks is also kept as written."""
        value &= 0xFFFFFFFF
        if peripherals.UARTE0_BASE <= address < peripherals.UARTE0_BASE + _SLOT:
            if address in _TASK_REGISTERS:
                self._uarte.on_write(address, value)
                return True
            return False
        if address == NVMC_CONFIG:
            self.unit.core_state.write_peripheral(NVMC_CONFIG, value & 3)
            return False
        if address in (board.APPROTECT_DISABLE, board.APPROTECT_FORCEPROTECT):
            self._approtect_register(address, value)
            return False
        erasing = self._nvmc_config == NVMC_CONFIG_EEN
        core = self._device.core
        with self.unit.locked():
            if address in (NVMC_ERASEPAGE, NVMC_ERASEPCR0):
                if erasing and board.FLASH_BASE <= value < board.FLASH_BASE + board.FLASH_SIZE:
                    self._spend(board.PAGE_ERASE_SECONDS)
                    self.unit.erase_page(value)
                    page = value - value % board.PAGE_SIZE
                    core.sync(page, board.PAGE_SIZE)
            elif address == NVMC_ERASEALL:
                if erasing and value & 1:
                    self._spend(board.CHIP_ERASE_SECONDS)
                    self.unit.erase_all_flash()
                    core.sync()
            elif address == NVMC_ERASEUICR and erasing and value & 1:
                self._spend(board.PAGE_ERASE_SECONDS)
                self.unit.erase_uicr()
                core.sync(board.UICR_BASE, board.UICR_SIZE)
        return False

    def _approtect_register(self, address: int, value: int) -> None:
        """Hardened APPROTECT: the firmware opens the port for this boot (SwDisable, honoured
        only with UICR HwDisabled) or closes it (FORCEPROTECT = 0) until the next reset."""
        if self.unit.info.build_code != "hardened":
            return  # legacy parts have no APPROTECT peripheral: the store is kept, nothing else
        with self.unit.locked():
            if address == board.APPROTECT_DISABLE and value == board.APPROTECT_HW_DISABLED:
                self.unit.open_access_port()
            elif address == board.APPROTECT_FORCEPROTECT and value == 0:
                self.unit.info.protected = True
