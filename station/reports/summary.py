"""One streaming pass over a selection: the yield figures and what a cover page lists.

The cover of a traceability report names the stations, products, work orders, recipes and
firmware images the selected attempts used. These are few (a line runs a handful of recipes),
so they are collected as sets; a list that grows past :data:`INVENTORY_LIMIT` keeps counting
but stops remembering, and the cover says how many more there were.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from station.domain.records import AttemptFilter, AttemptRecord
from station.reports.errors import ExportCancelledError
from station.reports.yield_stats import YieldCalculator, YieldReport
from station.store import Database

INVENTORY_LIMIT = 200
PROGRESS_EVERY = 500

Progress = Callable[[int], None]
"""Called with the number of attempts read so far (every few hundred)."""
Cancelled = Callable[[], bool]
"""Polled while reading; True stops the work with ExportCancelledError."""


@dataclass
class _Bounded:
    values: set[str] = field(default_factory=set)
    overflow: set[str] = field(default_factory=set)  # only its size matters; kept bounded too

    def add(self, value: str | None) -> None:
        if value is None or value in self.values:
            return
        if len(self.values) < INVENTORY_LIMIT:
            self.values.add(value)
        elif len(self.overflow) < 100_000:
            self.overflow.add(value)

    def sorted(self) -> tuple[str, ...]:
        return tuple(sorted(self.values))

    @property
    def more(self) -> int:
        return len(self.overflow)


@dataclass(frozen=True)
class Inventory:
    """What the selected attempts used; ``*_more`` counts the ones not listed."""

    stations: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    work_orders: tuple[str, ...] = ()
    operators: tuple[str, ...] = ()
    recipe_hashes: tuple[str, ...] = ()
    image_hashes: tuple[str, ...] = ()
    recipe_hashes_more: int = 0
    image_hashes_more: int = 0
    work_orders_more: int = 0


class InventoryCollector:
    def __init__(self) -> None:
        self._stations = _Bounded()
        self._products = _Bounded()
        self._work_orders = _Bounded()
        self._operators = _Bounded()
        self._recipes = _Bounded()
        self._images = _Bounded()

    def add(self, attempt: AttemptRecord) -> None:
        self._stations.add(attempt.station)
        self._products.add(attempt.product)
        self._work_orders.add(attempt.work_order)
        self._operators.add(attempt.operator)
        self._recipes.add(attempt.recipe_hash)
        for image in attempt.image_hashes:
            self._images.add(image)

    def inventory(self) -> Inventory:
        return Inventory(
            stations=self._stations.sorted(),
            products=self._products.sorted(),
            work_orders=self._work_orders.sorted(),
            operators=self._operators.sorted(),
            recipe_hashes=self._recipes.sorted(),
            image_hashes=self._images.sorted(),
            recipe_hashes_more=self._recipes.more,
            image_hashes_more=self._images.more,
            work_orders_more=self._work_orders.more,
        )


@dataclass(frozen=True)
class ReportSummary:
    figures: YieldReport
    inventory: Inventory
    golden_serials: frozenset[str]


def summarize(
    database: Database,
    wanted: AttemptFilter,
    *,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> ReportSummary:
    """Yield figures and inventory of the selection, in one pass grouped by unit (bounded memory)."""
    golden = database.units.golden_serials()
    calculator = YieldCalculator(golden, grouped_by_unit=True)
    inventory = InventoryCollector()
    stream = database.attempts.iter_attempts(wanted, by_unit=True, with_transcripts=False)
    try:
        for count, attempt in enumerate(stream, 1):
            calculator.add(attempt)
            inventory.add(attempt)
            if count % PROGRESS_EVERY == 0:
                if cancelled is not None and cancelled():
                    raise ExportCancelledError("stopped on request")
                if progress is not None:
                    progress(count)
    finally:
        close_stream(stream)
    figures = calculator.report()
    if progress is not None:
        progress(figures.attempts)
    return ReportSummary(figures=figures, inventory=inventory.inventory(), golden_serials=golden)


def close_stream(stream: Iterator[object]) -> None:
    """End a store stream early (its read transaction closes with it)."""
    close = getattr(stream, "close", None)
    if close is not None:
        close()


def compute_yield(database: Database, wanted: AttemptFilter | None = None) -> YieldReport:
    """The yield figures of the attempts ``wanted`` selects (all attempts by default)."""
    return summarize(database, wanted or AttemptFilter()).figures
