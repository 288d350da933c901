"""Deadlines that hold even inside a blocking call.

A step's work may block in a library (a pyOCD flash algorithm that never halts, a USB read
that never returns) where no deadline check of ours runs. So each try of a step is watched:
when its deadline passes, the watchdog calls the run's ``interrupt``, which ends the probe
session and the console port from outside; the blocked call then returns with an error and
the step ends as a STEP_TIMEOUT. One thread serves every slot of a process; each expiry is
handled on a thread of its own, so that an interrupt that is slow to return (a real probe
closing) never delays another slot's.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

LOG = logging.getLogger(__name__)


# How long the end of a watch waits for an interrupt that is under way: it must not reach the
# next try's session. A probe that takes longer to close is logged, not waited for.
INTERRUPT_WAIT_SECONDS = 10.0


@dataclass
class Watch:
    """One deadline being watched; ``expired`` is set before the interrupt is called."""

    deadline: float
    on_expiry: Callable[[], None]
    expired: bool = False
    cancelled: bool = field(default=False, repr=False)
    interrupted: threading.Event = field(default_factory=threading.Event, repr=False)


class Watchdog:
    """Calls ``on_expiry`` of every watch whose deadline passes before the watch ends."""

    _shared: Watchdog | None = None
    _shared_lock = threading.Lock()

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._condition = threading.Condition()
        self._heap: list[tuple[float, int, Watch]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    @classmethod
    def shared(cls) -> Watchdog:
        """The process's watchdog: one thread, whatever the number of slots."""
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    @contextmanager
    def watch(self, deadline: float, on_expiry: Callable[[], None]) -> Iterator[Watch]:
        """Watch ``deadline`` (on this watchdog's clock) for the duration of the block."""
        watch = Watch(deadline, on_expiry)
        with self._condition:
            earliest = not self._heap or deadline < self._heap[0][0]
            heapq.heappush(self._heap, (deadline, next(self._order), watch))
            self._start()
            if earliest:  # the thread sleeps until the earliest deadline: wake it only to sleep less
                self._condition.notify()
        try:
            yield watch
        finally:
            with self._condition:
                watch.cancelled = True
            if watch.expired and not watch.interrupted.wait(INTERRUPT_WAIT_SECONDS):
                LOG.error("the interrupt of a step past its deadline has not returned after %.0f s",
                          INTERRUPT_WAIT_SECONDS)

    def _start(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._serve, name="step deadlines", daemon=True)
            self._thread.start()

    def _serve(self) -> None:
        while True:
            with self._condition:
                while self._heap and self._heap[0][2].cancelled:
                    heapq.heappop(self._heap)
                if not self._heap:
                    self._condition.wait()
                    continue
                deadline, _, watch = self._heap[0]
                remaining = deadline - self._clock()
                if remaining > 0:
                    self._condition.wait(remaining)
                    continue
                heapq.heappop(self._heap)
                watch.expired = True
            threading.Thread(target=self._expire, args=(watch,), name="step deadline passed", daemon=True).start()

    @staticmethod
    def _expire(watch: Watch) -> None:
        try:
            watch.on_expiry()
        except Exception:
            LOG.exception("interrupting a step whose deadline passed failed")
        finally:
            watch.interrupted.set()
