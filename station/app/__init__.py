"""The one composition root: every front end is built here, and only here.

``CompositionRoot`` decides, once, which configuration, data directory, database, station
key, drivers, device-management client and slots a station uses, and builds the
``station.operations.Station`` that the command line and the window drive. ``main`` is the
``station`` command: it hands the root to the CLI, which never builds anything itself; the
window is started through the root too (``station gui``, ``station demo``). The layer
contract puts this package above both front ends, which stay independent of each other.
"""

from station.app.root import CompositionRoot, configure_logging, main

__all__ = ["CompositionRoot", "configure_logging", "main"]
