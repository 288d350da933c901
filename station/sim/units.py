"""Persistent state of simulated units, shared safely between processes.

Each unit is a directory under the simulation state directory::

    <sim dir>/units/<unit-id>/nvm.bin     the chip's non-volatile regions, one after another
                                          (nRF52840: flash 1 MiB, UICR 4 KiB; STM32F429xI: flash
                                          2 MiB, option bytes of bank 1 and bank 2, 4 KiB each)
    <sim dir>/units/<unit-id>/unit.json   target, identity, lock latch, lifetime flags, faults
    <sim dir>/units/<unit-id>/unit.lock   file lock guarding both

Non-volatile memory is memory-mapped, so every process sees every committed write at
once. Anything that changes a unit (a probe's memory transfer, a flash-algorithm run, a
console command) does so inside :meth:`SimUnit.locked`, which takes the file lock, reloads
``unit.json`` if another process replaced it, and saves it atomically on the way out.
RAM and CPU registers are not here: they are volatile and belong to the process that
emulates the core.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import mmap
import os
import re
import struct
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import filelock
import platformdirs

from station.domain.errors import SimulationError
from station.sim import board
from station.sim.chips import DEFAULT_TARGET, TARGETS, chip_for
from station.sim.chips.base import ChipModel
from station.sim.core_reset import reset_core
from station.sim.core_state import CoreState
from station.sim.unit_lock import UnitLock

SIM_DIR_ENVIRONMENT_VARIABLE = "STATION_SIM_DIR"
PROBE_TYPE = "sim"  # the pyOCD probe plugin's name: probe ids are sim:<unit-id>
LOCK_TIMEOUT_SECONDS = 30.0
NVM_SIZE = board.FLASH_SIZE + board.UICR_SIZE  # an nRF52840's; every unit's is its chip's layout.nvm_size
COUNTERS_SIZE = 4096
_UNIT_ID_PATTERN = re.compile(r"^unit-\d{4,}$")

ConsoleBehaviour = Literal["normal", "silent", "garbage"]
BuildCode = Literal["legacy", "hardened"]
BUILD_CODES: tuple[BuildCode, ...] = ("legacy", "hardened")
# FICR VARIANT by build code: pyOCD (and nrfjprog) tell the APPROTECT generation from it.
VARIANT_OF_BUILD_CODE: dict[BuildCode, int] = {"legacy": board.VARIANT_AAD0, "hardened": board.VARIANT_AAF0}
CONSOLE_BEHAVIOURS: tuple[ConsoleBehaviour, ...] = ("normal", "silent", "garbage")


def probe_id_for(unit_id: str) -> str:
    """A unit's probe id, the same everywhere: what ``pyocd list`` shows in its Unique ID column,
    what ``pyocd -u`` and ``station provision --probe`` take, and what the records keep. The
    ``sim:`` prefix is also pyOCD's way of choosing the probe type, so ``-u sim:unit-0001`` asks
    only this plugin."""
    return f"{PROBE_TYPE}:{unit_id}"


def default_sim_dir() -> Path:
    """Where simulated units live: ``STATION_SIM_DIR`` or the user's data directory."""
    configured = os.environ.get(SIM_DIR_ENVIRONMENT_VARIABLE)
    if configured:
        return Path(configured)
    return platformdirs.user_data_path("provisioning-station") / "sim"


@dataclass
class Faults:
    """Faults injected into one unit; all off by default.

    ``drop_writes`` is a half-open flash address range whose writes the NVMC silently
    ignores; ``transfer_fault_address`` makes any debug memory access covering it fault;
    ``disconnect_after_bytes`` makes the probe drop off the bus after that many bytes of
    memory transfer in one session, in every session or, with ``disconnect_sessions``, in
    that many more (a loose cable that a retry gets past); ``algo_hang`` makes the flash algorithm never reach
    its breakpoint; ``console`` makes the console silent or garbled; ``reset_after_transfers``
    makes the unit reset by itself after that many debug memory transfers in one session.
    """

    drop_writes: tuple[int, int] | None = None
    transfer_fault_address: int | None = None
    disconnect_after_bytes: int | None = None
    disconnect_sessions: int | None = None
    algo_hang: bool = False
    console: ConsoleBehaviour = "normal"
    reset_after_transfers: int | None = None

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["drop_writes"] = list(self.drop_writes) if self.drop_writes else None
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Faults:
        drop = data.get("drop_writes")
        console = data.get("console", "normal")
        if console not in CONSOLE_BEHAVIOURS:
            raise SimulationError(f"unknown console behaviour {console!r}")
        return cls(
            drop_writes=(int(drop[0]), int(drop[1])) if drop else None,
            transfer_fault_address=data.get("transfer_fault_address"),
            disconnect_after_bytes=data.get("disconnect_after_bytes"),
            disconnect_sessions=data.get("disconnect_sessions"),
            algo_hang=bool(data.get("algo_hang", False)),
            console=console,
            reset_after_transfers=data.get("reset_after_transfers"),
        )

    @property
    def active(self) -> list[str]:
        """Names of the faults that are switched on, for display."""
        names = []
        if self.drop_writes:
            names.append(f"drop-writes 0x{self.drop_writes[0]:X}-0x{self.drop_writes[1]:X}")
        if self.transfer_fault_address is not None:
            names.append(f"transfer-fault 0x{self.transfer_fault_address:X}")
        if self.disconnect_after_bytes is not None:
            sessions = "" if self.disconnect_sessions is None else f" in {self.disconnect_sessions} more session(s)"
            names.append(f"disconnect-after {self.disconnect_after_bytes}{sessions}")
        if self.algo_hang:
            names.append("algo-hang")
        if self.console != "normal":
            names.append(f"console-{self.console}")
        if self.reset_after_transfers is not None:
            names.append(f"self-reset-after {self.reset_after_transfers}")
        return names


@dataclass
class UnitInfo:
    """Everything about a unit that is not memory contents."""

    unit_id: str
    device_id: int
    target: str = DEFAULT_TARGET  # pyOCD's target type: which chip family the unit is
    timing_factor: float = 0.0
    part: int = board.PART_NRF52840
    variant: int = board.VARIANT_AAD0
    package: int = board.PACKAGE_QI
    # "legacy": UICR.APPROTECT decides at reset; "hardened" (IN141): the port is closed at every
    # reset, and only firmware opens it again (APPROTECT.DISABLE) when UICR says HwDisabled.
    build_code: BuildCode = "legacy"
    protected: bool = False  # the access port as latched at the last reset (or since opened)
    # The level the protection latched at the last reset where a family has levels (STM32 RDP:
    # 0 open, 1 flash closed to the debugger, 2 debug port dead for good); ``protected`` is level >= 1.
    protection_level: int = 0
    ever_erased: bool = False  # a debug-port erase destroyed what it held: a development unit for life
    boot_count: int = 0
    activated_product: str | None = None
    faults: Faults = field(default_factory=Faults)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["device_id"] = self.device_id_text
        data["faults"] = self.faults.to_json()
        return data

    @property
    def chip(self) -> ChipModel:
        return chip_for(self.target)

    @property
    def device_id_text(self) -> str:
        """The unique id as the unit's console and the station show it (nRF52840: 16 hex
        digits of FICR DEVICEID; STM32: 24 hex digits of the 96-bit UID)."""
        return self.chip.device_id_text(self.device_id)

    def copy(self) -> UnitInfo:
        """A copy that shares nothing mutable with this one (the faults are a dataclass)."""
        return dataclasses.replace(self, faults=dataclasses.replace(self.faults))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UnitInfo:
        values = dict(data)
        values["device_id"] = int(values["device_id"], 16)
        values["faults"] = Faults.from_json(values.get("faults") or {})
        if values.get("build_code", "legacy") not in BUILD_CODES:
            raise SimulationError(f"unknown build code {values['build_code']!r} in unit.json")
        if values.get("target", DEFAULT_TARGET) not in TARGETS:
            raise SimulationError(f"unknown target {values['target']!r} in unit.json")
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


class SimUnit:
    """One simulated unit's non-volatile state; safe to open from many processes."""

    def __init__(self, directory: Path) -> None:
        if not (directory / "unit.json").is_file() or not (directory / "nvm.bin").is_file():
            raise SimulationError(f"no simulated unit at {directory}")
        self.directory = directory
        self._info_stamp: tuple[int, int, int] | None = None
        self._saved_info: UnitInfo | None = None  # a copy of what unit.json holds
        self.info = self._load_info()
        self.chip = self.info.chip  # a unit never changes family
        self._layout = self.chip.layout
        self._lock = UnitLock(directory / "unit.lock")
        self._nvm_file = open(directory / "nvm.bin", "r+b")  # noqa: SIM115 - lives as long as the unit
        self._nvm = mmap.mmap(self._nvm_file.fileno(), self._layout.nvm_size)
        # Opened (created) and extended in place, never written whole: another thread or process
        # may be mapping the same file this moment, and must never see it shorter than the map.
        counters_fd = os.open(directory / "counters.bin", os.O_RDWR | os.O_CREAT, 0o644)
        if os.fstat(counters_fd).st_size < COUNTERS_SIZE:
            os.ftruncate(counters_fd, COUNTERS_SIZE)
        self._counters_file = os.fdopen(counters_fd, "r+b")
        self._counters = mmap.mmap(self._counters_file.fileno(), COUNTERS_SIZE)
        self.core_state = CoreState(directory, self._layout)
        self._closed = False

    @property
    def unit_id(self) -> str:
        return self.info.unit_id

    @property
    def probe_id(self) -> str:
        """The id stock pyOCD tools take: ``sim:<unit-id>``."""
        return probe_id_for(self.info.unit_id)

    @property
    def nvm_map(self) -> mmap.mmap:
        """The shared memory map of the non-volatile regions, for the emulated core to read directly."""
        return self._nvm

    def close(self) -> None:
        """Release the unit's files; closing twice does nothing (a descriptor closed twice could
        by then belong to another file)."""
        if self._closed:
            return
        self._closed = True
        self._nvm.close()
        self._nvm_file.close()
        self._counters.close()
        self._counters_file.close()
        self.core_state.close()
        self._lock.close()

    # ---- physical time --------------------------------------------------------------------

    @property
    def nvm_busy_seconds(self) -> float:
        """Physical time the flash controller has been busy over the unit's life, at its timing
        factor: what a benchmark compares the station's cycle time with."""
        value: float = struct.unpack_from("<d", self._counters, 0)[0]
        return value

    def add_nvm_busy_seconds(self, seconds: float) -> None:
        """Count flash-controller time (caller holds the lock). A shared map: no file write."""
        struct.pack_into("<d", self._counters, 0, self.nvm_busy_seconds + seconds)

    # ---- locking and metadata -------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> Iterator[SimUnit]:
        """Hold the unit's file lock; reload ``unit.json`` first and save it after if changed."""
        if not self._lock.acquire(LOCK_TIMEOUT_SECONDS):
            raise SimulationError(f"simulated unit {self.directory.name} is busy in another process")
        try:
            if self._lock.depth == 1:
                self.info = self._load_info()
            yield self
            if self._lock.depth == 1:
                self._save_info_if_changed()
        finally:
            self._lock.release()

    @contextlib.contextmanager
    def nvm_locked(self) -> Iterator[SimUnit]:
        """Hold the unit's file lock for a write to non-volatile memory alone, without reloading
        or saving ``unit.json`` (a flash controller programming one word: thousands a second;
        ``info`` is as the last :meth:`locked` left it)."""
        if not self._lock.acquire(LOCK_TIMEOUT_SECONDS):
            raise SimulationError(f"simulated unit {self.directory.name} is busy in another process")
        try:
            yield self
        finally:
            self._lock.release()

    def reload(self) -> UnitInfo:
        """Fresh metadata as another process may have left it."""
        with self.locked():
            return self.info

    def _load_info(self) -> UnitInfo:
        path = self.directory / "unit.json"
        stat = path.stat()
        stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        if stamp == self._info_stamp:
            return self.info
        data = json.loads(path.read_text(encoding="utf-8"))
        self._info_stamp = stamp
        info = UnitInfo.from_json(data)
        self._saved_info = info.copy()
        return info

    def _save_info_if_changed(self) -> None:
        # Compared as dataclasses (a tuple compare), not as JSON: this runs at every lock
        # release, each flash algorithm call among them.
        if self.info == self._saved_info:
            return
        path = self.directory / "unit.json"
        temporary = path.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(self.info.to_json(), indent=2, sort_keys=True), encoding="utf-8")
        os.replace(temporary, path)
        stat = path.stat()
        self._info_stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
        self._saved_info = self.info.copy()

    # ---- non-volatile memory --------------------------------------------------------------

    def _nvm_offset(self, address: int, length: int) -> int:
        """Map a range of one non-volatile region (or its boot alias) to an offset in ``nvm.bin``."""
        offset = self._layout.nvm_offset(self._layout.resolve(address), length)
        if offset is None:
            raise SimulationError("address range is not in one non-volatile region", address=address)
        return offset

    def read_nvm(self, address: int, length: int) -> bytes:
        """Read non-volatile memory. A single read of up to a page is consistent without the lock."""
        offset = self._nvm_offset(address, length)
        return self._nvm[offset : offset + length]

    def program_nvm(self, address: int, data: bytes) -> None:
        """Program non-volatile memory as a flash controller does: bits only go from 1 to 0.
        Caller holds the lock."""
        offset = self._nvm_offset(address, len(data))
        current = int.from_bytes(self._nvm[offset : offset + len(data)], "little")
        new = current & int.from_bytes(data, "little")
        self._nvm[offset : offset + len(data)] = new.to_bytes(len(data), "little")
        self.core_state.note_code_write(self._layout.resolve(address), len(data))

    def erase_range(self, address: int, length: int) -> None:
        """Erase a range of one non-volatile region (a sector, a bank, option bytes) to all ones.
        Caller holds the lock."""
        offset = self._nvm_offset(address, length)
        self._nvm[offset : offset + length] = b"\xff" * length
        self.core_state.note_code_write(address, length)

    def write_nvm_raw(self, address: int, data: bytes) -> None:
        """Put bytes in non-volatile memory as they are (an option-byte sector erased and
        reprogrammed in one operation). Caller holds the lock."""
        offset = self._nvm_offset(address, len(data))
        self._nvm[offset : offset + len(data)] = data
        self.core_state.note_code_write(address, len(data))

    def erase_page(self, address: int) -> None:
        """Erase the 4 KiB flash page holding ``address``. Caller holds the lock."""
        page = address - (address % board.PAGE_SIZE)
        offset = self._nvm_offset(page, board.PAGE_SIZE)
        self._nvm[offset : offset + board.PAGE_SIZE] = b"\xff" * board.PAGE_SIZE
        self.core_state.note_code_write(page, board.PAGE_SIZE)

    def erase_uicr(self) -> None:
        offset = self._nvm_offset(board.UICR_BASE, board.UICR_SIZE)
        self._nvm[offset : offset + board.UICR_SIZE] = b"\xff" * board.UICR_SIZE
        self.core_state.note_code_write(board.UICR_BASE, board.UICR_SIZE)

    def is_blank(self) -> bool:
        """Holding nothing a station put there, as a part leaves its maker (nRF52840: flash
        and UICR all erased; STM32: flash all erased). Caller holds the lock."""
        return self.chip.is_blank(self._nvm[:])

    def erase_all_flash(self) -> None:
        """nRF52840 NVMC ERASEALL: flash and UICR. Caller holds the lock."""
        self._nvm[:] = b"\xff" * NVM_SIZE
        self.core_state.note_code_write(board.FLASH_BASE, board.FLASH_SIZE)
        self.core_state.note_code_write(board.UICR_BASE, board.UICR_SIZE)

    def flush(self) -> None:
        self._nvm.flush()

    # ---- lock latch and reset -------------------------------------------------------------

    def open_access_port(self) -> None:
        """The firmware's APPROTECT.DISABLE = SwDisable on a hardened part: the port opens until
        the next reset, if UICR.APPROTECT holds HwDisabled. Caller holds the lock."""
        hw_disabled = self.read_nvm(board.UICR_APPROTECT, 4)[0] == board.APPROTECT_HW_DISABLED
        if self.info.build_code == "hardened" and hw_disabled:
            self.info.protected = False

    def approtect_requested(self) -> bool:
        """nRF52840: UICR APPROTECT asks for protection at reset.

        Legacy parts: any PALL value but 0xFF (Disabled) enables it, HwDisabled's 0x5A among
        them, as their product specification says. Hardened parts protect at every reset
        anyway; only firmware opens them again (:meth:`open_access_port`)."""
        value = self.read_nvm(board.UICR_APPROTECT, 4)[0]
        return self.info.build_code == "hardened" or value != 0xFF

    def reset(self) -> None:
        """A reset of the chip: the protection latches (APPROTECT, RDP), the boot counter moves,
        the core starts from the vector table (or halts on it, if a debugger asked). Caller
        holds the lock."""
        self.chip.latch_protection(self)
        self.info.boot_count += 1
        reset_core(self.core_state, self.vector_table(), self.reset_peripherals)

    def vector_table(self) -> bytes:
        """The first two words the core resets from (boot from flash)."""
        return self.read_nvm(self.chip.boot_address, 8)

    def reset_peripherals(self, state: CoreState) -> None:
        """The chip's peripherals at their reset values (some loaded from non-volatile memory)."""
        self.chip.reset_peripherals(state, self.read_nvm)


def lock_unit_as_delivered(unit: SimUnit) -> None:
    """Make a unit arrive locked, as a unit from a previous run or a returned board does."""
    with unit.locked():
        unit.chip.lock_as_delivered(unit)
        unit.reset()


class SimUnitStore:
    """The simulation state directory: creates, lists and opens units."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root if root is not None else default_sim_dir()

    @property
    def units_dir(self) -> Path:
        return self.root / "units"

    def create_unit(
        self,
        *,
        timing_factor: float = 0.0,
        device_id: int | None = None,
        build_code: BuildCode = "legacy",
        target: str = DEFAULT_TARGET,
    ) -> SimUnit:
        """Make a blank unit of ``target``'s family (erased flash, factory option bytes or UICR,
        a unique id) and return it; an nRF52840 with hardened APPROTECT arrives with its access
        port closed, as it leaves the factory."""
        if timing_factor < 0:
            raise SimulationError("timing factor must not be negative")
        if build_code not in BUILD_CODES:
            raise SimulationError(f"unknown build code {build_code!r} (one of: {', '.join(BUILD_CODES)})")
        chip = chip_for(target)
        if target != "nrf52840" and build_code != "legacy":
            raise SimulationError(f"a build code (APPROTECT generation) is an nRF52840's; {target} has none")
        if device_id is not None:
            chip.check_device_id(device_id)
        self.units_dir.mkdir(parents=True, exist_ok=True)
        with filelock.FileLock(str(self.root / "store.lock"), timeout=LOCK_TIMEOUT_SECONDS):
            numbers = [int(p.name.split("-")[1]) for p in self.units_dir.iterdir() if _UNIT_ID_PATTERN.match(p.name)]
            unit_id = f"unit-{(max(numbers) + 1) if numbers else 1:04d}"
            directory = self.units_dir / unit_id
            directory.mkdir()
            (directory / "nvm.bin").write_bytes(chip.blank_nvm())
            (directory / "counters.bin").write_bytes(bytes(COUNTERS_SIZE))
            info = UnitInfo(
                unit_id=unit_id,
                device_id=device_id if device_id is not None else chip.random_device_id(),
                target=target,
                timing_factor=timing_factor,
                variant=VARIANT_OF_BUILD_CODE[build_code],
                build_code=build_code,
                protected=chip.initial_protection(build_code),
            )
            # unit.json last and whole: a unit is visible to other processes only once complete.
            staging = directory / "unit.json.tmp"
            staging.write_text(json.dumps(info.to_json(), indent=2, sort_keys=True))
            os.replace(staging, directory / "unit.json")
        return SimUnit(directory)

    def unit_ids(self, *, besides: Collection[str] = ()) -> list[str]:
        """The complete units (``unit.json`` published), leaving out ``besides`` unlooked-at:
        the console server asks twenty times a second, knowing most of them already."""
        try:
            names = os.listdir(self.units_dir)
        except FileNotFoundError:
            return []
        return sorted(
            name
            for name in names
            if name not in besides
            and _UNIT_ID_PATTERN.match(name)
            and os.path.isfile(os.path.join(self.units_dir, name, "unit.json"))
        )

    def target_of(self, unit_id: str) -> str:
        """A unit's target, from ``unit.json`` alone (a probe list names every unit's board)."""
        try:
            data = json.loads((self.units_dir / unit_id.removeprefix("sim:") / "unit.json").read_text("utf-8"))
        except (OSError, ValueError) as error:
            raise SimulationError(f"no readable simulated unit {unit_id!r} in {self.units_dir}") from error
        target = data.get("target", DEFAULT_TARGET)
        if target not in TARGETS:
            raise SimulationError(f"unknown target {target!r} in unit.json")
        return str(target)

    def open_unit(self, unit_id: str) -> SimUnit:
        """Open a unit by id; ``sim:`` prefixes are accepted so probe ids work too."""
        unit_id = unit_id.removeprefix("sim:")
        if not _UNIT_ID_PATTERN.match(unit_id) or not (self.units_dir / unit_id).is_dir():
            raise SimulationError(f"no simulated unit {unit_id!r} in {self.units_dir}")
        return SimUnit(self.units_dir / unit_id)
