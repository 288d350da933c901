"""The lock that guards a simulated unit's files, across processes and threads (split from
:mod:`station.sim.units`)."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path


class UnitLock:
    """Exclusive across processes (flock on a file held open) and threads (a re-entrant lock).

    The station's probe takes a unit's lock for every memory transfer and every flash
    algorithm run, hundreds of times a unit: a lock that keeps its file open costs a system
    call per acquisition, where re-opening the lock file (as ``filelock`` does) costs a path
    look-up and an open as well.
    """

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        self._threads = threading.RLock()
        self.depth = 0

    def acquire(self, timeout: float) -> bool:
        if not self._threads.acquire(timeout=timeout):
            return False
        if self.depth == 0:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        self._threads.release()
                        return False
                    time.sleep(0.0005)
        self.depth += 1
        return True

    def release(self) -> None:
        self.depth -= 1
        if self.depth == 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()

    def close(self) -> None:
        os.close(self._fd)
