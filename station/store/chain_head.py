"""The chain's head, kept in a small file beside the database.

Someone who deletes the newest entries of the chain (and the rows they record) leaves a chain
that verifies on its own. The head file remembers the newest entry every commit reached, so
``station db verify`` can say how many entries are missing. The file is replaced atomically
(write a temporary file, fsync, rename) and only ever moves forward: several processes commit
to one database, and the one that commits last may write its head first, so each writer takes
an exclusive lock on ``FILE.lock`` and keeps the file's head when it is newer than its own.

What it does not prove: someone holding the station key and both the database and the head
file can rewrite both consistently. A copy of the head off the station (exports carry it; the
line will replicate it) narrows that.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import logging
import os
import threading
from collections.abc import Iterator
from pathlib import Path

from station.domain.chain import ChainHead
from station.domain.errors import StoreError

HEAD_FORMAT = "station-chain-head"
# The writer waits this long after a write before the next: the commits of that moment share
# one file write (a slot commits some thirty times per unit). ``flush`` does not wait for it.
HEAD_WRITE_INTERVAL_SECONDS = 0.25
LOG = logging.getLogger(__name__)


class HeadFile:
    """The head file at ``path`` for the database named ``database`` (its URL, no password).

    Commits hand their new head to :meth:`advance_soon`; a thread of its own writes the newest
    one, so that no slot waits for the file's fsync after its commit (eight slots committing at
    once wrote it eight times, each behind the others), at most one write per
    ``HEAD_WRITE_INTERVAL_SECONDS``. A head not yet written when the process dies leaves the
    file behind the database, which ``db verify`` reports as newer entries, not as missing
    ones; :meth:`flush` waits for the newest head to be on disk.
    """

    def __init__(self, path: Path, database: str) -> None:
        self.path = path
        self.database = database
        self._changed = threading.Condition()
        self._pending: ChainHead | None = None
        self._writing = False
        self._closed = False
        self._flushing = 0
        self._writer: threading.Thread | None = None

    def advance_soon(self, head: ChainHead) -> None:
        """Write ``head`` (or a newer one handed in meanwhile) from the writer thread."""
        with self._changed:
            if self._pending is None or head.sequence > self._pending.sequence:
                self._pending = head
            if self._writer is None or not self._writer.is_alive():
                self._closed = False
                self._writer = threading.Thread(target=self._write_pending, name="chain-head", daemon=True)
                self._writer.start()
                atexit.register(self.close)  # a process that ends without closing its store still writes it
            self._changed.notify_all()

    def flush(self, timeout: float = 30.0) -> None:
        """Return once every head handed in so far is written (or ``timeout`` has passed)."""
        with self._changed:
            self._flushing += 1
            self._changed.notify_all()
            try:
                self._changed.wait_for(lambda: self._pending is None and not self._writing, timeout)
            finally:
                self._flushing -= 1

    def close(self) -> None:
        """Write what is pending, then end the writer thread."""
        atexit.unregister(self.close)
        self.flush()
        with self._changed:
            self._closed = True
            self._changed.notify_all()
        writer = self._writer
        if writer is not None and writer is not threading.current_thread():
            writer.join(timeout=30)

    def _write_pending(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._pending is not None or self._closed)
                if self._pending is None:
                    return
                head, self._pending, self._writing = self._pending, None, True
            try:
                self.advance(head)
            except StoreError as error:  # the next commit tries again; db verify reports a file behind
                LOG.warning("%s", error)
            finally:
                with self._changed:
                    self._writing = False
                    self._changed.notify_all()
                    # Let the commits of the next moment gather: one write covers them all.
                    self._changed.wait_for(lambda: self._closed or self._flushing > 0,
                                           HEAD_WRITE_INTERVAL_SECONDS)

    def read(self) -> ChainHead | None:
        """The head the file holds; None when there is no file yet; StoreError when it is not a
        head file (it was damaged or replaced: that is a finding, not a crash)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise StoreError(f"cannot read the chain head file {self.path}: {error.strerror or error}") from None
        try:
            document = json.loads(data.decode("utf-8"))
            if not isinstance(document, dict) or document.get("format") != HEAD_FORMAT:
                raise ValueError("it is not a station chain head file")
            return ChainHead.from_document(document)
        except (ValueError, UnicodeDecodeError) as error:
            raise StoreError(f"the chain head file {self.path} is damaged: {error}") from None

    def advance(self, head: ChainHead) -> None:
        """Replace the file with ``head`` unless it already holds a newer one."""
        try:
            with self._locked():
                try:
                    current = self.read()
                except StoreError:
                    current = None  # a damaged file is replaced by a good head; verify reported it
                if current is not None and current.sequence >= head.sequence:
                    return
                self._write(head)
        except OSError as error:
            raise StoreError(f"cannot write the chain head file {self.path}: {error.strerror or error}") from None

    def _write(self, head: ChainHead) -> None:
        document = {"format": HEAD_FORMAT, "database": self.database, **head.to_document()}
        data = (json.dumps(document, indent=2) + "\n").encode("utf-8")
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        with open(temporary, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, self.path)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
