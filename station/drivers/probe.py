"""The unit's debug connection through pyOCD; the only place the station imports pyocd.

Every session is opened with ``auto_unlock=False``: pyOCD's default mass-erases a locked
nRF52 or Kinetis on connect, and erasing a locked unit is a supervisor's rework, never an
accident. pyOCD does not verify after programming, so :meth:`PyOcdSession.read` exists for
the station's own read-back.

A recipe whose target comes from a CMSIS device pack has every session opened with pyOCD's
``pack`` option, so that pyOCD makes the pack's devices targets (its flash algorithms, memory
map and, for a family it knows, its family class); see :func:`check_pack_target`.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from pyocd.core import exceptions as pyocd_errors
from pyocd.core.helpers import ConnectHelper
from pyocd.core.session import Session
from pyocd.target import TARGET
from pyocd.target.builtin import BUILTIN_TARGETS

from station.domain.errors import (
    ConfigurationError,
    FlashError,
    ProbeError,
    StationError,
    UnitError,
    UnitLockedError,
)
from station.domain.recipe import DevicePack, LockSettings
from station.drivers.flash_writer import FlashWriter, read_memory
from station.drivers.profiles import DeviceProfile, LockStrategy, profile_for_target
from station.flow.flash_plan import NO_CHIP_ERASE, ChipErasePermission, FlashReport

LOG = logging.getLogger(__name__)

ProgressCallback = Callable[[float], None]


def _ignore_progress(_fraction: float) -> None:
    """Progress nobody asked to see."""


def _translate(error: BaseException, doing: str) -> StationError:
    """pyOCD's exceptions as the station's, with what was being done and no internals."""
    if isinstance(error, StationError):
        return error
    if isinstance(error, pyocd_errors.ProbeDisconnected):
        return ProbeError(f"probe lost the unit while {doing}: check the cable and the fixture")
    if isinstance(error, pyocd_errors.TransferFaultError):
        return FlashError(f"memory transfer fault while {doing}", address=error.fault_address)
    if isinstance(error, pyocd_errors.FlashFailure):
        return FlashError(f"flash algorithm failed while {doing}: {error}")
    if isinstance(error, pyocd_errors.TransferTimeoutError | pyocd_errors.TimeoutError):
        return ProbeError(f"probe timed out while {doing}")
    if isinstance(error, pyocd_errors.ProbeError):
        return ProbeError(f"probe error while {doing}: {error}")
    if isinstance(error, pyocd_errors.Error):
        return UnitError(f"debug error while {doing}: {error}")
    return UnitError(f"unexpected {type(error).__name__} while {doing}: {error}")


class DebugPortSilentError(ProbeError):
    """The probe is there but the unit's debug port gives no acknowledge: a cable or power fault,
    or a port a permanent lock turned off (STM32 RDP level 2). The device profile says which
    locks look like this; to anyone else it is a probe fault."""


def _silent_port(error: BaseException) -> bool:
    """pyOCD's "no acknowledge" (neither a fault the port reported nor a probe timeout). When it
    comes while the DP connects, pyOCD raises a plain "Target not detected" error from it: the
    no-acknowledge is its cause."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, pyocd_errors.TransferError):
            return not isinstance(cause, pyocd_errors.TransferFaultError | pyocd_errors.TransferTimeoutError)
        cause = cause.__cause__
    return False


def check_pack_target(target_type: str) -> None:
    """Refuse a pack target that pyOCD would not take from the pack: pyOCD adds a pack's device
    only under a name no built-in target has, and silently uses its built-in one otherwise."""
    if target_type in BUILTIN_TARGETS:
        raise ConfigurationError(
            f"target {target_type!r} is one of pyOCD's built-in targets, which pyOCD uses instead of the "
            "pack's device of that name: name a target only the pack describes, or no pack"
        )


# pyOCD keeps the targets it made from packs in one table for the whole process, under the
# device's name, and never replaces one. Which pack (by SHA-256) each of the station's came from:
# a recipe with another pack for the same device name gets its own, not the first one's.
_PACK_TARGETS: dict[str, str] = {}
_PACK_TARGETS_LOCK = threading.Lock()


def _prepare_pack_target(target_type: str, pack: DevicePack) -> None:
    """Before a session that may make the pack's targets: drop another pack's target of this
    name, and make sure the file pyOCD is about to read is still the pinned one."""
    with _PACK_TARGETS_LOCK:
        made = TARGET.get(target_type)
        if made is not None and _PACK_TARGETS.get(target_type) == pack.sha256:
            return
        if made is not None and hasattr(made, "_pack_device"):
            del TARGET[target_type]
        try:
            with pack.path.open("rb") as file:
                actual = hashlib.file_digest(file, "sha256").hexdigest()
        except OSError as error:
            raise ConfigurationError(f"cannot read the recipe's pack {pack.path}: {error.strerror or error}") from None
        if actual != pack.sha256:
            raise ConfigurationError(
                f"the recipe's pack {pack.path} changed since the recipe was checked "
                f"(file {actual}, pinned {pack.sha256}); nothing was done"
            )
        _PACK_TARGETS[target_type] = pack.sha256


class PyOcdSession:
    """A unit with an open, unlocked debug session."""

    def __init__(self, session: Session, profile: DeviceProfile, lock: LockStrategy) -> None:
        self._session = session
        self._profile = profile
        self._lock = lock

    @property
    def target(self) -> Any:
        return self._session.target

    def read_device_id(self) -> str:
        """The family's unique device id as 16 uppercase hex digits (where: the device profile)."""
        try:
            return self._profile.read_device_id(self.target)
        except Exception as error:
            raise _translate(error, "reading the device id") from error

    def program(
        self,
        segments: Sequence[tuple[int, bytes]],
        progress: ProgressCallback | None = None,
        chip_erase: ChipErasePermission = NO_CHIP_ERASE,
    ) -> FlashReport:
        """Program all segments with the least flash work (see :mod:`station.drivers.flash_writer`):
        identical pages skipped, blank ones programmed without an erase, a chip erase where the
        caller allows it and it is cheaper."""
        writer = FlashWriter(self._session, self._profile.flash_timing, self._profile.chip_erase_blocker)
        try:
            return writer.write(segments, chip_erase, progress or _ignore_progress, self._keep_port_open)
        except Exception as error:
            raise _translate(error, "programming flash") from error

    def _keep_port_open(self) -> str:
        """After a chip erase (before any reset): what the family needs to keep its port open."""
        return self._lock.keep_port_open(self._session)

    def read(self, address: int, length: int) -> bytes:
        """Read memory for verification (see :func:`station.drivers.flash_writer.read_memory`)."""
        try:
            return read_memory(self.target, address, length)
        except Exception as error:
            raise _translate(error, f"reading memory at 0x{address:08X}") from error

    def apply_lock(self) -> None:
        try:
            self._lock.apply_lock(self._session)
        except Exception as error:
            raise _translate(error, "locking the debug port") from error

    def reset(self) -> None:
        try:
            self.target.reset()
        except Exception as error:
            raise _translate(error, "resetting the unit") from error


class PyOcdProbe:
    """One slot's probe, by its pyOCD unique id (``sim:unit-0001`` for a simulated unit).

    What depends on the chip family (device id, lock, rework) comes from the device profile
    of ``target_type``: a target no profile covers is a ConfigurationError here, before any
    session opens. With ``pack`` (the recipe's CMSIS pack) every session gets pyOCD's ``pack``
    option, so that the target is the pack's device.
    """

    def __init__(
        self,
        probe_id: str,
        target_type: str,
        lock: LockSettings,
        *,
        frequency: int = 4_000_000,
        pack: DevicePack | None = None,
    ) -> None:
        self.probe_id = probe_id
        self.target_type = target_type
        if pack is not None:
            check_pack_target(target_type)
        self._pack = pack
        self._profile = profile_for_target(target_type)
        self._lock = self._profile.lock(lock)
        self._frequency = frequency
        self._open_sessions: set[Session] = set()
        self._sessions_lock = threading.Lock()

    def interrupt(self) -> None:
        """From another thread: close the probe under every open session, so that a call blocked
        in one (a flash algorithm that never halts) fails at once. pyOCD's probes take a close
        from another thread (a simulated one breaks its link; a USB probe's pending transfer
        fails); the session's own thread still closes the session as usual afterwards."""
        with self._sessions_lock:
            sessions = list(self._open_sessions)
        for session in sessions:
            LOG.warning("closing probe %s under a session that ran past its deadline", self.probe_id)
            with contextlib.suppress(Exception):
                session.probe.close()

    def _close(self, session: Session) -> None:
        with self._sessions_lock:
            self._open_sessions.discard(session)
        with contextlib.suppress(Exception):
            session.close()

    def _open(self, extra_options: dict[str, Any]) -> Session:
        options = {
            "auto_unlock": False,  # never, whatever else changes
            "frequency": self._frequency,
            "target_override": self.target_type,
            "resume_on_disconnect": False,
            "warning.cortex_m_default": False,
            **extra_options,
        }
        options["auto_unlock"] = False
        if self._pack is not None:
            _prepare_pack_target(self.target_type, self._pack)
            options["pack"] = [str(self._pack.path)]
        try:
            session = ConnectHelper.session_with_chosen_probe(
                unique_id=self.probe_id, blocking=False, auto_open=False, options=options
            )
        except Exception as error:
            raise _translate(error, "looking for the probe") from error
        if session is None:
            raise ProbeError(f"probe {self.probe_id} is not connected")
        # pyOCD parses the part's SVD file (megabytes of XML) on a background thread at every
        # session open; the parser holds the interpreter lock for hundreds of milliseconds,
        # freezing the window and the other slots. The station never reads peripheral
        # descriptions, so it skips the load (pyOCD has no option for it; pinned version).
        target = getattr(session, "target", None)
        if target is not None and hasattr(target, "_svd_location"):
            target._svd_location = None
        with self._sessions_lock:
            self._open_sessions.add(session)
        try:
            session.open()
        except KeyError as error:
            # pyOCD's answer to a locked nRF52 under auto_unlock=False: no core to select.
            self._close(session)
            raise UnitLockedError("the unit's debug port is locked") from error
        except Exception as error:
            self._close(session)
            if _silent_port(error):
                raise DebugPortSilentError(
                    "the unit's debug port does not answer: check the cable and the unit's power"
                ) from error
            raise _translate(error, "connecting to the unit") from error
        return session

    def _locked_when_asked(self) -> bool:
        """Whether the unit reads as locked; False when even asking fails (then the first
        failure is the one worth reporting)."""
        try:
            return self.is_locked()
        except StationError:
            return False

    def is_locked(self) -> bool:
        """Ask the unit (fresh session) whether its debug port is locked; never changes it.

        A port that answers nothing reads as locked only under a lock that turns it off."""
        try:
            session = self._open(self._lock.inspection_options)
        except DebugPortSilentError:
            if self._lock.port_silent_when_locked:
                return True
            raise
        try:
            return self._lock.is_locked(session)
        except Exception as error:
            raise _translate(error, "reading the lock state") from error
        finally:
            self._close(session)

    @contextlib.contextmanager
    def attach(self) -> Iterator[PyOcdSession]:
        """An unlocked unit, ready to program; a locked one raises UnitLockedError untouched.

        With ``auto_unlock=False`` pyOCD opens a locked nRF52 without touching it and fails for
        want of a core, which :meth:`_open` reports as UnitLockedError; a family whose locked
        core still answers is asked through its lock strategy.
        """
        try:
            session = self._open({})
        except UnitLockedError:
            raise
        except StationError as error:
            # A family whose lock hides the core (a secure Kinetis: pyOCD finds "no cores") or
            # silences the port (STM32 RDP level 2) fails to open rather than saying so: ask its
            # lock, through the access port that answers whatever the lock.
            if self._locked_when_asked():
                raise UnitLockedError("the unit's debug port is locked") from error
            raise
        try:
            # A family whose lock leaves the core debuggable (STM32 RDP level 1) opens normally;
            # its lock is read here, so that no step ever meets a locked unit's closed flash.
            try:
                locked = self._lock.is_locked(session)
            except Exception as error:
                raise _translate(error, "reading the lock state") from error
            if locked:
                raise UnitLockedError("the unit's debug port is locked")
            yield PyOcdSession(session, self._profile, self._lock)
        finally:
            self._close(session)

    def recovery_erase(self) -> str:
        """Erase the unit through the family's recovery path and keep its port open for the
        rest of production: a supervisor's rework, or a factory-fresh part that shipped locked.
        Says what the profile found and did (the part's APPROTECT generation, say)."""
        session = self._open(self._lock.inspection_options)
        try:
            self._lock.recovery_erase(session)
        except Exception as error:
            raise _translate(error, "erasing the unit through its debug port") from error
        finally:
            self._close(session)
        # Before any reset: a part that closes its port at every reset is told to stay open now.
        session = self._open({})
        try:
            return self._lock.keep_port_open(session)
        except Exception as error:
            raise _translate(error, "keeping the erased unit's debug port open") from error
        finally:
            self._close(session)


def list_probes() -> list[tuple[str, str]]:
    """(unique id, description) of every probe pyOCD sees, simulated ones included."""
    probes = ConnectHelper.get_all_connected_probes(blocking=False, print_wait_message=False)
    return [(probe.unique_id, probe.description) for probe in probes]
