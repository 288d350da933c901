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
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from station.domain.errors import StationError, StoreError

WRITE_OPTION = "station_write"


class Sessions:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._read = sessionmaker(bind=engine, expire_on_commit=False, autoflush=False)
        self._write = sessionmaker(
            bind=engine.execution_options(**{WRITE_OPTION: True}), expire_on_commit=False, autoflush=False
        )
        self._writers: AbstractContextManager[object] = contextlib.nullcontext()
        if engine.dialect.name == "sqlite":
            # Re-entrant: a write nested in another (a bug) then meets SQLite's busy timeout and a
            # clear error instead of hanging on this lock for ever.
            self._writers = threading.RLock()

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A transaction that commits on success and rolls back on any error."""
        try:
            with self._writers, self._write() as session, session.begin():
                yield session
        except StationError:
            raise
        except IntegrityError as error:
            raise StoreError(f"the store refused the change: {describe(error)}") from error
        except (OperationalError, StatementError, DBAPIError) as error:
            raise StoreError(f"the store could not complete the change: {describe(error)}") from error

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


def describe(error: SQLAlchemyError) -> str:
    """The driver's message without the SQL statement or its parameters."""
    original: BaseException = getattr(error, "orig", None) or error
    return str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
