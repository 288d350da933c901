"""Bulk generation of realistic attempt history -- for benchmarks and tests only, never production.

The station itself records attempts one committed step at a time through the repositories.
Benchmarks and scale tests need a million of them in seconds, so this module writes rows
straight into the tables with the driver's ``executemany``, in large transactions, with the
same shapes the station writes: eight steps per passing attempt, a failing attempt stopping at
its failing step, a failed unit retried (a second attempt, linked by ``previous_attempt_id``)
until it passes or gives up, golden units, several stations, operators and work orders.

The rows go around the station's sealing, so they are in no entry of the chain: ``station db
verify`` reports them as written around the station (``chain.adopt_rows`` can enter them).

Everything is deterministic for a given ``seed``: a test can compute the expected yields from
the :class:`BulkSummary` returned, without reading the database back.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from station.domain.errors import StoreError
from station.domain.records import AttemptResult, JournalState, StepOutcome
from station.store.database import Database

BULK_PRODUCT = "ACME-TOASTER"
BULK_RECIPE_TEXT = '# generated for benchmarks and tests\n[product]\ncode = "ACME-TOASTER"\n'
BULK_START = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)

# (step name, typical seconds, failure codes it can end with): the real sequence's steps.
BULK_STEPS: tuple[tuple[str, float, tuple[str, ...]], ...] = (
    ("connect", 0.4, ("PROBE", "UNIT_LOCKED")),
    ("flash", 4.5, ("FLASH",)),
    ("verify", 0.8, ("VERIFY_MISMATCH",)),
    ("credentials", 0.6, ("CREDENTIAL",)),
    ("lock", 0.3, ("LOCK",)),
    ("lock-confirm", 0.4, ("LOCK",)),
    ("activate", 2.5, ("CONSOLE_TIMEOUT", "ACTIVATION_REFUSED", "CONSOLE_GARBLED")),
    ("identity", 1.2, ("IDENTITY_MISMATCH",)),
)
# Where failures happen, in proportion: a realistic Pareto (activation and flash dominate).
_FAILURE_WEIGHTS = (2, 6, 3, 1, 1, 1, 8, 1)
_STEP_INDEXES = range(len(BULK_STEPS))
_PASSED, _FAILED = StepOutcome.PASSED.value, StepOutcome.FAILED.value
_BATCH = 20_000


@dataclass
class BulkSummary:
    """What was generated, for tests to check reports against without trusting the reader."""

    attempts: int = 0
    units: int = 0
    golden_units: int = 0
    golden_attempts: int = 0
    first_pass_units: int = 0  # non-golden units whose first attempt passed
    final_pass_units: int = 0  # non-golden units whose last attempt passed
    failures_by_code: Counter[str] = field(default_factory=Counter)  # non-golden attempts
    failures_by_step: Counter[str] = field(default_factory=Counter)
    serials: list[str] = field(default_factory=list)  # a sample, for lookups


def generate_attempts(
    database: Database,
    count: int,
    *,
    seed: int = 1,
    failure_rate: float = 0.06,
    retry_rate: float = 0.8,
    golden_every: int = 5000,
    stations: Sequence[str] = ("line1-st1", "line1-st2"),
    operators: Sequence[str] = ("ann", "bob", "chen"),
    work_order_size: int = 10_000,
    start: datetime = BULK_START,
    transcripts: bool = True,
    sample_serials: int = 2000,
) -> BulkSummary:
    """Append ``count`` finished attempts (with their steps) to an upgraded, empty database.

    A unit's first attempt fails with probability ``failure_rate`` at a step drawn from a
    realistic distribution; a failed unit is retried with probability ``retry_rate`` (the
    retry fails again with the same probability). Every ``golden_every``-th unit is a golden
    (reference) unit. SQLite is written with ``synchronous=OFF`` for speed: a benchmark
    database, not a production one.
    """
    if count < 0:
        raise StoreError("cannot generate a negative number of attempts")
    if database.engine.dialect.name != "sqlite":
        raise StoreError("bulk generation writes SQLite only (it is for benchmarks and tests)")
    generator = random.Random(seed)
    recipe = database.registry.record_recipe(BULK_RECIPE_TEXT, BULK_PRODUCT)
    summary = BulkSummary()
    image_hashes = json.dumps([hashlib.sha256(f"image-{n}".encode()).hexdigest() for n in range(3)])
    with _bulk_connection(database) as cursor:
        if cursor.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]:
            raise StoreError("bulk generation needs a database without attempts")
        first_id = {table: _next_id(cursor, table) for table in ("stations", "operators", "work_orders", "units",
                                                                 "attempts")}
        cursor.executemany(
            "INSERT INTO stations (id, name, description, created_at) VALUES (?, ?, ?, ?)",
            [(first_id["stations"] + n, name, "", _naive(start)) for n, name in enumerate(stations)],
        )
        cursor.executemany(
            "INSERT INTO operators (id, name, role, created_at) VALUES (?, ?, ?, ?)",
            [(first_id["operators"] + n, name, "operator", _naive(start)) for n, name in enumerate(operators)],
        )
        work_orders = max(1, -(-count // max(1, work_order_size)))
        cursor.executemany(
            "INSERT INTO work_orders (id, code, product, quantity, created_at) VALUES (?, ?, ?, ?, ?)",
            [(first_id["work_orders"] + n, f"WO-{n + 1:05d}", BULK_PRODUCT, work_order_size, _naive(start))
             for n in range(work_orders)],
        )
    unit_id = first_id["units"]
    attempt_id = first_id["attempts"]
    station_ids = [first_id["stations"] + n for n in range(len(stations))]
    operator_ids = [first_id["operators"] + n for n in range(len(operators))]
    clock = _microseconds(start)
    clock_text = _TimeText()
    jitter = [generator.lognormvariate(0.0, 0.15) for _ in range(4096)]
    transcript = "> info\n< ok\n> dms_activate tok:0123456789abcdef\n< activated\n" if transcripts else ""
    token_fingerprint = hashlib.sha256(b"token-pool-1").hexdigest()
    passed_state, failed_state = JournalState.PASSED.value, JournalState.FAILED.value
    passed_result, failed_result = AttemptResult.PASSED.value, AttemptResult.FAILED.value
    units: list[tuple[Any, ...]] = []
    attempts: list[tuple[Any, ...]] = []
    steps: list[tuple[Any, ...]] = []
    sample_every = max(1, count // max(1, sample_serials))
    unit_number = 0
    while summary.attempts < count:
        unit_number += 1
        serial = f"SN-{unit_number:08d}"
        device_id = f"{generator.getrandbits(64):016X}"
        golden = golden_every > 0 and unit_number % golden_every == 0
        units.append((unit_id, serial, device_id, clock_text(clock), golden, False))
        if unit_number % sample_every == 0:
            summary.serials.append(serial)
        work_order = first_id["work_orders"] + min(work_orders - 1, summary.attempts // max(1, work_order_size))
        previous: int | None = None
        first_passed = last_passed = False
        tries = 0
        while summary.attempts < count:
            tries += 1
            failing = generator.random() < failure_rate
            failing_step = generator.choices(_STEP_INDEXES, _FAILURE_WEIGHTS)[0] if failing else -1
            station_index = generator.randrange(len(station_ids))
            started = clock
            moment = started
            code: str | None = None
            for index, (name, typical, codes) in enumerate(BULK_STEPS):
                seconds = typical * jitter[generator.getrandbits(12)]
                fails = index == failing_step
                if fails:
                    code = generator.choice(codes)
                    seconds *= 3.0 if code.endswith("TIMEOUT") else 1.0
                ended = moment + int(seconds * 1_000_000)
                steps.append((attempt_id, name, clock_text(moment), clock_text(ended),
                              _FAILED if fails else _PASSED, "", code if fails else None))
                moment = ended + 5000
                if fails:
                    break
            passed = failing_step < 0
            step_name = None if passed else BULK_STEPS[failing_step][0]
            attempts.append((
                attempt_id, unit_id, station_ids[station_index], operator_ids[station_index % len(operator_ids)],
                work_order, recipe.sha256, BULK_PRODUCT, device_id, f"sim:unit-{station_index + 1:04d}",
                passed_state if passed else failed_state, passed_result if passed else failed_result,
                step_name, code, None if passed else f"{code} at {step_name}",
                clock_text(started), clock_text(moment), previous, False, image_hashes,
                f"{generator.getrandbits(256):064x}" if passed or failing_step > 3 else None,
                token_fingerprint if passed else None, transcript,
            ))
            summary.attempts += 1
            if golden:
                summary.golden_attempts += 1
            elif step_name is not None and code is not None:
                summary.failures_by_code[code] += 1
                summary.failures_by_step[step_name] += 1
            if tries == 1:
                first_passed = passed
            last_passed = passed
            previous = attempt_id
            attempt_id += 1
            # Stations work in parallel: the clock advances by a share of a cycle.
            clock = started + (moment - started) // len(station_ids) + 1_000_000
            if passed or generator.random() >= retry_rate or tries >= 3:
                break
        summary.units += 1
        if golden:
            summary.golden_units += 1
        else:
            summary.first_pass_units += first_passed
            summary.final_pass_units += last_passed
        unit_id += 1
        if len(attempts) >= _BATCH:
            _flush(database, units, attempts, steps)
            clock_text.clear()
    _flush(database, units, attempts, steps)
    return summary


def _flush(
    database: Database, units: list[tuple[Any, ...]], attempts: list[tuple[Any, ...]], steps: list[tuple[Any, ...]]
) -> None:
    if not attempts and not units:
        return
    with _bulk_connection(database) as cursor:
        cursor.executemany(
            "INSERT INTO units (id, serial, device_id, first_seen_at, is_golden, is_development) "
            "VALUES (?, ?, ?, ?, ?, ?)", units)
        cursor.executemany(
            "INSERT INTO attempts (id, unit_id, station_id, operator_id, work_order_id, recipe_hash, product, "
            "device_id, probe_id, state, result, failure_step, failure_code, failure_message, started_at, ended_at, "
            "previous_attempt_id, is_rework, image_hashes, certificate_fingerprint, token_fingerprint, "
            "console_transcript) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            attempts)
        cursor.executemany(
            "INSERT INTO steps (attempt_id, name, started_at, ended_at, outcome, detail, failure_code) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)", steps)
    units.clear()
    attempts.clear()
    steps.clear()


@contextmanager
def _bulk_connection(database: Database) -> Iterator[Any]:
    """One transaction on the raw driver connection, with ``synchronous=OFF`` while it lasts."""
    raw = database.engine.raw_connection()
    try:
        cursor = raw.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("BEGIN IMMEDIATE")
        try:
            yield cursor
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        cursor.execute("COMMIT")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()
    finally:
        raw.close()


def _next_id(cursor: Any, table: str) -> int:
    return int(cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}").fetchone()[0])


class _TimeText:
    """Microseconds since the epoch as SQLite keeps UTC; the seconds part is cached (fast)."""

    def __init__(self) -> None:
        self._seconds: dict[int, str] = {}

    def __call__(self, microseconds: int) -> str:
        second, micro = divmod(microseconds, 1_000_000)
        prefix = self._seconds.get(second)
        if prefix is None:
            prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%d %H:%M:%S")
            self._seconds[second] = prefix
        return f"{prefix}.{micro:06d}"

    def clear(self) -> None:
        self._seconds.clear()


def _microseconds(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000 + moment.microsecond


def _naive(moment: datetime) -> str:
    """UTC as SQLite keeps it (the store's UTCDateTime writes naive UTC, ISO with a space)."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
