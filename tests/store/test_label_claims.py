"""A label job is sent by one process only: the claim (state printing) on every backend; a
claim left by a process that died while sending goes stale and the job may be sent again."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

from station.domain.label import LabelState
from station.domain.records import AttemptResult
from station.store import Database, open_database

from .conftest import RECIPE_TEXT


def passed_job(database: Database) -> int:
    recipe = database.registry.record_recipe(RECIPE_TEXT, "ACME-TOASTER").sha256
    attempt = database.attempts.create_attempt(serial="LBL-0001", station="st-1", operator="ann",
                                               recipe_hash=recipe, product="ACME-TOASTER")  # fmt: skip
    database.attempts.finish_attempt(attempt.id, AttemptResult.PASSED)
    return database.labels.create(attempt.id, "tcp://127.0.0.1:9100").id


def test_a_job_is_claimed_once_and_a_stale_claim_is_taken_over(database: Database) -> None:
    job = passed_job(database)
    claimed = database.labels.claim(job)
    assert claimed is not None and claimed.state is LabelState.PRINTING
    assert database.labels.claim(job) is None  # another process: not while the claim is fresh
    assert [pending.id for pending in database.labels.pending()] == [job]  # still waiting to print
    failed = database.labels.mark_try_failed(job, "printer offline", None)
    assert failed.state is LabelState.PENDING and failed.tries == 1
    assert database.labels.claim(job) is not None
    later = database.labels.get(job)
    assert later is not None and later.state is LabelState.PRINTING
    # The process that claimed it died: two minutes on, another takes it over.
    from datetime import UTC, datetime

    assert database.labels.claim(job, at=datetime.now(UTC) + timedelta(minutes=3)) is not None
    printed = database.labels.mark_printed(job, "ab" * 32)
    assert printed.state is LabelState.PRINTED
    assert database.labels.claim(job, at=datetime.now(UTC) + timedelta(hours=1)) is None


def test_two_processes_claiming_one_job_at_once_get_it_once(database: Database, db_url: str, tmp_path: Path) -> None:
    job = passed_job(database)
    others = [open_database(db_url) for _ in range(4)]
    winners: list[int] = []
    start = threading.Barrier(len(others))

    def claim(index: int) -> None:
        start.wait()
        if others[index].labels.claim(job) is not None:
            winners.append(index)

    threads = [threading.Thread(target=claim, args=(index,)) for index in range(len(others))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for other in others:
        other.dispose()
    assert len(winners) == 1
