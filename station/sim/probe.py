"""pyOCD debug-probe plugin for simulated units (entry point ``pyocd.probe`` -> ``sim``).

With the package installed, stock pyOCD sees every unit in the simulation directory as a
probe: ``pyocd list``, ``pyocd load -u sim:unit-0001``, ``pyocd erase --mass``,
``pyocd cmd`` and ``pyocd server`` all work, and so does the station's own driver. The
probe reports itself as attached to a board of the unit's target (``unit.json``: an nRF52840
or an STM32F429xI), so no ``-t`` is needed.
"""

from __future__ import annotations

import logging
import struct
import threading
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any, Protocol

from pyocd.board.board import Board
from pyocd.board.board_ids import BoardInfo
from pyocd.core import exceptions
from pyocd.core.memory_interface import MemoryInterface
from pyocd.core.plugin import Plugin
from pyocd.probe.debug_probe import DebugProbe

from station.domain.errors import SimulationError
from station.sim import device as sim_device  # a module: pyOCD loads this plugin while device.py imports pyOCD
from station.sim.chips import chip_for
from station.sim.units import PROBE_TYPE, SimUnit, SimUnitStore, default_sim_dir, probe_id_for

LOG = logging.getLogger(__name__)


class UnitDevice(Protocol):
    """What this plugin asks of a simulated unit's debug port: ``SimDevice`` answers in this
    process, ``HostedDevice`` forwards to one in a simulator host."""

    def check_link(self) -> None: ...
    def read_dp(self, address: int) -> int: ...
    def write_dp(self, address: int, value: int) -> None: ...
    def read_ap(self, address: int) -> int: ...
    def write_ap(self, address: int, value: int) -> None: ...
    def read_ap_many(self, address: int, count: int) -> list[int]: ...
    def write_ap_many(self, address: int, values: list[int]) -> None: ...
    def read_memory(self, address: int, bits: int) -> int: ...
    def read_memory_later(self, address: int, bits: int) -> Callable[[], int]: ...
    def write_memory(self, address: int, value: int, bits: int) -> None: ...
    def read_block(self, address: int, length: int) -> bytes: ...
    def write_block(self, address: int, data: bytes) -> None: ...
    def set_reset_pin(self, asserted: bool) -> None: ...
    @property
    def reset_pin_asserted(self) -> bool: ...
    def flush(self) -> None: ...
    def interrupt(self) -> None: ...
    def close(self) -> None: ...


def board_info_for(target: str) -> BoardInfo:
    """The board a unit of ``target`` sits on, as pyOCD's board database would name it."""
    return BoardInfo(name=f"Simulated {chip_for(target).part_name} unit", target=target, binary=None)


class SimMemoryInterface(MemoryInterface):  # type: ignore[misc]
    """The AHB-AP fast path: whole blocks per call, as ST-Link and J-Link probes provide.

    Every call goes through the probe, so that a probe closed under it fails the call.
    """

    def __init__(self, probe: SimProbe) -> None:
        self._probe = probe

    @property
    def _device(self) -> UnitDevice:
        return self._probe.device

    def write_memory(self, addr: int, data: int, transfer_size: int = 32, **attrs: Any) -> None:
        self._device.write_memory(addr & 0xFFFFFFFF, data, transfer_size)

    def read_memory(
        self, addr: int, transfer_size: int = 32, now: bool = True, **attrs: Any
    ) -> int | Callable[[], int]:
        if not now:
            return self._device.read_memory_later(addr & 0xFFFFFFFF, transfer_size)
        return self._device.read_memory(addr & 0xFFFFFFFF, transfer_size)

    def write_memory_block32(self, addr: int, data: Sequence[int], **attrs: Any) -> None:
        self._device.write_block(addr & 0xFFFFFFFF, struct.pack(f"<{len(data)}I", *(w & 0xFFFFFFFF for w in data)))

    def read_memory_block32(self, addr: int, size: int, **attrs: Any) -> Sequence[int]:
        raw = self._device.read_block(addr & 0xFFFFFFFF, size * 4)
        return list(struct.unpack(f"<{len(raw) // 4}I", raw))

    def write_memory_block8(self, addr: int, data: Sequence[int], **attrs: Any) -> None:
        self._device.write_block(addr & 0xFFFFFFFF, bytes(data))

    def read_memory_block8(self, addr: int, size: int, **attrs: Any) -> Sequence[int]:
        return list(self._device.read_block(addr & 0xFFFFFFFF, size))


class SimProbe(DebugProbe):  # type: ignore[misc]
    """A probe wired to one simulated unit."""

    @classmethod
    def get_all_connected_probes(cls, unique_id: str | None = None, is_explicit: bool = False) -> list[SimProbe]:
        store = SimUnitStore(default_sim_dir())
        return [cls(store.root, unit_id) for unit_id in store.unit_ids()]

    @classmethod
    def get_probe_with_id(cls, unique_id: str, is_explicit: bool = False) -> SimProbe | None:
        store = SimUnitStore(default_sim_dir())
        unit_id = unique_id.removeprefix(f"{PROBE_TYPE}:")
        if unit_id in store.unit_ids():
            return cls(store.root, unit_id)
        return None

    def __init__(self, root: Path, unit_id: str) -> None:
        super().__init__()
        self._root = root
        self._unit_id = unit_id
        self._unit: SimUnit | None = None
        self._device: UnitDevice | None = None
        self._owner: int | None = None  # the thread that opened the probe
        self._interrupted = False
        self._is_connected = False
        self._memory_interface: SimMemoryInterface | None = None
        self._clock_frequency: float | None = None
        self._board_info = board_info_for(SimUnitStore(root).target_of(unit_id))

    # ---- identity -------------------------------------------------------------------------------

    @property
    def description(self) -> str:
        return f"{self._board_info.name} [{self._unit_id}]"

    @property
    def vendor_name(self) -> str:
        return "Provisioning Station"

    @property
    def product_name(self) -> str:
        return "Simulated unit"

    @property
    def supported_wire_protocols(self) -> Collection[DebugProbe.Protocol]:
        return [DebugProbe.Protocol.DEFAULT, DebugProbe.Protocol.SWD]

    @property
    def unique_id(self) -> str:
        """``sim:unit-0001``: the id the station and its records use, so that ``pyocd list`` shows
        exactly what ``-u`` and ``station provision --probe`` take."""
        return probe_id_for(self._unit_id)

    @property
    def clock_frequency(self) -> float | None:
        """The SWD clock pyOCD set for this session (from its ``frequency`` option), in Hz; a
        simulated link runs at any speed, but the value asked for is kept, as a probe keeps it."""
        return self._clock_frequency

    @property
    def wire_protocol(self) -> DebugProbe.Protocol | None:
        return DebugProbe.Protocol.SWD if self._is_connected else None

    @property
    def is_open(self) -> bool:
        return self._device is not None

    @property
    def capabilities(self) -> set[DebugProbe.Capability]:
        return set()

    @property
    def associated_board_info(self) -> BoardInfo | None:
        return self._board_info

    def create_associated_board(self) -> Board:
        """A board of the unit's target unless the session names another target (``-t``)."""
        return Board(self.session, board_info=self._board_info)

    # ---- lifecycle ------------------------------------------------------------------------------

    @property
    def device(self) -> UnitDevice:
        if self._interrupted:
            raise exceptions.ProbeDisconnected(f"simulated probe {self._unit_id} was closed under its session")
        if self._device is None:
            raise exceptions.ProbeError(f"simulated probe {self._unit_id} is not open")
        return self._device

    def open(self) -> None:
        """Open a session on the unit: in a simulator host when one runs, else in this process."""
        from station.sim.host import HostedDevice  # here: the host module imports pyOCD, which loads this plugin

        self._owner = threading.get_ident()
        self._interrupted = False
        hosted = HostedDevice.open(self._root, self._unit_id)
        if hosted is not None:
            self._device = hosted
            return
        try:
            self._unit = SimUnitStore(self._root).open_unit(self._unit_id)
        except SimulationError as error:
            raise exceptions.ProbeError(str(error)) from error
        self._device = sim_device.SimDevice(self._unit)

    def close(self) -> None:
        """Close the session's link to the unit.

        Called from a thread other than the one that opened the probe (a watchdog ending a
        session past its deadline), it only breaks the link: a hosted session's process
        ends and a blocked call returns; every later call fails. The owner's own close, as
        pyOCD's session makes it, then releases the unit's files, which the owner may still
        be reading.
        """
        if self._owner is not None and threading.get_ident() != self._owner:
            self._interrupted = True
            if self._device is not None:
                self._device.interrupt()
            return
        try:
            self._finish_queued_calls()
        finally:
            if self._device is not None:
                self._device.close()
                self._device = None
            if self._unit is not None:
                self._unit.close()
                self._unit = None
            self._memory_interface = None

    def _finish_queued_calls(self) -> None:
        """Carry out the writes still queued before letting go of the unit, as a CMSIS-DAP probe
        flushes its queue at disconnect and close: the last write of a session (the reset after
        a lock, above all) has happened when the session ends, and a failed one is reported.
        Not after an interrupt: that link is broken on purpose."""
        if self._device is not None and not self._interrupted:
            self._device.flush()

    def connect(self, protocol: DebugProbe.Protocol | None = None) -> None:
        self.device.check_link()
        self._is_connected = True

    def disconnect(self) -> None:
        try:
            self._finish_queued_calls()
        finally:
            self._is_connected = False
            self._memory_interface = None

    def set_clock(self, frequency: float) -> None:
        """Clock speed has no effect on a simulated link; it is only kept (``clock_frequency``)."""
        self._clock_frequency = frequency

    def reset(self) -> None:
        self.device.set_reset_pin(True)
        self.device.set_reset_pin(False)

    def assert_reset(self, asserted: bool) -> None:
        self.device.set_reset_pin(asserted)

    def is_reset_asserted(self) -> bool:
        return self.device.reset_pin_asserted

    def flush(self) -> None:
        self.device.check_link()

    # ---- DAP access ------------------------------------------------------------------------------

    def read_dp(self, addr: int, now: bool = True) -> int | Callable[[], int]:
        result = self.device.read_dp(addr)
        return result if now else (lambda: result)

    def write_dp(self, addr: int, data: int) -> None:
        self.device.write_dp(addr, data)

    def read_ap(self, addr: int, now: bool = True) -> int | Callable[[], int]:
        result = self.device.read_ap(addr)
        return result if now else (lambda: result)

    def write_ap(self, addr: int, data: int) -> None:
        self.device.write_ap(addr, data)

    def read_ap_multiple(
        self, addr: int, count: int = 1, now: bool = True
    ) -> Sequence[int] | Callable[[], Sequence[int]]:
        results = self.device.read_ap_many(addr, count)
        return results if now else (lambda: results)

    def write_ap_multiple(self, addr: int, values: Sequence[int]) -> None:
        self.device.write_ap_many(addr, list(values))

    def get_memory_interface_for_ap(self, ap_address: Any) -> MemoryInterface | None:
        if getattr(ap_address, "apsel", None) != sim_device.AHB_AP:
            return None
        if self._memory_interface is None:
            self._memory_interface = SimMemoryInterface(self)
        return self._memory_interface


class SimProbePlugin(Plugin):  # type: ignore[misc]
    """Registers the ``sim`` probe type with pyOCD."""

    def load(self) -> type[SimProbe]:
        return SimProbe

    @property
    def name(self) -> str:
        return PROBE_TYPE

    @property
    def description(self) -> str:
        return "Provisioning Station simulated units (nRF52840, STM32F429xI)"
