"""The seam between the family-neutral simulator and one chip family.

A family is two things. A :class:`ChipModel` (one object per family, no state) gives the
facts: the memory layout the core maps (:mod:`station.sim.chips.layout`), the product's flash
layout the unit's firmware and console use, the factory information page, the peripherals'
reset values, what a reset latches, and how the lock state is said. A :class:`FamilyPort`
(one per debug session, made by :meth:`ChipModel.make_port`) is the family's part of the
debug port: its flash controller's registers, its extra access ports (the nRF52's CTRL-AP),
and what its protection does to a debugger's accesses.

The core, its shared state, the exceptions, the debug units (DHCSR, FPB, DWT), the DP and the
AHB-AP are the same for every family (:mod:`station.sim.device`).
"""

from __future__ import annotations

import struct
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from pyocd.core import exceptions

from station.sim.chips.layout import MemoryLayout, Window

if TYPE_CHECKING:
    from station.sim.core_state import CoreState
    from station.sim.device import SimDevice
    from station.sim.flash_copy import PageStores
    from station.sim.units import SimUnit, UnitInfo

ReadNvm = Callable[[int, int], bytes]


def shared_float(state: CoreState, address: int) -> float:
    """A float64 a family's model keeps in a register page's reserved space (a time, on
    CLOCK_MONOTONIC: the same in every process that serves the unit)."""
    offset = state.peripheral_offset(address)
    assert offset is not None
    value: float = struct.unpack_from("<d", state.memory, offset)[0]
    return value


def set_shared_float(state: CoreState, address: int, value: float) -> None:
    offset = state.peripheral_offset(address)
    assert offset is not None
    struct.pack_into("<d", state.memory, offset, value)


def spend_flash_time(device: SimDevice, seconds: float, busy_until: int) -> None:
    """A flash controller's work of ``seconds`` (the datasheet's, before the unit's factor):
    counted in the unit's busy time; inside a core run (a flash algorithm) it delays the halt,
    else the controller reads busy until then (``busy_until``: where the shared time is kept)."""
    factor = device.factor
    device.unit.add_nvm_busy_seconds(seconds * factor)
    controller = device.controller
    if controller.in_emulation:
        controller.modelled_seconds += seconds
    else:
        state = device.unit.core_state
        start = max(shared_float(state, busy_until), time.monotonic())
        set_shared_float(state, busy_until, start + seconds * factor)


class BusError(Exception):
    """A register store the chip answers with a bus error (an STM32's wrong key sequence): the
    CPU takes a precise BusFault, a debugger gets a transfer fault."""


@dataclass(frozen=True)
class ProductLayout:
    """Where the simulated product keeps what in flash (its bootloader and application are
    built for it; the station's recipe names the same regions). The credential and key-store
    regions are separate erase units that firmware programming never touches."""

    bootloader: Window
    app_header: Window
    application: Window
    credentials: Window
    key_store: Window
    # Further regions ``station sim show`` summarises (UICR, option bytes).
    extra_regions: tuple[tuple[str, Window], ...] = ()

    def regions(self) -> list[tuple[str, Window]]:
        return [
            ("bootloader", self.bootloader),
            ("app-header", self.app_header),
            ("application", self.application),
            ("credentials", self.credentials),
            ("key-store", self.key_store),
            *self.extra_regions,
        ]


class FamilyPort(Protocol):
    """The family's part of one debug session (see the module docstring)."""

    def check_port(self) -> None:
        """Raise if the debug port does not answer at all (STM32 RDP level 2)."""
        ...

    @property
    def device_enabled(self) -> bool:
        """AHB-AP CSW.DeviceEn: whether the AP can reach the system (nRF52 APPROTECT clears it)."""
        ...

    def check_debug_access(self, address: int, length: int) -> None:
        """Raise TransferFaultError if the chip's protection refuses this debug memory access."""
        ...

    def read_ap(self, apsel: int, register: int) -> int | None:
        """A register of the family's own access port at ``apsel`` (at APSEL 0 it answers in the
        AHB-AP's place: a locked EFM32's AAP); None: the AHB-AP, or no AP at all."""
        ...

    def write_ap(self, apsel: int, register: int, value: int) -> None: ...

    def read_register(self, address: int) -> int | None:
        """A register whose value the family computes; None: the shared register file's value."""
        ...

    def write_register(self, address: int, size: int, value: int) -> bool:
        """A store (the CPU's or a debugger's) to a register with behaviour; True when the
        family kept or refused it itself, False when the register file keeps it as written."""
        ...

    def nvm_write(self, address: int, size: int, value: int) -> None:
        """A debugger's store to non-volatile memory, as the flash controller takes it."""
        ...

    def cpu_nvm_stores(self, stores: list[PageStores]) -> None:
        """The CPU's stores to non-volatile memory since the last look, page by page."""
        ...

    def nvm_writable(self) -> bool:
        """Whether the flash controller programs what the CPU stores to flash right now."""
        ...

    @property
    def nvm_store_hook(self) -> Callable[[int, int, int], bool] | None:
        """For a flash controller that judges every CPU store to flash by itself (its width,
        its control register at that moment): what takes each one, and says whether the store
        stands in the core's copy of flash as the CPU made it (False: the copy is put back as
        the shared map holds it before the core reads on). None: the stores are handed over a
        page at a time (:meth:`cpu_nvm_stores`)."""
        ...

    def commit_nvm_stores(self) -> None:
        """Write to the shared map the CPU's stores the hook took and kept back (a flash
        algorithm's, written in one go): at the end of every run, and before anything else
        reads or changes flash."""
        ...


class ClosedByProtection:
    """For a family whose lock closes only the AHB-AP's way to the system (nRF52 APPROTECT,
    Kinetis security, the EFM32 debug lock word): the debug port itself always answers, CSW
    DeviceEn reads clear, and every memory access through the AHB-AP faults while the unit is
    protected. A family port mixes it in and says why, in :attr:`closed_because`."""

    unit: SimUnit
    closed_because: str  # the transfer fault's words: what closed the AHB-AP

    def check_port(self) -> None:
        """The DP always answers: the lock closes only the AHB-AP."""

    @property
    def device_enabled(self) -> bool:
        return not self.unit.info.protected

    def check_debug_access(self, address: int, length: int) -> None:
        if self.unit.info.protected:
            raise exceptions.TransferFaultError(self.closed_because, fault_address=address, length=length)


class ChipModel(ABC):
    """One chip family's facts (see the module docstring)."""

    target: str  # pyOCD's target type
    part_name: str  # as people say it: "nRF52840"
    layout: MemoryLayout
    product: ProductLayout
    device_id_digits: int  # how many hex digits the unique id is shown with
    device_id_source: str  # where the id lives, in words
    behaving_ranges: tuple[tuple[int, int], ...]  # register ranges whose CPU stores have effects
    clock_hz: int  # the core's clock out of reset, which firmware times its SysTick by
    ahb_ap: int = 0  # APSEL of the AHB-AP

    def device_id_text(self, device_id: int) -> str:
        return f"{device_id:0{self.device_id_digits}X}"

    @property
    def boot_address(self) -> int:
        """Where the reset vector table is read from (flash, also through a boot alias)."""
        return self.layout.flash.base

    @abstractmethod
    def random_device_id(self) -> int:
        """A new unit's unique id, shaped as the family's parts carry it."""

    @abstractmethod
    def check_device_id(self, device_id: int) -> None:
        """SimulationError if ``device_id`` cannot be this family's id."""

    @abstractmethod
    def blank_nvm(self) -> bytes:
        """A new unit's non-volatile memory: erased flash, factory option bytes."""

    @abstractmethod
    def is_blank(self, nvm: bytes) -> bool:
        """Whether the non-volatile memory holds nothing a station put there."""

    @abstractmethod
    def id_image(self, info: UnitInfo) -> bytes:
        """The factory information page as the unit's identity fills it."""

    @abstractmethod
    def reset_peripherals(self, state: CoreState, read_nvm: ReadNvm) -> None:
        """What a chip reset does to the peripheral registers."""

    @abstractmethod
    def latch_protection(self, unit: SimUnit) -> None:
        """What a reset latches from non-volatile memory: the debug port's protection."""

    @abstractmethod
    def lock_words(self, unit: SimUnit) -> tuple[str, bool]:
        """The lock state as the family says it, and whether a change waits for a reset."""

    @abstractmethod
    def lock_as_delivered(self, unit: SimUnit) -> None:
        """Write the family's lock, for a unit that arrives locked (the caller resets it)."""

    @abstractmethod
    def initial_protection(self, build_code: str) -> bool:
        """Whether a new part leaves the factory with its debug port closed."""

    @abstractmethod
    def make_port(self, device: SimDevice) -> FamilyPort:
        """The family's part of a new debug session on ``device``."""
