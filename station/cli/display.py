"""Whether a window can be shown here: one rule for ``station gui`` and ``station demo``.

Qt draws on an X or Wayland display (``DISPLAY``, ``WAYLAND_DISPLAY``) or, when
``QT_QPA_PLATFORM`` names one, on a platform of its own (``eglfs`` and ``linuxfb`` draw
straight on a screen, ``vnc`` serves one). ``offscreen`` and ``minimal`` draw nowhere a
person can see: a window there would wait for a click nobody can make, so they count as no
display at all (the tests and the screenshot tool use them without going through here).
"""

from __future__ import annotations

import os
import sys
from typing import Final

QT_PLATFORM_ENVIRONMENT_VARIABLE: Final = "QT_QPA_PLATFORM"
INVISIBLE_QT_PLATFORMS: Final = frozenset({"offscreen", "minimal"})
WINDOW_ADVICE: Final = "For the window, run it in a desktop session, or over `ssh -X` from one."


def window_problem() -> str | None:
    """Why no window can be shown here, in words for the person at the terminal; None if one can."""
    if sys.platform in ("win32", "darwin"):
        return None
    platform = os.environ.get(QT_PLATFORM_ENVIRONMENT_VARIABLE, "").strip()
    if platform.split(":", 1)[0] in INVISIBLE_QT_PLATFORMS:
        return f"{QT_PLATFORM_ENVIRONMENT_VARIABLE}={platform} draws windows nowhere a person can see them"
    if platform or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return "no display (neither DISPLAY nor WAYLAND_DISPLAY is set)"
