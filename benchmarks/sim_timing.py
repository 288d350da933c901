"""Does a simulated unit take at least its physical time? (issue 2)

Programs the demo application (64 KiB by default) into a simulated unit at timing factor 1
(datasheet speed) and at factor 0 (instant), through pyOCD's own FileProgrammer, and
compares the wall time with the modelled physical time of the NVMC work:
pages x 85 ms erase + words x 41 us write. Prints a table and writes it as JSON.

    python benchmarks/sim_timing.py [--sizes 65536,262144] [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results" / "sim_timing.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="65536", help="application sizes in bytes, comma separated")
    parser.add_argument("--repeat", type=int, default=2)
    arguments = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="sim-timing-"))
    os.environ["STATION_SIM_DIR"] = str(work / "sim")
    # Imported after STATION_SIM_DIR is set: the probe plugin reads it.
    from pyocd.core.helpers import ConnectHelper
    from pyocd.flash.file_programmer import FileProgrammer

    from station.sim import board
    from station.sim.firmware import build_demo_firmware
    from station.sim.units import SimUnitStore

    store = SimUnitStore()
    rows = []
    for size in (int(text) for text in arguments.sizes.split(",")):
        firmware = build_demo_firmware(work / f"fw-{size}", app_size=size)
        application = firmware.application
        pages = math.ceil(size / board.PAGE_SIZE)
        modelled = pages * board.PAGE_ERASE_SECONDS + (size // 4) * board.WORD_WRITE_SECONDS
        for factor in (1.0, 0.0):
            times = []
            for _ in range(arguments.repeat):
                unit = store.create_unit(timing_factor=factor)
                options = {"auto_unlock": False, "smart_flash": True}
                with ConnectHelper.session_with_chosen_probe(unique_id=unit.probe_id, options=options) as session:
                    start = time.perf_counter()
                    FileProgrammer(session).program(
                        str(application.bin_path), file_format="bin", base_address=application.address
                    )
                    times.append(time.perf_counter() - start)
                assert unit.read_nvm(application.address, size) == application.data
                unit.close()
            measured = statistics.median(times)
            rows.append(
                {
                    "image_bytes": size,
                    "timing_factor": factor,
                    "modelled_physical_s": round(modelled * factor, 3),
                    "measured_s": round(measured, 3),
                    "ratio_measured_to_modelled": round(measured / modelled, 3) if factor else None,
                    "at_least_physical": measured >= modelled * factor,
                }
            )

    header = f"{'image':>9} {'factor':>6} {'modelled s':>10} {'measured s':>10} {'ratio':>6}  >= physical"
    print(header)
    print("-" * len(header))
    for row in rows:
        ratio = f"{row['ratio_measured_to_modelled']:.3f}" if row["ratio_measured_to_modelled"] else "-"
        print(
            f"{row['image_bytes']:>9} {row['timing_factor']:>6g} {row['modelled_physical_s']:>10.3f} "
            f"{row['measured_s']:>10.3f} {ratio:>6}  {'yes' if row['at_least_physical'] else 'NO'}"
        )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"benchmark": "sim_timing", "rows": rows}, indent=2) + "\n")
    print(f"\nwritten to {RESULTS}")


if __name__ == "__main__":
    main()
