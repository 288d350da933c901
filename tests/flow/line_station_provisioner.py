"""One station of a line in a process of its own (tests/flow/test_line_stations.py): provisions
its units one after another through ``station provision`` (in this process), writing how many
it has done to PROGRESS; after unit N of each gate N=FILE it waits until FILE exists; then it
forwards until the line answers.

    python line_station_provisioner.py DATA_DIR RECIPE PROGRESS N=FILE[,N=FILE...] SERIAL|PROBE|CONSOLE...
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from station.app import main as station


def report(progress: Path, text: str) -> None:
    """Replace the progress file whole: the test reads it while this process writes."""
    partial = progress.with_suffix(".partial")
    partial.write_text(text)
    os.replace(partial, progress)


def run(data_dir: str, recipe: str, progress: Path, gates: dict[int, Path], units: list[str]) -> int:
    results = []
    for number, unit in enumerate(units, start=1):
        gate = gates.get(number - 1)
        while gate is not None and not gate.exists():
            time.sleep(0.05)
        serial, probe, console = unit.split("|")
        code = station(["provision", "--recipe", recipe, "--serial", serial, "--probe", probe, "--console", console,
                        "--operator", "ann", "--data-dir", data_dir])
        results.append(f"{serial}={code}")
        report(progress, f"{number} {' '.join(results)}\n")
    deadline = time.monotonic() + 120
    while station(["line", "forward", "--data-dir", data_dir]) != 0:
        if time.monotonic() > deadline:
            return 3
        time.sleep(0.3)
    report(progress, f"{len(units)} {' '.join(results)} forwarded\n")
    return 0


if __name__ == "__main__":
    given = dict(gate.split("=", 1) for gate in sys.argv[4].split(","))
    gates = {int(after): Path(file) for after, file in given.items()}
    sys.exit(run(sys.argv[1], sys.argv[2], Path(sys.argv[3]), gates, sys.argv[5:]))
