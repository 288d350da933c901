"""One station of a line in a process of its own (tests/flow/test_line_stations.py): provisions
its units one after another through ``station provision`` (in this process), writing how many
it has done to PROGRESS, waiting at WAIT_AT for GO_FILE, then forwards until the line answers.

    python line_station_provisioner.py DATA_DIR RECIPE PROGRESS GO_FILE WAIT_AT SERIAL:PROBE:CONSOLE...
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from station.app import main as station


def run(data_dir: str, recipe: str, progress: Path, go_file: Path, wait_at: int, units: list[str]) -> int:
    results = []
    for number, unit in enumerate(units, start=1):
        if number == wait_at + 1:
            while not go_file.exists():
                time.sleep(0.05)
        serial, probe, console = unit.split("|")
        code = station(["provision", "--recipe", recipe, "--serial", serial, "--probe", probe, "--console", console,
                        "--operator", "ann", "--data-dir", data_dir])
        results.append(f"{serial}={code}")
        progress.write_text(f"{number} {' '.join(results)}\n")
    deadline = time.monotonic() + 120
    while station(["line", "forward", "--data-dir", data_dir]) != 0:
        if time.monotonic() > deadline:
            return 3
        time.sleep(0.3)
    progress.write_text(f"{len(units)} {' '.join(results)} forwarded\n")
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1], sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]), int(sys.argv[5]), sys.argv[6:]))
