"""Lock strategies, one module per device family, behind one interface.

pyOCD has no "lock" call for any family, and each family locks differently (nRF52: UICR
APPROTECT; STM32: option bytes RDP; Kinetis: the flash security byte; EFM32: the debug lock
word). A strategy knows how to ask whether a unit is locked without ever unlocking it, how
to lock it, and how a supervisor's rework erases a locked unit.
"""

from __future__ import annotations

from typing import Any, Protocol

from station.domain.errors import ConfigurationError
from station.domain.recipe import LockMethod


class LockStrategy(Protocol):
    """How one family is locked. Methods take open pyOCD sessions (auto_unlock=False)."""

    method: LockMethod

    @property
    def inspection_options(self) -> dict[str, Any]:
        """Session options that open even a locked unit without touching it."""
        ...

    def is_locked(self, inspection_session: Any) -> bool:
        """Whether the debug port is locked now (from a session opened with inspection_options)."""
        ...

    def apply_lock(self, session: Any) -> None:
        """Write the lock; it takes effect at the next reset, which this also performs."""
        ...

    def rework_erase(self, inspection_session: Any) -> None:
        """Erase everything, lock included: the unit becomes a development unit for life."""
        ...


def lock_strategy_for(method: LockMethod) -> LockStrategy:
    """The strategy a recipe's lock method names."""
    if method is LockMethod.NRF52_APPROTECT:
        from station.drivers.locks.nrf52_approtect import Nrf52ApprotectLock

        return Nrf52ApprotectLock()
    raise ConfigurationError(f"lock method {method.value} is not supported by this station yet")
