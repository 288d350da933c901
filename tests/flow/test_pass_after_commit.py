"""PASS only after the commit: a pass the database would not take is never printed.

The final commit is made to fail at the store's boundary (the repository refuses it as the
database does when it is locked beyond its busy timeout or the disk is full). The command
prints no PASS line, the attempt stays open, and the next `station provision` of the unit
settles it by asking the unit and passes it -- without a second credential or token use.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from station.app import main
from station.domain.errors import StoreError
from station.domain.records import AttemptResult
from station.store.attempts import AttemptRepository

from .conftest import Line
from .test_crash_and_secrets import station_environment


def test_the_cli_prints_no_pass_until_the_pass_is_committed(
    line: Line, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, value in station_environment(line).items():
        monkeypatch.setenv(name, value)
    original = AttemptRepository.finish_attempt
    refusals = [StoreError("the store could not complete the change: database is locked")]

    def finish(self: AttemptRepository, attempt_id: int, result: AttemptResult, **fields: Any) -> Any:
        if result is AttemptResult.PASSED and refusals:
            raise refusals.pop()
        return original(self, attempt_id, result, **fields)

    monkeypatch.setattr(AttemptRepository, "finish_attempt", finish)
    unit = line.new_unit()
    serial = "TST-006001"
    command = ["provision", "--recipe", str(line.recipe.path), "--serial", serial, "--probe", unit.probe_id,
               "--console", line.environment.console_path(unit), "--operator", "ann", "--work-order", "WO-1001",
               "--db", line.environment.paths.db_url]  # fmt: skip
    assert main(command) == 1
    out = capsys.readouterr().out
    assert not [text_line for text_line in out.splitlines() if text_line.startswith("PASS")], out
    assert f"FAIL {serial} record NOT_RECORDED: the unit finished every step" in out
    database = line.station.database
    [open_attempt] = database.attempts.history(serial)
    assert open_attempt.result is AttemptResult.IN_PROGRESS

    assert main(command) == 0  # the next scan: the open attempt is settled, the unit passes
    out = capsys.readouterr().out
    assert out.strip().endswith(f"PASS {serial}") and f"recovered attempt {open_attempt.id}" in out
    history = database.attempts.history(serial)
    assert [attempt.result for attempt in history] == [AttemptResult.FAILED, AttemptResult.PASSED]
    assert len(database.credentials.credentials_for_serial(serial)) == 1
    with database.engine.connect() as connection:
        uses = connection.execute(text("SELECT attempt_id, state FROM token_uses")).all()
    assert [tuple(use) for use in uses] == [(open_attempt.id, "used")]
    assert unit.reload().protected and unit.info.activated_product == "ACME-TOASTER"
    assert database.verify_chain(line.station.station_key).ok
