"""Two hundred ``kill -9``: at random moments and right after each journal state, several
``station provision`` processes at once on one database, on simulated units through real
pyOCD and real ptys. Each unit is killed one to four times, then provisioned to the end.

What must hold afterwards: every unit passed, exactly once; ``db verify`` finds the chain and
every record intact; the work order reconciles; no attempt is open and no step is RUNNING;
every passed unit holds one live credential and one token use, and no use is left reserved.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from station.domain.records import AttemptResult, CredentialState
from station.reports.reconcile import reconcile_work_orders
from station.sim.units import SimUnit

from .conftest import Line
from .test_crash_and_secrets import provision_command, station_environment

KILLS = 200
PROCESSES = 3
TIME_LIMIT_SECONDS = 20 * 60
# Kill right after the attempt reaches one of these states, or (None) at a random moment.
KILL_POINTS: tuple[str | None, ...] = (
    None, None, "SCANNED", "CONNECTED", "FLASHED", "VERIFIED", "CREDENTIALS_RESERVED", "INJECTED",
    "LOCK_PENDING", "LOCKED", "ACTIVATED",
)


@dataclass
class Job:
    """One unit under one serial: killed ``kills_left`` more times, then run to the end."""

    serial: str
    unit: SimUnit
    kills_left: int
    process: subprocess.Popen[str] | None = None
    kill_point: str | None = None
    kill_at: float = 0.0
    attempts_before: int = 0  # the newest attempt id when this run started: its own come after
    final_outputs: list[str] = field(default_factory=list)
    passed: bool = False


# The journal's states in the order an attempt reaches them (DESIGN.md's journal).
JOURNAL_ORDER = ("SCANNED", "CONNECTED", "FLASHED", "VERIFIED", "CREDENTIALS_RESERVED", "INJECTED", "LOCK_PENDING",
                 "LOCKED", "ACTIVATED")


def latest_attempt(database: Path, serial: str) -> tuple[int, str] | None:
    """The newest attempt at the serial: its id and journal state."""
    try:
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=5) as connection:
            row = connection.execute(
                "SELECT attempts.id, attempts.state FROM attempts JOIN units ON attempts.unit_id = units.id "
                "WHERE units.serial = ? ORDER BY attempts.id DESC LIMIT 1",
                (serial,),
            ).fetchone()
    except sqlite3.OperationalError:
        return None
    return None if row is None else (int(row[0]), str(row[1]))


def reached(state: str, point: str) -> bool:
    """The attempt is at ``point`` or past it (a poll may miss a state that lasts a moment)."""
    return state not in JOURNAL_ORDER or JOURNAL_ORDER.index(state) >= JOURNAL_ORDER.index(point)


@pytest.mark.timeout(TIME_LIMIT_SECONDS + 300)  # bounded by its own time limit, not the suite's 300 s
def test_two_hundred_kills_leave_every_record_true(line: Line) -> None:
    generator = random.Random(20261206)
    database = line.environment.paths.data_dir / "station.db"
    started = time.monotonic()
    kills = 0
    kills_by_point: dict[str, int] = {}
    jobs: list[Job] = []
    finished: list[Job] = []
    number = 0

    def new_job() -> Job:
        nonlocal number
        number += 1
        return Job(f"TST-09{number:04d}", line.new_unit(), generator.randint(1, 4))

    def start(job: Job) -> None:
        job.process = subprocess.Popen(
            provision_command(line, job.serial, job.unit), env=station_environment(line),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        job.kill_point = generator.choice(KILL_POINTS) if job.kills_left else None
        before = latest_attempt(database, job.serial)
        job.attempts_before = 0 if before is None else before[0]
        job.kill_at = time.monotonic() + generator.uniform(0.3, 4.0)

    def kill(job: Job, point: str) -> None:
        nonlocal kills
        assert job.process is not None
        os.kill(job.process.pid, signal.SIGKILL)
        job.process.communicate(timeout=30)
        job.process = None
        job.kills_left -= 1
        kills += 1
        kills_by_point[point] = kills_by_point.get(point, 0) + 1

    try:
        while kills < KILLS or jobs:
            assert time.monotonic() - started < TIME_LIMIT_SECONDS, f"only {kills} kills in the time allowed"
            while len(jobs) < PROCESSES and kills < KILLS:
                jobs.append(new_job())
            for job in list(jobs):
                if job.process is None:
                    start(job)
                    continue
                if job.process.poll() is not None:  # it ended before its kill: a run to the end
                    out, _ = job.process.communicate()
                    job.process = None
                    # A kill just after the PASS was committed (before it was printed) leaves a
                    # passed unit: the next run is refused ALREADY_PASSED, as it must be.
                    already = f"FAIL {job.serial} scan ALREADY_PASSED" in out
                    if out.strip().endswith(f"PASS {job.serial}") or already:
                        job.passed = True
                        jobs.remove(job)
                        finished.append(job)
                    else:
                        job.final_outputs.append(out)
                        assert len(job.final_outputs) < 4, f"{job.serial} does not pass: {job.final_outputs}"
                    continue
                if not job.kills_left:
                    continue
                if job.kill_point is None:
                    if time.monotonic() >= job.kill_at:
                        kill(job, "random")
                else:
                    latest = latest_attempt(database, job.serial)
                    if latest is not None and latest[0] > job.attempts_before and reached(latest[1], job.kill_point):
                        kill(job, job.kill_point)
            time.sleep(0.003)
    finally:
        for job in jobs:
            if job.process is not None and job.process.poll() is None:
                job.process.kill()
                job.process.communicate(timeout=30)

    assert kills >= KILLS
    assert all(job.passed for job in finished) and len(finished) >= KILLS // 4, len(finished)
    assert len(kills_by_point) == len(set(KILL_POINTS)) - 1 + 1, kills_by_point  # every point was hit

    store = line.station.database
    with store.engine.connect() as connection:
        from sqlalchemy import text

        open_attempts = connection.execute(text("SELECT count(*) FROM attempts WHERE result = 'IN_PROGRESS'"))
        assert open_attempts.scalar_one() == 0
        running = connection.execute(text("SELECT count(*) FROM steps WHERE outcome = 'RUNNING'")).scalar_one()
        assert running == 0
        reserved = connection.execute(text("SELECT count(*) FROM token_uses WHERE state = 'reserved'")).scalar_one()
        assert reserved == 0
    for job in finished:
        history = store.attempts.history(job.serial)
        assert [attempt.result for attempt in history].count(AttemptResult.PASSED) == 1, job.serial
        credentials = store.credentials.credentials_for_serial(job.serial)
        live = [credential for credential in credentials if credential.state is CredentialState.INJECTED]
        assert len(live) == 1, (job.serial, credentials)
        with store.engine.connect() as connection:
            from sqlalchemy import text

            uses = connection.execute(
                text("SELECT count(*) FROM token_uses JOIN attempts ON token_uses.attempt_id = attempts.id "
                     "JOIN units ON attempts.unit_id = units.id WHERE units.serial = :serial "
                     "AND (token_uses.state IS NULL OR token_uses.state = 'used')"),
                {"serial": job.serial},
            ).scalar_one()
        assert uses == 1, (job.serial, uses)
        assert job.unit.reload().protected and job.unit.info.activated_product == "ACME-TOASTER"
    [reconciliation] = reconcile_work_orders(store, ["WO-1001"])
    assert reconciliation.reconciled, reconciliation.mismatches
    assert reconciliation.units_passed == len(finished) and reconciliation.activations == len(finished)
    report = store.verify_chain(line.station.station_key)
    assert report.ok, (report.chain, report.findings)
    print(f"{kills} kills ({kills_by_point}), {len(finished)} units passed, "
          f"{report.chain.entries_checked} chain entries, {time.monotonic() - started:.0f} s")
