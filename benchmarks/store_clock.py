"""What the store costs one unit, measured in the unit's own (slot) thread (benchmarks/line_store.py).

Every call into a repository is timed (the store's time per unit is their sum; a line station's
calls to its line database -- claims, releases, development units -- are timed the same way, as
the station waits on them). Under the calls to the station's own database, SQLAlchemy's events
(and on psycopg its cursors, which the sealing also uses directly) count the statements sent and
their time, the commits and their time (the dialect's ``do_commit``: on SQLite and PostgreSQL
alike the flush of the commit to disk), and on PostgreSQL how long each transaction waited for
the chain's table lock on ``audit_log`` and how long it then held it (from the lock granted to
its commit done: the line's one critical section).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

CHAIN_LOCK = "LOCK TABLE audit_log"


@dataclass
class UnitCost:
    store_s: float = 0.0  # wall time of the unit's store calls
    seconds: dict[str, float] = field(default_factory=dict)  # the same, per method ("line.claim": the line's)
    calls: int = 0
    statements: int = 0
    statement_s: float = 0.0
    commits: int = 0  # transactions ended by a commit, reads included
    commit_s: float = 0.0
    lock_wait_s: float = 0.0  # waiting for the chain's table lock (PostgreSQL)
    lock_held_s: float = 0.0  # from the lock granted to the transaction's commit done
    connects: int = 0  # new database connections opened under the unit's calls
    wall_s: float = 0.0  # the unit, scan to verdict
    methods: dict[str, int] = field(default_factory=dict)


class StoreClock:
    """Hooks one engine; ``begin`` / ``end`` bracket a unit in the calling thread."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self._local = threading.local()
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)
        event.listen(engine.pool, "connect", self._connect)
        event.listen(engine.pool, "checkout", self._checkout)
        commit = engine.dialect.do_commit

        def timed_commit(dbapi_connection: Any) -> None:
            started = time.perf_counter()
            try:
                commit(dbapi_connection)
            finally:
                self._committed(started)

        engine.dialect.do_commit = timed_commit

    def begin(self) -> None:
        self._local.cost = UnitCost()
        self._local.locked_at = None

    def end(self) -> UnitCost:
        cost: UnitCost = self._local.cost
        self._local.cost = None
        return cost

    def _cost(self) -> UnitCost | None:
        return getattr(self._local, "cost", None)

    def timed(self, repository: Any, name: str) -> Any:
        """``repository`` with each method call timed into the calling thread's unit."""
        clock = self

        class Timed:
            def __getattr__(self, attribute: str) -> Any:
                value = getattr(repository, attribute)
                if not callable(value):
                    return value

                def call(*arguments: Any, **keywords: Any) -> Any:
                    started = time.perf_counter()
                    try:
                        return value(*arguments, **keywords)
                    finally:
                        cost = clock._cost()
                        if cost is not None:
                            elapsed = time.perf_counter() - started
                            method = f"{name}.{attribute}"
                            cost.store_s += elapsed
                            cost.seconds[method] = cost.seconds.get(method, 0.0) + elapsed
                            cost.calls += 1
                            cost.methods[method] = cost.methods.get(method, 0) + 1

                return call

        return Timed()

    def _checkout(self, dbapi_connection: Any, *_: Any) -> None:
        """The sealing sends the chain's reads and its lock through the DBAPI connection's own
        cursor, past SQLAlchemy's events: on psycopg (its ``cursor_factory``) every cursor is
        timed itself. SQLite's own cursor cannot be swapped: there those reads go uncounted
        (SQLite has no chain lock statement; the write lock is the transaction's)."""
        factory = getattr(dbapi_connection, "cursor_factory", None)
        if factory is not None and getattr(factory, "store_clock", None) is not self:
            dbapi_connection.cursor_factory = self._timed_cursor(factory)

    def _timed_cursor(self, factory: Any) -> Any:
        clock = self

        class TimedCursor(factory):  # type: ignore[misc]
            store_clock = clock

            def execute(self, query: Any, *arguments: Any, **keywords: Any) -> Any:
                started = time.perf_counter()
                try:
                    return super().execute(query, *arguments, **keywords)
                finally:
                    clock._counted(started, str(query))

            def executemany(self, query: Any, *arguments: Any, **keywords: Any) -> Any:
                started = time.perf_counter()
                try:
                    return super().executemany(query, *arguments, **keywords)
                finally:
                    clock._counted(started, str(query))

        return TimedCursor

    def _before(self, *_: Any) -> None:
        self._local.statement_started = time.perf_counter()

    def _after(self, _connection: Any, cursor: Any, statement: str, *_: Any) -> None:
        if getattr(type(cursor), "store_clock", None) is not self:  # a timed cursor counted it already
            self._counted(self._local.statement_started, statement)

    def _counted(self, started: float, statement: str) -> None:
        cost = self._cost()
        if cost is None:
            return
        now = time.perf_counter()
        elapsed = now - started
        cost.statements += 1
        cost.statement_s += elapsed
        if statement.startswith(CHAIN_LOCK):
            cost.lock_wait_s += elapsed
            self._local.locked_at = now

    def _committed(self, started: float) -> None:
        cost = self._cost()
        if cost is None:
            return
        now = time.perf_counter()
        cost.commits += 1
        cost.commit_s += now - started
        locked_at = getattr(self._local, "locked_at", None)
        if locked_at is not None:
            cost.lock_held_s += now - locked_at
            self._local.locked_at = None

    def _connect(self, *_: Any) -> None:
        cost = self._cost()
        if cost is not None:
            cost.connects += 1
