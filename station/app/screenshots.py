"""Screenshots of the operator station, made by driving the training station on simulated units.

    python -m station.app.screenshots OUTDIR [--language es] [--timing 0.5] [--slots 8]

Runs without a display (``QT_QPA_PLATFORM=offscreen`` is set when there is none, with a
1920x1080 screen: a line PC's); uses its own temporary demo directory and leaves nothing else
behind. The driving is ``station.gui.screenshots``; this builds the station it drives.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from station.app.root import CompositionRoot
from station.app.windows import build_demo_window


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m station.app.screenshots", description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="directory for the PNG files")
    parser.add_argument("--language", default="en", help="en, zh_CN or es (default en)")
    parser.add_argument("--timing", type=float, default=0.5, help="simulated units' timing factor (default 0.5)")
    parser.add_argument("--slots", type=int, default=2, help="how many slots (default 2)")
    arguments = parser.parse_args(argv)
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from station.gui.screenshots import LINE_SCREEN_SIZE, take_screenshots

    with tempfile.TemporaryDirectory(prefix="station-screenshots-") as directory:
        if os.environ.get("QT_QPA_PLATFORM") == "offscreen":
            os.environ["QT_QPA_PLATFORM"] = offscreen_platform(Path(directory), *LINE_SCREEN_SIZE)
        os.environ["STATION_SIM_DIR"] = str(Path(directory) / "sim")
        station = build_demo_window(CompositionRoot(), Path(directory), slots=arguments.slots, timing=arguments.timing,
                                    sounds=False, language=arguments.language)  # fmt: skip
        suffix = ("" if arguments.language == "en" else f"-{arguments.language}") + (
            "" if arguments.slots == 2 else f"-{arguments.slots}-slots"
        )
        written = take_screenshots(station, arguments.out, suffix)
    for path in written:
        print(path)
    return 0


def offscreen_platform(directory: Path, width: int, height: int) -> str:
    """Qt's offscreen platform with one screen of this size (its own is 800x800), from a
    configuration file written in ``directory``."""
    config = directory / "offscreen-screen.json"
    screen = {"name": "line", "x": 0, "y": 0, "width": width, "height": height, "logicalDpi": 96,
              "logicalBaseDpi": 96, "dpr": 1.0}  # fmt: skip
    config.write_text(json.dumps({"screens": [screen]}), encoding="utf-8")
    return f"offscreen:configfile={config}"


if __name__ == "__main__":
    sys.exit(main())
