"""``python -m station.cli``: the ``station`` command, for children started with this interpreter."""

import sys

from station.cli import main

sys.exit(main())
