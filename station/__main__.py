"""``python -m station`` runs the ``station`` command."""

import sys

from station.app import main

sys.exit(main())
