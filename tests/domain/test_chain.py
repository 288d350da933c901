"""The chain's record rules: digests, the merge of rows with entries, and the head."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone

import pytest

from station.domain.chain import ChainHead, check_records, compare_head, row_digest
from station.domain.records import AuditProblem

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def test_a_digest_ignores_column_order_and_null_columns_but_no_value() -> None:
    row = {"id": 1, "serial": "TST-1", "started_at": "2026-03-01 08:00:00.000000", "note": None}
    same = {"note": None, "started_at": "2026-03-01 08:00:00.000000", "serial": "TST-1", "id": 1}
    assert row_digest(row) == row_digest(same) == row_digest({k: v for k, v in row.items() if k != "note"})
    for changed in ({"serial": "TST-2"}, {"id": 2}, {"note": ""}, {"started_at": "2026-03-01 08:00:00.000001"}):
        assert row_digest({**row, **changed}) != row_digest(row), changed


def test_a_digest_reads_times_in_utc_and_bytes_as_hex() -> None:
    local = T0.astimezone(timezone(timedelta(hours=8)))
    assert row_digest({"at": T0}) == row_digest({"at": local})
    assert row_digest({"blob": b"\x00\x01"}) == row_digest({"blob": memoryview(b"\x00\x01")})
    assert row_digest({"blob": b"\x00\x01"}) != row_digest({"blob": "0001"})
    assert row_digest({"flag": True}) != row_digest({"flag": 1})  # what the driver gave, kept


def findings(
    rows: Sequence[tuple[int, str]], entries: Sequence[tuple[int, int, str | None]]
) -> list[tuple[int, str, int | None]]:
    found = check_records("steps", rows, entries)
    return [(finding.row_id, finding.problem.value, finding.sequence) for finding in found]


def test_rows_matching_their_newest_entries_have_no_findings() -> None:
    rows = [(1, "b"), (2, "c"), (5, "e")]
    entries = [(1, 3, "a"), (1, 7, "b"), (2, 4, "c"), (5, 9, "e")]
    assert findings(rows, entries) == []


def test_a_row_is_checked_against_its_newest_entry_only() -> None:
    assert findings([(1, "a")], [(1, 3, "a"), (1, 7, "b")]) == [(1, "record changed", 7)]


def test_deleted_rows_are_named_wherever_they_fall() -> None:
    rows = [(2, "c")]
    entries = [(1, 3, "a"), (2, 4, "c"), (3, 5, "d"), (4, 6, "e")]
    assert findings(rows, entries) == [(1, "record deleted", 3), (3, "record deleted", 5), (4, "record deleted", 6)]
    assert findings([], entries) == [(1, "record deleted", 3), (2, "record deleted", 4), (3, "record deleted", 5),
                                     (4, "record deleted", 6)]  # fmt: skip


def test_a_recorded_deletion_is_no_finding_and_rows_without_entries_are() -> None:
    assert findings([(2, "c")], [(1, 3, "a"), (1, 8, None), (2, 4, "c")]) == []
    assert findings([(1, "a"), (2, "c"), (3, "x")], [(2, 4, "c")]) == [
        (1, "record not in the chain", None), (3, "record not in the chain", None)]


def test_the_merge_holds_on_long_interleaved_tables() -> None:
    rows = [(row_id, f"d{row_id}") for row_id in range(1, 20001) if row_id % 7]
    entries = [(row_id, row_id * 2, f"d{row_id}") for row_id in range(1, 20001) if row_id % 11]
    found = findings(rows, entries)
    deleted = {row for row, problem, _ in found if problem == "record deleted"}
    unrecorded = {row for row, problem, _ in found if problem == "record not in the chain"}
    assert deleted == {row for row in range(1, 20001) if row % 7 == 0 and row % 11}
    assert unrecorded == {row for row in range(1, 20001) if row % 11 == 0 and row % 7}
    assert len(found) == len(deleted) + len(unrecorded)


def test_a_head_says_how_many_entries_are_missing_or_that_the_chain_was_rewritten() -> None:
    head = ChainHead(10, "a" * 64, T0, b"sig")
    assert compare_head(head, 12, "a" * 64, "the head file") is None
    assert compare_head(head, 10, "a" * 64, "the head file") is None
    missing = compare_head(head, 7, None, "the head file")
    assert missing is not None and "3 entries are missing" in missing and "ends at entry 7" in missing
    everything = compare_head(head, 0, None, "this export")
    assert everything is not None and "has no entries: 10 entries are missing" in everything
    rewritten = compare_head(head, 12, "b" * 64, "the head file")
    assert rewritten is not None and "entry 10 is not the entry the head file records" in rewritten


def test_a_head_survives_its_document_and_refuses_a_broken_one() -> None:
    head = ChainHead(3, "c" * 64, T0, b"\x01\x02")
    assert ChainHead.from_document(head.to_document()) == head
    broken: object
    for broken in ([], {"sequence": "3"}, {**head.to_document(), "sequence": 0},
                   {**head.to_document(), "entry_hash": "abc"}, {**head.to_document(), "recorded_at": "soon"},
                   {**head.to_document(), "signature": "zz"}):  # fmt: skip
        with pytest.raises(ValueError):
            ChainHead.from_document(broken)


def test_every_problem_has_words() -> None:
    assert {problem.value for problem in AuditProblem} >= {"record changed", "record deleted", "truncated"}
