"""``python -m station`` runs the ``station`` command."""

import sys

from station.cli import main

sys.exit(main())
