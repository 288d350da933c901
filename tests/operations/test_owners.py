"""Owners of open attempts: who is provably gone, and the heartbeat, without Qt."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta

from station.domain.records import AttemptOwner, AttemptRecord, AttemptResult, JournalState
from station.operations.owners import Heartbeat, Ownership, ProcessIdentity

T0 = datetime(2026, 12, 6, 8, 0, tzinfo=UTC)


def attempt(owner: AttemptOwner | None, heartbeat: datetime | None = None) -> AttemptRecord:
    return AttemptRecord(
        id=1, serial="SN-1", station="st", operator="ann", work_order=None, recipe_hash="r", product="P",
        state=JournalState.FLASHED, result=AttemptResult.IN_PROGRESS, started_at=T0, owner=owner,
        heartbeat_at=heartbeat,
    )  # fmt: skip


def test_this_process_works_on_its_running_attempts_and_a_finished_process_is_gone() -> None:
    me = ProcessIdentity.current()
    ownership = Ownership(me, timedelta(seconds=60))
    own = attempt(ownership.owner("st", "1"))
    with ownership.working_on(own.id):
        assert not ownership.is_gone(own)  # a slot of this process runs it
    assert ownership.is_gone(own)  # this process, and none of its slots runs it (its pass was not committed)
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                           check=True)  # fmt: skip
    gone = AttemptOwner("st", me.host, int(child.stdout), me.process_start, "1")
    assert ownership.is_gone(attempt(gone))


def test_a_reused_pid_is_not_the_owner() -> None:
    me = ProcessIdentity.current()
    ownership = Ownership(me, timedelta(seconds=60))
    impostor = AttemptOwner("st", me.host, os.getpid(), "another-boot:12345", "1")
    assert ownership.is_gone(attempt(impostor))


def test_another_hosts_owner_is_gone_only_past_the_lease() -> None:
    now = [T0 + timedelta(seconds=30)]
    ownership = Ownership(ProcessIdentity("here", 1, "b:1"), timedelta(seconds=60), clock=lambda: now[0])
    remote = AttemptOwner("st", "there", 1, "b:1", "2")
    assert not ownership.is_gone(attempt(remote, heartbeat=T0))
    now[0] = T0 + timedelta(seconds=61)
    assert ownership.is_gone(attempt(remote, heartbeat=T0))
    assert not ownership.is_gone(attempt(remote, heartbeat=T0 + timedelta(seconds=50)))
    assert ownership.is_gone(attempt(None))  # recorded before owners: the crash rule of before


def test_the_heartbeat_beats_until_stopped() -> None:
    beats = threading.Semaphore(0)

    def beat() -> int:
        beats.release()
        return 1

    heartbeat = Heartbeat(beat, interval=0.01)
    heartbeat.start()
    assert beats.acquire(timeout=5) and beats.acquire(timeout=5)
    heartbeat.stop()
