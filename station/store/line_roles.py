"""The PostgreSQL roles of a line database, rendered from the store's own tables.

A line's stations share one database; each logs in as its own role, a member of the group role
``station_writer``, which holds exactly what the store does on a station: SELECT, INSERT and
UPDATE on the tables it writes (it never deletes a row: there is no DELETE in the store), INSERT
and SELECT only on ``audit_log``, USAGE on the sequences, and no DDL. The schema belongs to a
migration owner, the only role that runs ``station db upgrade``; ``station_auditor`` reads.

The grants are rendered from the models' metadata, so that a table a migration adds gets the
writer's rights by the rule below (or is named as an exception) and is never forgotten; the SQL
in ``packaging/`` is this rendering (a test keeps them equal; ``python -m
station.store.line_roles packaging`` writes it again).

One right goes beyond what the station's statements need on their face: sealing takes
``LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE`` (``station.store.chain``, so that entries
are numbered in commit order across stations), and PostgreSQL lets only a role holding UPDATE,
DELETE or TRUNCATE on a table take that lock (or, from PostgreSQL 17, MAINTAIN). The writer is
given MAINTAIN where it exists, otherwise TRUNCATE, which the append-only trigger
``audit_log_no_truncate`` (migration 0002) refuses; UPDATE and DELETE stay refused by privilege.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex, CreateTable

from station.domain.errors import StoreError
from station.store import line_index, line_serials  # noqa: F401  (their tables are the line's too)
from station.store.line import LINE_METADATA
from station.store.models import Base

APPEND_ONLY_TABLES = frozenset({"audit_log"})
"""Tables a station adds rows to and never changes: INSERT and SELECT (the triggers of migration
0002 refuse UPDATE, DELETE and TRUNCATE even to a role that may)."""

READ_ONLY_TABLES = ("alembic_version",)
"""Tables outside the models a station only reads: the schema revision it checks at start."""

LINE_TABLE_RIGHTS: dict[str, str] = {
    "line_entries": "SELECT, INSERT",  # every station's chain, appended only
    "line_heads": "SELECT, INSERT",
    "line_conflicts": "SELECT, INSERT",
    "line_claims": "SELECT, INSERT, UPDATE, DELETE",  # a live claim ends with its attempt
    "line_serial_rules": "SELECT, INSERT, UPDATE",
    "line_serial_blocks": "SELECT, INSERT",
    "line_units": "SELECT, INSERT, UPDATE, DELETE",  # the index: rebuilt from line_entries when asked
    "line_passes": "SELECT, INSERT, UPDATE, DELETE",
    "line_index_state": "SELECT, INSERT, DELETE",
}
"""The line database's own tables (``station.store.line``: the forwarded chains, the claims, the
serial leases and the index) and the writer's rights on each: what the statements there need,
no more. Their locks are advisory (``take_write_lock``): no right beyond these."""

WRITER_RIGHTS = "SELECT, INSERT, UPDATE"
APPEND_RIGHTS = "SELECT, INSERT"
SCHEMA = "public"

DATABASE_FILE = "line-database.sql"
GRANTS_FILE = "line-grants.sql"

_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")
_STATION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")
_MAX_IDENTIFIER = 63  # PostgreSQL's NAMEDATALEN - 1


@dataclass(frozen=True)
class LineNames:
    """The database and role names of one line database (the defaults are the documented ones)."""

    database: str = "station"
    owner: str = "station_owner"
    writer: str = "station_writer"
    auditor: str = "station_auditor"

    def __post_init__(self) -> None:
        for name in (self.database, self.owner, self.writer, self.auditor):
            _require_identifier(name)


def _require_identifier(name: str) -> str:
    """A plain lower-case SQL identifier: nothing to quote, nothing to inject."""
    if not _IDENTIFIER.fullmatch(name) or len(name) > _MAX_IDENTIFIER:
        raise StoreError(f"{name!r} is not a usable PostgreSQL name: lower-case letters, digits and _, "
                         f"starting with a letter or _, at most {_MAX_IDENTIFIER} characters")
    return name


def station_role(station: str) -> str:
    """A station's login role: ``line1-st1`` logs in as ``station_line1_st1``."""
    if not _STATION_NAME.fullmatch(station):
        raise StoreError(f"{station!r} is not a station name a role can be made of: letters, digits, - and _")
    return _require_identifier("station_" + station.lower().replace("-", "_"))


def writer_tables() -> dict[str, str]:
    """Every table of the models and the rights the writer has on it, by name."""
    return {name: APPEND_RIGHTS if name in APPEND_ONLY_TABLES else WRITER_RIGHTS
            for name in sorted(Base.metadata.tables)}


def line_tables() -> dict[str, str]:
    """The line database's tables and the writer's rights on each (every table has its rights:
    a table added to the line's metadata without them is refused here, never left ungranted)."""
    missing = sorted(set(LINE_METADATA.tables) - set(LINE_TABLE_RIGHTS))
    if missing:
        raise StoreError(f"no rights are defined for the line tables {', '.join(missing)} (LINE_TABLE_RIGHTS)")
    return {name: LINE_TABLE_RIGHTS[name] for name in sorted(LINE_METADATA.tables)}


def line_table_statements() -> list[str]:
    """The line's own tables and their indexes, made if they are not there (the migration
    owner's: a station's role makes no table)."""
    dialect = postgresql.dialect()  # type: ignore[no-untyped-call]
    statements = []
    for table in LINE_METADATA.sorted_tables:
        statements.append(str(CreateTable(table, if_not_exists=True).compile(dialect=dialect)).strip())
        statements.extend(str(CreateIndex(index, if_not_exists=True).compile(dialect=dialect)).strip()
                          for index in sorted(table.indexes, key=lambda index: str(index.name)))  # fmt: skip
    return [" ".join(statement.split()) for statement in statements]


def database_statements(names: LineNames) -> tuple[list[str], list[str]]:
    """What the line's administrator runs once as the PostgreSQL superuser: the roles and the
    database (connected to ``postgres``), then the schema's privileges (connected to the line
    database). Returns the two lists. No password is set here: see ``station_statements``."""
    cluster = [
        f"CREATE ROLE {names.owner} LOGIN",
        f"CREATE ROLE {names.writer} NOLOGIN",
        f"CREATE ROLE {names.auditor} NOLOGIN",
        f"CREATE DATABASE {names.database} OWNER {names.owner} ENCODING 'UTF8' TEMPLATE template0",
        f"REVOKE ALL ON DATABASE {names.database} FROM PUBLIC",
        f"GRANT CONNECT ON DATABASE {names.database} TO {names.writer}, {names.auditor}",
    ]
    in_database = [
        f"ALTER SCHEMA {SCHEMA} OWNER TO {names.owner}",
        f"REVOKE ALL ON SCHEMA {SCHEMA} FROM PUBLIC",
        f"GRANT USAGE ON SCHEMA {SCHEMA} TO {names.writer}, {names.auditor}",
    ]
    return cluster, in_database


def grants_statements(names: LineNames) -> list[str]:
    """What the migration owner runs after every ``station db upgrade``: each table's rights,
    from the models (run again, it gives the same rights: everything is revoked first)."""
    roles = f"{names.writer}, {names.auditor}"
    statements = [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {SCHEMA} FROM {roles}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {SCHEMA} FROM {roles}",
    ]
    statements.extend(line_table_statements())
    statements.extend(f"GRANT {rights} ON {table} TO {names.writer}" for table, rights in writer_tables().items())
    statements.extend(f"GRANT {rights} ON {table} TO {names.writer}" for table, rights in line_tables().items())
    statements.extend(f"GRANT SELECT ON {table} TO {names.writer}" for table in READ_ONLY_TABLES)
    statements.extend(_lock_right(table, names.writer) for table in sorted(APPEND_ONLY_TABLES))
    every_table = sorted([*Base.metadata.tables, *LINE_METADATA.tables, *READ_ONLY_TABLES])
    statements.extend(f"GRANT SELECT ON {table} TO {names.auditor}" for table in every_table)
    statements.append(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {SCHEMA} TO {names.writer}")
    statements.append(f"GRANT SELECT ON ALL SEQUENCES IN SCHEMA {SCHEMA} TO {names.auditor}")
    return statements


def _lock_right(table: str, role: str) -> str:
    """The right to take the sealing's table lock (see the module's docstring)."""
    return (
        "DO $$ BEGIN IF current_setting('server_version_num')::int >= 170000 "
        f"THEN EXECUTE 'GRANT MAINTAIN ON {table} TO {role}'; "
        f"ELSE EXECUTE 'GRANT TRUNCATE ON {table} TO {role}'; END IF; END $$"
    )


def station_statements(station: str, names: LineNames) -> list[str]:
    """A station's login role, a member of the writer; its password is set out of band
    (``\\password`` in psql), never written in a file."""
    return [f"CREATE ROLE {station_role(station)} LOGIN IN ROLE {names.writer}"]


def _script(header: Iterable[str], parts: Iterable[str]) -> str:
    lines = [f"-- {line}".rstrip() for line in header]
    lines.append("\\set ON_ERROR_STOP on")
    lines.extend(part if part.startswith("\\") else f"{part};" for part in parts)
    return "\n".join(lines) + "\n"


def database_script(names: LineNames | None = None) -> str:
    """``packaging/line-database.sql``: a psql script for the superuser (see docs/line-database.md)."""
    names = names or LineNames()
    cluster, in_database = database_statements(names)
    header = (
        "A line database's roles and database: run once, as the PostgreSQL superuser:",
        f"    sudo -u postgres psql -f {DATABASE_FILE}",
        f"Then, as {names.owner}: station db upgrade, and {GRANTS_FILE} (after every upgrade).",
        f"Passwords are set out of band: sudo -u postgres psql -c '\\password {names.owner}'",
        f"A station's role: CREATE ROLE station_line1_st1 LOGIN IN ROLE {names.writer};",
        "Rendered by `python -m station.store.line_roles packaging`; do not edit (docs/line-database.md).",
    )
    return _script(header, [*cluster, f"\\connect {names.database}", *in_database])


def grants_script(names: LineNames | None = None) -> str:
    """``packaging/line-grants.sql``: a psql script for the migration owner, after every upgrade."""
    names = names or LineNames()
    header = (
        f"Each table's rights on a line database: run as {names.owner} after every `station db upgrade`:",
        f"    psql 'host=DBHOST dbname={names.database} user={names.owner} sslmode=verify-full' -f {GRANTS_FILE}",
        f"{names.writer}: {WRITER_RIGHTS} on the tables stations write; {APPEND_RIGHTS} on "
        f"{', '.join(sorted(APPEND_ONLY_TABLES))};",
        "no DELETE (the store deletes nothing), no DDL. The TRUNCATE (MAINTAIN from PostgreSQL 17) on audit_log",
        "lets the sealing lock the table; the append-only trigger refuses TRUNCATE itself.",
        "The line database's own tables (forwarded chains, claims, serial leases, their index) are made here",
        "if they are not there, with the writer's rights each needs (line_entries and line_heads: SELECT, INSERT).",
        f"{names.auditor}: SELECT on every table.",
        "Rendered by `python -m station.store.line_roles packaging`; do not edit (docs/line-database.md).",
    )
    return _script(header, grants_statements(names))


def write_scripts(directory: Path) -> list[Path]:
    """Write both scripts into ``directory`` (the repository's ``packaging/``)."""
    written = []
    for name, text in ((DATABASE_FILE, database_script()), (GRANTS_FILE, grants_script())):
        path = directory / name
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":  # pragma: no cover - a maintainer's command, checked by the scripts' test
    if len(sys.argv) != 2:
        sys.exit("usage: python -m station.store.line_roles DIRECTORY")
    for written_path in write_scripts(Path(sys.argv[1])):
        print(written_path)
