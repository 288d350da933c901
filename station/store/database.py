"""Opening the traceability database and keeping its schema at the version this code knows.

Any SQLAlchemy URL works; SQLite (the default) is tuned for a station that must never lose
a committed row: WAL journal, ``synchronous=FULL``, a busy timeout, foreign keys on. The
schema comes only from the Alembic migrations shipped in ``migrations/``; the station
refuses a database whose revision is not the one it was built for.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from station.domain.chain import ChainHead
from station.domain.errors import StoreError
from station.domain.records import ChainReport
from station.domain.vault_and_signing import AuditSigner, AuditVerifier
from station.store.attempts import AttemptRepository
from station.store.audit import AuditRepository
from station.store.chain_head import HeadFile
from station.store.chain_verify import entry_hash_at, last_entry, verify_chain
from station.store.credentials import CredentialRepository
from station.store.inspections import InspectionRepository
from station.store.labels import LabelJobRepository
from station.store.recipe_trust import RecipeTrustRepository
from station.store.registry import RegistryRepository
from station.store.selftests import SelfTestRepository
from station.store.serial_allocation import SerialAllocationRepository
from station.store.session import WRITE_OPTION, Sessions, describe
from station.store.tokens import SqlTokenRepository
from station.store.units import UnitRepository

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_SECONDS = 30
UPGRADE_HINT = "run `station db upgrade`"


def migration_config() -> Config:
    """Alembic configuration built in code: no alembic.ini is needed at run time."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(migration_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships migrations
        raise StoreError("the station ships no database migrations")
    return head


class Database:
    """One database: its engine, schema management, and the repositories over it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = Sessions(engine)
        self.registry = RegistryRepository(self._sessions)
        self.units = UnitRepository(self._sessions)
        self.attempts = AttemptRepository(self._sessions)
        self.inspections = InspectionRepository(self._sessions)
        self.credentials = CredentialRepository(self._sessions)
        self.tokens = SqlTokenRepository(self._sessions)
        self.selftests = SelfTestRepository(self._sessions)
        self.recipe_trust = RecipeTrustRepository(self._sessions)  # people's signing keys, recipe signatures
        self.labels = LabelJobRepository(self._sessions)  # labels printed on PASS, reprints
        self.serials = SerialAllocationRepository(self._sessions)  # serial numbers from work orders

    @property
    def url(self) -> str:
        """The database URL with any password hidden, for messages."""
        return self.engine.url.render_as_string(hide_password=True)

    def audit_log(self, signer: AuditSigner | None = None) -> AuditRepository:
        """The audit log; ``signer`` (an AuditSigner) is needed only to append. The first signer
        given also signs the chain's entries for records (see :meth:`seal_with`)."""
        if signer is not None and self._sessions.sealer.signer is None:
            self._sessions.sealer.signer = signer
        return AuditRepository(self._sessions, signer)

    def seal_with(self, signer: AuditSigner, *, actor: str) -> None:
        """Sign every transaction's entries with ``signer``, as ``actor`` (``station:NAME``)."""
        self._sessions.sealer.signer = signer
        self._sessions.sealer.actor = actor

    def keep_head_in(self, data_dir: Path) -> HeadFile:
        """Keep the chain's head in a file outside the database (``station.store.chain_head``):
        beside a SQLite file; in the station's data directory for a server database."""
        head_path = head_file_path(self.engine.url, data_dir)
        if self._sessions.head_file is not None:
            self._sessions.head_file.close()
        self._sessions.head_file = HeadFile(head_path, self.url)
        return self._sessions.head_file

    @property
    def head_file(self) -> HeadFile | None:
        return self._sessions.head_file

    def verify_chain(self, verifier: AuditVerifier) -> ChainReport:
        """Everything ``station db verify`` checks (``station.store.chain_verify``); this
        process's own newest head is written first."""
        if self._sessions.head_file is not None:
            self._sessions.head_file.flush()
        return verify_chain(self._sessions, verifier, self._sessions.head_file)

    def chain_head(self) -> ChainHead | None:
        """The newest entry of the chain now: what an export's manifest records."""
        with self.engine.connect() as connection:
            return read_chain_head(connection)

    def entry_hash_at(self, sequence: int) -> str | None:
        """The hash of the entry at ``sequence``, if the chain has it: does it extend a head?"""
        with self.engine.connect() as connection:
            return entry_hash_at(connection, sequence)

    def last_sequence(self) -> int:
        with self.engine.connect() as connection:
            last = last_entry(connection)
        return 0 if last is None else last[0]

    def current_revision(self) -> str | None:
        """The schema revision recorded in the database, or None for a database without one."""
        try:
            with self.engine.connect() as connection:
                heads = MigrationContext.configure(connection).get_current_heads()
        except SQLAlchemyError as error:
            raise StoreError(f"cannot read the database at {self.url}: {describe(error)}") from error
        if len(heads) > 1:
            raise StoreError(f"the database at {self.url} has several schema revisions {heads}; repair it")
        return heads[0] if heads else None

    def upgrade(self, revision: str = "head") -> str:
        """Bring the schema to ``revision`` (the newest by default); return the revision reached."""
        current = self.current_revision()
        if current is not None:
            self._require_known(current)
        config = migration_config()
        try:
            with self.engine.execution_options(**{WRITE_OPTION: True}).begin() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
        except CommandError as error:
            raise StoreError(f"cannot upgrade the database at {self.url}: {error}") from error
        except SQLAlchemyError as error:
            raise StoreError(f"upgrading the database at {self.url} failed: {describe(error)}") from error
        reached = self.current_revision()
        return reached if reached is not None else "(none)"

    def check_schema(self) -> None:
        """Refuse (StoreError) a database whose schema is not exactly the one this code knows."""
        head = head_revision()
        current = self.current_revision()
        if current == head:
            return
        if current is None:
            if self._has_tables():
                raise StoreError(
                    f"the database at {self.url} has tables but no station schema revision; "
                    "it was not made by `station db upgrade` and the station will not use it"
                )
            raise StoreError(f"the database at {self.url} has no station schema yet; {UPGRADE_HINT}")
        self._require_known(current)
        raise StoreError(
            f"the database at {self.url} has schema revision {current}, this station needs {head}; "
            f"{UPGRADE_HINT}"
        )

    def dispose(self) -> None:
        if self._sessions.head_file is not None:
            self._sessions.head_file.close()
        self.engine.dispose()

    def _require_known(self, revision: str) -> None:
        try:
            ScriptDirectory.from_config(migration_config()).get_revision(revision)
        except CommandError as error:
            raise StoreError(
                f"the database at {self.url} has schema revision {revision!r}, which this station "
                "does not know (it was written by a newer or different station version); refusing "
                "to use or upgrade it -- run the station version that wrote it"
            ) from error

    def _has_tables(self) -> bool:
        with self.engine.connect() as connection:
            return bool(inspect(connection).get_table_names())


def head_file_path(url: str | URL, data_dir: Path) -> Path:
    """Where the chain head file of the database at ``url`` lives: beside a SQLite file; in the
    data directory for a server database (named after its URL, password hidden)."""
    parsed = make_url(url) if isinstance(url, str) else url
    path = _sqlite_file(parsed)
    if path is not None:
        return path.with_name(path.name + ".head.json")
    key = hashlib.sha256(parsed.render_as_string(hide_password=True).encode("utf-8")).hexdigest()[:12]
    return data_dir / f"chain-head-{parsed.get_backend_name()}-{key}.json"


def read_chain_head(connection: Connection) -> ChainHead | None:
    """The newest entry of the chain as ``connection`` sees it (a backup reads it in its snapshot)."""
    last = last_entry(connection)
    if last is None:
        return None
    row = connection.execute(
        text("SELECT recorded_at, signature FROM audit_log WHERE sequence = :sequence"),
        {"sequence": last[0]},
    ).first()
    signature = bytes(row[1]) if row is not None and isinstance(row[1], bytes | memoryview) else b""
    moment = row[0] if row is not None and isinstance(row[0], datetime) else None
    if moment is None and row is not None and isinstance(row[0], str):
        moment = datetime.fromisoformat(row[0])
    when = (moment or datetime.now(UTC))
    return ChainHead(last[0], last[1], when if when.tzinfo else when.replace(tzinfo=UTC), signature)


def sqlite_file(url: str) -> Path | None:
    """The file a SQLite URL names; None for a server or in-memory database (or for text that is
    no URL at all: opening it says why). Whether it exists decides whether a database does."""
    try:
        return _sqlite_file(make_url(url))
    except ArgumentError:
        return None


def _sqlite_file(parsed: URL) -> Path | None:
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:") or "mode=memory" in database:
        return None
    return Path(database.removeprefix("file:").split("?")[0]).expanduser()


def open_database(url: str, *, create_dirs: bool = True, echo: bool = False) -> Database:
    """Open (never create the schema of) the database at ``url``: any SQLAlchemy URL."""
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise StoreError(f"not a database URL: {url!r}") from error
    options: dict[str, Any] = {"echo": echo}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        in_memory = database in ("", ":memory:") or "mode=memory" in database
        options["connect_args"] = {"check_same_thread": False, "timeout": BUSY_TIMEOUT_SECONDS}
        if in_memory:
            options["poolclass"] = StaticPool
        elif create_dirs and not database.startswith("file:"):
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    else:
        options["pool_pre_ping"] = True
    try:
        engine = create_engine(parsed, **options)
    except (ArgumentError, ImportError) as error:
        raise StoreError(f"cannot open {parsed.render_as_string(hide_password=True)}: {error}") from error
    if engine.dialect.name == "sqlite":
        _tune_sqlite(engine)
    return Database(engine)


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy, not the driver, decides where transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
