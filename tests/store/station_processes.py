"""Several stations at once, each a process of its own started together: what the store's
concurrency tests run (a station's worker takes its arguments, then the shared barrier it waits
at before its first unit, then the file it writes its JSON result to)."""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any


def run_stations(
    target: Callable[..., None], arguments: Sequence[tuple[Any, ...]], results_dir: Path, *, timeout: float = 900
) -> list[dict[str, Any]]:
    """Run ``target(*arguments[i], barrier, result_path)`` in one spawned process per station;
    every one must end cleanly. Their results, in order."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(arguments))
    results = [results_dir / f"station-{index}.json" for index in range(len(arguments))]
    processes = [context.Process(target=target, args=(*given, barrier, str(result)))
                 for given, result in zip(arguments, results, strict=True)]  # fmt: skip
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=timeout)
    assert [process.exitcode for process in processes] == [0] * len(processes)
    return [json.loads(path.read_text(encoding="utf-8")) for path in results]
