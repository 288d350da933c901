"""A consistent copy of the station's database taken while other processes write to it, and
putting such a copy back into an empty database.

SQLite: the online backup API (``sqlite3.Connection.backup`` in one step, so one read
transaction: in WAL mode the writers go on meanwhile, and the copy is the database as of one
commit). The copy is checked (``PRAGMA quick_check``) and made one self-contained file.
PostgreSQL: ``pg_dump --format=custom`` inside a snapshot that the station exports from a
REPEATABLE READ transaction, in which it also reads the chain head and the schema revision, so
that the dump, the head and the revision describe the same moment. ``pg_restore
--single-transaction`` puts it back into an empty database, or nothing.

The PostgreSQL client programs get the database's password in a private ``PGPASSFILE``, never
on their command line, and an environment holding only what they need: no passphrase of the
station's (``child_environment``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import sqlite3
import subprocess
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, create_engine, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from station.domain.chain import ChainHead
from station.domain.errors import BackupError
from station.store.database import BUSY_TIMEOUT_SECONDS, migration_config, read_chain_head, sqlite_file
from station.store.session import describe

SQLITE: Final = "sqlite"
POSTGRESQL: Final = "postgresql"
# What a client program of the database may see of the station's environment.
_CHILD_VARIABLES: Final = frozenset({"PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "LC_MESSAGES",
                                     "TZ", "TMPDIR"})  # fmt: skip
_STDERR_LINES: Final = 5


@dataclass(frozen=True)
class DatabaseCopy:
    """A copy of the database in a file (a SQLite database, or a pg_dump archive), what it holds."""

    backend: str
    path: Path
    revision: str
    head: ChainHead | None
    vault_initialised: bool
    source: str  # the database's URL, password hidden


def backend_of(url: str) -> str:
    parsed = _parse(url)
    backend = parsed.get_backend_name()
    if backend not in (SQLITE, POSTGRESQL):
        raise BackupError(f"backups are made of SQLite and PostgreSQL databases, not {backend}")
    if backend == SQLITE and sqlite_file(url) is None:
        raise BackupError("an in-memory database cannot be backed up or restored")
    return backend


def copy_database(url: str, directory: Path) -> DatabaseCopy:
    """A consistent copy of the database at ``url`` in ``directory`` (private to the caller)."""
    if backend_of(url) == SQLITE:
        return _copy_sqlite(url, directory / "station.sqlite")
    return _dump_postgresql(url, directory)


def check_restore_target(url: str) -> None:
    """BackupError unless the database at ``url`` is empty: no SQLite file yet, or a PostgreSQL
    database without tables. Writes nothing."""
    shown = _parse(url).render_as_string(hide_password=True)
    if backend_of(url) == SQLITE:
        path = sqlite_file(url)
        assert path is not None  # backend_of refused the others
        present = [candidate for candidate in (path, *(path.with_name(path.name + suffix)
                                                       for suffix in ("-wal", "-shm", "-journal")))
                   if candidate.exists()]  # fmt: skip
        if present:
            raise BackupError(f"a database exists already at {present[0]}: a backup is restored only where there "
                              "is none; nothing was written")
        return
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            tables = inspect(connection).get_table_names()
    except SQLAlchemyError as error:
        raise BackupError(f"cannot reach the database {shown}: {describe(error)}") from None
    finally:
        engine.dispose()
    if tables:
        raise BackupError(f"the database {shown} is not empty ({len(tables)} tables): a backup is restored only "
                          "into an empty database; nothing was written")


def restore_database(backend: str, copy: Path, url: str) -> None:
    """Put the copy (from :func:`copy_database`) in place as the database at ``url``, which must
    be empty (:func:`check_restore_target`)."""
    if backend != backend_of(url):
        raise BackupError(f"this backup holds a {backend} database; the target {_parse(url).get_backend_name()} "
                          "database cannot take it (restore into the same kind of database)")
    check_restore_target(url)
    if backend == SQLITE:
        target = sqlite_file(url)
        assert target is not None
        target.parent.mkdir(parents=True, exist_ok=True)
        _copy_private(copy, target)
        return
    parsed = _parse(url)
    with _client_connection(parsed, copy.parent) as (conninfo, environment):
        _run_client("pg_restore", ["--exit-on-error", "--single-transaction", "--no-owner", "--no-privileges",
                                   "--no-password", f"--dbname={conninfo}", str(copy)], environment)  # fmt: skip


def schema_revision_known(revision: str) -> bool:
    """Whether this station's migrations know ``revision`` (a backup's database may be newer)."""
    try:
        return ScriptDirectory.from_config(migration_config()).get_revision(revision) is not None
    except CommandError:
        return False


def child_environment(password_file: Path | None = None) -> dict[str, str]:
    """The environment of a database client program: the system's basics and libpq's own ``PG*``
    settings, nothing else of the station's (no passphrase); ``PGPASSFILE`` when one is given."""
    environment = {name: value for name, value in os.environ.items()
                   if name in _CHILD_VARIABLES or name.startswith(("LC_", "PG"))}  # fmt: skip
    if password_file is not None:
        environment.pop("PGPASSWORD", None)
        environment["PGPASSFILE"] = str(password_file)
    return environment


# ---- SQLite --------------------------------------------------------------------------------------


def _copy_sqlite(url: str, destination: Path) -> DatabaseCopy:
    source = sqlite_file(url)
    assert source is not None
    if not source.is_file():
        raise BackupError(f"no station database at {source}: nothing to back up")
    try:
        # mode=rw: never create a database that is not there; one backup step is one snapshot.
        origin = sqlite3.connect(f"file:{urllib.parse.quote(str(source))}?mode=rw", uri=True,
                                 timeout=BUSY_TIMEOUT_SECONDS)  # fmt: skip
        with contextlib.closing(origin), contextlib.closing(sqlite3.connect(destination)) as copy:
            origin.backup(copy)
    except sqlite3.Error as error:
        raise BackupError(f"cannot copy the database {source}: {error}") from None
    revision, head, vault = _describe_file(destination)
    try:
        with contextlib.closing(sqlite3.connect(destination, isolation_level=None)) as copy:
            copy.execute("PRAGMA journal_mode=DELETE")  # one file, whatever the station's journal mode
            verdict = copy.execute("PRAGMA quick_check").fetchone()
    except sqlite3.Error as error:
        raise BackupError(f"the copy of {source} cannot be checked: {error}") from None
    if verdict is None or verdict[0] != "ok":
        raise BackupError(f"the copy of {source} fails SQLite's check ({verdict[0] if verdict else 'no answer'}): "
                          "the database itself may be damaged; no backup was written")
    return DatabaseCopy(SQLITE, destination, revision, head, vault, _parse(url).render_as_string(hide_password=True))


def _describe_file(path: Path) -> tuple[str, ChainHead | None, bool]:
    engine = create_engine(URL.create("sqlite", database=str(path)))
    try:
        with engine.connect() as connection:
            return _describe(connection, str(path))
    except SQLAlchemyError as error:
        raise BackupError(f"the copy of the database cannot be read: {describe(error)}") from None
    finally:
        engine.dispose()


def _describe(connection: Connection, shown: str) -> tuple[str, ChainHead | None, bool]:
    """The schema revision, the chain head and whether the vault is set up, as ``connection`` sees them."""
    heads = MigrationContext.configure(connection).get_current_heads()
    if len(heads) != 1:
        raise BackupError(f"the database {shown} has {'no station schema' if not heads else 'several revisions'}: "
                          "there is no station database to back up")
    vault = connection.execute(text("SELECT count(*) FROM vault_parameters")).scalar()
    return heads[0], read_chain_head(connection), bool(vault)


def _copy_private(source: Path, target: Path) -> None:
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as written, source.open("rb") as read:
            descriptor = -1
            shutil.copyfileobj(read, written, 1 << 20)
            written.flush()
            os.fsync(written.fileno())
    except BaseException:
        if descriptor >= 0:
            os.close(descriptor)
        target.unlink(missing_ok=True)
        raise


# ---- PostgreSQL ----------------------------------------------------------------------------------


def _dump_postgresql(url: str, directory: Path) -> DatabaseCopy:
    parsed = _parse(url)
    shown = parsed.render_as_string(hide_password=True)
    destination = directory / "station.pgdump"
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            connection.execution_options(isolation_level="REPEATABLE READ")
            with connection.begin():
                snapshot = str(connection.execute(text("SELECT pg_export_snapshot()")).scalar_one())
                revision, head, vault = _describe(connection, shown)
                with _client_connection(parsed, directory) as (conninfo, environment):
                    _run_client("pg_dump", ["--format=custom", f"--snapshot={snapshot}", "--no-password",
                                            f"--file={destination}", f"--dbname={conninfo}"], environment)  # fmt: skip
    except SQLAlchemyError as error:
        raise BackupError(f"cannot read the database {shown}: {describe(error)}") from None
    finally:
        engine.dispose()
    return DatabaseCopy(POSTGRESQL, destination, revision, head, vault, shown)


@contextlib.contextmanager
def _client_connection(url: URL, directory: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """libpq's connection string for ``url`` (no password in it) and the client's environment, with
    the password in a private PGPASSFILE in ``directory`` for as long as the block runs."""
    words = {"host": url.host, "port": url.port, "dbname": url.database, "user": url.username}
    for key, value in url.query.items():
        if key != "password":
            words[key] = value if isinstance(value, str) else value[-1]
    conninfo = " ".join(f"{key}={_quoted(str(value))}" for key, value in words.items() if value is not None)
    password_file: Path | None = None
    if url.password:
        password_file = directory / "pgpass"
        escaped = str(url.password).replace("\\", "\\\\").replace(":", "\\:")
        descriptor = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as written:
            written.write(f"*:*:*:*:{escaped}\n")
    try:
        yield conninfo, child_environment(password_file)
    finally:
        if password_file is not None:
            password_file.unlink(missing_ok=True)


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _run_client(program: str, arguments: list[str], environment: dict[str, str]) -> None:
    executable = _client_program(program, environment.get("PATH"))
    try:
        result = subprocess.run([executable, *arguments], env=environment, capture_output=True, text=True,
                                check=False)  # fmt: skip
    except OSError as error:
        raise BackupError(f"{program} cannot run: {error.strerror or error}") from None
    if result.returncode != 0:
        said = " / ".join(line.strip() for line in result.stderr.strip().splitlines()[-_STDERR_LINES:])
        raise BackupError(f"{program} failed (exit {result.returncode}): {said or 'it said nothing'}")


def _client_program(program: str, path: str | None) -> str:
    """The PostgreSQL client program: on PATH, else in Debian's versioned directories (newest first)."""
    found = shutil.which(program, path=path)
    if found is not None:
        return found
    for directory in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version, reverse=True):
        candidate = Path(directory) / program
        if candidate.is_file():
            return str(candidate)
    raise BackupError(f"{program} is not installed (PostgreSQL's client programs: apt-get install postgresql-client)")


def _version(directory: str) -> tuple[int, ...]:
    name = Path(directory).parent.name
    return tuple(int(part) for part in name.split(".") if part.isdigit())


def _parse(url: str) -> URL:
    try:
        return make_url(url)
    except ArgumentError:
        raise BackupError("the database URL is not one SQLAlchemy reads (dialect+driver://user@host/name)") from None
