"""Forwarding a station's chain to the line database, and checking the station against it.

The station's outbox is its chain: every committed change is an ``audit_log`` entry written in
the transaction that made it, with the row it recorded in ``outbox_records``. Forwarding sends
the entries after the newest one the line holds, in order, in batches; each batch carries the
station's signed head (its last entry) and is stored in one transaction. A batch sent twice is
stored once, and a batch that does not extend what the line holds (the station's chain was
rewritten, or restored from an older backup and then written on) is refused as a conflict: the
line keeps what it had, and a person looks.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, select

from station.domain.chain import document_digest
from station.domain.errors import LineConflictError
from station.store.database import Database
from station.store.line import ForwardedEntry, LineDatabase, LineHead
from station.store.models import AuditLogRow, OutboxRecordRow

DEFAULT_BATCH = 500


@dataclass(frozen=True)
class ForwardReport:
    forwarded: int  # entries new to the line
    line_sequence: int  # the newest entry the line holds from this station now
    local_sequence: int  # the newest entry of the station's own chain

    @property
    def pending(self) -> int:
        return max(0, self.local_sequence - self.line_sequence)


def local_entries(connection: Connection, after: int, limit: int) -> list[ForwardedEntry]:
    """The station's chain entries after ``after``, in order, each with its row as committed."""
    audit, outbox = AuditLogRow.__table__, OutboxRecordRow.__table__
    rows = connection.execute(
        select(audit.c.sequence, audit.c.recorded_at, audit.c.actor, audit.c.action, audit.c.detail,
               audit.c.previous_hash, audit.c.entry_hash, audit.c.signature, audit.c.record_table,
               audit.c.record_id, audit.c.record_digest, outbox.c.row_json)
        .select_from(audit.outerjoin(outbox, outbox.c.sequence == audit.c.sequence))
        .where(audit.c.sequence > after)
        .order_by(audit.c.sequence)
        .limit(limit)
    ).all()  # fmt: skip
    entries = [ForwardedEntry(**row._asdict()) for row in rows]
    for entry in entries:
        if entry.row_json is not None and document_digest(entry.row_json) != entry.record_digest:
            raise LineConflictError(
                f"entry {entry.sequence}: the outbox's row does not match the digest the chain recorded; "
                "nothing after it is forwarded (run station db verify)"
            )
    return entries


def forward(database: Database, line: LineDatabase, station: str, *, batch: int = DEFAULT_BATCH) -> ForwardReport:
    """Send every entry the line does not hold yet, batch by batch; LineDatabaseError when the
    line does not answer (what was stored stays stored) or the chains disagree."""
    forwarded = 0
    held = line.last_entry(station)
    if held is not None:
        _check_holds(station, held, database)
    while True:
        after = 0 if held is None else held.sequence
        with database.engine.connect() as connection:
            entries = local_entries(connection, after, batch)
        if not entries:
            return ForwardReport(forwarded, after, database.last_sequence())
        _check_extends(station, held, entries[0], database)
        last = entries[-1]
        head = LineHead(last.sequence, last.entry_hash, _head_signature(entries))
        forwarded += line.append(station, entries, head)
        held = LineHead(last.sequence, last.entry_hash, head.signature)


def _check_holds(station: str, held: LineHead, database: Database) -> None:
    """This database holds the line's newest entry of ``station``, the same one."""
    local_last = database.last_sequence()
    if local_last < held.sequence:
        raise LineConflictError(
            f"station {station}: the line holds entries up to {held.sequence}, this database ends at {local_last}: "
            "it lost entries (or is an older backup); nothing was forwarded"
        )
    local = database.entry_hash_at(held.sequence)
    if local != held.entry_hash:
        raise LineConflictError(
            f"station {station}: entry {held.sequence} on the line is {held.entry_hash[:16]}…, here "
            f"{(local or 'missing')[:16]}…: this database is not the history the line holds (a conflict for a "
            "supervisor; nothing was forwarded)"
        )


def _check_extends(station: str, held: LineHead | None, first: ForwardedEntry, database: Database) -> None:
    expected = 1 if held is None else held.sequence + 1
    if first.sequence != expected:
        raise LineConflictError(
            f"station {station}: the line holds entries up to {expected - 1}, this database's next is "
            f"{first.sequence}: entries are missing here"
        )
    if held is not None and first.previous_hash != held.entry_hash:
        local = database.entry_hash_at(held.sequence)
        raise LineConflictError(
            f"station {station}: entry {held.sequence} on the line is {held.entry_hash[:16]}…, here "
            f"{(local or 'missing')[:16]}…: this database is not the history the line holds (a conflict for a "
            "supervisor; nothing was forwarded)"
        )


def _head_signature(entries: list[ForwardedEntry]) -> bytes:
    """The batch's head carries the last signature in it (every transaction's last entry is
    signed, so a whole-transaction batch ends on one; a batch cut mid-transaction carries the
    newest signature before its end, and the next batch completes it)."""
    for entry in reversed(entries):
        if entry.signature:
            return entry.signature
    return b""


@dataclass(frozen=True)
class LineComparison:
    """``db verify --against-line``: what the line holds of this station against its database."""

    station: str
    line_sequence: int
    local_sequence: int
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def compare_with_line(database: Database, line: LineDatabase, station: str) -> LineComparison:
    """Every entry the line holds of ``station`` must be in this database, the same; a database
    that ends before the line's newest entry lost entries (truncated, or an older backup)."""
    problems: list[str] = []
    local_last = database.last_sequence()
    line_last = 0
    after = 0
    with database.engine.connect() as connection:
        while True:
            held = line.entries(station, after=after)
            if not held:
                break
            local = {entry.sequence: entry for entry in local_entries(connection, after, len(held) + 1)}
            for entry in held:
                mine = local.get(entry.sequence)
                if mine is None:
                    if entry.sequence > local_last:
                        gone = f"{entry.sequence}..{held[-1].sequence}"
                        problems.append(f"the line holds entries {gone} of station {station}; this database "
                                        f"ends at {local_last}: entries are gone here")  # fmt: skip
                        break
                    problems.append(f"entry {entry.sequence}: on the line, not in this database")
                elif mine.entry_hash != entry.entry_hash:
                    problems.append(f"entry {entry.sequence}: this database's differs from the line's "
                                    f"({mine.entry_hash[:16]}… against {entry.entry_hash[:16]}…)")  # fmt: skip
                elif entry.row_json is not None and mine.row_json != entry.row_json:
                    problems.append(f"entry {entry.sequence}: the recorded row differs from the line's copy")
            line_last = held[-1].sequence
            after = line_last
            if problems and problems[-1].startswith("the line holds entries"):
                break
    heads = line.heads(station)
    if heads and heads[-1].sequence > line_last:
        problems.append(f"the line's newest head of station {station} is entry {heads[-1].sequence}, "
                        f"beyond its entries ({line_last})")  # fmt: skip
    return LineComparison(station, line_last, local_last, tuple(problems))
