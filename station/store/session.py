"""Short transactions for the repositories: one Session per call, safe from any thread.

``writing()`` commits before it returns, so a write is durable once the repository method
returns (SQLite runs with ``synchronous=FULL``). On SQLite a write transaction starts with
``BEGIN IMMEDIATE``: it takes the write lock up front, so read-then-write sequences (next
audit sequence number, token uses against a limit) cannot interleave with another writer.

SQLite has one writer at a time, and a connection that finds the write lock taken waits in
SQLite's busy handler, which sleeps in steps of up to 100 ms. With eight slots writing their
journals at once, those sleeps -- not the commits -- made a quarter of each unit's cycle. So
the writers of this process queue on a lock of their own first, and each takes the database
the moment the one before has committed; other processes still meet the busy timeout.

The journal's per-step writes go further (``write_journal``): slots that want to write at the
same moment share one transaction and one commit. The first becomes the leader and runs every
write queued by then, each in its own savepoint (a failing one is undone alone), commits
once, and hands each writer its result; nobody returns before the commit that holds its
write, so nothing is less durable, but eight slots no longer pay for eight commits and eight
hand-overs of the lock. On PostgreSQL, where a station's slots may write at once, it spares
the same commits and, above all, the sealings: each takes the chain's lock, for which every
station of a line that shares the server queues.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from station.domain.errors import StationError, StoreError
from station.store.chain import ChangeSet, Sealer, collecting, current_changes, watch_orm_writes
from station.store.chain_head import HeadFile

WRITE_OPTION = "station_write"
T = TypeVar("T")


@dataclass
class _QueuedWrite(Generic[T]):
    work: Callable[[Connection], T]
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


class Sessions:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._read = sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)
        self._write_engine = engine.execution_options(**{WRITE_OPTION: True})
        self._write = sessionmaker(bind=self._write_engine, expire_on_commit=False, autoflush=False)
        watch_orm_writes(self._write)
        self.sealer = Sealer()
        self.head_file: HeadFile | None = None
        self._writers: AbstractContextManager[object] = contextlib.nullcontext()
        self._queue: list[_QueuedWrite[Any]] = []
        self._queue_lock = threading.Lock()
        self._leading = False
        if engine.dialect.name == "sqlite":
            # Re-entrant: a write nested in another (a bug) then meets SQLite's busy timeout and a
            # clear error instead of hanging on this lock for ever.
            self._writers = threading.RLock()

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A transaction that commits on success and rolls back on any error."""
        try:
            with collecting() as changes:
                with self._writers, self._write() as session, session.begin():
                    yield session
                    session.flush()
                    self.sealer.seal(session.connection(), changes)
                self._committed(changes)
        except Exception as error:
            mapped = _write_error(error)
            if mapped is error:
                raise
            raise mapped from error

    @contextmanager
    def writing_core(self) -> Iterator[Connection]:
        """``writing()`` without the ORM Session: for the journal's per-step statements, which
        run for every step of every slot and need no identity map, only one short transaction."""
        try:
            with collecting() as changes:
                with self._writers, self._write_engine.begin() as connection:
                    yield connection
                    self.sealer.seal(connection, changes)
                self._committed(changes)
        except Exception as error:
            mapped = _write_error(error)
            if mapped is error:
                raise
            raise mapped from error

    def write_journal(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a write transaction, sharing it with journal writes of other threads
        that arrive meanwhile (see the module's docstring); returns once it is committed."""
        queued: _QueuedWrite[T] = _QueuedWrite(work)
        with self._queue_lock:
            self._queue.append(queued)
            lead = not self._leading
            if lead:
                self._leading = True
        if lead:
            self._lead()
        queued.done.wait()
        if queued.error is not None:
            raise queued.error
        result: T = queued.result
        return result

    def _lead(self) -> None:
        """Commit batches of queued journal writes until the queue is empty."""
        while True:
            with self._queue_lock:
                batch, self._queue = self._queue, []
                if not batch:
                    self._leading = False
                    return
            try:
                with self.writing_core() as connection:
                    if len(batch) == 1:  # alone: its failure undoes the transaction, no savepoint needed
                        batch[0].result = batch[0].work(connection)
                    else:
                        changes = current_changes()
                        for queued in batch:
                            mark = changes.mark()
                            try:
                                with connection.begin_nested():
                                    queued.result = queued.work(connection)
                            except Exception as error:  # this write alone fails; the batch goes on
                                changes.rollback_to(mark)
                                queued.error = _write_error(error)
            except BaseException as error:  # the commit (or a lone write) failed: none of the batch is stored
                for queued in batch:
                    queued.error = queued.error or error
                    queued.result = None
            finally:
                for queued in batch:
                    queued.done.set()

    def _committed(self, changes: ChangeSet) -> None:
        """After a commit that sealed entries: the head file moves to the new head (outside the
        transaction: a crash between the two leaves the file behind, never ahead)."""
        if changes.sealed is not None and self.head_file is not None:
            self.head_file.advance_soon(changes.sealed)

    @contextmanager
    def reading(self) -> Iterator[Session]:
        try:
            with self._read() as session, session.begin():
                yield session
        except StationError:
            raise
        except (OperationalError, StatementError, DBAPIError) as error:
            raise StoreError(f"the store could not be read: {describe(error)}") from error


    @contextmanager
    def streaming(self, batch_size: int) -> Iterator[Connection]:
        """A read-only connection whose results arrive ``batch_size`` rows at a time.

        Core rather than the ORM: exports read millions of rows and need no ORM identity.
        """
        try:
            with self.engine.connect() as connection:
                yield connection.execution_options(yield_per=batch_size)
        except StationError:
            raise
        except (OperationalError, StatementError, DBAPIError) as error:
            raise StoreError(f"the store could not be read: {describe(error)}") from error


def _write_error(error: Exception) -> Exception:
    """What a failed write raises: station errors as they are, the driver's as StoreError."""
    if isinstance(error, StationError):
        return error
    if isinstance(error, IntegrityError):
        return StoreError(f"the store refused the change: {describe(error)}")
    if isinstance(error, (OperationalError, StatementError, DBAPIError)):
        return StoreError(f"the store could not complete the change: {describe(error)}")
    return error


def describe(error: SQLAlchemyError) -> str:
    """The driver's message without the SQL statement or its parameters."""
    original: BaseException = getattr(error, "orig", None) or error
    return str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
