"""Device profiles: everything the station does that depends on the chip family, one module each.

pyOCD has no "lock" call and no "device id" call for any family, and each family does both
differently (nRF52: FICR DEVICEID and UICR APPROTECT; STM32: the UID registers and option-byte
RDP; Kinetis: SIM_UID and the flash security byte; EFM32/EFR32: DEVINFO and the debug lock
word). A profile says which pyOCD targets it covers, how to read the unit's unique id, and, for
each lock method it offers, how to lock, how to read the lock back without unlocking, how a
supervisor's rework erases, and what that erase destroys. A recipe names its target; the
profile follows from it
(:func:`profile_for_target`), so the flow and the probe driver never name a family. Which lock
methods fit which targets is the domain's pure table (``LOCK_METHOD_TARGETS``, which the
recipe loader checks); the profiles read it rather than keep a copy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from station.domain.errors import ConfigurationError, LockError
from station.domain.recipe import LOCK_METHOD_TARGETS, LockMethod, LockSettings
from station.flow.flash_plan import FlashTiming


class LockStrategy(Protocol):
    """How one lock method works. Methods take open pyOCD sessions (auto_unlock=False)."""

    method: LockMethod

    @property
    def inspection_options(self) -> dict[str, Any]:
        """Session options that open even a locked unit without touching it."""
        ...

    @property
    def port_silent_when_locked(self) -> bool:
        """Whether the lock turns the debug port off, so that silence reads as locked."""
        ...

    def is_locked(self, inspection_session: Any) -> bool:
        """Whether the debug port is locked now (from a session opened with inspection_options)."""
        ...

    def apply_lock(self, session: Any) -> None:
        """Write the lock; it takes effect at the next reset, which this also performs."""
        ...

    def recovery_erase(self, inspection_session: Any) -> None:
        """Erase everything, lock included, through the family's recovery path, and leave the
        port open (no reset that could close it again). A rework makes the unit a development
        unit for life; a factory-fresh part that shipped protected stays a new part."""
        ...

    def keep_port_open(self, session: Any) -> str:
        """Right after :meth:`recovery_erase`, before any reset, in a normal session: make the
        port stay open across the resets of production until the lock (a part that would close
        it at every reset otherwise). Says what it found and did, for the record."""
        ...


@dataclass(frozen=True)
class LockMeaning:
    """What a lock method means for the unit, in words for ``recipe check`` and the README."""

    method: LockMethod
    reversible: bool
    recovery: str  # how the lock is undone and what that takes, or why it cannot be

    def describe(self) -> str:
        """One line: "nrf52-approtect: reversible only by …" or "…: permanent, …"."""
        kind = "reversible only by" if self.reversible else "permanent:"
        return f"{self.method.value}: {kind} {self.recovery}"


class DeviceProfile(Protocol):
    """One chip family as the station drives it."""

    @property
    def family(self) -> str:
        """The family's name as people say it ("nRF52")."""
        ...

    @property
    def target_prefixes(self) -> tuple[str, ...]:
        """The pyOCD target types it covers, by prefix."""
        ...

    @property
    def device_id_source(self) -> str:
        """Where the unique device id comes from, in words (docs and ``recipe check``)."""
        ...

    @property
    def locks(self) -> Mapping[LockMethod, LockMeaning]:
        """The lock methods the family offers, with what each means."""
        ...

    def read_device_id(self, target: Any) -> str:
        """The unit's unique id in uppercase hex (16, 24 or 32 digits: the domain's ``DeviceId``),
        read through an open session's target."""
        ...

    def lock(self, settings: LockSettings) -> LockStrategy:
        """The strategy for the recipe's lock, one of :attr:`locks` (ConfigurationError for any other)."""
        ...

    @property
    def flash_timing(self) -> FlashTiming:
        """The datasheet's flash figures, by which the station chooses its erases."""
        ...

    def chip_erase_blocker(self, target: Any) -> str | None:
        """What a chip erase would destroy outside the flash array that the unit keeps (nRF52:
        UICR configuration), in words; None when nothing. What the station itself needs again
        after one (the port kept open) it restores with :meth:`LockStrategy.keep_port_open`."""
        ...


def not_offered(family: str, settings: LockSettings) -> ConfigurationError:
    """The error for asking a family's profile for a lock it does not offer."""
    return ConfigurationError(f"lock method {settings.method.value!r} is not one of the {family} profile's")


def wait_until(condition: Callable[[], bool], timeout: float, failure: str) -> None:
    """Poll a unit's register until ``condition`` holds; LockError(``failure``) after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise LockError(failure)
        time.sleep(0.005)


def pin_reset(session: Any) -> None:
    """A reset by the probe's nRESET line: for locks that load at reset and leave no debug path
    to ask for one through (STM32 RDP level 2, a secured Kinetis)."""
    probe = session.probe
    probe.assert_reset(True)
    time.sleep(0.01)
    probe.assert_reset(False)


def covers(profile: DeviceProfile, target: str) -> bool:
    """Whether ``target`` (a pyOCD target type) is one of the profile's."""
    return target.startswith(profile.target_prefixes)


def targets_of(method: LockMethod) -> tuple[str, ...]:
    """The target prefixes a lock method fits: the domain's table, the one place it is kept."""
    return tuple(LOCK_METHOD_TARGETS.get(method, ()))


def all_profiles() -> tuple[DeviceProfile, ...]:
    """Every family this station supports (a new family is a new module and a line here)."""
    from station.drivers.profiles.efm32 import Efm32Profile
    from station.drivers.profiles.kinetis import KinetisProfile
    from station.drivers.profiles.nrf52 import Nrf52Profile
    from station.drivers.profiles.stm32 import Stm32Profile

    return (Nrf52Profile(), Stm32Profile(), KinetisProfile(), Efm32Profile())


def profile_for_target(target: str) -> DeviceProfile:
    """The profile that covers a recipe's target."""
    for profile in all_profiles():
        if covers(profile, target):
            return profile
    supported = ", ".join(f"{prefix}*" for profile in all_profiles() for prefix in profile.target_prefixes)
    raise ConfigurationError(f"no device profile covers target {target!r} (supported targets: {supported})")


def profile_and_lock(target: str, method: LockMethod) -> tuple[DeviceProfile, LockMeaning]:
    """The profile of a recipe's target and what its lock method means there (``recipe check``)."""
    profile = profile_for_target(target)
    meaning = profile.locks.get(method)
    if meaning is None:
        offered = ", ".join(item.value for item in profile.locks)
        raise ConfigurationError(
            f"lock method {method.value!r} does not fit target {target!r} "
            f"(the {profile.family} profile offers: {offered})"
        )
    return profile, meaning
