"""The chip families a simulated unit can be, by pyOCD target type.

A unit records its target in ``unit.json``; everything family-specific follows from
:func:`chip_for` (see :mod:`station.sim.chips.base` for what a family brings). The family
modules are imported when first asked for: the shared core state imports
:mod:`station.sim.chips.layout`, and the families import the core state.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Final

from station.domain.errors import SimulationError

if TYPE_CHECKING:
    from station.sim.chips.base import ChipModel

NRF52840: Final = "nrf52840"
STM32F429XI: Final = "stm32f429xi"
K64F: Final = "k64f"
# A part only a CMSIS pack describes to pyOCD: its target name is the pack's device name.
EFR32MG12: Final = "efr32mg12p433f1024gm68"
TARGETS: Final = (NRF52840, STM32F429XI, K64F, EFR32MG12)
DEFAULT_TARGET: Final = NRF52840


@functools.cache
def chip_for(target: str) -> ChipModel:
    """The chip model of a pyOCD target type (one object per family, shared)."""
    if target == NRF52840:
        from station.sim.chips.nrf52840 import Nrf52840

        return Nrf52840()
    if target == STM32F429XI:
        from station.sim.chips.stm32f429 import Stm32f429xi

        return Stm32f429xi()
    if target == K64F:
        from station.sim.chips.k64f import K64f

        return K64f()
    if target == EFR32MG12:
        from station.sim.chips.efr32mg12 import Efr32mg12

        return Efr32mg12()
    raise SimulationError(f"unknown simulated target {target!r} (one of: {', '.join(TARGETS)})")


def default_chip() -> ChipModel:
    return chip_for(DEFAULT_TARGET)
