"""Simulated units: the pyOCD probe plugin, the emulated device, consoles, the simulator host.

pyOCD is imported here, before any module of this package: importing pyOCD loads every
``pyocd.probe`` plugin, this package's ``station.sim.probe`` among them, and a module of this
package that imported pyOCD first would be found half-made by that load.
"""

import pyocd  # noqa: F401  (see above)
