"""A simulated line for benchmarks: the demo environment, real pyOCD, real ptys, real store.

Units run at timing factor 1 (datasheet flash speed) unless a benchmark says otherwise, and
every unit reports the physical time its flash controller was busy (``nvm_busy_seconds``),
which is what the station's cycle time is compared with.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).parent / "results"


@dataclass
class BenchLine:
    environment: Any
    station: Any
    recipe: Any
    provisioner: Any
    context: Any
    consoles: Any
    next_serial: int = 1
    units: list[Any] = field(default_factory=list)
    target: str = "nrf52840"
    serial_prefix: str = "TST-"

    def new_units(self, count: int, timing: float = 1.0) -> list[Any]:
        units: list[Any] = self.environment.create_units(count, timing_factor=timing, target=self.target)
        for unit in units:
            self.consoles.wait_for_port(unit.unit_id)
        self.units.extend(units)
        return units

    def retire(self, units: list[Any]) -> None:
        """Close units that are done with: each holds open files, and a run of hundreds would
        pass the descriptor numbers pyserial's select() accepts."""
        for unit in units:
            unit.close()
        retired = {id(unit) for unit in units}
        self.units = [unit for unit in self.units if id(unit) not in retired]

    def slot(self, unit: Any) -> Any:
        from station.drivers.slots import hardware_slot

        return hardware_slot(unit.unit_id, unit.probe_id, self.environment.console_path(unit), self.recipe)

    def serial(self) -> str:
        serial = f"{self.serial_prefix}{self.next_serial:06d}"
        self.next_serial += 1
        return serial


@contextmanager
def bench_line(app_size: int = 64 * 1024, root: Path | None = None, target: str = "nrf52840") -> Iterator[BenchLine]:
    """A fresh demo environment in a temporary directory, with its consoles served; its units
    and recipe of one chip family (``target``)."""
    from station.app import CompositionRoot
    from station.app.demo import open_demo_line_station
    from station.flow.run import StationContext
    from station.sim.demo import DEMO_SERIAL_PREFIXES, prepare_demo

    root = root or Path(tempfile.mkdtemp(prefix="station-bench-"))
    os.environ["STATION_SIM_DIR"] = str(root / "sim")
    environment = prepare_demo(root, app_size=app_size)
    recipe_path = environment.recipe_for(target)
    station = open_demo_line_station(CompositionRoot(), environment, recipe_path, work_order="WO-BENCH")
    recipe = station.production.recipe
    provisioner = station.production.provisioner()
    context = StationContext("bench-station", "bench-operator", "WO-BENCH")
    with environment.simulator_host() as consoles:
        line = BenchLine(environment, station, recipe, provisioner, context, consoles, target=target,
                         serial_prefix=DEMO_SERIAL_PREFIXES[target])  # fmt: skip
        try:
            yield line
        finally:
            for unit in line.units:
                unit.close()
            station.close()


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max(len(column), *(len(row[i]) for row in cells)) for i, column in enumerate(columns)]
    print(f"\n{title}")
    print("  ".join(column.rjust(width) for column, width in zip(columns, widths, strict=True)))
    print("  ".join("-" * width for width in widths))
    for row in cells:
        print("  ".join(value.rjust(width) for value, width in zip(row, widths, strict=True)))


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def write_results(name: str, data: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"written to {path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path}")
    return path
